#!/usr/bin/python3
"""A seeded sweep of small, degenerate Deep ReLU Simplex problems, each run by landscape and checked
independently in numpy (and against HiGHS for the convex ones).

  simplex_sweep.py OUTDIR [--seeds K] [--families A,B,...] [--ranks 1,2,3] [--rule steepest|bland]
                          [--step first|long] [--max-pivots M] [--probes P] [--table FILE]

Families (docs/simplex.md, section "Degenerate vertices"):
  A  ReLU 3-6-4-1, layer 1, uniform data (N = 130), layer from U(-3, 3); the other layers He-initialised
     (zero biases: a row whose units are all off makes every later unit exactly zero)
  B  ReLU 3-6-4-1, layer 2, uniform data
  C  ReLU 4-5-4-2-1, layer 1, uniform data (N = 200), layer from U(-20, 20), the others U(-1, 1) (the study's setting)
  D  ReLU 4-5-4-2-1, layer 2, uniform data, the others U(-1, 1)
  E  ReLU 3-6-4-1, layer 1, integer data, every row three times (N = 120)
  F  ReLU 4-5-4-2-1, layer 2, integer data, every row three times (N = 150)
  G  LAD (no hidden layer), integer data, every row three times (N = 300, p = 4)
  H  quantile regression (alpha 0.3 or 0.8), integer data, every row three times (N = 150, p = 3)
  I  ReLU 3-6-4-1, layer 1, quantile loss alpha 0.7, integer data, every row three times
  J  leaky ReLU (0.01) 4-5-4-2-1, layer 1, integer data, every row three times
Problem i of family number f uses seed i + 1 and runs on ranks[(f + i) % len(ranks)] ranks.

Every run must exit 0 and write /simplex (a walk stopped by --max-pivots, default 20000, says 'pivot limit'). Checked in numpy: the final loss at /theta equals the walk's
(1e-12), the loss never rises along the trajectory, at least n0 constraints are active at the end; a
'local minimum' survives P random steps of 1e-7 of the trained layer; a 'global minimum' equals
HiGHS's LP optimum (1e-9). For 'local minimum of the basis cone' (a degenerate vertex whose active
units could bend the loss down) the probes are reported, not asserted: the verdict claims no more;
'numerical breakdown' (the walk's decisions stopped being exact in double precision) is counted.
Writes OUTDIR/sweep.jsonl (one record a run) and a Markdown table (stdout, and --table). Exit 1 if a
check failed."""
import argparse, json, os, subprocess, sys, time
import numpy as np
import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lp_check  # noqa: E402

FAMILIES = {
    "A": dict(widths=[3, 6, 4, 1], layer=1, data="uniform", n=130, scale=3),
    "B": dict(widths=[3, 6, 4, 1], layer=2, data="uniform", n=130, scale=3),
    "C": dict(widths=[4, 5, 4, 2, 1], layer=1, data="uniform", n=200, scale=20, init="uniform"),
    "D": dict(widths=[4, 5, 4, 2, 1], layer=2, data="uniform", n=200, scale=3, init="uniform"),
    "E": dict(widths=[3, 6, 4, 1], layer=1, data="integer", n=120, scale=3),
    "F": dict(widths=[4, 5, 4, 2, 1], layer=2, data="integer", n=150, scale=3),
    "G": dict(widths=[4, 1], layer=1, data="integer", n=300, scale=0),
    "H": dict(widths=[3, 1], layer=1, data="integer", n=150, scale=0, quantile=(0.3, 0.8)),
    "I": dict(widths=[3, 6, 4, 1], layer=1, data="integer", n=120, scale=3, quantile=(0.7,)),
    "J": dict(widths=[4, 5, 4, 2, 1], layer=1, data="integer", n=150, scale=3, leaky=0.01),
}
VERDICTS = ("global minimum", "local minimum", "local minimum of the basis cone", "pivot limit", "numerical breakdown")


def make_data(path, fam, seed):
    rng = np.random.default_rng(1000 * ord(fam["_name"]) + seed)
    d, n = fam["widths"][0], fam["n"]
    if fam["data"] == "uniform":
        X, y = rng.uniform(-3, 3, (n, d)), rng.uniform(-3, 3, n)
    else:  # small integers, every row three times: ties, duplicated hyperplanes, degenerate vertices
        X = np.repeat(rng.integers(-2, 3, (n // 3, d)).astype(float), 3, axis=0)
        y = np.repeat(rng.integers(-3, 4, n // 3).astype(float), 3)
    with h5py.File(path, "w") as f:
        f["/train/X"], f["/train/Y"] = X, y[:, None]
    return X, y


def unpack(theta, widths):
    Ws, o = [], 0
    for a, b in zip(widths[:-1], widths[1:]):
        W = theta[o:o + a * b].reshape(b, a)
        o += a * b
        Ws.append((W, theta[o:o + b]))
        o += b
    return Ws


def forward(theta, widths, X, slope, zs=None):
    h = X
    for i, (W, c) in enumerate(unpack(theta, widths)):
        z = h @ W.T + c
        if zs is not None:
            zs.append(z)
        h = z if i == len(widths) - 2 else np.where(z > 0, z, slope * z)
    return h[:, 0]


def loss(theta, widths, X, y, slope, alpha):
    r = forward(theta, widths, X, slope) - y
    return np.mean(np.abs(r)) if alpha is None else np.mean(np.where(r > 0, (1 - alpha) * r, -alpha * r))


def check(res, X, y, fam, alpha, probes, rng):
    """Numpy's view of one finished run: a dict of numbers and a list of failed checks."""
    widths, layer, slope = fam["widths"], fam["layer"], fam.get("leaky", 0.0)
    f = h5py.File(res)
    g = f["/simplex"]
    verdict = g.attrs["verdict"]
    verdict = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
    cols = g.attrs["summary_columns"]
    cols = (cols.decode() if isinstance(cols, bytes) else str(cols)).split(", ")
    S = dict(zip(cols, g["summary"][...].ravel()))
    T = g["trajectory"][...]
    th = f["/theta"][...]
    fail = []
    if verdict not in VERDICTS:
        fail.append(f"verdict {verdict!r}")
    zs = []
    forward(th, widths, X, slope, zs)
    L = loss(th, widths, X, y, slope, alpha)
    if abs(L - S["loss_final"]) > 1e-12 * max(L, 1e-300):
        fail.append(f"final loss: numpy {L!r}, walk {S['loss_final']!r}")
    if np.diff(T[:, 2]).max(initial=0) > 1e-12 * T[0, 2]:
        fail.append(f"the loss rose by {np.diff(T[:, 2]).max():.3e}")
    o = sum(a * b + b for a, b in zip(widths[:layer - 1], widths[1:layer]))
    n0 = widths[layer] * (widths[layer - 1] + 1)
    zs[-1] = zs[-1] - y[:, None]
    active = sum(int((np.abs(z) <= 1e-9 * (1 + np.abs(z).max())).sum()) for z in zs[layer - 1:])
    if verdict not in ("pivot limit", "numerical breakdown") and active < n0:
        fail.append(f"{active} active constraints < n0 = {n0}")
    out = dict(verdict=verdict, loss=L, vertices=len(T), active=active, n0=n0)
    out.update({k: float(v) for k, v in S.items()})
    # random steps of the trained layer (a local minimum of a piecewise-affine loss: none descends)
    worst, ndesc = np.inf, 0
    for _ in range(probes):
        dvec = rng.standard_normal(n0)
        t = th.copy()
        t[o:o + n0] += 1e-7 * max(1.0, np.linalg.norm(th[o:o + n0])) * dvec / np.linalg.norm(dvec)
        ch = loss(t, widths, X, y, slope, alpha) - L
        worst = min(worst, ch)
        ndesc += ch < -1e-13 * L
    out.update(probe_worst=float(worst), probe_descents=int(ndesc), loss=float(L))
    if verdict in ("local minimum", "global minimum") and ndesc:
        fail.append(f"{ndesc} of {probes} random steps descend (by {worst:.3e})")
    return out, fail


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--ranks", default="1,2,3")
    ap.add_argument("--probes", type=int, default=2000)
    ap.add_argument("--rule", default="steepest")
    ap.add_argument("--step", default="first")
    ap.add_argument("--max-pivots", type=int, default=20000)
    ap.add_argument("--table")
    ap.add_argument("--land", default=os.path.join(HERE, "..", "bin", "landscape"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    ranks = [int(r) for r in a.ranks.split(",")]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    recs, nfail = [], 0
    log = open(os.path.join(a.out, "sweep.jsonl"), "w")
    for fi, name in enumerate(a.families.split(",")):
        fam = dict(FAMILIES[name], _name=name)
        for i in range(a.seeds):
            seed, nr = i + 1, ranks[(fi + i) % len(ranks)]
            qs = fam.get("quantile")
            alpha = None if qs is None else qs[i % len(qs)]
            tag = f"{name}{seed:02d}"
            data, res = os.path.join(a.out, tag + ".h5"), os.path.join(a.out, tag)
            X, y = make_data(data, fam, seed)
            hidden = ",".join(str(w) for w in fam["widths"][1:-1])
            cmd = ["mpiexec", "-n", str(nr), a.land, "-skip_petscrc", "-data_file", data, "-data_chunk_size", "16",
                   "-net_hidden", hidden, "-net_activation", "leaky_relu" if "leaky" in fam else "relu",
                   "-loss", "l1" if alpha is None else "quantile", "-stages", "simplex", "-simplex_layer", str(fam["layer"]),
                   "-simplex_monitor", "0", "-simplex_rule", a.rule, "-simplex_step", a.step, "-simplex_max_pivots", str(a.max_pivots), "-seed", str(seed), "-output_dir", res]
            if alpha is not None:
                cmd += ["-loss_quantile", str(alpha)]
            if "leaky" in fam:
                cmd += ["-net_leaky_slope", str(fam["leaky"])]
            if fam["scale"]:
                cmd += ["-simplex_init_scale", str(fam["scale"])]
            if "init" in fam:
                cmd += ["-net_init", fam["init"], "-net_init_scale", "1"]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            rec = dict(problem=tag, family=name, seed=seed, ranks=nr, exit=p.returncode, seconds=time.perf_counter() - t0,
                       alpha=alpha)
            fail = []
            if p.returncode != 0 or not os.path.exists(os.path.join(res, "results.h5")):
                fail.append(f"exit {p.returncode}: {(p.stderr.strip().splitlines() or [''])[-1]}")
            else:
                c, fl = check(os.path.join(res, "results.h5"), X, y, fam, alpha, a.probes, np.random.default_rng(seed))
                rec.update(c)
                fail += fl
                if len(fam["widths"]) == 2:  # convex: the LP optimum by HiGHS
                    wpos, wneg = (1.0, 1.0) if alpha is None else (1 - alpha, alpha)
                    ref, _ = lp_check.solve_highs_dual(X, y, wpos, wneg, True)
                    rec["highs"] = ref
                    if abs(c["loss"] - ref) > 1e-9 * ref:
                        fail.append(f"loss {c['loss']!r}, HiGHS {ref!r}")
            rec["failed"] = fail
            nfail += bool(fail)
            recs.append(rec)
            log.write(json.dumps(rec, default=float) + "\n")
            log.flush()
            print(f"# {tag} ({nr} ranks): {rec.get('verdict', 'no result')}, {rec.get('vertices', 0)} vertices, "
                  f"{rec.get('zero_pivots', 0):.0f} zero pivots, {rec.get('tie_groups', 0):.0f} ties, {rec['seconds']:.1f} s"
                  + (f"  FAILED: {'; '.join(fail)}" if fail else ""), flush=True)
    lines = table(recs, a.probes)
    print("\n".join(lines))
    if a.table:
        with open(a.table, "w") as f:
            f.write("\n".join(lines) + "\n")
    print(f"{len(recs)} problems, {sum(r['exit'] != 0 for r in recs)} error exits, {nfail} with a failed check")
    sys.exit(1 if nfail else 0)


def table(recs, probes):
    head = ("| family | runs | error exits | global / local min | basis cone only (probes descend) | pivot limit | "
            "numerical breakdown | median vertices | zero-length pivots | tie groups | sides set | escapes | median s |")
    lines = [head, "|" + " --- |" * 13]
    for name in sorted({r["family"] for r in recs}):
        R = [r for r in recs if r["family"] == name]
        ok = [r for r in R if "verdict" in r]
        v = [r["verdict"] for r in ok]
        cone = [r for r in ok if r["verdict"] == "local minimum of the basis cone"]
        med = lambda k: np.median([r.get(k, 0) for r in ok]) if ok else 0  # noqa: E731
        tot = lambda k: int(sum(r.get(k, 0) for r in ok))  # noqa: E731
        lines.append(f"| {name} | {len(R)} | {sum(r['exit'] != 0 for r in R)} | "
                     f"{v.count('global minimum') + v.count('local minimum')} | "
                     f"{len(cone)} ({sum(r['probe_descents'] > 0 for r in cone)}) | {v.count('pivot limit')} | {v.count('numerical breakdown')} | "
                     f"{med('vertices'):.0f} | {tot('zero_pivots')} | {tot('tie_groups')} | {tot('sides_set')} | "
                     f"{tot('escapes')} | {np.median([r['seconds'] for r in R]):.2f} |")
    return lines


if __name__ == "__main__":
    main()
