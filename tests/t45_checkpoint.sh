# Checkpoint/restart: exact resume of SGD and Adam at another rank count, retention, faults
# (a writer killed in the middle of a checkpoint, a truncated or corrupt latest generation, a
# checkpoint of another network or dataset), and what resuming means for TAO.
C="-data_type teacher -data_classify -data_n 2000 -data_test_n 200 -data_d 10 -data_k 3 -data_chunk_size 16 -net_hidden 24,24 -net_activation tanh -loss ce -stages eval,train,eval -train_batch_size 64 -train_epochs 8 -train_monitor 0"
for opt in adam sgd; do
  O="$C -train_type $opt -train_lr 0.01"
  expect_ok "$opt: uninterrupted run" 1 $O -output_dir $WORK/ck_$opt/ref
  for pair in "1 2" "2 3"; do
    read -r n1 n2 <<< "$pair"; d=$WORK/ck_$opt/r$n1$n2
    out=$(land $n1 $O -output_dir $d -checkpoint_signal_at 77 2>&1); rc=$?
    if [ $rc -eq 75 ] && [ -f $d/results.partial.h5 ] && [ ! -e $d/results.h5 ] && [ -f $d/checkpoints/latest ]; then
      ok "$opt: SIGUSR1 at step 77 on $n1 rank(s): checkpoint, partial results, exit 75"; else not_ok "$opt: stop on a signal (rc=$rc)" "$out"; fi
    expect_ok "$opt: resume at $n2 ranks with -restart auto" $n2 $O -output_dir $d -restart auto
    same_datasets "$opt: interrupted on $n1, resumed on $n2 ranks: theta and both evals bitwise equal" $WORK/ck_$opt/ref/results.h5 $d/results.h5 /theta /eval/loss /eval/gradient /eval_2/loss /eval_2/gradient /theta_initial
    pycheck "$opt: training history bitwise equal after the resume ($n1 -> $n2 ranks)" "
a = h5py.File('$WORK/ck_$opt/ref/results.h5')['/train/history'][:, :6]; f = h5py.File('$d/results.h5'); b = f['/train/history'][:, :6]
assert f['/run'].attrs['resumed'] == 1 and same_bits(a, b)"
  done
done

# Retention and the latest pointer.
expect_ok "checkpoint every 20 steps, keep 3" 2 $C -train_type adam -checkpoint_interval 20 -checkpoint_keep 3 -output_dir $WORK/ck_keep
n=$(ls $WORK/ck_keep/checkpoints/ckpt_*.h5 | wc -l); latest=$(cat $WORK/ck_keep/checkpoints/latest); newest=$(ls $WORK/ck_keep/checkpoints/ckpt_*.h5 | tail -1)
if [ "$n" -eq 3 ] && [ "$latest" = "$(basename $newest)" ] && [ -z "$(ls $WORK/ck_keep/checkpoints/*.tmp 2>/dev/null)" ]; then
  ok "3 generations kept, latest names the newest ($latest)"; else not_ok "retention: $n files, latest=$latest, newest=$newest"; fi

O="$C -train_type adam -train_lr 0.01"
# Kill -9 in the middle of writing generation 3: generation 2 stays valid, the next start resumes from it.
d=$WORK/ck_kill
out=$(land 2 $O -output_dir $d -checkpoint_interval 25 -checkpoint_kill_at_generation 3 2>&1); rc=$?
if [ $rc -ne 0 ] && [ -f $d/checkpoints/ckpt_000003.h5.tmp ] && [ "$(cat $d/checkpoints/latest)" = ckpt_000002.h5 ]; then
  ok "killed (SIGKILL) while writing generation 3: latest still names generation 2"; else not_ok "kill during a checkpoint write (rc=$rc)" "$out $(ls $d/checkpoints)"; fi
out=$(land 3 $O -output_dir $d -checkpoint_interval 25 -restart auto 2>&1)
if printf '%s' "$out" | grep -q "resumed from .*ckpt_000002.h5" && [ ! -e $d/checkpoints/ckpt_000003.h5.tmp ]; then ok "the next start resumes from generation 2 and clears the debris"; else not_ok "resume after a killed writer" "$out"; fi
same_datasets "after the crash and resume the run ends with the uninterrupted theta" $WORK/ck_adam/ref/results.h5 $d/results.h5 /theta /eval_2/loss

# A truncated latest generation, then a corrupt one: fall back with a warning, still exact.
for damage in truncate corrupt; do
  d=$WORK/ck_$damage
  land 1 $O -output_dir $d -checkpoint_interval 30 -checkpoint_signal_at 95 >/dev/null 2>&1
  f=$d/checkpoints/$(cat $d/checkpoints/latest)
  if [ $damage = truncate ]; then truncate -s $(( $(stat -c %s $f) / 2 )) $f
  else $PY -c "
import h5py; f = h5py.File('$f', 'r'); off = f['/theta'].id.get_offset(); f.close()
b = bytearray(open('$f', 'rb').read()); b[off + 80:off + 88] = b'\x00\x00\x00\x00\x00\x00\xf0\x3f'; open('$f', 'wb').write(bytes(b))"; fi
  out=$(land 2 $O -output_dir $d -checkpoint_interval 30 -restart auto 2>&1); rc=$?
  if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q "warning: checkpoint .* falling back" && printf '%s' "$out" | grep -q "resumed from"; then
    ok "$damage latest checkpoint: warning and fall-back to the previous generation"; else not_ok "$damage latest checkpoint: fall-back (rc=$rc)" "$out"; fi
  same_datasets "after the $damage fall-back the run still ends exactly" $WORK/ck_adam/ref/results.h5 $d/results.h5 /theta
done
# -restart FILE on a damaged file is an error, not a silent fall-back.
cp $WORK/ck_keep/checkpoints/$(cat $WORK/ck_keep/checkpoints/latest) $WORK/truncated.h5 && truncate -s 5000 $WORK/truncated.h5
expect_error "-restart FILE of a truncated checkpoint" "truncated or corrupt" 1 $O -restart $WORK/truncated.h5

# A checkpoint of another network or dataset: a clear error, and nothing is overwritten.
d=$WORK/ck_other
land 1 $O -output_dir $d -checkpoint_signal_at 40 >/dev/null 2>&1
sums() { (cd $d && find . -type f | sort | xargs md5sum); }
before=$(sums)
for change in "-net_hidden 24,25|another network" "-net_activation sigmoid|another network (activation)" "-data_seed 7|another dataset" "-data_chunk_size 32|chunk_size" "-stages eval,train|list of stages"; do
  args=${change%|*}; pat=${change#*|}
  capture land 2 $O $args -output_dir $d -restart auto
  if one_error_line landscape "$pat" && [ "$(sums)" = "$before" ]; then
    ok "resume with $args is refused ($pat) and nothing is overwritten"; else not_ok "resume with $args refused (rc=$rc, error lines=$nerr)" "$(streams)"; fi
done

# TAO keeps state that cannot be saved: a resumed L-BFGS run restarts the solver at the checkpoint
# and must converge to the same minimiser (strongly convex: L2-regularised multinomial logistic regression).
T="-data_type teacher -data_classify -data_n 400 -data_d 8 -data_k 3 -net_hidden 0 -loss ce -reg_l2 0.01 -reg_l2_bias -stages train,eval -train_type tao -train_tao_type lmvm -train_tao_gatol 1e-9 -train_tao_grtol 0 -train_max_it 2000 -train_monitor 0"
expect_ok "TAO lmvm uninterrupted" 1 $T -output_dir $WORK/ck_tao/ref
out=$(land 2 $T -output_dir $WORK/ck_tao/run -checkpoint_signal_at 15 2>&1); rc=$?
[ $rc -eq 75 ] && ok "TAO lmvm stopped by a signal at iteration 15 (exit 75)" || not_ok "TAO stop on a signal (rc=$rc)" "$out"
expect_ok "TAO lmvm resumed at 3 ranks" 3 $T -output_dir $WORK/ck_tao/run -restart auto
pycheck "resumed TAO converges to the same minimiser (loss to 1e-10, theta to 1e-5)" "
a = h5py.File('$WORK/ck_tao/ref/results.h5'); b = h5py.File('$WORK/ck_tao/run/results.h5')
la, lb = a['/eval/loss'][0], b['/eval/loss'][0]; dt = np.abs(a['/theta'][:] - b['/theta'][:]).max()
print(la, lb, dt, b['/eval/gradient_norm'][0]); assert abs(la - lb) <= 1e-10 * la and dt < 1e-5 and b['/eval/gradient_norm'][0] < 1e-8"
