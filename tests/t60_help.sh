# -help documents every option that the code reads.
help=$("$LAND" -skip_petscrc -help -data_type teacher -stages train,eval,check,spectrum,stationary,linear,levelset,slice -train_type tao -output_dir "$WORK/help_main" 2>&1
  "$LAND" topology -help 2>&1
  # the escape and embed stages need a one-hidden-layer ReLU net
  "$LAND" -skip_petscrc -help -data_type five_point -net_hidden 4 -net_activation relu -stages escape,embed -embed_add 1 -output_dir "$WORK/help_escape" 2>&1
  # the simplex stage needs a ReLU net and the L1 loss
  "$LAND" -skip_petscrc -help -data_type uniform -data_n 50 -net_hidden 3 -net_activation relu -loss l1 -stages simplex -simplex_max_pivots 0 -output_dir "$WORK/help_simplex" 2>&1)
missing=""
for o in $(grep -rhoE 'PetscOptions(Int|Real|Bool|String|Enum|EList|FList|IntArray|StringArray|RealArray)\("-[a-z_0-9]+' "$ROOT/src" --exclude=import.c | sed 's/.*("//' | sort -u); do
  # the classifier's tolerances (escape.c) are read with a prefix: look for them under the escape stage's
  printf '%s\n' "$help" | grep -q -- "$o[ <:]" || printf '%s\n' "$help" | grep -q -- "-escape_${o#-}[ <:]" || missing="$missing $o"
done
if [ -z "$missing" ]; then ok "-help lists every option read by the code"; else not_ok "-help misses:$missing"; fi
printf '%s\n' "$help" | grep -q -- "-train_tao_type" && ok "-help shows the TAO options under -train_" || not_ok "-help lacks -train_tao_type"
# as in PETSc's own programs, -help prints every option as it is read and the run goes on
if "$LAND" -skip_petscrc -help -data_type teacher -output_dir "$WORK/help_out" > /dev/null 2>&1; then ok "a run with -help exits 0"; else not_ok "a run with -help exits 0"; fi
for fmt in idx csv; do
  ihelp=$("$LAND" import $fmt -help 2>&1); missing=""
  for o in $(grep -hoE 'PetscOptions(Int|Real|Bool|String|Enum|EList)\("-[a-z_0-9]+' "$ROOT/src/data/import.c" | sed 's/.*("//' | sort -u); do
    case "$fmt:$o" in idx:-file|idx:-target_file|idx:-task|idx:-test_fraction|idx:-seed|csv:-images|csv:-labels|csv:-test_images|csv:-test_labels|csv:-n|csv:-test_n|csv:-scale) continue;; esac
    printf '%s\n' "$ihelp" | grep -q -- "$o[ <:]" || missing="$missing $o"
  done
  if [ -z "$missing" ]; then ok "import $fmt -help lists its options"; else not_ok "import $fmt -help misses:$missing" "$ihelp"; fi
done
if /usr/bin/python3 "$ROOT/scripts/options_doc.py" "$LAND" | diff -q - "$ROOT/docs/options.md" >/dev/null; then ok "docs/options.md is up to date with -help"; else not_ok "docs/options.md is stale: run scripts/options_doc.py bin/landscape > docs/options.md"; fi
