#!/usr/bin/env bash
# The test suite (make test). Prints TAP lines and a final "N passed, N failed"; exits non-zero on
# any failure. Runs landscape at 1, 2 and 3 ranks (more ranks than cores: oversubscribed).
# Usage: tests/run.sh [PATTERN]   runs only tests/tNN_*PATTERN*.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATTERN=${1:-} # the test files may change the positional parameters
WORK=$ROOT/tests/work
rm -rf "$WORK" && mkdir -p "$WORK"
source "$ROOT/tests/lib.sh"
[ -x "$LAND" ] || { echo "Bail out! $LAND is not built"; exit 1; }
start=$(date +%s)
for t in "$ROOT"/tests/t[0-9][0-9]_*.sh; do
  case $(basename "$t") in *$PATTERN*) ;; *) continue ;; esac
  echo "# $(basename "$t")"
  source "$t"
done
echo "1..$NTEST"
echo "# $(( $(date +%s) - start )) s"
[ "$NFAIL" -gt 0 ] && printf "# failed:$FAILED_NAMES\n"
echo "$NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
