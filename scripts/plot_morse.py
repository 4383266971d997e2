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
            cfgs.append({"label": label.replace("-net_", "").replace("-reg_", "").replace("hidden ", "h=").replace("activation ", "")
                         .replace("l2 ", "L2=").replace("skip ", "skip="),
                         "loss": c["loss"][()], "index": c["index"][()], "nzero": c["nzero"][()], "minrel": c["minrel"][()]})
    surveys.append((os.path.basename(os.path.normpath(d)), cfgs))

fig, axes = plt.subplots(1, len(surveys), figsize=(4.2 * len(surveys), 4.2), squeeze=False, sharey=True)
for ax, (name, cfgs) in zip(axes[0], surveys):
    n = len(cfgs)
    for j, c in enumerate(cfgs):
        dx = (j - (n - 1) / 2) * 0.8 / max(n, 1)
        nd = c["nzero"] == 0
        ax.scatter(c["index"][nd] + dx, c["loss"][nd], s=18, color="C%d" % j, label=c["label"])
        if (~nd).any():
            ax.scatter(c["index"][~nd] + dx, c["loss"][~nd], s=18, marker="x", color="C%d" % j)
    ax.set_yscale("log")
    ax.set_xlabel("Morse index k (negative Hessian eigenvalues)")
    ax.set_title("survey '%s'" % name, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
axes[0][0].set_ylabel("loss at the critical point (mse/2 + L2, dimensionless)")
fig.suptitle("Distinct critical points modulo symmetry (dots: non-degenerate, crosses: degenerate)", fontsize=10 if len(surveys) > 1 else 7)
fig.tight_layout()
fig.savefig(os.path.join(out, "morse_points.png"), dpi=110)

fig, ax = plt.subplots(figsize=(7, 4.2))
bins = np.logspace(-20, 0, 61)
allv = []
for name, cfgs in surveys:
    v = np.concatenate([c["minrel"] for c in cfgs]) if cfgs else np.array([])
    allv.append((name, np.clip(v, 1e-20, 1)))
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
