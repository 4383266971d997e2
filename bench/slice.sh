#!/usr/bin/env bash
# Slice benchmark (issue 7): the loss on a 2-D grid of N x N points (default 101 x 101),
# theta(x, y) = origin + x d1 + y d2 with Li et al.'s filter-normalised random directions, x, y in
# [-1, 1], for the core benchmark's MLP (784-256-256-10, ReLU, softmax cross-entropy, float64) on
# 10 000 Fashion-MNIST training rows (-data_train_n 10000), around one point after 3 Adam epochs
# (saved once; every run slices around its /theta).
#   landscape -stages slice, with -log_view: 1 rank; 2 ranks -slice_parallel data; 2 ranks
#     -slice_parallel grid (all full grids, first layer from the three precomputed products);
#     1 rank -slice_first_layer 0 (a plain forward pass per point, the same algorithm as PyTorch) on
#     every LINES-th grid line (-slice_n N,(N-1)/LINES+1: the same points);
#   bench/torch_slice.py: PyTorch on the CPU, the grid of the 1-rank run point by point (nn.Sequential,
#     parameters set to origin + x d1 + y d2, forward in batches of 10 000 rows, mean cross-entropy),
#     float64 and float32, 1 and 2 threads, on every LINES-th grid line; the full-grid time is
#     projected from the time per point (LINES=1: the whole grid).
# Checks that all runs agree with landscape's 1-rank grid. One round, the runs interleaved; each
# waits (a bounded time) for the machine to be idle. Raw logs go to bench/out/slice_*, the report
# to bench/out/slice.md (also printed).
# Environment: LANDSCAPE (default bin/landscape), PYTHON (default /usr/bin/python3), N (grid points
#   per axis, default 101; N=11 for a quick check), LINES (default 10; N-1 must be a multiple),
#   IDLE_WAIT_TOTAL (seconds the whole run may wait for other load to go away, default 120).
# 'bash bench/slice.sh --report' only rewrites the report from the logs of the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out
BIN=${LANDSCAPE:-bin/landscape}
PY=${PYTHON:-/usr/bin/python3}
DATA=$OUT/fmnist.h5
POINT=$OUT/slice_point
N=${N:-101}
LINES=${LINES:-10}
IDLE_WAIT_TOTAL=${IDLE_WAIT_TOTAL:-120}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
COMMON=(-skip_petscrc -data_file "$DATA" -data_train_n 10000 -data_test_n 1 -net_hidden 256,256 -net_activation relu -loss ce)
[ $(((N - 1) % LINES)) = 0 ] || { echo "slice: N-1 = $((N - 1)) is not a multiple of LINES = $LINES" >&2; exit 1; }
NL=$(((N - 1) / LINES + 1))

report_only=0
[ "${1:-}" != --report ] || report_only=1

mkdir -p "$OUT"
if [ $report_only = 0 ]; then # the measurements, up to the report
[ -x "$BIN" ] || { echo "slice: $BIN not found: run 'make' first" >&2; exit 1; }
"$PY" -c 'import torch, h5py' 2>/dev/null || { echo "slice: $PY cannot import torch and h5py (make deps-bench)" >&2; exit 1; }
: >"$OUT/slice_load.txt"
rm -f "$OUT"/slice_*.log "$OUT"/slice_torch_*.txt
start=$(date +%s)

BENCH_NAME=slice LOAD_FILE=$OUT/slice_load.txt BENCH_LOADAVG=1
source bench/lib.sh

# 1. The data and the point: 3 Adam epochs from the seeded initialisation (as bench/spectrum.sh).
import_fmnist "$DATA"
train_point "$POINT"

# 2. landscape and PyTorch, interleaved.
run_landscape() { # $1 = ranks, $2 = name, then extra options
  local r=$1 name=$2
  shift 2
  wait_idle "$name"
  echo "slice: landscape, $r rank(s) $*"
  rm -rf "${OUT:?}/$name"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 mpiexec -n "$r" "$BIN" "${COMMON[@]}" -net_theta "$POINT/results.h5" -stages slice \
    -output_dir "$OUT/$name" -log_view "$@" >"$OUT/$name.log" 2>&1 || {
    tail -20 "$OUT/$name.log" >&2
    ! grep -q 'H5Dwrite' "$OUT/$name.log" || echo "slice: writing the results failed; an empty H1 diagram (/slice/topology/h1," \
      "0 rows) cannot be written collectively with HDF5 1.10 (src/io/results.c, WriteReplicated)" >&2
    exit 1
  }
  check_after "$name"
  grep -E '^slice: [0-9]+ points' "$OUT/$name.log"
}
run_torch() { # $1 = dtype, $2 = threads
  local name=slice_torch_$1_$2
  wait_idle "$name"
  echo "slice: PyTorch $1, $2 thread(s), every $LINES-th grid line"
  OPENBLAS_NUM_THREADS=$2 OMP_NUM_THREADS=$2 "$PY" bench/torch_slice.py "$OUT/slice_l1/results.h5" "$DATA" --threads "$2" \
    --dtype "$1" --lines "$LINES" >"$OUT/$name.txt"
  check_after "$name"
  grep -E '^(calibration|result)' "$OUT/$name.txt"
}
run_landscape 1 slice_l1 -slice_n "$N"
run_torch float64 1
run_landscape 2 slice_l2_data -slice_n "$N" -slice_parallel data
run_torch float64 2
run_landscape 2 slice_l2_grid -slice_n "$N" -slice_parallel grid
run_landscape 1 slice_l1_plain -slice_n "$N,$NL" -slice_first_layer 0
run_torch float32 1
run_torch float32 2
echo "slice: measurements took $(($(date +%s) - start)) s"
echo "$(($(date +%s) - start))" >"$OUT/slice_elapsed.txt"

fi

# 3. The report (also alone: bench/slice.sh --report).
echo
"$PY" - "$OUT" <<'EOF'
import os, re, sys
import h5py
import numpy as np

out = sys.argv[1]
rows, d, h, k = 10000, 784, 256, 10
later = h * h + h * k                     # multiply-adds per row of the layers after the first
first = d * h


def read(name):
    with open(os.path.join(out, name)) as f:
        return f.read()


def landscape(name):
    t = read(f"{name}.log")
    m = re.search(r"^slice: (\d+) points in ([\d.]+) s", t, re.M)
    st = t[t.index("--- Event Stage 1"):] if "--- Event Stage 1" in t else ""
    ev = {}
    for e in ("Slice", "SlicePrecompute", "Forward", "DDReduce"):
        x = re.search(rf"^{e}\s+(\d+)\s+[\d.]+\s+([\d.e+-]+)\s+([\d.]+)", st, re.M)
        ev[e] = (int(x.group(1)), float(x.group(2))) if x else (0, 0.0)
    mem = float(re.search(r"memory: peak resident set ([\d.]+) MiB", t).group(1))
    with h5py.File(os.path.join(out, name, "results.h5"), "r") as f:
        loss = f["slice/loss"][...]
        par = f["slice"].attrs["parallel"]
    par = par.decode() if isinstance(par, bytes) else str(par)
    pts = int(m.group(1))
    # the whole stage (directions, first-layer products, grid) counts; time_s is the grid loop alone
    return dict(points=pts, loop=float(m.group(2)), time=ev["Slice"][1], ev=ev, mem=mem, loss=loss, parallel=par,
                full=ev["Slice"][1] * npts / pts)


def torch(dt, th):
    t = read(f"slice_torch_{dt}_{th}.txt")
    m = re.search(r"^result: .* batch (\d+) lines (\d+) step (\d+) points (\d+) time ([\d.]+) s per_point_ms ([\d.]+) "
                  r"points_per_s ([\d.]+) full_grid_s ([\d.]+) max_rel_diff (\S+) peak_rss_mib (\d+)", t, re.M)
    return dict(batch=int(m.group(1)), points=int(m.group(4)), time=float(m.group(5)), ms=float(m.group(6)),
                full=float(m.group(8)), diff=float(m.group(9)), mem=float(m.group(10)))


with h5py.File(os.path.join(out, "slice_l1", "results.h5"), "r") as f:  # the grid of the last run (--report: whatever N was)
    n = f["slice/loss"].shape[1]
npts = n * n
L1, L2d, L2g, Lp = (landscape(x) for x in ("slice_l1", "slice_l2_data", "slice_l2_grid", "slice_l1_plain"))
T = {(dt, th): torch(dt, th) for dt in ("float64", "float32") for th in (1, 2)}
lines = int(re.search(r" step (\d+) ", read("slice_torch_float64_1.txt")).group(1))
ref = L1["loss"]
sub = ref[::lines, :]
bitwise = lambda a: "bitwise equal" if np.array_equal(a, ref) else f"max rel. diff {np.max(np.abs(a - ref) / np.abs(ref)):.1e}"
plain_diff = np.max(np.abs(Lp["loss"] - sub) / np.abs(sub))
load = [l.split() for l in read("slice_load.txt").splitlines() if l.strip() and not l.startswith("#")]
busy = {l[0]: int(l[1]) for l in load if int(l[1]) >= 10}
loadavg = [float(l[2]) for l in load if len(l) > 2]
elapsed = read("slice_elapsed.txt").strip() if os.path.exists(os.path.join(out, "slice_elapsed.txt")) else "?"
tsub = T[("float64", 1)]["points"]

o = []
w = o.append
w("## Slice: a 2-D loss grid")
w("")
w(f"The loss on a {n} x {n} grid theta(x, y) = origin + x d1 + y d2, x, y in [-1, 1], filter-normalised random directions "
  f"(Li et al. 2018), MLP 784-256-256-10 (ReLU, softmax cross-entropy, float64, P = 269 322) on {rows} Fashion-MNIST training "
  "rows (`-data_train_n 10000`), around a point after 3 Adam epochs.")
w("landscape forms the first layer from X W1^T, X D1^T, X E1^T, computed once (SlicePrecompute), so a point costs the later "
  "layers only; `-slice_first_layer 0` and PyTorch run a full forward pass per point.")
w(f"PyTorch (`bench/torch_slice.py`: nn.Sequential, parameters set to origin + x d1 + y d2, forward in batches under no_grad "
  "(the fastest of 10000, 5000, 1000 and 128 rows on 8 points), mean cross-entropy and accuracy) and `-slice_first_layer 0` "
  f"evaluate every {lines}-th "
  f"grid line ({tsub} points); their full-grid times are projected from the time per point.")
w("landscape times are the `Slice` event of `-log_view` (max over ranks): directions, first-layer products and the grid.")
w("")
w("```sh")
w(f"bash bench/slice.sh        # N={n} LINES={lines}; raw logs bench/out/slice_*, report bench/out/slice.md")
w("```")
w("")
w("| run | points timed | time (s) | points/s | full grid (s) | vs PyTorch float64 | vs PyTorch float32 | parallel efficiency | memory (MiB) |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def lrow(name, x, th, eff=""):
    t64, t32 = T[("float64", th)]["full"], T[("float32", th)]["full"]
    w(f"| {name} | {x['points']} | {x['time']:.1f} | {x['points'] / x['time']:.1f} | {x['full']:.1f} | "
      f"{t64 / x['full']:.2f}x | {t32 / x['full']:.2f}x | {eff} | {x['mem']:.0f} per rank |")


eff_d = L1["full"] / (2 * L2d["full"])
eff_g = L1["full"] / (2 * L2g["full"])
lrow("landscape, 1 rank", L1, 1)
lrow("landscape, 2 ranks, `-slice_parallel data`", L2d, 2, f"{100 * eff_d:.0f}%")
lrow("landscape, 2 ranks, `-slice_parallel grid`", L2g, 2, f"{100 * eff_g:.0f}%")
lrow("landscape, 1 rank, `-slice_first_layer 0`", Lp, 1)
for th in (1, 2):
    for dt in ("float64", "float32"):
        x = T[(dt, th)]
        w(f"| PyTorch {dt}, {th} thread{'s' if th > 1 else ''} (batch {x['batch']}) | {x['points']} | {x['time']:.1f} | {1e3 / x['ms']:.1f} | "
          f"{x['full']:.1f} | | | {'%.0f%%' % (100 * T[(dt, 1)]['full'] / (2 * x['full'])) if th == 2 else ''} | {x['mem']:.0f} (process) |")
w("")
w("Ratios are PyTorch's full-grid time over landscape's at the same core count (1 rank vs 1 thread, 2 ranks vs 2 threads); "
  "parallel efficiency = time at 1 / (2 x time at 2).")
w("")
w(f"Values: landscape at 2 ranks against 1 rank: data-parallel {bitwise(L2d['loss'])}, grid-parallel {bitwise(L2g['loss'])}; "
  f"`-slice_first_layer 0` against the 1-rank grid: max rel. diff {plain_diff:.1e}; PyTorch against the 1-rank grid: "
  + ", ".join(f"{dt} {th} thread{'s' if th > 1 else ''} {T[(dt, th)]['diff']:.1e}" for dt in ("float64", "float32") for th in (1, 2))
  + f". Loss on the grid from {ref.min():.4f} to {ref.max():.4f}.")
w("")
w("Where landscape's time goes (`-log_view`, stage `slice`, max over ranks; GFLOP/s of Forward from the products it "
  "computes: the later layers, or all with `-slice_first_layer 0`):")
w("")
w("| run | Slice (s) | SlicePrecompute (s) | Forward (s) | Forward GFLOP/s per rank | rest (s) | per point (ms, 1 core) |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, x, r, plain in (("1 rank", L1, 1, False), ("2 ranks, data", L2d, 2, False), ("2 ranks, grid", L2g, 2, False),
                          ("1 rank, `-slice_first_layer 0`", Lp, 1, True)):
    s, p, f = x["ev"]["Slice"][1], x["ev"]["SlicePrecompute"][1], x["ev"]["Forward"][1]
    flop = 2.0 * rows * (later + (first if plain else 0)) * x["points"] / r
    w(f"| {name} | {s:.2f} | {p:.2f} | {f:.2f} | {flop / f * 1e-9 if f else 0:.1f} | {s - p - f:.2f} | {1e3 * s * r / x['points']:.1f} |")
w("")
w("rest = Slice - SlicePrecompute - Forward: forming the parameters and the first-layer combination z0 + x z1 + y z2 "
  "of every point, the loss, and (2 ranks) the reductions and the wait for the other rank.")
w("")
t1 = T[("float64", 1)]["full"] / L1["full"]
t2 = T[("float64", 2)]["full"] / L2d["full"]
t2g = T[("float64", 2)]["full"] / L2g["full"]
targets = [
    (">= 1.5x PyTorch float64, 1 rank vs 1 thread", f"{t1:.2f}x", t1 >= 1.5),
    (">= 1.5x PyTorch float64, 2 ranks vs 2 threads (data; grid)", f"{t2:.2f}x; {t2g:.2f}x", min(t2, t2g) >= 1.5),
    (">= 85% parallel efficiency, 1 to 2 ranks (data; grid)", f"{100 * eff_d:.0f}%; {100 * eff_g:.0f}%", min(eff_d, eff_g) >= 0.85),
    ("float64 values agree with PyTorch to 1e-10", f"{max(T[('float64', th)]['diff'] for th in (1, 2)):.1e}",
     max(T[("float64", th)]["diff"] for th in (1, 2)) <= 1e-10),
]
w("| target | measured | result |")
w("| --- | --- | --- |")
for name, val, ok in targets:
    w(f"| {name} | {val} | {'PASS' if ok else 'MISS'} |")
w("")
w(f"The measurements took {elapsed} s. CPU load: " + (
    "other processes used the CPUs around " + ", ".join(f"{a} ({b}%)" for a, b in busy.items()) + "; those numbers may be off"
    if busy else "below 10% before and after every measurement")
  + (f"; load average {min(loadavg):.2f}-{max(loadavg):.2f}" if loadavg else "") + " (bench/out/slice_load.txt).")
text = "\n".join(o) + "\n"
with open(os.path.join(out, "slice.md"), "w") as f:
    f.write(text)
print(text)
print(f"slice: wrote {out}/slice.md")
EOF
