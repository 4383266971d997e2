#!/usr/bin/env bash
# Levelset benchmark (issue 6): predictor steps per second of level-set continuation for the study's
# 99 710-parameter net (tanh 784-100-100-100-10, softmax cross-entropy, float64) on 1000 Fashion-MNIST
# training rows (the first 1000, so that PyTorch reads the same rows), from the seeded Glorot
# initialisation. A predictor step is one loss and gradient over all rows, grad R = 2 theta, the
# projection, the turn angle, the step; no corrector runs (-levelset_tol 1e300), so every
# iteration is a predictor step, in landscape as in PyTorch.
#   landscape -stages levelset at 1 and 2 ranks (chunks of 500 rows, one per rank at 2 ranks);
#   bench/torch_levelset.py, PyTorch float64 on the CPU, 1 and 2 threads;
# two interleaved rounds, WARMUP + STEPS steps each; the time of the last STEPS steps counts. Both
# start from the same theta, so their R = |theta|^2 after WARMUP + STEPS steps must agree (checked).
# Runs sequentially, waiting (a bounded time) for the machine to be idle before each measurement.
# Raw logs go to bench/out/levelset_*, the report to bench/out/levelset.md (also printed).
# Environment: LANDSCAPE (default bin/landscape), PYTHON (default /usr/bin/python3), STEPS (200),
#   WARMUP (5), IDLE_WAIT_TOTAL (seconds the whole run may wait for other load to go away, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out
BIN=${LANDSCAPE:-bin/landscape}
PY=${PYTHON:-/usr/bin/python3}
STEPS=${STEPS:-200}
WARMUP=${WARMUP:-5}
IDLE_WAIT_TOTAL=${IDLE_WAIT_TOTAL:-120}
DATA=$OUT/fmnist1000.h5
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "levelset: $BIN not found: run 'make' first" >&2; exit 1; }
"$PY" -c 'import torch, h5py' 2>/dev/null || { echo "levelset: $PY cannot import torch and h5py (make deps-bench)" >&2; exit 1; }
: >"$OUT/levelset_load.txt"
BENCH_NAME=levelset LOAD_FILE=$OUT/levelset_load.txt BENCH_LOADAVG=1
source bench/lib.sh
start=$(date +%s)

fm=/usr/share/datasets/fashion-mnist
[ -s "$DATA" ] || "$BIN" import idx -images "$fm/train-images-idx3-ubyte.gz" -labels "$fm/train-labels-idx1-ubyte.gz" -n 1000 \
  -test_images "$fm/t10k-images-idx3-ubyte.gz" -test_labels "$fm/t10k-labels-idx1-ubyte.gz" -test_n 1 -o "$DATA"
COMMON=(-skip_petscrc -data_file "$DATA" -data_chunk_size 500 -net_hidden 100,100,100 -net_activation tanh -net_init glorot -loss ce
  -stages levelset -levelset_steps $((WARMUP + STEPS)) -levelset_tol 1e300 -levelset_test_interval 1000000 -levelset_snapshot_interval 1000000
  -levelset_pca_components 0 -levelset_monitor 0)

run_landscape() { # $1 = ranks, $2 = suffix
  local name=levelset_l$1$2
  wait_idle "$name"
  rm -rf "${OUT:?}/$name"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 mpiexec -n "$1" "$BIN" "${COMMON[@]}" -output_dir "$OUT/$name" -log_view >"$OUT/$name.log" 2>&1 \
    || { tail -20 "$OUT/$name.log" >&2; exit 1; }
  check_after "$name"
  "$PY" -c "
import h5py; f = h5py.File('$OUT/$name/results.h5'); t = f['/levelset/time_s'][:]; h = f['/levelset/history'][:]
s = t[$WARMUP + $STEPS] - t[$WARMUP]
print('result: ranks $1 steps $STEPS time %.4f s steps_per_s %.2f R %.12e' % (s, $STEPS / s, h[-1, 2]))" | tee "$OUT/$name.txt"
}
run_torch() { # $1 = threads, $2 = suffix
  local name=levelset_t$1$2
  wait_idle "$name"
  OPENBLAS_NUM_THREADS=$1 OMP_NUM_THREADS=$1 "$PY" bench/torch_levelset.py "$DATA" "$OUT/levelset_l1/results.h5" --threads "$1" \
    --steps "$STEPS" --warmup "$WARMUP" >"$OUT/$name.txt"
  check_after "$name"
  grep '^result' "$OUT/$name.txt"
}
for sfx in "" _b; do
  run_landscape 1 "$sfx"
  run_landscape 2 "$sfx"
  run_torch 1 "$sfx"
  run_torch 2 "$sfx"
done
echo "levelset: measurements took $(($(date +%s) - start)) s"

"$PY" - "$OUT" "$STEPS" "$WARMUP" <<'EOF'
import os, re, sys
out, steps, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def res(name):
    t = open(os.path.join(out, name + ".txt")).read()
    m = re.search(r"result: .* time (\S+) s steps_per_s (\S+) .*R (\S+)", t)
    return float(m.group(1)), float(m.group(2)), float(m.group(3))
rows, R = [], {}
for who, n in (("landscape", 1), ("landscape", 2), ("PyTorch", 1), ("PyTorch", 2)):
    tag = ("l" if who == "landscape" else "t") + str(n)
    r = [res("levelset_" + tag + s) for s in ("", "_b")]
    best = max(x[1] for x in r)
    R[tag] = r[0][2]
    rows.append((who, n, best, [x[1] for x in r]))
sp = {n: rows[n - 1][2] / rows[n + 1][2] for n in (1, 2)}
load = open(os.path.join(out, "levelset_load.txt")).read().strip().splitlines()
busy = max(int(l.split()[1]) for l in load)
dR = max(abs(R[k] - R["l1"]) / abs(R["l1"]) for k in R)
lines = ["## Level-set continuation: predictor steps per second", "",
         "tanh 784-100-100-100-10 (99 710 parameters), softmax cross-entropy, float64, the first 1000 Fashion-MNIST training rows, "
         f"from the seeded Glorot initialisation; {steps} predictor steps timed after {warmup}, best of two interleaved rounds.", "",
         "```sh", "bash bench/levelset.sh        # bench/out/levelset.md", "```", "",
         "| code | ranks / threads | predictor steps/s (best) | both rounds | speed-up over PyTorch |", "| --- | --- | --- | --- | --- |"]
for who, n, best, both in rows:
    lines.append(f"| {who} | {n} | {best:.1f} | {', '.join(f'{x:.1f}' for x in both)} | " + (f"{sp[n]:.2f}x" if who == "landscape" else "") + " |")
lines += ["", f"R = |theta|^2 after {steps + warmup} steps: landscape 1 rank {R['l1']:.12e}; largest relative difference of the four runs {dR:.1e}.",
          f"Highest CPU load seen just before or after a measurement: {busy}% (bench/out/levelset_load.txt)."]
open(os.path.join(out, "levelset.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
