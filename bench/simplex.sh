#!/usr/bin/env bash
# Simplex benchmark (issue 5): the Deep ReLU Simplex stage.
#   1. Pivots per second against N at 1 and 2 ranks, -simplex_max_pivots PIVOTS, first-hit steps:
#      the study's deep setting (ReLU net 4-5-4-2-1 on uniform data, layer 1 from U(-20, 20)) and
#      LAD regression (no hidden layer, p = 10, data from tests/lp_check.py make), N in N_LIST.
#      pivots/s = pivots / stage time (/simplex/summary).
#   2. LAD with N = 1e5, p = 10: time to the optimum of landscape (-simplex_step long at 1 and 2
#      ranks; -simplex_step first at 2 ranks, capped at FIRST_PIVOTS pivots) against HiGHS's dual
#      simplex on the LP dual, GLPK (glpsol --simplex) on the LP dual and on the primal LP (each under
#      a timeout of GLPK_TIMEOUT seconds), and HiGHS's dual simplex on the primal LP (HIGHS_TIMEOUT).
#      All must reach the same loss to 1e-9 relative.
# Runs everything sequentially, waiting (a bounded time) for the machine to be idle before each
# measurement. Raw logs go to bench/out/simplex_*, the report to bench/out/simplex.md (also printed).
# Environment: LANDSCAPE (binary, default bin/landscape), PYTHON (default /usr/bin/python3),
#   IDLE_WAIT_TOTAL (seconds the whole run may wait for other load to go away, default 120),
#   N_LIST (default "1000 4000 16000 64000"), PIVOTS (default 2000), FIRST_PIVOTS (default 3000),
#   GLPK_TIMEOUT, HIGHS_TIMEOUT (seconds, default 720 and 300), LAD_N (default 100000; smaller only to try the script).
# 'bash bench/simplex.sh --report' only rewrites the report from the logs of the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out
BIN=${LANDSCAPE:-bin/landscape}
PY=${PYTHON:-/usr/bin/python3}
LP="$PY tests/lp_check.py"
N_LIST=${N_LIST:-1000 4000 16000 64000}
PIVOTS=${PIVOTS:-2000}
FIRST_PIVOTS=${FIRST_PIVOTS:-3000}
GLPK_TIMEOUT=${GLPK_TIMEOUT:-720}
HIGHS_TIMEOUT=${HIGHS_TIMEOUT:-300}
LAD_N=${LAD_N:-100000}
LAD_P=10
SEED=1
LAD=$OUT/simplex_lad_$LAD_N.h5
IDLE_WAIT_TOTAL=${IDLE_WAIT_TOTAL:-120}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
DEEP=(-data_type uniform -data_d 4 -net_hidden 5,4,2 -net_activation relu -net_init uniform -loss l1 -stages simplex
  -simplex_init_scale 20 -simplex_monitor 0 -seed 1)
LADOPT=(-net_hidden "" -loss l1 -stages simplex -simplex_monitor 0)

report_only=0
[ "${1:-}" != --report ] || report_only=1

mkdir -p "$OUT"
if [ $report_only = 0 ]; then # the measurements, up to the report
[ -x "$BIN" ] || { echo "simplex: $BIN not found: run 'make' first" >&2; exit 1; }
"$PY" -c 'import scipy, h5py' 2>/dev/null || { echo "simplex: $PY cannot import scipy and h5py" >&2; exit 1; }
command -v glpsol >/dev/null || { echo "simplex: glpsol not found (glpk-utils)" >&2; exit 1; }
: >"$OUT/simplex_load.txt"
rm -f "$OUT"/simplex_*.wall "$OUT"/simplex_lp_*.txt
start=$(date +%s)
echo "N_LIST=${N_LIST// /,} PIVOTS=$PIVOTS FIRST_PIVOTS=$FIRST_PIVOTS GLPK_TIMEOUT=$GLPK_TIMEOUT HIGHS_TIMEOUT=$HIGHS_TIMEOUT LAD_N=$LAD_N LAD_P=$LAD_P SEED=$SEED" >"$OUT/simplex_params.txt"

BENCH_NAME=simplex LOAD_FILE=$OUT/simplex_load.txt BENCH_LOADAVG=1
source bench/lib.sh

# 1. The data: LAD instances (x ~ N(0, 1), Laplace noise) for every N and for N = 1e5.
for n in $N_LIST; do
  [ -s "$OUT/simplex_lad_$n.h5" ] || $LP make "$OUT/simplex_lad_$n.h5" "$n" "$LAD_P" "$SEED"
done
[ -s "$LAD" ] || $LP make "$LAD" "$LAD_N" "$LAD_P" "$SEED"

# landscape NAME RANKS OPTIONS...: one run with -log_view; its wall time (with start-up and data load) to NAME.wall.
landscape() {
  local name=$1 r=$2 t0 t1
  shift 2
  wait_idle "$name"
  echo "simplex: $name, $r rank(s)"
  rm -rf "${OUT:?}/$name"
  t0=$(date +%s.%N)
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 mpiexec -n "$r" "$BIN" -skip_petscrc "$@" -output_dir "$OUT/$name" -log_view \
    >"$OUT/$name.log" 2>&1 || { tail -20 "$OUT/$name.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  check_after "$name"
  echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}' >"$OUT/$name.wall"
  grep -E '^simplex: (global minimum|local minimum|pivot limit)' "$OUT/$name.log" || true
}

# 2. Pivots per second against N, 1 and 2 ranks.
for n in $N_LIST; do
  for r in 1 2; do
    landscape "simplex_pps_deep_${n}_$r" "$r" "${DEEP[@]}" -data_n "$n" -simplex_max_pivots "$PIVOTS"
    landscape "simplex_pps_lad_${n}_$r" "$r" -data_file "$OUT/simplex_lad_$n.h5" "${LADOPT[@]}" -simplex_max_pivots "$PIVOTS"
  done
done

# 3. LAD N = 1e5: landscape, then the LP solvers (each prints '<solver> <loss> <seconds>'; the LP file is
#    written before glpsol's clock starts). A timeout leaves 'timeout' in the file.
landscape simplex_lad_long_1 1 -data_file "$LAD" "${LADOPT[@]}" -simplex_step long
landscape simplex_lad_long_2 2 -data_file "$LAD" "${LADOPT[@]}" -simplex_step long
landscape simplex_lad_first_2 2 -data_file "$LAD" "${LADOPT[@]}" -simplex_step first -simplex_max_pivots "$FIRST_PIVOTS"
lp() { # NAME WHICH TIMEOUT
  local name=simplex_lp_$1 rc=0
  wait_idle "$name"
  echo "simplex: $1 (timeout $3 s)"
  mkdir -p "$OUT/simplex_tmp"
  TMPDIR=$OUT/simplex_tmp OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 timeout "$3" $LP solve "$LAD" l1 0.5 1 "$2" >"$OUT/$name.txt" 2>&1 || rc=$?
  rm -rf "${OUT:?}/simplex_tmp"
  check_after "$name"
  [ $rc = 0 ] || { [ $rc = 124 ] && echo "timeout $3" >>"$OUT/$name.txt"; } || { cat "$OUT/$name.txt" >&2; exit 1; }
  cat "$OUT/$name.txt"
}
lp highs_dual dual "$GLPK_TIMEOUT"
lp glpk_dual glpk-dual "$GLPK_TIMEOUT"
lp glpk glpk "$GLPK_TIMEOUT"
lp highs highs "$HIGHS_TIMEOUT"

echo "simplex: measurements took $(($(date +%s) - start)) s"
echo "$(($(date +%s) - start))" >"$OUT/simplex_elapsed.txt"
fi

# 4. The report (also alone: bench/simplex.sh --report).
echo
"$PY" - "$OUT" <<'EOF'
import os, re, sys
import h5py

out = sys.argv[1]


def read(name):
    with open(os.path.join(out, name)) as f:
        return f.read()


params = dict(kv.split("=") for kv in read("simplex_params.txt").split())
N_LIST = [int(n) for n in params["N_LIST"].split(",")]
PIV, FIRST = int(params["PIVOTS"]), int(params["FIRST_PIVOTS"])
LAD_N, LAD_P = int(params["LAD_N"]), int(params["LAD_P"])


def run(name):
    with h5py.File(os.path.join(out, name, "results.h5"), "r") as f:
        s = f["/simplex/summary"][...]
        a = dict(f["/simplex"].attrs)
    cols = [c.strip() for c in (a["summary_columns"].decode() if isinstance(a["summary_columns"], bytes) else a["summary_columns"]).split(",")]
    x = dict(zip(cols, s))
    verdict = a["verdict"].decode() if isinstance(a["verdict"], bytes) else a["verdict"]
    log = read(name + ".log")
    ev = {}
    for e in ("Simplex", "SimplexPass", "SimplexBasis", "DataLoad"):
        m = re.search(rf"^{e}\s+(\d+)\s+[\d.]+\s+([\d.e+-]+)", log, re.M)
        ev[e] = (int(m.group(1)), float(m.group(2))) if m else (0, 0.0)
    return dict(loss=x["loss_final"], pivots=int(x["pivots"]), p1=int(x["phase1_steps"]), time=x["time"], zero=int(x["zero_pivots"]),
                verdict=verdict, wall=float(read(name + ".wall")), ev=ev)


def lp(name):
    t = read(f"simplex_lp_{name}.txt")
    m = re.search(r"^(\S+) (\S+) (\S+)(?: (\S+))?$", t, re.M)
    if m:
        return dict(loss=float(m.group(2)), time=float(m.group(3)), solve=float(m.group(4)) if m.group(4) else None)
    m = re.search(r"^timeout (\d+)", t, re.M)
    return dict(loss=None, time=None, timeout=int(m.group(1)) if m else None)


o = []
w = o.append
w("## Deep ReLU Simplex (simplex stage)")
w("")
try:
    elapsed = int(read("simplex_elapsed.txt"))
    el = f" The measurements took {elapsed} s ({elapsed / 60:.0f} min)."
except (OSError, ValueError):
    el = ""
w(f"Command: `bash bench/simplex.sh` (also run by `bench/run.sh`); raw logs in `bench/out/simplex_*`; "
  f"`bash bench/simplex.sh --report` rewrites `bench/out/simplex.md` from them.{el}")
w("")
w(f"### Pivots per second against N (first-hit steps, `-simplex_max_pivots {PIV}`)")
w("")
w("Deep: the study's setting, ReLU net 4-5-4-2-1 on uniform data (`-data_type uniform -data_n N -data_d 4 -net_hidden 5,4,2 "
  "-net_activation relu -net_init uniform -loss l1 -stages simplex -simplex_init_scale 20 -seed 1`), layer 1 (25 parameters, "
  "12 constraints per sample). "
  f"LAD: no hidden layer (`-net_hidden \"\" -loss l1`), p = {LAD_P} (11 parameters, 1 constraint per sample), data from "
  "`tests/lp_check.py make F N 10 1`. pivots/s = phase-2 pivots / stage time (`/simplex/summary`, phase 1 included); "
  "efficiency = pivots/s at 2 ranks / (2 x at 1 rank).")
w("")
w("| setting | N | pivots | verdict | 1 rank: time (s) | pivots/s | 2 ranks: time (s) | pivots/s | efficiency | µs per pivot and row, 1 rank |")
w("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
P = {}
for net in ("deep", "lad"):
    for n in N_LIST:
        a, b = run(f"simplex_pps_{net}_{n}_1"), run(f"simplex_pps_{net}_{n}_2")
        P[(net, n)] = (a, b)
        pa, pb = a["pivots"] / a["time"], b["pivots"] / b["time"]
        same = "" if a["pivots"] == b["pivots"] and a["loss"] == b["loss"] else " (1 and 2 ranks differ!)"
        w(f"| {net} | {n} | {a['pivots']} | {a['verdict']}{same} | {a['time']:.2f} | {pa:.0f} | {b['time']:.2f} | {pb:.0f} | "
          f"{100 * pb / (2 * pa):.0f}% | {1e6 * a['time'] / max(a['pivots'] + a['p1'], 1) / n:.3f} |")
w("")

w(f"### LAD, N = {LAD_N}, p = {LAD_P}: time to the optimum")
w("")
w(f"Data: `tests/lp_check.py make F {LAD_N} {LAD_P} 1`. landscape: `-data_file F -net_hidden \"\" -loss l1 -stages simplex "
  "-simplex_step long|first`; time = stage time (`/simplex/summary`), wall = the whole `mpiexec` run (start-up, data load, "
  "result writing). LP solvers through `tests/lp_check.py solve F l1 0.5 1 dual|glpk-dual|glpk|highs`: the time is that of the "
  "solver call (HiGHS: `linprog(method='highs-ds')`; GLPK: the `glpsol --simplex` process, reading the CPLEX-LP file "
  "included; in brackets glpsol's own 'Time used'); building the LP is not counted. "
  "The LP dual (Barrodale-Roberts' view) has N bounded variables and p+1 equalities; the primal LP 2N+p+1 variables and N equalities.")
w("")
L = {k: run(f"simplex_lad_{k}") for k in ("long_1", "long_2", "first_2")}
S = {k: lp(k) for k in ("highs_dual", "glpk_dual", "glpk", "highs")}
ref = S["highs_dual"]["loss"]
w("| solver | time (s) | wall (s) | pivots / iterations | loss | relative difference to HiGHS (dual) |")
w("| --- | ---: | ---: | ---: | ---: | ---: |")
rel = lambda v: f"{abs(v - ref) / ref:.1e}" if v is not None and ref else "n/a"
for k, name in (("long_1", "landscape, long steps, 1 rank"), ("long_2", "landscape, long steps, 2 ranks"),
                ("first_2", f"landscape, first-hit steps, 2 ranks (cap {FIRST} pivots)")):
    x = L[k]
    w(f"| {name} | {x['time']:.2f} | {x['wall']:.2f} | {x['pivots']} ({x['verdict']}) | {x['loss']:.15g} | {rel(x['loss'])} |")
for k, name in (("highs_dual", "HiGHS dual simplex, LP dual"), ("glpk_dual", "GLPK simplex, LP dual"),
                ("glpk", "GLPK simplex, primal LP"), ("highs", "HiGHS dual simplex, primal LP")):
    x = S[k]
    if x["time"] is None:
        w(f"| {name} | > {x.get('timeout')} (timeout) | | | not reached | |")
    else:
        t = f"{x['time']:.2f}" + (f" ({x['solve']:.1f})" if x.get("solve") is not None else "")
        w(f"| {name} | {t} | | | {x['loss']:.15g} | {rel(x['loss'])} |")
w("")
lands = [("long, 1 rank, wall", L["long_1"]["wall"]), ("long, 2 ranks, wall", L["long_2"]["wall"]),
         ("long, 1 rank, stage", L["long_1"]["time"]), ("long, 2 ranks, stage", L["long_2"]["time"])]
w("Ratios (solver time / landscape time; above 1 means landscape is faster; a timeout gives a lower bound):")
w("")
w("| landscape | vs GLPK, LP dual | vs GLPK, primal LP | vs HiGHS, LP dual | vs HiGHS, primal LP |")
w("| --- | ---: | ---: | ---: | ---: |")


def ratio(k, t):
    x = S[k]
    if x["time"] is None:
        return f"> {x['timeout'] / t:.0f}x" if x.get("timeout") else "n/a"
    return f"{x['time'] / t:.2f}x"


for name, t in lands:
    w(f"| {name} | {ratio('glpk_dual', t)} | {ratio('glpk', t)} | {ratio('highs_dual', t)} | {ratio('highs', t)} |")
w("")
optimal = all(abs(L[k]["loss"] - ref) <= 1e-9 * ref for k in ("long_1", "long_2")) and all(
    S[k]["loss"] is None or abs(S[k]["loss"] - ref) <= 1e-9 * ref for k in S)
t1 = L["long_1"]["wall"]
glpk = {"glpk_dual": "GLPK on the LP dual", "glpk": "GLPK on the primal LP"}
done = [(S[k]["time"], v) for k, v in glpk.items() if S[k]["time"] is not None]
capped = [(S[k]["timeout"], v) for k, v in glpk.items() if S[k]["time"] is None]
if done:
    g, gname = min(done)
    ok, against = t1 <= g, f"the faster GLPK run that finished, {gname}: {g:.2f} s"
else:
    g, gname = min(capped)
    ok, against = t1 <= g, f"GLPK, which did not finish within its timeout of {g} s on either LP"
w(f"Target \"no slower than GLPK\": landscape, long steps, 1 rank, whole run {t1:.2f} s against {against}; "
  f"all solvers that finished agree on the optimum to 1e-9 relative: {'yes' if optimal else 'NO'}. "
  f"**{'PASS' if ok and optimal else 'MISS'}**.")
w("")
w("Where landscape's time goes (`-log_view`, max over ranks): " + "; ".join(
    f"{k}: Simplex {L[k]['ev']['Simplex'][1]:.2f} s, SimplexPass {L[k]['ev']['SimplexPass'][0]} calls {L[k]['ev']['SimplexPass'][1]:.2f} s, "
    f"SimplexBasis {L[k]['ev']['SimplexBasis'][0]} calls {L[k]['ev']['SimplexBasis'][1]:.3f} s, wall {L[k]['wall']:.2f} s"
    for k in L) + ".")
w("")
load = [l.split() for l in read("simplex_load.txt").split("\n") if l.strip()]
w("Load before and after each measurement (percent of both CPUs busy over one second, 1-minute load average, which includes "
  "the measured processes themselves): " + "; ".join(f"{l[0]} {l[1]}%" + (f" {l[2]}" if len(l) > 2 else "") for l in load) + ".")
busy = [l for l in load if int(l[1]) >= 10]
if busy:
    w("")
    w(f"Warning: other processes used the CPUs around {len(busy)} of {len(load)} load records (" +
      ", ".join(f"{l[0]} {l[1]}%" for l in busy[:12]) + (", ..." if len(busy) > 12 else "") + "); those timings may be high.")
text = "\n".join(o) + "\n"
with open(os.path.join(out, "simplex.md"), "w") as f:
    f.write(text)
print(text)
print(f"simplex: wrote {out}/simplex.md")
EOF
