#!/usr/bin/env bash
# Spectrum benchmark (issue 4): the 5 smallest and the 5 largest Hessian eigenpairs to relative
# residual 1e-6, MLP 784-256-256-10 (ReLU, softmax cross-entropy, float64, the core benchmark's
# model) on 10 000 Fashion-MNIST training rows (-data_train_n 10000), at one point after 3 Adam
# epochs (saved once; every method starts from its /theta).
#   landscape spectrum stage, SLEPc Krylov-Schur (default), 1 and 2 ranks, with -log_view;
#   landscape spectrum stage with SLEPc's power method (-spectrum_eps_type power), largest and,
#     with a shift, smallest (recorded whether the stage accepts it);
#   PyHessian's algorithm (power iteration + Gram-Schmidt deflation) in PyTorch float64
#     (bench/torch_hessian.py power), 2 threads, same stopping rule, capped;
#   one Hessian-vector product: landscape (-stages eval -eval_hvp_direction -eval_repeat) against
#     PyTorch's double backward (bench/torch_hessian.py hvp), 1 and 2 ranks/threads, two
#     interleaved rounds, best of REPEAT each.
# First checks that PyTorch and landscape compute the same loss and the same H v at the point.
# Runs everything sequentially, waiting (a bounded time) for the machine to be idle before each
# measurement. Raw logs go to bench/out/spectrum_*, the report to bench/out/spectrum.md (also printed).
# Environment: LANDSCAPE (binary, default bin/landscape), PYTHON (default /usr/bin/python3),
#   IDLE_WAIT_TOTAL (seconds the whole run may wait for other load to go away, default 120),
#   CAP_LARGEST, CAP_SMALLEST (PyTorch power iteration product budgets, default 800 and 300;
#   the smallest budget is raised to 2 x Krylov-Schur's count + 1 when lower).
# 'bash bench/spectrum.sh --report' only rewrites the report from the logs of the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out
BIN=${LANDSCAPE:-bin/landscape}
PY=${PYTHON:-/usr/bin/python3}
DATA=$OUT/fmnist.h5
POINT=$OUT/spectrum_point
REPEAT=5
TOL=1e-6
NEV=5
CAP_LARGEST=${CAP_LARGEST:-800}
CAP_SMALLEST=${CAP_SMALLEST:-300}
IDLE_WAIT_TOTAL=${IDLE_WAIT_TOTAL:-120}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
COMMON=(-skip_petscrc -data_file "$DATA" -data_train_n 10000 -data_test_n 1 -net_hidden 256,256 -net_activation relu -loss ce)

report_only=0
[ "${1:-}" != --report ] || report_only=1

mkdir -p "$OUT"
if [ $report_only = 0 ]; then # the measurements, up to the report
[ -x "$BIN" ] || { echo "spectrum: $BIN not found: run 'make' first" >&2; exit 1; }
"$PY" -c 'import torch, h5py' 2>/dev/null || { echo "spectrum: $PY cannot import torch and h5py (make deps-bench)" >&2; exit 1; }
: >"$OUT/spectrum_load.txt"
start=$(date +%s)

BENCH_NAME=spectrum LOAD_FILE=$OUT/spectrum_load.txt BENCH_LOADAVG=1
source bench/lib.sh

# 1. The data and the point: 3 Adam epochs from the seeded initialisation.
import_fmnist "$DATA"
train_point "$POINT"

# 2. landscape's loss and H theta at the point; PyTorch must give the same.
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 mpiexec -n 2 "$BIN" "${COMMON[@]}" -net_theta "$POINT/results.h5" -stages eval \
  -eval_hvp_direction "$POINT/results.h5" -output_dir "$OUT/spectrum_ref" >"$OUT/spectrum_ref.log" 2>&1 || { tail -20 "$OUT/spectrum_ref.log" >&2; exit 1; }
OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$PY" bench/torch_hessian.py check "$DATA" "$POINT/results.h5" --threads 2 \
  --reference "$OUT/spectrum_ref/results.h5" >"$OUT/spectrum_check.txt"
grep '^check:' "$OUT/spectrum_check.txt"

# 3. One Hessian-vector product, landscape and PyTorch, 1 and 2 ranks/threads, two interleaved rounds.
hvp_landscape() { # $1 = ranks, $2 = suffix
  local name=spectrum_hvp_l$1$2
  wait_idle "$name"
  echo "spectrum: landscape Hessian-vector product, $1 rank(s)"
  rm -rf "${OUT:?}/$name"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 mpiexec -n "$1" "$BIN" "${COMMON[@]}" -net_theta "$POINT/results.h5" -stages eval \
    -eval_hvp_direction "$POINT/results.h5" -eval_repeat "$REPEAT" -output_dir "$OUT/$name" >"$OUT/$name.log" 2>&1 \
    || { tail -20 "$OUT/$name.log" >&2; exit 1; }
  check_after "$name"
  grep '^eval: Hessian-vector' "$OUT/$name.log"
}
hvp_torch() { # $1 = threads, $2 = suffix
  local name=spectrum_hvp_t$1$2
  wait_idle "$name"
  echo "spectrum: PyTorch Hessian-vector product, $1 thread(s)"
  OPENBLAS_NUM_THREADS=$1 OMP_NUM_THREADS=$1 "$PY" bench/torch_hessian.py hvp "$DATA" "$POINT/results.h5" --threads "$1" \
    --repeat "$REPEAT" >"$OUT/$name.txt"
  check_after "$name"
  grep '^best' "$OUT/$name.txt"
}
for sfx in "" _b; do
  hvp_landscape 1 "$sfx"
  hvp_landscape 2 "$sfx"
  hvp_torch 1 "$sfx"
  hvp_torch 2 "$sfx"
done

# 4. The eigenpairs with landscape: Krylov-Schur (default) at 1 and 2 ranks.
spectrum_run() { # $1 = ranks, $2 = name, then extra options; a failing run is recorded, not fatal
  local r=$1 name=$2 rc=0
  shift 2
  wait_idle "$name"
  echo "spectrum: landscape spectrum, $r rank(s) $*"
  rm -rf "${OUT:?}/$name"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 timeout 900 mpiexec -n "$r" "$BIN" "${COMMON[@]}" -net_theta "$POINT/results.h5" \
    -stages spectrum -spectrum_eps_tol "$TOL" -spectrum_eps_nev "$NEV" -spectrum_dense_max 0 -spectrum_save_vectors 0 \
    -output_dir "$OUT/$name" -log_view "$@" >"$OUT/$name.log" 2>&1 || rc=$?
  check_after "$name"
  echo "exit $rc" >>"$OUT/$name.log"
  if [ $rc = 0 ]; then grep -E '^spectrum: (largest|smallest) ' "$OUT/$name.log"; else
    echo "spectrum: $name failed (exit $rc): $(grep -m1 'error' "$OUT/$name.log" || tail -1 "$OUT/$name.log")"; fi
}
spectrum_run 1 spectrum_ks_1
spectrum_run 2 spectrum_ks_2

# 5. Power iteration inside landscape: SLEPc's power method, largest, then smallest with a shift
#    at the largest eigenvalue (power iteration on H - sigma I finds the smallest of H).
spectrum_run 2 spectrum_power_largest -spectrum_which largest -spectrum_eps_type power -spectrum_eps_max_it 5000
lmax=$(sed -n 's/^spectrum:   lambda \([-+0-9.e]*\).*/\1/p' "$OUT/spectrum_ks_2.log" | head -1)
spectrum_run 2 spectrum_power_smallest -spectrum_which smallest -spectrum_eps_type power -spectrum_st_type shift \
  -spectrum_st_shift "$lmax" -spectrum_eps_max_it 400

# 6. PyHessian's algorithm in PyTorch (products do not depend on the thread count: 2 threads only).
#    The budget for the smallest pairs is at least 2 x Krylov-Schur's count + 1: a run that hits it
#    has then still shown whether Krylov-Schur needs at most half the products.
ks_small=$(sed -n 's/^spectrum: smallest [0-9]* eigenpairs in [0-9]* iterations, \([0-9]*\) Hessian products.*/\1/p' "$OUT/spectrum_ks_2.log")
[ -z "$ks_small" ] || [ "$CAP_SMALLEST" -gt $((2 * ks_small)) ] || CAP_SMALLEST=$((2 * ks_small + 1))
wait_idle spectrum_torch_power
echo "spectrum: PyTorch power iteration with deflation, 2 threads (caps: $CAP_LARGEST and $CAP_SMALLEST products)"
OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$PY" bench/torch_hessian.py power "$DATA" "$POINT/results.h5" --threads 2 --nev "$NEV" \
  --tol "$TOL" --cap_largest "$CAP_LARGEST" --cap_smallest "$CAP_SMALLEST" --json "$OUT/spectrum_torch_power.json" \
  >"$OUT/spectrum_torch_power.txt"
check_after spectrum_torch_power
grep -E '^power: (largest|smallest):' "$OUT/spectrum_torch_power.txt"
echo "spectrum: measurements took $(($(date +%s) - start)) s"
echo "$(($(date +%s) - start))" >"$OUT/spectrum_elapsed.txt"

fi

# 7. The report (also alone: bench/spectrum.sh --report).
echo
"$PY" - "$OUT" "$REPEAT" "$TOL" <<'EOF'
import json, os, re, sys
import h5py

out, repeat, tol = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


def read(name):
    with open(os.path.join(out, name)) as f:
        return f.read()


def ls_spectrum(name):
    t = read(f"{name}.log")
    ok = re.search(r"^exit 0$", t, re.M) is not None
    r = dict(name=name, ok=ok, log=t)
    if not ok:
        m = re.search(r"error: (.*)", t)
        r["error"] = m.group(1).strip() if m else t.strip().splitlines()[-2]
        return r
    with h5py.File(os.path.join(out, name, "results.h5"), "r") as f:
        for part in ("largest", "smallest"):
            if f"spectrum/{part}" not in f:
                continue
            s = f[f"spectrum/{part}/solver"][...]
            r[part] = dict(values=list(f[f"spectrum/{part}/values"][...]), relres=list(f[f"spectrum/{part}/relative_residuals"][...]),
                           res=list(f[f"spectrum/{part}/residuals"][...]), its=int(s[0]), hvp=int(s[1]), time=float(s[2]), nconv=int(s[3]))
        r["hvp_total"] = int(f["spectrum/hessian_products"][0])
    # -log_view: time in the Hessian products (event of the objective) vs the solve
    ms = re.findall(r"^MatMult\s+(\d+)\s+[\d.]+\s+([\d.e+-]+)", t, re.M)
    ms = max(((int(c), float(x)) for c, x in ms), default=None)
    r["hvp_event"] = ("MatMult", ms[0], ms[1]) if ms else None
    return r


def hvp_l(r, sfx):
    m = re.search(r"Hessian-vector product best of \d+: ([\d.]+) s", read(f"spectrum_hvp_l{r}{sfx}.log"))
    return float(m.group(1))


def hvp_t(th, sfx):
    m = re.search(r"^best: threads \d+ hvp_time ([\d.]+) s", read(f"spectrum_hvp_t{th}{sfx}.txt"), re.M)
    return float(m.group(1))


HL = {r: [hvp_l(r, s) for s in ("", "_b")] for r in (1, 2)}
HT = {t: [hvp_t(t, s) for s in ("", "_b")] for t in (1, 2)}
KS = {r: ls_spectrum(f"spectrum_ks_{r}") for r in (1, 2)}
PW = {p: ls_spectrum(f"spectrum_power_{p}") for p in ("largest", "smallest")}
TP = json.loads(read("spectrum_torch_power.json"))
chk = re.search(r"check_result: loss_reldiff (\S+) hvp_reldiff (\S+)", read("spectrum_check.txt"))
point = re.search(r"^train: done: (.*?), test loss", read("spectrum_point.log"), re.M).group(1)  # (1 test row: no test figures)
load = [l.split() for l in read("spectrum_load.txt").splitlines() if l.strip()]
busy = [(w, int(b), la) for w, b, la in load if int(b) >= 10]
try:
    elapsed = int(read("spectrum_elapsed.txt"))
except OSError:
    elapsed = None


def reldiff(a, b):
    return max(abs(x - y) / max(abs(x), abs(y)) for x, y in zip(a, b)) if a and b else float("nan")


o = []
w = o.append
w("## Hessian eigenpairs (spectrum stage)")
w("")
w("Task: the 5 largest and the 5 smallest (algebraic) eigenpairs of the exact Hessian to relative residual "
  f"{tol:g}, MLP 784-256-256-10 (ReLU, softmax cross-entropy, float64, P = 269322) on 10 000 Fashion-MNIST training rows "
  f"(`-data_train_n 10000`), at one point: {point} (3 Adam epochs, batch 128, lr 1e-3, from the seeded initialisation).")
w("Command: `bash bench/spectrum.sh` (also run by `bench/run.sh`); raw logs in `bench/out/spectrum_*`; "
  "`bash bench/spectrum.sh --report` rewrites `bench/out/spectrum.md` from them."
  + (f" The measurements took {elapsed} s." if elapsed else ""))
w(f"Same point, same data, same function: PyTorch's loss differs from landscape's by {float(chk.group(1)):.1e} (relative) and its "
  f"H theta by {float(chk.group(2)):.1e} (relative 2-norm), so the two sides compute the same Hessian.")
w(f"Stopping rule: ||H v - lambda v|| <= {tol:g} max(|lambda|, ||H||) with ||v|| = 1, ||H|| = |lambda_1| once lambda_1 is known "
  "(landscape's default test; for lambda_1 itself it is ||Hv - lambda v||/|lambda| <= tol, PyHessian's measure made a residual). "
  "landscape solves the largest pairs before it knows ||H||, so there its test is ||H v - lambda v|| <= tol |lambda| for all five, "
  "stricter than the PyTorch power iteration's for pairs 2-5 (by up to lambda_1/lambda_5): a difference in power iteration's favour.")
w("")

w("### Eigenpairs: Hessian products and time")
w("")
w("| method | part | pairs converged | Hessian products | time (s) | max relative residual |")
w("| --- | --- | ---: | ---: | ---: | ---: |")
for r in (1, 2):
    k = KS[r]
    for part in ("largest", "smallest"):
        if k["ok"] and part in k:
            p = k[part]
            w(f"| landscape Krylov-Schur, {r} rank{'s' if r > 1 else ''} | {part} | {p['nconv']} | {p['hvp']} | {p['time']:.1f} | {max(p['relres']):.1e} |")
for part in ("largest", "smallest"):
    p = PW[part]
    if p["ok"] and part in p:
        q = p[part]
        w(f"| landscape SLEPc power, 2 ranks | {part} | {q['nconv']} | {q['hvp']} | {q['time']:.1f} | {max(q['relres']):.1e} |")
    else:
        w(f"| landscape SLEPc power, 2 ranks | {part} | failed: {p['error']} | | | |")
for part in ("largest", "smallest"):
    if part in TP:
        q = TP[part]
        nconv = sum(x["converged"] for x in q["pairs"])
        cap = f" (cap {q['cap']} hit)" if q["cap_hit"] else ""
        w(f"| PyTorch power + deflation (PyHessian), 2 threads | {part} | {nconv} of {TP['nev']} | {q['products']}{cap} | "
          f"{q['time_s']:.1f} | {max(x['relative_residual'] for x in q['pairs']):.1e} |")
w("")

# eigenvalue agreement
w("Eigenvalues (landscape Krylov-Schur, 2 ranks) and the agreement between methods (max over pairs of |a - b| / max(|a|, |b|)):")
w("")
w("| part | eigenvalues | KS 1 rank vs 2 ranks | PyTorch power vs KS (converged pairs) |")
w("| --- | --- | ---: | ---: |")
agree = {}
for part in ("largest", "smallest"):
    a = KS[2].get(part, {}).get("values", [])
    b = KS[1].get(part, {}).get("values", [])
    tp = [x["value"] for x in TP.get(part, {}).get("pairs", []) if x["converged"]]
    if part == "smallest":
        a_s, b_s = sorted(a), sorted(b)
    else:
        a_s, b_s = sorted(a, reverse=True), sorted(b, reverse=True)
    d12 = reldiff(a_s, b_s)
    dtp = reldiff(a_s[:len(tp)], tp) if tp else float("nan")
    agree[part] = (d12, dtp, len(tp))
    w(f"| {part} | {', '.join(f'{v:.6g}' for v in a_s)} | {d12:.1e} | {dtp:.1e} ({len(tp)} pairs) |")
w("")

# one product
hl = {r: min(v) for r, v in HL.items()}
ht = {t: min(v) for t, v in HT.items()}
w(f"### One Hessian-vector product (best of {repeat}, two interleaved rounds, the better kept)")
w("")
w("| ranks / threads | landscape (s) | PyTorch double backward (s) | PyTorch / landscape |")
w("| ---: | ---: | ---: | ---: |")
for r in (1, 2):
    w(f"| {r} | {hl[r]:.3f} ({HL[r][0]:.3f}, {HL[r][1]:.3f}) | {ht[r]:.3f} ({HT[r][0]:.3f}, {HT[r][1]:.3f}) | {ht[r] / hl[r]:.2f}x |")
w("")
for r in (1, 2):
    e = KS[r].get("hvp_event")
    if e and KS[r]["ok"]:
        tot = KS[r]["largest"]["time"] + KS[r]["smallest"]["time"]
        w(f"Inside the Krylov-Schur solves at {r} rank{'s' if r > 1 else ''} (`-log_view` event {e[0]}): {e[1]} products in {e[2]:.1f} s, "
          f"{e[2] / e[1]:.3f} s each; the two solves took {tot:.1f} s.")
w("")

# what shifted power iteration would need for the smallest pairs (from the Krylov-Schur eigenvalues)
sm = sorted(KS[2].get("smallest", {}).get("values", []))
lg = sorted(KS[2].get("largest", {}).get("values", []), reverse=True)
if len(sm) >= 2 and lg:
    import math
    sigma, hn = lg[0], abs(lg[0])
    est = []
    for i in range(len(sm) - 1):
        rate = (sigma - sm[i + 1]) / (sigma - sm[i])
        gap = sm[i + 1] - sm[i]
        est.append(math.log(min(1.0, tol * hn / gap)) / math.log(rate))
    w("Why power iteration cannot do the smallest pairs here: on (lambda_max I - H) the error along the next eigenvector shrinks by "
      "(lambda_max - lambda_(i+1)) / (lambda_max - lambda_i) per product, here "
      + ", ".join(f"{(sigma - sm[i + 1]) / (sigma - sm[i]):.6f}" for i in range(len(sm) - 1))
      + f" for pairs 1-{len(sm) - 1}; to bring its share of the residual (gap x component) below {tol:g} ||H|| from a component "
      "of the order of the converged one takes about " + ", ".join(f"{e:.0f}" for e in est)
      + f" products: {sum(est):.0f} for pairs 1-{len(sm) - 1} alone (pair {len(sm)} needs lambda_{len(sm) + 1}, not computed), "
      f"{sum(est) * hl[2] / 3600:.1f} h of landscape products at 2 ranks.")
    if "smallest" in TP:
        q = TP["smallest"]["pairs"][-1]
        w(f"The capped PyTorch run stopped at lambda = {q['value']:.6g} with relative residual {q['relative_residual']:.1e} after "
          f"{q['products']} products (Krylov-Schur: {sm[0]:.6g}).")
    w("")

# ratios and targets
w("### Ratios and targets")
w("")
w("| quantity | value | target | result |")
w("| --- | ---: | --- | --- |")
targets = []
for part in ("largest", "smallest"):
    ks = KS[2].get(part)
    tp = TP.get(part)
    if not ks or not tp:
        continue
    ratio = ks["hvp"] / tp["products"]
    conv = not tp["cap_hit"]
    bound = "" if conv else " (power not converged at its cap: the true ratio is lower)"
    verdict = "PASS" if ratio <= 0.5 else ("MISS" if conv else "undecided")
    w(f"| products, Krylov-Schur / power iteration, {part} 5 | {ks['hvp']} / {tp['products']} {'<' if not conv else '='} {ratio:.2f}{bound} | <= 0.5 | {verdict} |")
ks_all = KS[2]["largest"]["hvp"] + KS[2]["smallest"]["hvp"] if KS[2]["ok"] else None
tp_all = TP["largest"]["products"] + TP.get("smallest", {}).get("products", 0)
if ks_all:
    capped = TP["largest"]["cap_hit"] or TP.get("smallest", {}).get("cap_hit", True)
    v = "PASS" if ks_all / tp_all <= 0.5 else ("undecided" if capped else "MISS")
    w(f"| products, Krylov-Schur / power iteration, all 10 | {ks_all} / {tp_all} {'<' if capped else '='} {ks_all / tp_all:.2f} | <= 0.5 | {v} |")
for r in (1, 2):
    w(f"| one product, PyTorch / landscape, {r} thread{'s' if r > 1 else ''} vs {r} rank{'s' if r > 1 else ''} | {ht[r] / hl[r]:.2f}x | >= 1.0 | {'PASS' if ht[r] / hl[r] >= 1.0 else 'MISS'} |")
if KS[2]["ok"] and "largest" in TP:
    tks = KS[2]["largest"]["time"] + KS[2]["smallest"]["time"]
    ttp = TP["largest"]["time_s"] + TP.get("smallest", {}).get("time_s", 0)
    w(f"| time, PyTorch power (2 threads) / landscape Krylov-Schur (2 ranks), all 10 | {ttp:.0f} s / {tks:.0f} s = {ttp / tks:.1f}x | (information) | |")
w("")
w("Load before and after each measurement (percent of both CPUs busy over one second, 1-minute load average, which includes the measured processes themselves): "
  + "; ".join(f"{wh} {b}% {la}" for wh, b, la in load) + ".")
if busy:
    w("")
    w("Warning: other processes used the CPUs around " + ", ".join(f"{wh} ({b}%)" for wh, b, _ in busy) + "; those timings may be high.")

text = "\n".join(o) + "\n"
with open(os.path.join(out, "spectrum.md"), "w") as f:
    f.write(text)
print(text)
print(f"spectrum: wrote {out}/spectrum.md")
EOF
