# Test helpers: TAP output, runs at several rank counts, error-path checks.
# Sourced by tests/run.sh and the per-area test files.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
LAND="$ROOT/bin/landscape"
PY=/usr/bin/python3
WORK=${WORK:-$ROOT/tests/work}
NPASS=${NPASS:-0}
NFAIL=${NFAIL:-0}
NTEST=${NTEST:-0}
FAILED_NAMES=${FAILED_NAMES:-}

ok() {
  NTEST=$((NTEST + 1)); NPASS=$((NPASS + 1)); echo "ok $NTEST - $1"
}
not_ok() {
  NTEST=$((NTEST + 1)); NFAIL=$((NFAIL + 1)); FAILED_NAMES="$FAILED_NAMES\n  $1"; echo "not ok $NTEST - $1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | tail -n 15 | sed 's/^/#   /'
  return 0
}

# land NRANKS ARGS...: run landscape with -skip_petscrc (tests must not see the site petscrc).
land() {
  local n=$1; shift
  mpiexec -n "$n" "$LAND" -skip_petscrc "$@"
}

# capture CMD...: run CMD with its stdout and stderr kept apart; sets out, err and rc (declare them
# local in the caller). mpiexec forwards a rank's stdout and stderr on separate channels, so in a
# 2>&1 pipe an error line can land in the middle of a progress line: never match stderr lines there.
capture() {
  local f; f=$(mktemp "$WORK/stderr.XXXXXX")
  out=$("$@" 2>"$f"); rc=$?
  err=$(cat "$f"); rm -f "$f"
}

# streams: both streams of the last capture, for a failure message (not_ok keeps the last 15 lines).
streams() {
  printf 'stdout (last 6 lines):\n%s\nstderr:\n%s\n' "$(printf '%s\n' "$out" | tail -n 6)" "$(printf '%s\n' "$err" | tail -n 7)"
}

# one_error_line PREFIX PATTERN: the last capture failed (rc != 0) and its stderr holds exactly one
# line starting with 'PREFIX: error:', and that line matches PATTERN. Sets nerr.
one_error_line() {
  nerr=$(printf '%s\n' "$err" | grep -c "^$1: error:")
  [ "$rc" -ne 0 ] && [ "$nerr" -eq 1 ] && printf '%s\n' "$err" | grep "^$1: error:" | grep -q -- "$2"
}

# expect_ok NAME NRANKS ARGS...: the run must succeed.
expect_ok() {
  local name=$1 out err rc; shift
  capture land "$@"
  if [ $rc -eq 0 ]; then ok "$name"; else not_ok "$name (rc=$rc)" "$(streams)"; fi
}

# expect_error NAME PATTERN NRANKS ARGS...: the run must fail with exactly one stderr line
# 'landscape: error: ...PATTERN...', a non-zero exit, and leave the output directory as it was
# (the harness puts a sentinel results.h5 there first).
expect_error() {
  local name=$1 pat=$2 n=$3 dir out err rc nerr before after; shift 3
  dir=$(mktemp -d "$WORK/err.XXXXXX")
  echo sentinel > "$dir/results.h5"
  before=$(md5sum "$dir/results.h5")
  capture land "$n" -output_dir "$dir" "$@"
  after=$(md5sum "$dir/results.h5")
  if one_error_line landscape "$pat" && [ "$before" = "$after" ] && [ ! -e "$dir/results.h5.tmp" ]; then
    ok "$name"
  else
    not_ok "$name (rc=$rc, error lines=$nerr, expected /$pat/)" "$(streams)"
  fi
  rm -rf "$dir"
}

# same_datasets NAME FILE1 FILE2 DATASET...: bitwise equality: dtype, shape and the bytes of every
# element (tests/same_bits.py; h5diff compares values, so -0.0 would pass for +0.0). On failure the
# message names the first differing index of each dataset.
same_datasets() {
  local name=$1 a=$2 b=$3 msg; shift 3
  if msg=$($PY "$ROOT/tests/same_bits.py" "$a" "$b" "$@" 2>&1); then ok "$name"; else not_ok "$name" "$msg"; fi
}

# pycheck NAME PYTHON-CODE: the code must exit 0 (use assert); h5py and numpy are imported, and
# same_bits(a, b) tells bitwise equality of two arrays (dtype, shape, bytes; -0.0 is not +0.0).
pycheck() {
  local name=$1 code=$2 out
  if out=$($PY -c "import h5py, numpy as np, sys
def same_bits(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
$code" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}
