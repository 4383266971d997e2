#!/usr/bin/python3
"""Plots of a plateau run (input/fig3_escape.yaml; docs/shallow-relu.md).

  /usr/bin/python3 scripts/plot_escape.py OUTPUT_DIR [PREFIX]

Reads OUTPUT_DIR/results.h5 and writes PREFIX_loss.png (the loss in the study's convention, 2x
landscape's, with the plateaus shaded and their verdicts) and PREFIX_norms.png (|w_j| against |h_j|
of every hidden neuron at the snapshots, coloured by step). PREFIX defaults to OUTPUT_DIR/escape.
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

VERDICTS = ["not stationary", "local min", "saddle", "undetermined"]


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


FIG3_TITLE = "Five-point data, width 50, init std 8e-6: plateaus and their verdicts"


def plot(f, prefix, title=FIG3_TITLE):
    """PREFIX_loss.png and PREFIX_norms.png of the open results file f (it needs /train/history and
    /train/neuron_norms). scripts/report.py calls this with its own title."""
    hist = f["/train/history"][:]
    step, loss = hist[:, 0], 2 * hist[:, 2]  # study convention: F.mse_loss has no 1/2
    plats = np.atleast_2d(f["/train/plateaus"][:]) if "/train/plateaus" in f else np.zeros((0, 10))

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(step, loss, color="k", lw=1.2, label="full-batch GD")
    for i, p in enumerate(plats):
        start, end, at, ploss = p[0], p[1], p[2], p[4]
        verdict = VERDICTS[int(p[6])]
        ax.axvspan(start, end, color="C0", alpha=0.12, lw=0)
        ax.plot([at], [ploss], "o", color="C3" if verdict == "saddle" else "C2", ms=6)
        label = "plateau %d: %s\n%d escape neurons" % (i + 1, verdict, int(p[7]))
        if p[9] == 1:
            label += "\ncertificate: loss change %.1e" % (2 * p[8])
        right = at > 0.6 * step[-1]  # keep the label inside the axes
        ax.annotate(label, (at, ploss), textcoords="offset points", xytext=(-8 if right else 8, 8), ha="right" if right else "left", fontsize=7)
    if "/escape" in f:
        g = f["/escape"]
        ax.annotate("end (escape stage): %s\nloss %.6f" % (text(g.attrs["verdict"]), g.attrs["loss_study"]), (step[-1], loss[-1]),
                    textcoords="offset points", xytext=(-150, -32), fontsize=7, color="C2")
    ax.set_xlabel("GD step")
    ax.set_ylabel("loss, study convention (2 x landscape)")
    ax.set_title(title, fontsize=9)
    ax.set_ylim(0.9 * loss.min(), 1.08 * loss.max())
    fig.tight_layout()
    fig.savefig(prefix + "_loss.png", dpi=110)
    plt.close(fig)

    s = f["/train/neuron_norms"][:]
    m = (s.shape[1] - 2) // 2
    w, h = s[:, 2:2 + m], s[:, 2 + m:]
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    sc = None
    for j in range(m):
        sc = ax.scatter(h[:, j], w[:, j], c=s[:, 0], s=3, cmap="viridis", norm=matplotlib.colors.LogNorm(max(s[1, 0], 1), s[-1, 0]))
    lo, hi = max(min(w.min(), h.min()), 1e-8), max(w.max(), h.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="|w_j| = |h_j|")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("|h_j| (output weight)")
    ax.set_ylabel("|w_j| (input weights)")
    ax.set_title("Every hidden neuron at every snapshot", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(sc, ax=ax, label="GD step")
    fig.tight_layout()
    fig.savefig(prefix + "_norms.png", dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else out + "/escape"
    with h5py.File(out + "/results.h5", "r") as f:
        plot(f, prefix)
    print("wrote %s_loss.png and %s_norms.png" % (prefix, prefix))


if __name__ == "__main__":
    main()
