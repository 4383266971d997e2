#!/usr/bin/env bash
# The sweep of degenerate Deep ReLU Simplex problems (docs/simplex.md, "Degenerate vertices"):
# tests/simplex_sweep.py with SEEDS seeds in each of its ten families (default 12: 120 problems), at
# 1, 2 and 3 ranks in turn, once with each edge rule (-simplex_rule steepest, the default, and bland).
# Every run must exit 0; each is checked in numpy and the convex ones against HiGHS. Logs and tables
# go to bench/out/simplex_sweep_<rule>.{log,md,jsonl}; the report, bench/out/simplex_sweep.md, is
# printed. Exit 1 if a run failed a check.
# Environment: LANDSCAPE (binary, default bin/landscape), PYTHON (default /usr/bin/python3), SEEDS,
#   PROBES (random steps of the numpy check, default 2000).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
PY=${PYTHON:-/usr/bin/python3}
mkdir -p $OUT
rc=0
{
  echo "## Degenerate simplex sweep ($(date -u +%F), ${SEEDS:-12} seeds a family, $(git describe --always --dirty 2>/dev/null))"
  for rule in steepest bland; do
    start=$(date +%s)
    $PY tests/simplex_sweep.py $OUT/simplex_sweep_$rule --seeds ${SEEDS:-12} --ranks 1,2,3 --probes ${PROBES:-2000} --rule $rule \
      --land ${LANDSCAPE:-bin/landscape} --table $OUT/simplex_sweep_$rule.md > $OUT/simplex_sweep_$rule.log 2>&1 || rc=1
    cp $OUT/simplex_sweep_$rule/sweep.jsonl $OUT/simplex_sweep_$rule.jsonl
    echo
    echo "### -simplex_rule $rule ($(( $(date +%s) - start )) s)"
    echo
    cat $OUT/simplex_sweep_$rule.md
    echo
    tail -n 1 $OUT/simplex_sweep_$rule.log
  done
} | tee $OUT/simplex_sweep.md
exit $rc
