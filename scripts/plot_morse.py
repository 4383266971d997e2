#!/usr/bin/env python3
"""Figures of the Morse-count survey (docs/morse.md) from the morse.h5 files of scripts/morse_count.py.

  /usr/bin/python3 scripts/plot_morse.py SURVEY_DIR [SURVEY_DIR ...] [--out DIR]

morse_points.png: one panel per survey, the distinct non-degenerate critical points of each configuration,
Morse index against loss (degenerate points as crosses at their count of negative eigenvalues).
morse_gap.png: min|lambda| / max|lambda| of every distinct point, with the zero band that separates
degenerate points from non-degenerate ones."""
import argparse, os, sys

import h5py
import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("dirs", nargs="+")
p.add_argument("--out", default=None, help="directory of the PNG files (default: the first survey's parent)")
a = p.parse_args()
out = a.out or os.path.dirname(os.path.normpath(a.dirs[0]))
surveys = []
for d in a.dirs:
    f = os.path.join(d, "morse.h5")
    if not os.path.exists(f):
        print("plot_morse: error: %s is missing (run scripts/morse_count.py %s)" % (f, d), file=sys.stderr)
        sys.exit(1)
    with h5py.File(f, "r") as h:
        zero_tol = float(h.attrs["zero_tol"])
        cfgs = []
        for g in sorted(k for k in h if k.startswith("config_")):
            c = h[g]
            label = c.attrs["config"]
            label = label.decode() if isinstance(label, bytes) else label
            net = c.attrs["label"]
            cfgs.append({"label": (net.decode() if isinstance(net, bytes) else net).replace(" (with biases)", ""),
                         "gamma": float(c.attrs["reg_l2"]), "deep": len(c.attrs["widths"]) > 3,
                         "loss": c["loss"][()], "index": c["index"][()], "nzero": c["nzero"][()], "minrel": c["minrel"][()]})
    surveys.append((os.path.basename(os.path.normpath(d)), cfgs))

FLOOR = 2e-3  # losses below (zero-loss points of unregularised nets) are drawn at the floor as triangles
ncol = min(2, len(surveys))
nrow = (len(surveys) + ncol - 1) // ncol
fig, axes = plt.subplots(nrow, ncol, figsize=(6.4 * ncol, 4.2 * nrow), squeeze=False, sharey=True)
for ax, (name, cfgs) in zip(axes.ravel(), surveys):
    n = len(cfgs)
    for j, c in enumerate(cfgs):
        dx = (j - (n - 1) / 2) * 0.8 / max(n, 1)
        nd, low = c["nzero"] == 0, c["loss"] < FLOOR
        y = np.maximum(c["loss"], FLOOR)
        labelled = False
        for sel, mk in ((nd & ~low, "o"), (~nd & ~low, "x"), (low, "v")):
            if sel.any():
                ax.scatter(c["index"][sel] + dx, y[sel], s=20, marker=mk, color="C%d" % j, label=None if labelled else c["label"])
                labelled = True
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 1.3, 0.8)
    ax.set_xlabel("Morse index k (number of negative Hessian eigenvalues)")
    ax.set_ylabel("loss at the point (mse/2 + L2 penalty)")
    ax.set_title("survey '%s'" % name, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
for ax in axes.ravel()[len(surveys):]:
    ax.set_visible(False)
fig.suptitle("Distinct critical points modulo symmetry (o: non-degenerate, x: degenerate, v: loss below %g)" % FLOOR, fontsize=10)
fig.tight_layout()
fig.savefig(os.path.join(out, "morse_points.png"), dpi=110)

fig, ax = plt.subplots(figsize=(7, 4.2))
bins = np.logspace(-21, 0, 64)
groups = {"no L2": [], "L2 > 0, one hidden layer": [], "L2 > 0, two hidden layers": []}
for name, cfgs in surveys:
    for c in cfgs:
        key = "no L2" if c["gamma"] == 0 else ("L2 > 0, two hidden layers" if c["deep"] else "L2 > 0, one hidden layer")
        groups[key].append(np.clip(c["minrel"], 1e-20, 1))
allv = [(k, np.concatenate(v)) for k, v in groups.items() if v]
ax.hist([v for _, v in allv], bins=bins, stacked=True, label=[n for n, _ in allv])
ax.axvline(zero_tol, color="k", ls="--", label="zero band %g" % zero_tol)
ax.set_xscale("log")
ax.set_xlabel("min |lambda| / max |lambda| of the Hessian at the point (clipped at 1e-20)")
ax.set_ylabel("distinct critical points (count)")
ax.set_title("Degenerate (left of the band) and non-degenerate critical points", fontsize=10)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(out, "morse_gap.png"), dpi=110)
print("plot_morse: wrote %s and %s" % (os.path.join(out, "morse_points.png"), os.path.join(out, "morse_gap.png")))
