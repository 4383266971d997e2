#!/usr/bin/env python3
"""Gather a survey: every <dir>/task_<i>/results.h5 into one table (CSV and HDF5) and a plot,
and report the missing and failed tasks by index. Exit status 1 when any task is missing or failed.

  /usr/bin/python3 scripts/survey_report.py SURVEY_DIR [--size N] [--out PREFIX]

A task is 'missing' when its directory does not exist (never started), 'failed' when it exists
but holds no results.h5 (an error, or an interrupted run: results.partial.h5 / checkpoints)."""
import argparse, glob, os, re, sys

import h5py
import numpy as np

COLS = ["index", "config", "num_params", "ranks", "resumed", "train_steps", "train_loss", "train_grad_norm", "train_test_loss", "train_test_accuracy"]


def attr(f, obj, name, default=np.nan):
    try:
        v = f[obj].attrs[name]
        return v.decode() if isinstance(v, bytes) else v
    except KeyError:
        return default


def gather(d, size=0):
    """The tasks under D: {'rows', 'size', 'grid', 'missing', 'failed', 'present'} (present: index -> task
    directory). scripts/report.py calls this, write_tables and plot."""
    rows, grid, failed = [], None, []
    dirs = sorted(glob.glob(os.path.join(d, "task_*")))
    present = {}
    for t in dirs:
        m = re.search(r"task_(\d+)$", t)
        if m:
            present[int(m.group(1))] = t
    for i, t in sorted(present.items()):
        r = os.path.join(t, "results.h5")
        if not os.path.exists(r):
            why = "interrupted (results.partial.h5)" if os.path.exists(os.path.join(t, "results.partial.h5")) else "no results.h5"
            failed.append((i, why))
            continue
        with h5py.File(r, "r") as f:
            size = size or int(attr(f, "/survey", "size", 0))
            grid = grid or attr(f, "/survey", "grid", "")
            row = {"index": i, "config": attr(f, "/survey", "config", ""), "ranks": int(attr(f, "/run", "ranks", 0)),
                   "resumed": int(attr(f, "/run", "resumed", 0))}
            for g in ("train",):
                for k in ("loss", "grad_norm", "test_loss", "test_accuracy", "steps"):
                    row[f"{g}_{k}"] = float(attr(f, "/" + g, k)) if g in f else np.nan
            row["num_params"] = int(attr(f, "/net", "num_params", 0))
            rows.append(row)
    size = size or (max(present) + 1 if present else 0)
    missing = [i for i in range(size) if i not in present]
    return {"rows": rows, "size": size, "grid": grid, "missing": missing, "failed": failed, "present": present}


def write_tables(s, out):
    """OUT.csv and OUT.h5: one row per finished task, and the missing and failed indices."""
    rows = s["rows"]
    with open(out + ".csv", "w") as f:
        f.write(",".join(COLS) + "\n")
        for r in rows:
            f.write(",".join('"%s"' % r[c] if c == "config" else str(r[c]) for c in COLS) + "\n")
    with h5py.File(out + ".h5.tmp", "w") as f:
        f.attrs["grid"] = s["grid"] or ""
        f.attrs["size"] = s["size"]
        f["index"] = np.array([r["index"] for r in rows], dtype=np.int64)
        f["config"] = np.array([r["config"].encode() for r in rows], dtype="S")
        for c in COLS[2:]:
            f[c] = np.array([r[c] for r in rows], dtype=float)
        f["missing"] = np.array(s["missing"], dtype=np.int64)
        f["failed"] = np.array([i for i, _ in s["failed"]], dtype=np.int64)
    os.replace(out + ".h5.tmp", out + ".h5")


def plot(s, d, out):
    """OUT.png: training and test loss of every finished task (nothing without one; returns whether)."""
    rows = s["rows"]
    if not rows:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(rows) + 2), 4.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["train_loss"] for r in rows], 0.4, label="training loss (with regulariser)")
    ax.bar(x + 0.2, [r["train_test_loss"] for r in rows], 0.4, label="test loss")
    ax.set_xticks(x)
    ax.set_xticklabels([r["config"].replace(" -", "\n-") for r in rows], fontsize=8)
    ax.set_xlabel("configuration (survey task)")
    ax.set_ylabel("loss after training (dimensionless)")
    ax.set_title(f"survey {os.path.abspath(d)}: {len(rows)} of {s['size']} tasks")
    top = np.nanmax([max(r["train_loss"], r["train_test_loss"]) for r in rows])
    if np.isfinite(top) and top > 0:
        ax.set_ylim(0, 1.3 * top)  # room for the legend above the bars
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=110)
    plt.close(fig)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir")
    p.add_argument("--size", type=int, default=0, help="number of tasks (default: from the tasks' /survey attributes)")
    p.add_argument("--out", default=None, help="output prefix (default: SURVEY_DIR/survey)")
    a = p.parse_args()
    out = a.out or os.path.join(a.dir, "survey")
    s = gather(a.dir, a.size)
    rows, size, missing, failed = s["rows"], s["size"], s["missing"], s["failed"]
    write_tables(s, out)
    plot(s, a.dir, out)

    print(f"survey: {len(rows)} finished of {size}; table {out}.csv and {out}.h5" + (f", plot {out}.png" if rows else ""))
    for r in rows:
        print(f"  task {r['index']:5d}  {r['config']:50s}  loss {r['train_loss']:.6g}  test loss {r['train_test_loss']:.6g}")
    if missing:
        print("missing (never started): " + " ".join(map(str, missing)))
    for i, why in failed:
        print(f"failed: task {i}: {why}")
    sys.exit(1 if missing or failed else 0)


if __name__ == "__main__":
    main()
