#!/usr/bin/env python3
"""|v*| of the global minimum against the weight decay, one curve per depth, from the phase table
of the 'linear' stage (docs/deep-linear.md). The norm moves continuously at D = 1 and jumps to 0 at
gamma_c for D >= 2 (dashed lines: gamma_c found by the stage).
Usage: scripts/plot_linear.py RESULTS.h5 [OUT.png]   (default OUT: next to RESULTS.h5, linear.png)"""
import os, sys
import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot(path, out, group="/linear"):
    """OUT (a PNG) from the phase table of GROUP in the results file PATH; SystemExit without a table.
    scripts/report.py calls this."""
    with h5py.File(path, "r") as f:
        g = f[group]
        if "phase_v_norm" not in g:
            raise SystemExit(f"{path}: no phase table (run the linear stage with -linear_phase_reg_l2)")
        reg, depths, vn = g["phase_reg_l2"][:], g["phase_depths"][:], g["phase_v_norm"][:]
        gc = g["gamma_c"][:] / 2  # paper gamma -> -reg_l2
        sigma2, width = g.attrs["sigma2"], g["gamma_c"].attrs["phase_width"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, D in enumerate(depths):
        if D >= 2:  # a first-order transition: no line across the jump
            below = reg < gc[i]
            line, = ax.plot(reg[below], vn[i][below], ".-", ms=3, label=f"D = {int(D)}")
            ax.plot(reg[~below], vn[i][~below], ".-", ms=3, color=line.get_color())
            ax.axvline(gc[i], color=line.get_color(), ls="--", lw=0.8)
        else:
            ax.plot(reg, vn[i], ".-", ms=3, label=f"D = {int(D)}")
    ax.set_xlabel("weight decay -reg_l2 (= paper gamma / 2)")
    ax.set_ylabel("|v*| of the global minimum")
    ax.set_title(f"Deep linear net, hidden widths {width}, noise variance {sigma2:g}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(path) or ".", "linear.png")
    plot(path, out)
    print(f"plot_linear: wrote {out}")
