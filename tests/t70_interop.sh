# PyTorch interop: state_dict <-> theta converters, and landscape's loss and gradient against autograd.
if [ -f "$ROOT/tests/torch_convert_check.sh" ]; then
  out=$(bash "$ROOT/tests/torch_convert_check.sh" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^(not )?ok' | sed 's/^/# torch: /'
  if [ $rc -eq 0 ]; then ok "PyTorch converters and autograd cross-check"; else not_ok "PyTorch converters and autograd cross-check" "$out"; fi
fi
