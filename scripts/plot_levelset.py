#!/usr/bin/env python3
"""Plots and tables of level-set continuation runs (docs/levelset.md).

  /usr/bin/python3 scripts/plot_levelset.py DIR [--baseline WD_DIR] [--out PREFIX] [--title T]

DIR holds one directory per run (run1, run2, ...) with the results.h5 of '-stages train,levelset'.
Writes PREFIX_path.png (angle between grad R and grad L, ||theta||^2, test loss and test accuracy
against the predictor step, mean +- std over the runs), PREFIX_pca.png (explained variance of each
run's path, and the first run's path in PC1-PC2 and PC1-PC2-PC3 coloured by step, with the points of
-levelset_pca_points), and PREFIX_table.md: the start and end of the paths against the weight-decay
survey in WD_DIR (test loss WITHOUT the penalty, mean +- std over seeds per lambda) and PREFIX_lambda.png,
the test loss against lambda with the paths' start and end as bands. PREFIX defaults to DIR/levelset."""
import argparse, glob, os, re

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def s(x):
    return x.decode() if isinstance(x, bytes) else x


def load_run(path, name, group="levelset"):
    """The level-set path of one results file (its group GROUP, e.g. levelset_2), or None without it.
    scripts/report.py calls this and the plots below with one run."""
    with h5py.File(path, "r") as f:
        if group not in f:
            return None
        g = f[group]
        cols = g["history"].attrs["columns"]
        cols = (cols.decode() if isinstance(cols, bytes) else cols).split(",")
        run = {"name": name, "h": g["history"][:], "attrs": dict(g.attrs), "col": {c: i for i, c in enumerate(cols)}}
        if "pca" in g:
            run["pca"] = {k: g["pca"][k][:] for k in ("explained_variance_ratio", "coordinates", "snapshot_steps")}
            if "points" in g["pca"]:
                run["pca"]["points"] = g["pca"]["points"][:]
    return run


def load_runs(d):
    """Every DIR/run*/results.h5 with a /levelset group, in the order of the runs' numbers."""
    runs = []
    for r in sorted(glob.glob(os.path.join(d, "run*/results.h5")), key=lambda s: int(re.sub(r"\D", "", os.path.basename(os.path.dirname(s))) or 0)):
        run = load_run(r, os.path.basename(os.path.dirname(r)))
        if run:
            runs.append(run)
    return runs


def plot_path(runs, out, title=""):
    """PREFIX_path.png: mean +- std over runs, on the steps every run recorded."""
    COL = runs[0]["col"]
    n = min(len(r["h"]) for r in runs)
    H = np.stack([r["h"][:n] for r in runs])  # runs x steps x columns
    step = H[0, :, COL["step"]]
    classify = np.isfinite(H[:, :, COL["test_accuracy"]]).any() and np.nanmax(H[:, :, COL["test_accuracy"]]) >= 0
    panels = [("angle_deg", "angle(grad R, grad L) [deg]"), ("R", "R = ||theta||^2" if s(runs[0]["attrs"].get("regulariser", "l2")) == "l2" else "R"),
              ("test_loss", "test loss")]
    if classify:
        panels.append(("test_accuracy", "test accuracy"))
    fig, axs = plt.subplots(len(panels), 1, figsize=(6, 1.9 * len(panels)), sharex=True)
    for ax, (c, label) in zip(axs, panels):
        y = H[:, :, COL[c]]
        ok = np.isfinite(y).all(0)
        m, sd = y[:, ok].mean(0), y[:, ok].std(0)
        if len(runs) == 1:  # one run (scripts/report.py): its path, no band
            ax.plot(step[ok], m, lw=1.2)
        else:
            for i in range(len(runs)):
                ax.plot(step[ok], y[i, ok], lw=0.5, color="gray", alpha=0.6, label="runs" if i == 0 else None)
            ax.plot(step[ok], m, lw=1.2, label="mean")
            ax.fill_between(step[ok], m - sd, m + sd, alpha=0.3, label="+- std")
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axs[-1].set_xlabel("predictor step")
    if len(runs) > 1:
        axs[0].legend(fontsize=6)
    axs[0].set_title((title + ": " if title else "") + (f"level-set path, mean +- std over {len(runs)} runs" if len(runs) > 1 else
                                                        f"level-set path of {runs[0]['name']}"), fontsize=9)
    fig.tight_layout()
    fig.savefig(out + "_path.png", dpi=90)
    plt.close(fig)
    return classify


def ms(v):
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return f"{v.mean():.4f} +- {v.std():.4f}" if len(v) else "-"


def table(runs, out, baseline=None, title="", classify=True):
    """PREFIX_table.md (returned as lines): the start and end of the paths, against the weight-decay
    survey in BASELINE, whose test loss against lambda goes to PREFIX_lambda.png."""
    COL = runs[0]["col"]
    lines = []
    start = [r["h"][0] for r in runs]
    end = [r["h"][-1] for r in runs]
    lines.append(f"| point | runs | train loss | R = sum theta^2 | test loss | test accuracy |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for name, rows in (("start of the path (after Adam, L = L0)", start), ("end of the path", end)):
        lines.append(f"| {name} | {len(rows)} | {ms([x[COL['train_loss']] for x in rows])} | {ms([x[COL['R']] for x in rows])} | "
                     f"{ms([x[COL['test_loss']] for x in rows])} | {ms([x[COL['test_accuracy']] for x in rows]) if classify else '-'} |")
    if baseline:
        wd = {}
        for t in glob.glob(os.path.join(baseline, "task_*/results.h5")):
            with h5py.File(t, "r") as f:
                cfg = s(f["/survey"].attrs["config"])
                lam = float(re.search(r"-reg_l2 (\S+)", cfg).group(1))
                th = f["/theta"][:]
                g = f["/train"].attrs
                wd.setdefault(lam, []).append((g["loss"], float(th @ th), g["test_loss"], g["test_accuracy"]))
        lines.append("")
        lines.append("Weight decay, L + lambda sum ||W||^2 (Adam, 200 epochs); test loss without the penalty; mean +- std over seeds:")
        lines.append("")
        lines.append("| lambda | seeds | train objective (with penalty) | sum theta^2 | test loss | test accuracy |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for lam in sorted(wd):
            v = np.array(wd[lam])
            lines.append(f"| {lam:g} | {len(v)} | {ms(v[:, 0])} | {ms(v[:, 1])} | {ms(v[:, 2])} | {ms(v[:, 3]) if classify else '-'} |")
        # test loss against lambda, with the start and the end of the paths as bands
        lams = sorted(wd)
        x = [max(l, 1e-7) for l in lams]
        v = [np.array(wd[l])[:, 2] for l in lams]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.errorbar(x, [q.mean() for q in v], yerr=[q.std() for q in v], fmt="o-", ms=4, label="weight decay (lambda = 0 drawn at 1e-7)")
        for name, rows, c, ls in (("path start (L = L0)", start, "C1", "-"), ("path end", end, "C2", "--")):
            t = np.array([r[COL["test_loss"]] for r in rows])
            ax.axhspan(t.mean() - t.std(), t.mean() + t.std(), color=c, alpha=0.3)
            ax.axhline(t.mean(), color=c, lw=1, ls=ls, label=f"{name}: {t.mean():.3f} +- {t.std():.3f}")
        ax.set_xscale("log")
        ax.set_xlabel("lambda", fontsize=8)
        ax.set_ylabel("test loss (no penalty)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
        ax.set_title((title + ": " if title else "") + "test loss, weight decay against the level-set path", fontsize=8)
        fig.tight_layout()
        fig.savefig(out + "_lambda.png", dpi=90)
        plt.close(fig)
    with open(out + "_table.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def plot_pca(runs, out, title=""):
    """PREFIX_pca.png of the runs with a PCA: explained variance, the first run's path in PC1-PC2 (and
    PC1-PC2-PC3); False when no run has one."""
    pr = [r for r in runs if "pca" in r]
    if not pr:
        return False
    fig = plt.figure(figsize=(11, 3.4))
    ax = fig.add_subplot(1, 3, 1)
    k = max(len(r["pca"]["explained_variance_ratio"]) for r in pr)
    w = 0.8 / len(pr)
    for i, r in enumerate(pr):
        e = r["pca"]["explained_variance_ratio"]
        ax.bar(np.arange(len(e)) + 1 + (i - (len(pr) - 1) / 2) * w, e, width=w, label=r["name"])
    c = np.mean([np.cumsum(r["pca"]["explained_variance_ratio"])[:k] for r in pr if len(r["pca"]["explained_variance_ratio"]) == k], axis=0)
    ax.plot(np.arange(k) + 1, c, "k.-", label="cumulative (mean)")
    ax.set_xlabel("component", fontsize=8)
    ax.set_ylabel("explained variance ratio", fontsize=8)
    ax.legend(fontsize=6)
    ax.tick_params(labelsize=7)
    r = pr[0]
    C, st = r["pca"]["coordinates"], r["pca"]["snapshot_steps"]
    ax = fig.add_subplot(1, 3, 2)
    sc = ax.scatter(C[:, 0], C[:, 1], c=st, s=8, cmap="viridis")
    ax.plot(C[-1, 0], C[-1, 1], "r+", ms=10, label="end")
    if "points" in r["pca"]:
        P = np.atleast_2d(r["pca"]["points"])
        ax.plot(P[:, 0], P[:, 1], "mp", ms=8, label="weight-decay endpoint")
    ax.set_xlabel("PC1", fontsize=8)
    ax.set_ylabel("PC2", fontsize=8)
    ax.legend(fontsize=6)
    ax.tick_params(labelsize=7)
    fig.colorbar(sc, ax=ax).set_label("step", fontsize=7)
    ax.set_title(f"{r['name']}: last {len(st)} snapshots", fontsize=8)
    if C.shape[1] >= 3:
        ax = fig.add_subplot(1, 3, 3, projection="3d")
        ax.scatter(C[:, 0], C[:, 1], C[:, 2], c=st, s=6, cmap="viridis")
        if "points" in r["pca"]:
            ax.plot(P[:, 0], P[:, 1], P[:, 2], "mp", ms=7)
        ax.set_xlabel("PC1", fontsize=7)
        ax.set_ylabel("PC2", fontsize=7)
        ax.set_zlabel("PC3", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle((title + ": " if title else "") + "PCA of the z-scored path (SLEPc SVD)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out + "_pca.png", dpi=90)
    plt.close(fig)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir")
    p.add_argument("--baseline", default=None, help="directory of the weight-decay survey (task_*/results.h5)")
    p.add_argument("--out", default=None, help="output prefix (default DIR/levelset)")
    p.add_argument("--title", default="")
    a = p.parse_args()
    out = a.out or os.path.join(a.dir, "levelset")
    runs = load_runs(a.dir)
    if not runs:
        raise SystemExit(f"plot_levelset: no run*/results.h5 with a /levelset group under {a.dir}")
    print(f"plot_levelset: {len(runs)} runs: " + ", ".join(f"{r['name']} ({len(r['h']) - 1} steps, stop: {s(r['attrs']['stop_reason'])})" for r in runs))
    classify = plot_path(runs, out, a.title)
    print("\n".join(table(runs, out, a.baseline, a.title, classify)))
    pr = plot_pca(runs, out, a.title)
    print(f"plot_levelset: wrote {out}_path.png, {out}_table.md" + (f", {out}_lambda.png" if a.baseline else "") + (f", {out}_pca.png" if pr else ""))


if __name__ == "__main__":
    main()
