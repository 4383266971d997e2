#!/usr/bin/python3
"""Figures and numbers of a Deep ReLU Simplex trajectory (the simplex stage's /simplex group).

  /usr/bin/python3 scripts/plot_simplex.py RESULTS.h5 OUTPREFIX [GROUP]

Writes OUTPREFIX.png (six panels: loss against vertex, log(L_k - L_final), the three L* estimates
against k, step length against k, distance to the final vertex, and vertices within balls around
it against the count for evenly spaced points) and prints how early each L* estimator settles:
the first vertex from which its error stays below 1e-3 and 1e-6 of L_final."""
import sys
import h5py
import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def attr(g, name):
    v = g.attrs[name]
    return v.decode() if isinstance(v, bytes) else v


def settle(k, err, tol):
    """First k from which |err| <= tol for the rest of the run (None if never)."""
    bad = np.where(~(np.abs(err) <= tol))[0]
    if len(bad) == 0:
        return int(k[0])
    if bad[-1] + 1 >= len(k):
        return None
    return int(k[bad[-1] + 1])


def plot(g, out, res=None):
    """Draw the /simplex group g (an open h5py group) into OUT.png; return the lines of the summary
    (the first starts with RES, default the file's name). scripts/report.py calls this too."""
    res = res or g.file.filename
    lines = []
    T = g["trajectory"][...]
    cols = attr(g, "trajectory_columns").split(", ")
    c = {n: i for i, n in enumerate(cols)}
    E = g["analysis/estimates"][...]
    ecols = attr(g["analysis"], "estimates_columns").split(", ")
    e = {n: i for i, n in enumerate(ecols)}
    dens = g["analysis/density"][...]
    dist = g["analysis/distance_to_final"][...]
    k, L, step, phase = T[:, c["vertex"]], T[:, c["loss"]], T[:, c["step"]], T[:, c["phase"]]
    Lf = L[-1]
    n0 = int(g.attrs["parameters"])
    verdict = attr(g, "verdict")

    fig, ax = plt.subplots(2, 3, figsize=(15, 8.5))
    a = ax[0, 0]
    a.plot(k, L, lw=1)
    p1 = k[phase == 1]
    if len(p1):
        a.axvspan(p1.min(), p1.max(), color="0.85", label="phase 1")
    a.axhline(Lf, color="k", ls=":", lw=0.8, label=f"final {Lf:.6g}")
    a.set_xlabel("vertex k")
    a.set_ylabel("training loss L_k (mean L1)")
    a.set_title(f"loss along the walk ({verdict}, n0 = {n0})")
    a.legend()

    a = ax[0, 1]
    gap = L[:-1] - Lf
    m = gap > 0
    a.semilogy(k[:-1][m], gap[m], lw=1)
    a.set_xlabel("vertex k")
    a.set_ylabel("L_k - L_final")
    a.set_title("gap to the final level (log scale)")

    a = ax[0, 2]
    ke = E[:, e["vertex"]]
    for name, ms in (("aitken", 3), ("regression", 2), ("nls", 2)):
        a.plot(ke, E[:, e[name]], ".", ms=ms, label=name)
    a.axhline(Lf, color="k", ls=":", lw=0.8, label="L_final")
    lo, hi = Lf - 0.1 * (L[0] - Lf), Lf + 0.3 * (L[0] - Lf)
    a.set_ylim(lo, hi)
    a.set_xlabel("vertex k (end of the window)")
    a.set_ylabel("estimate of L* (loss units)")
    a.set_title(f"L* estimates, window of {int(g['analysis'].attrs['window'])} vertices")
    a.legend()

    a = ax[1, 0]
    pos = step > 0
    a.semilogy(k[pos], step[pos], ".", ms=2)
    a.set_xlabel("vertex k")
    a.set_ylabel("step length ||theta_k - theta_k-1||")
    a.set_title(f"step lengths ({int((step[1:] == 0).sum())} zero-length pivots not shown)")

    a = ax[1, 1]
    md = dist > 0
    a.semilogy(k[md], dist[md], lw=1)
    a.set_xlabel("vertex k")
    a.set_ylabel("||theta_k - theta_final||")
    a.set_title("distance to the final vertex")

    a = ax[1, 2]
    a.loglog(dens[:, 0], dens[:, 1], "o-", ms=3, label="visited vertices")
    a.loglog(dens[:, 0], np.maximum(dens[:, 2], 0.5), "s--", ms=3, label="same number, evenly spaced on the path")
    a.set_xlabel("radius rho around the final vertex")
    a.set_ylabel("points within rho")
    a.set_title("vertex density near the minimum")
    a.legend()
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=90)
    plt.close(fig)

    lines.append(f"{res}: {len(L)} vertices ({int((phase == 1).sum())} in phase 1), n0 = {n0}, L_0 = {L[0]:.6g}, L_final = {Lf:.10g}, {verdict}")
    for name in ("aitken", "regression", "nls"):
        err = E[:, e["error_" + name]]
        s3, s6 = settle(ke, err / Lf, 1e-3), settle(ke, err / Lf, 1e-6)
        lines.append(f"  {name:10s}: error within 1e-3 of L_final from vertex {s3}, within 1e-6 from vertex {s6} (of {int(k[-1])})")
    r = dens[:, 1] / np.maximum(dens[:, 2], 1)
    i = np.argmin(np.abs(dens[:, 0] - np.median(dens[:, 0])))
    lines.append(f"  density: within rho = {dens[0, 0]:.3g}: {int(dens[0, 1])} visited vs {int(dens[0, 2])} evenly spaced; "
                 f"rho = {dens[i, 0]:.3g}: {int(dens[i, 1])} vs {int(dens[i, 2])}")
    nz = step[1:][step[1:] > 0]
    q = len(nz) // 10
    if q:
        lines.append(f"  median step length: first tenth {np.median(nz[:q]):.3g}, last tenth {np.median(nz[-q:]):.3g}")
    lines.append(f"  wrote {out}.png")
    return lines


def main():
    res, out = sys.argv[1], sys.argv[2]
    grp = sys.argv[3] if len(sys.argv) > 3 else "/simplex"
    with h5py.File(res, "r") as f:
        print("\n".join(plot(f[grp], out, res)))


if __name__ == "__main__":
    main()
