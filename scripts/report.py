#!/usr/bin/python3
"""Figures and a Markdown report of any landscape run, or of a survey.

  /usr/bin/python3 scripts/report.py PATH [--out DIR] [--log auto|on|off] [--slq-sigma F] [--tasks]

PATH is a results file (results.h5, results.partial.h5, any stages), a run directory holding
results.h5, or a survey directory holding task_<i>/results.h5. DIR (default: report/ next to
results.h5, <name>_report/ next to another file name, report/ inside a survey directory) receives
report.md (the run's facts, key numbers per stage and the figures, linked relatively) and the PNGs,
one set per stage group (a repeated stage writes /name_2, ...: its files are name_2_*.png):

  train      <g>_loss.png         training and test loss, gradient norm and test accuracy against the step
             train_plateaus_*.png plateaus of -train_plateau (scripts/plot_escape.py), with neuron norms
  spectrum   <g>_spectrum.png     extreme eigenvalues, their relative residuals, spectral density
                                  (dense eigenvalues as a histogram, SLQ with Gaussian broadening)
  simplex    <g>_walk.png         the Deep ReLU Simplex trajectory (scripts/plot_simplex.py)
  levelset   <g>_path.png, <g>_pca.png   the level-set path and its PCA (scripts/plot_levelset.py)
  slice      <g>_contour.png      2-D: filled contours of the training (and test) loss on the plane,
                                  the points of -slice_points; 1-D <g>_line.png: the loss along the line
             <g>_topology.png     persistence diagram (H0, H1, the essential class on the top line)
                                  and the Betti curves b0(c), b1(c), chi(c) of the sublevel sets
  topology   topology_values.png, topology_topology.png  the input grid and the same persistence figure, for
                                  the group of the standalone 'landscape topology' command
  linear     <g>_phase.png        |v*| against the weight decay (scripts/plot_linear.py), with a phase table
  eval, check, stationary, escape, embed: tables only

A survey directory gives the tables of scripts/survey_report.py (survey.csv, survey.h5), its bar plot of
the loss per configuration (survey.png), each task's stages and key numbers, every *.md table found in
the survey directory (e.g. a Morse-count table), and with --tasks a full report per task (task_<i>/).

--log chooses log scales for losses and levels: auto (when the values are positive and span two decades
or more), on (whenever they are positive), off. --slq-sigma: the Gaussian broadening of the SLQ density as a fraction of
the spectrum's width (default 0.01).

The report is written to a temporary directory next to DIR and renamed to DIR only when complete; an
existing DIR is replaced only if it holds a report.md. Missing or malformed input: one line
'report: error: <cause>' on stderr, exit status 1, and nothing written."""
import argparse, glob, os, re, shutil, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h5py  # noqa: E402
import matplotlib  # noqa: E402
import matplotlib.ticker  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

import plot_escape  # noqa: E402
import plot_levelset  # noqa: E402
import plot_linear  # noqa: E402
import plot_simplex  # noqa: E402
import survey_report  # noqa: E402


class ReportError(Exception):
    """Missing or malformed input: the message is the one-line cause."""


# ---------------------------------------------------------------- small helpers
def txt(v):
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.ndarray) and v.size == 1:
        return txt(v.item())
    return v.item() if isinstance(v, np.generic) else v


def fmt(v):
    """Key numbers: 6 significant digits (the test reads them back the same way)."""
    v = txt(v)
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, float):
        if np.isnan(v):
            return "NaN"
        if float(v).is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.6g}"
    return str(v)


def attr(g, name, default=None):
    return txt(g.attrs[name]) if name in g.attrs else default


def need(g, name):
    """Dataset NAME of group g as an array, or a ReportError naming it."""
    if name not in g or not isinstance(g[name], h5py.Dataset):
        raise ReportError(f"{g.file.filename}: {g.name}/{name} is missing")
    return g[name][()]


def opt(g, name):
    return g[name][()] if name in g and isinstance(g[name], h5py.Dataset) else None


def scalar(g, name):
    v = opt(g, name)
    return None if v is None else float(np.ravel(v)[0]) if np.size(v) else None


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def log_sensible(*arrays, mode="auto"):
    """Log axis: 'off'; 'on' when every finite value is positive; auto when they are and span two decades."""
    if mode == "off":
        return False
    v = np.concatenate([np.ravel(np.asarray(a, float)) for a in arrays if a is not None and np.size(a)] or [np.zeros(0)])
    v = v[np.isfinite(v)]
    return len(v) > 1 and v.min() > 0 and (mode == "on" or v.max() / v.min() >= 100)


class Markdown:
    def __init__(self):
        self.lines, self.figures = [], []

    def add(self, *lines):
        self.lines.extend(lines)

    def h(self, level, text):
        self.add("", "#" * level + " " + text, "")

    def table(self, header, rows):
        self.add("| " + " | ".join(cell(h) for h in header) + " |", "|" + " --- |" * len(header))
        for r in rows:
            self.add("| " + " | ".join(cell(c) for c in r) + " |")
        self.add("")

    def kv(self, rows):
        """A two-column table of (quantity, value), leaving out values that are None or NaN."""
        self.table(["quantity", "value"], [(k, fmt(v)) for k, v in rows if v is not None and not (isinstance(v, float) and np.isnan(v))])

    def fig(self, outdir, rel, caption):
        if not os.path.exists(os.path.join(outdir, rel)):
            raise ReportError(f"figure {rel} was not written")
        self.figures.append(rel)
        self.add(f"![{caption}]({rel})", "")

    def text(self):
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip("\n") + "\n"


LOSS_LABEL = {"mse": "loss (half mean squared error)", "l1": "loss (mean absolute error, L1)", "ce": "loss (mean cross-entropy, nats)",
              "quantile": "loss (mean pinball loss)"}
NOT_STAGES = {"run", "data", "net", "theta", "theta_initial", "survey"}


def option(opts, name, default=None):
    m = re.search(r"(?:^|\s)-" + name + r"\s+(?!-[A-Za-z_])(\S+)", opts or "")
    return m.group(1) if m else default


class Ctx:
    """What every section needs: the output directory, the file, the loss label, the options."""

    def __init__(self, f, outdir, args):
        self.f, self.out, self.args = f, outdir, args
        self.opts = attr(f["run"], "options", "") if "run" in f else ""
        self.loss = option(self.opts, "loss", "mse")
        reg = float(option(self.opts, "reg_l2", "0") or 0)
        self.label = LOSS_LABEL.get(self.loss, f"loss ({self.loss})")
        self.train_label = self.label[:-1] + (" + L2 penalty)" if reg > 0 else ")")

    def save(self, fig, rel):
        fig.savefig(os.path.join(self.out, rel), dpi=100)
        plt.close(fig)
        return rel


def stage_groups(f, opts):
    """The stage groups of the file in the order of -stages (name, name_2, ...), then any others."""
    present = [k for k in f.keys() if k not in NOT_STAGES and isinstance(f[k], h5py.Group)]
    order, seen = [], {}
    for s in (option(opts, "stages") or "").split(","):
        if not s:
            continue
        seen[s] = seen.get(s, 0) + 1
        name = s if seen[s] == 1 else f"{s}_{seen[s]}"
        if name in present and name not in order:
            order.append(name)
    return order + sorted(k for k in present if k not in order)


# ---------------------------------------------------------------- run facts
def facts(md, f, path):
    run = f["run"] if "run" in f else None
    rows = [("results file", os.path.abspath(path))]
    if run is not None:
        rows += [("version", attr(run, "version")), ("ranks", attr(run, "ranks")),
                 ("resumed", (lambda r: "no" if not r else f"yes ({r} restart{'s' if r > 1 else ''})")(int(attr(run, "resumed", 0)))),
                 ("seed", attr(run, "seed")), ("start (UTC)", attr(run, "start_time")), ("end (UTC)", attr(run, "end_time"))]
    if "data" in f:
        d = f["data"]
        desc = f"{attr(d, 'type', '?')}" + (f" ({attr(d, 'file')})" if (attr(d, "file") or "").strip() else "")
        desc += f", {fmt(attr(d, 'train_n', '?'))} training rows, {fmt(attr(d, 'test_n', 0))} test rows, d = {fmt(attr(d, 'd', '?'))}, k = {fmt(attr(d, 'k', '?'))}"
        if int(attr(d, "num_classes", 0) or 0) > 0:
            desc += f", {fmt(attr(d, 'num_classes'))} classes"
        rows.append(("data", desc))
    if "net" in f:
        n = f["net"]
        w = opt(n, "widths")
        desc = ("widths " + "-".join(str(int(x)) for x in np.ravel(w)) if w is not None else "?") + f", {attr(n, 'activation', '?')}"
        desc += f", bias {fmt(attr(n, 'bias', '?'))}" + (", skip connections" if attr(n, "skip", 0) else "")
        if attr(n, "noise"):
            desc += f", noise {attr(n, 'noise')} (variance {fmt(attr(n, 'noise_var'))})"
        rows.append(("net", desc))
        rows.append(("parameters P", attr(n, "num_params")))
    opts = attr(run, "options", "") if run is not None else ""
    if run is not None:
        rows.append(("loss", option(opts, "loss", "mse") + (f", L2 penalty gamma = {option(opts, 'reg_l2')}" if float(option(opts, "reg_l2", "0") or 0) else "")))
    rows.append(("stages", ", ".join(stage_groups(f, opts)) or "none"))
    if "survey" in f:
        s = f["survey"]
        rows.append(("survey task", f"{fmt(attr(s, 'index'))} of {fmt(attr(s, 'size'))}: {attr(s, 'config', '')}"))
    md.kv(rows)
    if opts:
        md.add("Options:", "", "```", opts.strip(), "```", "")


# ---------------------------------------------------------------- train
def sec_train(md, c, g, name):
    h = need(g, "history")
    if h.ndim != 2 or h.shape[1] < 6:
        raise ReportError(f"{c.f.filename}: {g.name}/history has shape {h.shape}, expected [n, 7]")
    cols = (attr(g["history"], "columns") or "step,epoch,loss,grad_norm,test_loss,test_accuracy,time_s").split(",")
    col = {k.strip(): i for i, k in enumerate(cols)}
    step, loss, gn, tl, ta = (h[:, col[k]] for k in ("step", "loss", "grad_norm", "test_loss", "test_accuracy"))
    ttype = attr(g, "type", "?")
    ep = h[:, col["epoch"]] if "epoch" in col else step
    minibatch = ttype in ("adam", "sgd") and len(h) > 1 and step[-1] - step[0] > ep[-1] - ep[0] + 1  # more updates than epochs
    md.kv([("optimiser", ttype), ("steps", attr(g, "steps")), ("epochs", h[-1, col["epoch"]] if "epoch" in col and len(h) else None),
           ("training loss, first record", loss[0] if len(loss) else None), ("training loss, final", attr(g, "loss")),
           ("gradient norm, final", attr(g, "grad_norm")), ("test loss, final", attr(g, "test_loss")),
           ("test accuracy, final", attr(g, "test_accuracy") if (attr(g, "test_accuracy", -1) or -1) >= 0 else None),
           ("TAO converged reason", attr(g, "converged_reason")), ("history rows", len(h))])
    if not len(h):
        md.add("(empty history: no figure)", "")
        return
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    mk = "o-" if len(h) < 30 else "-"
    a = ax[0]
    a.plot(step, loss, mk, ms=3, label="training loss" + (" (mean over the epoch's mini-batches)" if minibatch else " (full batch)"))
    fin = np.isfinite(tl)
    if fin.any():
        a.plot(step[fin], tl[fin], mk, ms=3, label="test loss")
    if log_sensible(loss, tl[fin], mode=c.args.log):
        a.set_yscale("log")
    a.set_xlabel("step (parameter update)")
    a.set_ylabel(c.train_label)
    a.set_title(f"{name}: loss ({ttype}, {int(step[-1])} steps)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    a = ax[1]
    ok = np.isfinite(gn) & (gn > 0)
    a.plot(step[ok], gn[ok], mk, ms=3, color="C2", label="gradient norm")
    if log_sensible(gn[ok], mode=c.args.log):
        a.set_yscale("log")
    a.set_xlabel("step (parameter update)")
    a.set_ylabel("gradient norm ‖∇L‖" + (" (last mini-batch)" if minibatch else " (full batch)"))
    a.grid(alpha=0.3)
    title = "gradient norm"
    acc = np.isfinite(ta) & (ta >= 0)
    if acc.any():
        b = a.twinx()
        b.plot(step[acc], ta[acc], mk, ms=3, color="C3", label="test accuracy")
        b.set_ylabel("test accuracy (fraction correct)")
        b.set_ylim(0, 1.02)
        l1, n1 = a.get_legend_handles_labels()
        l2, n2 = b.get_legend_handles_labels()
        a.legend(l1 + l2, n1 + n2, fontsize=8, loc="center right")
        title += " and test accuracy"
    a.set_title(f"{name}: {title}")
    fig.tight_layout()
    md.fig(c.out, c.save(fig, f"{name}_loss.png"), f"{name}: loss curves")
    if "plateaus" in g:
        P = np.atleast_2d(g["plateaus"][()])
        verd = plot_escape.VERDICTS
        md.add(f"Plateaus of `-train_plateau` ({len(P)}):", "")
        md.table(["plateau", "steps", "classified at", "loss", "gradient norm", "verdict", "escape neurons", "certificate change", "verified"],
                 [(i + 1, f"{fmt(p[0])}-{fmt(p[1])}", fmt(p[2]), fmt(p[3]), fmt(p[5]), verd[int(p[6])] if 0 <= int(p[6]) < len(verd) else fmt(p[6]),
                   fmt(p[7]), fmt(p[8]), "yes" if p[9] == 1 else "no") for i, p in enumerate(P)])
        if name == "train" and "neuron_norms" in g and c.loss == "mse":
            plot_escape.plot(c.f, os.path.join(c.out, "train_plateaus"), title="plateaus of full-batch GD and their verdicts (scripts/plot_escape.py)")
            md.fig(c.out, "train_plateaus_loss.png", "train: plateaus (study convention: 2 x loss)")
            md.fig(c.out, "train_plateaus_norms.png", "train: neuron norms at the snapshots")


# ---------------------------------------------------------------- eval, check, stationary
def sec_eval(md, c, g, name):
    rows = [(k.replace("_", " "), scalar(g, k)) for k in ("loss", "gradient_norm", "test_loss", "train_accuracy", "test_accuracy",
                                                           "time_loss_gradient", "time_hvp")]
    rows = [(k, v) for k, v in rows if v is not None and np.isfinite(v) and not (k.endswith("accuracy") and v < 0)]
    if "hvp" in g:
        rows.append(("‖H d‖ (Hessian times the -eval_hvp_direction)", float(np.linalg.norm(g["hvp"][()]))))
    if not rows:
        raise ReportError(f"{c.f.filename}: {g.name} holds no loss")
    md.kv(rows)


def sec_check(md, c, g, name):
    rows = [(k, scalar(g, k)) for k in g if isinstance(g[k], h5py.Dataset)]
    md.add("Relative errors of the derivative checks:", "")
    md.kv(rows)


def sec_stationary(md, c, g, name):
    s = opt(g, "summary")
    rows = [("verdict", attr(g, "verdict")), ("solver reason", attr(g, "solver_reason"))]
    if s is not None:
        s = np.ravel(s)
        rows += list(zip(["loss", "gradient norm", "iterations", "flat ratio ‖Hg‖/(‖H‖‖g‖)", "Hessian products", "time (s)"], s))
    rows += [("gradient tolerance", attr(g, "grad_tol")), ("‖H‖ estimate", attr(g, "hessian_norm")), ("stalled", attr(g, "stalled"))]
    h = opt(g, "history")
    if h is not None and np.ndim(h) == 2 and len(h):
        rows += [("gradient norm, first iterate", h[0, 2]), ("linear iterations, total", h[:, 3].sum())]
    md.kv(rows)


# ---------------------------------------------------------------- spectrum
def slq_density(nodes, weights, grid, sigma):
    d = np.zeros_like(grid)
    for n, w in zip(np.atleast_2d(nodes), np.atleast_2d(weights)):
        k = w > 0
        d += (w[k, None] * np.exp(-0.5 * ((grid[None, :] - n[k, None]) / sigma) ** 2)).sum(0)
    return d / (len(np.atleast_2d(nodes)) * sigma * np.sqrt(2 * np.pi))


def sec_spectrum(md, c, g, name):
    parts = {p: np.ravel(g[p]["values"][()]) for p in ("smallest", "largest") if p in g and "values" in g[p]}
    dense = np.ravel(g["dense/eigenvalues"][()]) if "dense" in g and "eigenvalues" in g["dense"] else None
    slq = (g["slq/nodes"][()], g["slq/weights"][()]) if "slq" in g and "nodes" in g["slq"] and "weights" in g["slq"] else None
    tr = opt(g, "trace")
    if not parts and dense is None and slq is None and attr(g, "verdict") is None:
        raise ReportError(f"{c.f.filename}: {g.name} holds no eigenvalues (smallest, largest, dense or slq)")
    rows = [("verdict", attr(g, "verdict")), ("λ_min", attr(g, "lambda_min")), ("λ_max", attr(g, "lambda_max")),
            ("gradient norm", attr(g, "gradient_norm")), ("loss", scalar(g, "loss")),
            ("negative / zero / positive eigenvalues", None if attr(g, "num_negative") is None else
             f"{attr(g, 'num_negative')} / {attr(g, 'num_zero')} / {attr(g, 'num_positive') if attr(g, 'num_positive', -1) >= 0 else '-'}"
             + (" (exact, dense)" if attr(g, "morse_exact") else "")),
            ("zero band abs(λ) <=", attr(g, "zero_band")), ("flat ratio", attr(g, "flat_ratio"))]
    for p, v in parts.items():
        rr = opt(g[p], "relative_residuals")
        rows.append((f"{p} eigenvalues ({len(v)})", ", ".join(fmt(x) for x in v)))
        if rr is not None and np.size(rr):
            rows.append((f"{p}: largest relative residual", float(np.max(rr))))
    if tr is not None:
        tr = np.ravel(tr)
        rows.append(("Hutchinson trace", f"{fmt(tr[0])} ± {fmt(tr[1])} ({fmt(tr[2])} probes)"))
    if slq is not None:
        rows += [("SLQ probes x Lanczos steps", f"{slq[0].shape[0]} x {slq[0].shape[1] if np.ndim(slq[0]) == 2 else 1}"),
                 ("SLQ negative mass", attr(g, "slq_negative_mass")), ("SLQ negative count (mass x P)", attr(g, "slq_negative_count"))]
    rows.append(("Hessian products", scalar(g, "hessian_products")))
    md.kv(rows)
    if attr(g, "verdict_basis"):
        md.add("> " + attr(g, "verdict_basis"), "")
    panels = (2 if parts else 0) + (1 if dense is not None or slq is not None else 0)
    if not panels:
        return
    fig, ax = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2), squeeze=False)
    ax = list(ax[0])
    if parts:
        a, b = ax[0], ax[1]
        for p, mk in (("smallest", "v"), ("largest", "^")):
            if p in parts:
                v = parts[p]
                a.plot(np.arange(1, len(v) + 1), v, mk, ms=6, label=f"{p} ({'ascending' if p == 'smallest' else 'descending'})")
                rr = opt(g[p], "relative_residuals")
                if rr is not None and np.size(rr):
                    rr = np.maximum(np.ravel(rr), 1e-300)
                    b.semilogy(np.arange(1, len(rr) + 1), rr, mk, ms=6, label=p)
        a.axhline(0, color="k", lw=0.6, ls=":")
        a.set_xlabel("index i (1 = most extreme)")
        a.set_ylabel("Hessian eigenvalue λ (loss / parameter²)")
        a.set_title(f"{name}: extreme eigenvalues (SLEPc)")
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
        b.set_xlabel("index i (1 = most extreme)")
        b.set_ylabel("‖Hv - λv‖ / max(|λ|, ‖H‖)")
        b.set_title(f"{name}: relative residuals of the eigenpairs")
        b.legend(fontsize=8)
        b.grid(alpha=0.3)
        for x in (a, b):
            x.xaxis.get_major_locator().set_params(integer=True)
    if dense is not None or slq is not None:
        a = ax[-1]
        pts = [v for v in parts.values()] + ([dense] if dense is not None else [])
        if slq is not None:
            pts.append(np.atleast_2d(slq[0])[np.atleast_2d(slq[1]) > 0])
        allv = np.concatenate([np.ravel(x) for x in pts if np.size(x)])
        lo, hi = float(allv.min()), float(allv.max())
        width = hi - lo if hi > lo else max(abs(hi), 1.0)
        sigma = c.args.slq_sigma * width
        grid = np.linspace(lo - 5 * sigma, hi + 5 * sigma, 1200)
        top = 0
        if dense is not None:
            n, _, _ = a.hist(dense, bins=int(min(80, max(10, len(dense) // 4))), density=True, color="C0", alpha=0.45,
                             label=f"all {len(dense)} eigenvalues (dense Hessian)")
            top = max(top, n.max())
        if slq is not None:
            d = slq_density(slq[0], slq[1], grid, sigma)
            a.plot(grid, d, color="C3", lw=1.3, label=f"SLQ, Gaussian broadening σ = {sigma:.2g}")
            top = max(top, d.max())
        for v, lab in ((attr(g, "lambda_min"), "λ_min"), (attr(g, "lambda_max"), "λ_max")):
            if v is not None and np.isfinite(v):
                a.axvline(v, color="k", ls="--", lw=0.7)
                a.annotate(lab, (v, 0), xycoords=("data", "axes fraction"), xytext=(3 if lab == "λ_min" else -3, 4), textcoords="offset points",
                           ha="left" if lab == "λ_min" else "right", fontsize=8)
        if top > 0:
            a.set_yscale("log")
            a.set_ylim(top * 1e-5, top * 60)
        a.set_xlabel("Hessian eigenvalue λ (loss / parameter²)")
        a.set_ylabel("spectral density (fraction of eigenvalues per unit λ)")
        a.set_title(f"{name}: spectral density")
        a.legend(fontsize=8, loc="upper center")
        a.grid(alpha=0.3)
    fig.tight_layout()
    md.fig(c.out, c.save(fig, f"{name}_spectrum.png"), f"{name}: Hessian spectrum")


# ---------------------------------------------------------------- simplex, levelset, linear, escape, embed
def sec_simplex(md, c, g, name):
    s = np.ravel(need(g, "summary"))
    cols = (attr(g, "summary_columns") or "").split(", ")
    T = need(g, "trajectory")
    rows = [("verdict", attr(g, "verdict")), ("termination test", attr(g, "termination_test")), ("layer", attr(g, "layer")),
            ("parameters of the layer n0", attr(g, "parameters")), ("vertices visited", len(T))]
    rows += [(k.replace("_", " "), v) for k, v in zip(cols, s) if k]
    md.kv(rows)
    for k in ("analysis/estimates", "analysis/density", "analysis/distance_to_final"):
        need(g, k)
    lines = plot_simplex.plot(g, os.path.join(c.out, f"{name}_walk"), res=os.path.basename(c.f.filename))
    md.add("```", *[ln for ln in lines if "wrote" not in ln], "```", "")
    md.fig(c.out, f"{name}_walk.png", f"{name}: the simplex walk")


def sec_levelset(md, c, g, name):
    need(g, "history")
    rows = [(k.replace("_", " "), attr(g, k)) for k in ("L0", "stop_reason", "corrector", "regulariser", "steps", "corrector_steps_total",
                                                         "final_angle", "final_R", "final_test_loss", "final_test_accuracy")]
    run = plot_levelset.load_run(c.f.filename, name, group=name)
    h, col = run["h"], run["col"]
    rows.insert(5, ("R at the start", h[0, col["R"]]))
    if "pca" in g and "explained_variance_ratio" in g["pca"]:
        e = np.ravel(g["pca/explained_variance_ratio"][()])
        rows.append(("PCA explained variance ratio", ", ".join(fmt(x) for x in e[:5])))
        rows.append(("PCA zero-variance coordinates", attr(g["pca"], "zero_variance_coordinates")))
    md.kv([(k, v) for k, v in rows if not (k == "final test accuracy" and v is not None and v < 0)])
    prefix = os.path.join(c.out, name)
    classify = plot_levelset.plot_path([run], prefix)
    md.fig(c.out, f"{name}_path.png", f"{name}: the path on the level set")
    md.add(*plot_levelset.table([run], prefix, classify=classify), "")
    os.remove(prefix + "_table.md")  # in report.md already
    if plot_levelset.plot_pca([run], prefix):
        md.fig(c.out, f"{name}_pca.png", f"{name}: PCA of the path")


def sec_linear(md, c, g, name):
    rows = [(k, v) for k, v in ((k, attr(g, k)) for k in g.attrs)]
    for k in g:
        if isinstance(g[k], h5py.Dataset) and 0 < g[k].size <= 4 and not k.startswith("phase"):
            v = np.ravel(g[k][()])
            rows.append((k, fmt(v[0]) if v.size == 1 else ", ".join(fmt(x) for x in v)))
    md.kv(rows)
    if "phase_v_norm" in g:
        plot_linear.plot(c.f.filename, os.path.join(c.out, f"{name}_phase.png"), group=g.name)
        md.fig(c.out, f"{name}_phase.png", f"{name}: |v*| against the weight decay")


def sec_escape(md, c, g, name):
    keys = ("verdict", "summary", "loss", "loss_study", "escape_neurons", "zero_output_neurons", "dead_neurons", "undetermined_neurons",
            "worst_neuron", "worst_residual", "output_bias_residual", "hidden_width", "num_params", "added", "split", "loss_before", "loss_after")
    rows = [(k.replace("_", " "), attr(g, k)) for k in keys]
    if "certificate" in g:
        ce = g["certificate"]
        rows += [("certificate: " + k.replace("_", " "), attr(ce, k)) for k in ("neuron", "eps", "predicted_change", "measured_change", "verified")]
    if all(v is None for _, v in rows):
        raise ReportError(f"{c.f.filename}: {g.name} has no verdict")
    md.kv(rows)


# ---------------------------------------------------------------- slice and topology
def topo_arrays(c, t):
    h0 = np.asarray(need(t, "h0"), float).reshape(-1, 2)
    h1 = np.asarray(opt(t, "h1") if opt(t, "h1") is not None else np.zeros((0, 2)), float).reshape(-1, 2)
    betti = np.asarray(need(t, "betti"), float)
    if betti.ndim == 1 and betti.size == 4:  # one level: the writer stores a single row as a vector
        betti = betti[None, :]
    if betti.ndim != 2 or betti.shape[1] != 4:
        raise ReportError(f"{c.f.filename}: {t.name}/betti has shape {betti.shape}, expected [K, 4]")
    crit = opt(t, "critical")
    return h0, h1, betti, (np.ravel(crit) if crit is not None else None)


def topo_rows(t, h0, h1, crit):
    fin = np.isfinite(h0[:, 1])
    rows = [("H0 pairs (finite + essential)", f"{int(fin.sum())} + {int((~fin).sum())}"), ("H1 pairs", len(h1)),
            ("total persistence H0", attr(t, "total_persistence_h0")), ("total persistence H1", attr(t, "total_persistence_h1"))]
    if fin.any():
        i = np.argmax(h0[fin, 1] - h0[fin, 0])
        rows.append(("most persistent finite H0 pair (birth, death)", f"{fmt(h0[fin][i, 0])}, {fmt(h0[fin][i, 1])}"))
    if (~fin).any():
        rows.append(("essential class born at", h0[~fin][0, 0]))
    if crit is not None and len(crit) >= 3:
        rows.append(("grid critical points: minima / saddles / maxima", f"{fmt(crit[0])} / {fmt(crit[1])} / {fmt(crit[2])}"))
    return rows


def topo_figure(c, name, h0, h1, betti, logscale, dim):
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.4))
    a = ax[0]
    fin0, fin1 = np.isfinite(h0[:, 1]), np.isfinite(h1[:, 1])
    vals = np.concatenate([h0[:, 0], h0[fin0, 1], h1[:, 0], h1[fin1, 1]])
    vals = vals[np.isfinite(vals)]
    logscale = logscale and len(vals) and vals.min() > 0
    lo, hi = (vals.min(), vals.max()) if len(vals) else (0.0, 1.0)
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0) if not logscale else lo * 10
    if logscale:
        top, bot, right = hi * (hi / lo) ** 0.12, lo / (hi / lo) ** 0.05, hi * (hi / lo) ** 0.05
    else:
        top, bot, right = hi + 0.12 * (hi - lo), lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)
    a.plot([bot, top], [bot, top], color="0.5", lw=0.8, label="diagonal: death = birth")
    a.axhline(top, color="0.3", ls="--", lw=0.8)
    a.annotate("∞: essential class (never dies)", (right, top), xytext=(-3, 3), textcoords="offset points", ha="right", fontsize=8, color="0.3")
    a.plot(h0[fin0, 0], h0[fin0, 1], "o", color="C0", ms=6, alpha=0.8, label=f"H0, components ({int(fin0.sum())})")
    if (~fin0).any():
        a.plot(h0[~fin0, 0], np.full((~fin0).sum(), top), "o", color="C0", ms=8, mfc="none", mew=1.8,
               label=f"H0, essential ({int((~fin0).sum())})")
    if dim == 2 or len(h1):
        a.plot(h1[fin1, 0], h1[fin1, 1], "^", color="C1", ms=7, alpha=0.8, label=f"H1, loops ({int(fin1.sum())})")
        if (~fin1).any():
            a.plot(h1[~fin1, 0], np.full((~fin1).sum(), top), "^", color="C1", ms=8, mfc="none", mew=1.8, label="H1, essential")
    if logscale:
        a.set_xscale("log")
        a.set_yscale("log")
    for pairs, ys in ((h0[fin0], h0[fin0, 1]), (h1[fin1], h1[fin1, 1]), (h0[~fin0], np.full((~fin0).sum(), top))):
        sig = np.vectorize(lambda v: float(f"{v:.3g}"))  # pairs that coincide at the diagram's resolution
        keys, counts = np.unique(sig(np.c_[pairs[:, 0], ys]), axis=0, return_counts=True) if len(pairs) else ([], [])
        for (b, d), n in zip(keys, counts):
            if n > 1:  # coinciding pairs (symmetric minima): their multiplicity
                a.annotate(f"×{n}", (b, d), xytext=(6, -3), textcoords="offset points", fontsize=9)
    a.set_xlim(bot, right)
    a.set_ylim(bot, top * (hi / lo) ** 0.08 if logscale else top + 0.06 * (hi - lo))
    a.set_xlabel("birth level c (loss)")
    a.set_ylabel("death level c (loss)")
    a.set_title(f"{name}: persistence diagram of the sublevel sets")
    a.legend(fontsize=8, loc="lower right")
    a.grid(alpha=0.3)
    a = ax[1]
    lev = betti[:, 0]
    a.step(lev, betti[:, 1], where="post", lw=3.5, alpha=0.6, label="b0(c): components")
    if dim == 2:
        a.step(lev, betti[:, 2], where="post", lw=1.5, label="b1(c): loops")
    a.step(lev, betti[:, 3], where="post", lw=1.2, ls="--", color="k", label="χ(c): Euler characteristic")
    if logscale and lev.min() > 0:
        a.set_xscale("log")
    a.set_xlabel("level c (loss)")
    a.set_ylabel("count (Betti number, χ)")
    a.yaxis.get_major_locator().set_params(integer=True)
    a.set_ylim(min(0, betti[:, 1:].min()) - 0.3, betti[:, 1:].max() + 0.5)
    a.set_title(f"{name}: Betti numbers of {{L <= c}}")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    fig.tight_layout()
    return c.save(fig, f"{name}_topology.png")


def contour_panel(fig, a, x, y, Z, logscale, label):
    """Filled contours of Z [len(y), len(x)] (log colour scale if asked), a colour bar, the grid minimum."""
    Zm = np.ma.masked_invalid(Z)
    lo, hi = Zm.min(), Zm.max()
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    if logscale:
        levels = np.geomspace(lo, hi, 25)
        cs = a.contourf(x, y, Zm, levels=levels, norm=LogNorm(lo, hi), cmap="viridis")
        dec = 10.0 ** np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
        dec = dec[(dec >= lo) & (dec <= hi)]
        cb = fig.colorbar(cs, ax=a, ticks=dec if len(dec) >= 2 else None, format=matplotlib.ticker.LogFormatterSciNotation())
    else:
        cs = a.contourf(x, y, Zm, levels=np.linspace(lo, hi, 25), cmap="viridis")
        cb = fig.colorbar(cs, ax=a)
    a.contour(x, y, Zm, levels=cs.levels[::3], colors="w", linewidths=0.4, alpha=0.6)
    cb.set_label(label + (", log scale" if logscale else ""))
    jj, ii = np.unravel_index(np.argmin(np.where(np.isfinite(Z), Z, np.inf)), Z.shape)
    a.plot(x[ii], y[jj], "x", color="r", ms=9, mew=2, label="grid minimum", clip_on=False, zorder=5)


def finite(Z):
    return None if Z is None else np.where(np.isfinite(Z), Z, np.nan)


def sec_slice(md, c, g, name):
    dim = int(attr(g, "dim", 0) or 0)
    if dim not in (1, 2):
        raise ReportError(f"{c.f.filename}: {g.name} attribute dim is {attr(g, 'dim')}, expected 1 or 2")
    x = np.ravel(need(g, "x"))
    y = np.ravel(need(g, "y")) if dim == 2 else np.zeros(1)
    L = np.asarray(need(g, "loss"), float)
    if L.ndim == 1:
        L = L[None, :]
    if L.shape != (len(y), len(x)):
        raise ReportError(f"{c.f.filename}: {g.name}/loss has shape {list(L.shape)}, expected [{len(y)}, {len(x)}] from x and y")
    if not np.isfinite(L).any():
        raise ReportError(f"{c.f.filename}: {g.name}/loss has no finite value")
    TL = opt(g, "test_loss")
    TL = None if TL is None or not np.isfinite(TL).any() else np.asarray(TL, float).reshape(L.shape)
    Lf, TLf = finite(L), finite(TL)
    spec = attr(g, "directions") or ""
    if spec == "points":
        axis = ["along θ1 - θ0", "along θ2 - θ0"]
    else:
        axis = [f"({d.strip()})" for d in spec.split(",")] + ["(d1)", "(d2)"]
    lname = attr(g, "loss", c.loss)
    label = LOSS_LABEL.get(lname, f"loss ({lname})")
    j, i = np.unravel_index(np.nanargmin(Lf), L.shape)
    rows = [("dimension", dim), ("grid", f"{len(x)} x {len(y)}" if dim == 2 else f"{len(x)} points"), ("directions", spec),
            ("points (-slice_points)", attr(g, "points")), ("normalisation", attr(g, "normalize")), ("parallel over", attr(g, "parallel")),
            ("time (s)", attr(g, "time_s")),
            ("coordinate range", f"x in [{fmt(x.min())}, {fmt(x.max())}]" + (f", y in [{fmt(y.min())}, {fmt(y.max())}]" if dim == 2 else "")),
            ("loss, minimum on the grid", np.nanmin(Lf)),
            ("minimum at", f"x = {fmt(x[i])}" + (f", y = {fmt(y[j])}" if dim == 2 else "")), ("loss, maximum on the grid", np.nanmax(Lf))]
    if not np.isfinite(L).all():
        rows.append(("grid points with a non-finite loss", int((~np.isfinite(L)).sum())))
    o = np.where(np.isclose(x, 0, rtol=0, atol=1e-12))[0], np.where(np.isclose(y, 0, rtol=0, atol=1e-12))[0]
    if len(o[0]) and len(o[1]):
        rows.append(("loss at the origin θ0", L[o[1][0], o[0][0]]))
    if TL is not None:
        rows.append(("test loss, minimum on the grid", np.nanmin(TLf)))
    topo = None
    if "topology" in g:
        t = g["topology"]
        topo = topo_arrays(c, t)
        rows += topo_rows(t, topo[0], topo[1], topo[3])
    logscale = log_sensible(L, TL, mode=c.args.log)
    rows.append(("loss scale of the figures", "log" if logscale else "linear"))
    md.kv(rows)
    pts = opt(g, "points")
    pts = None if pts is None else np.asarray(pts, float).reshape(-1, 2)
    if dim == 2:
        surf = [(L, "training loss")] + ([(TL, "test loss")] if TL is not None else [])
        fig, ax = plt.subplots(1, len(surf), figsize=(6.2 * len(surf), 5), squeeze=False)
        for a, (Z, what) in zip(ax[0], surf):
            contour_panel(fig, a, x, y, Z, logscale, label)
            o = pts[0] if pts is not None and len(pts) else (0, 0)
            a.plot(o[0], o[1], "*", color="w", mec="k", ms=14, label="origin θ0", clip_on=False, zorder=5)
            for q, p in enumerate(pts[1:] if pts is not None else [], 1):
                a.plot(p[0], p[1], "o", color="C1", mec="k", ms=8, label="-slice_points θ1, θ2" if q == 1 else None, clip_on=False, zorder=5)
                a.annotate(f"θ{q}", (p[0], p[1]), xytext=(6, 6), textcoords="offset points", color="w", fontsize=10)
            a.set_xlabel(f"direction 1 coordinate {axis[0]}")
            a.set_ylabel(f"direction 2 coordinate {axis[1]}")
            a.set_title(f"{name}: {what} on θ0 + x d1 + y d2")
            a.legend(fontsize=8, loc="upper right", framealpha=0.7)
        fig.tight_layout()
        md.fig(c.out, c.save(fig, f"{name}_contour.png"), f"{name}: loss on the plane")
    else:
        fig, a = plt.subplots(figsize=(7, 4.2))
        a.plot(x, L[0], "-", lw=1.5, label="training loss")
        if TL is not None:
            a.plot(x, TL[0], "--", lw=1.2, label="test loss")
        a.plot(x[i], L[0, i], "x", color="r", ms=9, mew=2, label="grid minimum", clip_on=False, zorder=5)
        a.axvline(0, color="k", lw=0.7, ls=":", label="origin θ0")
        if pts is not None and len(pts) > 1:
            a.axvline(pts[1, 0], color="C1", lw=0.9, ls="--", label="-slice_points θ1")
        if logscale:
            a.set_yscale("log")
        a.set_xlabel(f"direction 1 coordinate {axis[0]}")
        a.set_ylabel(label)
        a.set_title(f"{name}: loss along θ0 + x d1 ({len(x)} points)")
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
        fig.tight_layout()
        md.fig(c.out, c.save(fig, f"{name}_line.png"), f"{name}: loss along the line")
    if topo is not None:
        md.fig(c.out, topo_figure(c, name, topo[0], topo[1], topo[2], logscale, dim), f"{name}: persistence and Betti curves")


def sec_topology(md, c, g, name):
    """The group of 'landscape topology -topology_input F.h5:/dataset': the grid and its persistence."""
    h0, h1, betti, crit = topo_arrays(c, g)
    V = opt(g, "values")
    rows = [("input", attr(g, "input")), ("dataset", attr(g, "dataset"))]
    if V is not None:
        V = np.atleast_2d(np.asarray(V, float))
        rows += [("grid (rows x columns)", f"{V.shape[0]} x {V.shape[1]}"), ("minimum value", np.nanmin(finite(V))),
                 ("maximum value", np.nanmax(finite(V)))]
    md.kv(rows + topo_rows(g, h0, h1, crit))
    logscale = log_sensible(V if V is not None else np.concatenate([h0[:, 0], betti[:, 0]]), mode=c.args.log)
    if V is not None and V.shape[0] > 1:
        fig, a = plt.subplots(figsize=(6.4, 5))
        contour_panel(fig, a, np.arange(V.shape[1]), np.arange(V.shape[0]), V, logscale, "value (the input dataset's units)")
        a.set_xlabel("grid column j (second index of the dataset)")
        a.set_ylabel("grid row i (first index)")
        a.set_title(f"{name}: the input grid {attr(g, 'dataset', '')}")
        a.legend(fontsize=8, loc="upper right", framealpha=0.7)
        fig.tight_layout()
        md.fig(c.out, c.save(fig, f"{name}_values.png"), f"{name}: the input grid")
    elif V is not None:
        fig, a = plt.subplots(figsize=(7, 4.2))
        a.plot(np.arange(V.shape[1]), V[0], "-", lw=1.5)
        if logscale:
            a.set_yscale("log")
        a.set_xlabel("grid index j")
        a.set_ylabel("value (the input dataset's units)")
        a.set_title(f"{name}: the input values {attr(g, 'dataset', '')}")
        a.grid(alpha=0.3)
        fig.tight_layout()
        md.fig(c.out, c.save(fig, f"{name}_values.png"), f"{name}: the input values")
    md.fig(c.out, topo_figure(c, name, h0, h1, betti, logscale, 2 if V is None or V.shape[0] > 1 else 1), f"{name}: persistence and Betti curves")


SECTIONS = {"train": sec_train, "eval": sec_eval, "check": sec_check, "stationary": sec_stationary, "spectrum": sec_spectrum,
            "simplex": sec_simplex, "levelset": sec_levelset, "linear": sec_linear, "escape": sec_escape, "embed": sec_escape,
            "slice": sec_slice, "topology": sec_topology}


# ---------------------------------------------------------------- one results file
def open_results(path):
    if not os.path.exists(path):
        raise ReportError(f"{path}: no such file or directory")
    if not h5py.is_hdf5(path):
        raise ReportError(f"{path}: not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ReportError(f"{path}: cannot open ({e})")
    if "run" not in f and not any(re.sub(r"_\d+$", "", k) in SECTIONS for k in f.keys()):
        f.close()
        raise ReportError(f"{path}: not a landscape results file (no /run group and no stage group)")
    return f


def report_file(path, outdir, args, title=None):
    """Write OUTDIR/report.md and the figures of one results file; return the number of figures."""
    with open_results(path) as f:
        c = Ctx(f, outdir, args)
        md = Markdown()
        md.h(1, title or f"Report: {os.path.basename(os.path.dirname(os.path.abspath(path)))}/{os.path.basename(path)}")
        md.h(2, "Run")
        facts(md, f, path)
        for name in stage_groups(f, c.opts):
            base = re.sub(r"_\d+$", "", name)
            md.h(2, f"{name}" + (f" (stage {base}, instance {name.rsplit('_', 1)[1]})" if base != name else ""))
            if base in SECTIONS:
                SECTIONS[base](md, c, f[name], name)
            else:
                md.add(f"No renderer for this group; its members: {', '.join(sorted(f[name].keys())) or 'none'}.", "")
        with open(os.path.join(outdir, "report.md"), "w") as o:
            o.write(md.text())
        return len(md.figures)


# ---------------------------------------------------------------- survey
def task_notes(path):
    """Stage groups of a task and one key number per stage, for the survey table."""
    notes = []
    with h5py.File(path, "r") as f:
        opts = attr(f["run"], "options", "") if "run" in f else ""
        groups = stage_groups(f, opts)
        for gname in groups:
            g, base = f[gname], re.sub(r"_\d+$", "", gname)
            if base == "spectrum" and attr(g, "verdict"):
                notes.append(f"{gname}: {attr(g, 'verdict')}, λ_min {fmt(attr(g, 'lambda_min'))}")
            elif base in ("simplex", "stationary", "escape", "embed") and attr(g, "verdict"):
                notes.append(f"{gname}: {attr(g, 'verdict')}")
            elif base == "eval" and "loss" in g:
                notes.append(f"{gname}: loss {fmt(scalar(g, 'loss'))}")
            elif base == "levelset" and attr(g, "final_R") is not None:
                notes.append(f"{gname}: R {fmt(attr(g, 'final_R'))}")
            elif base == "slice" and "loss" in g:
                notes.append(f"{gname}: min loss {fmt(np.nanmin(g['loss'][()]))}")
    return ", ".join(groups), "; ".join(notes)


def report_survey(d, outdir, args):
    s = survey_report.gather(d)
    if not s["present"]:
        raise ReportError(f"{d}: no task_<i> directories (not a survey directory)")
    for i, t in sorted(s["present"].items()):
        r = os.path.join(t, "results.h5")
        if os.path.exists(r) and not h5py.is_hdf5(r):
            raise ReportError(f"{r}: not an HDF5 file")
    survey_report.write_tables(s, os.path.join(outdir, "survey"))
    md = Markdown()
    md.h(1, f"Survey report: {os.path.basename(os.path.abspath(d))}")
    md.kv([("survey directory", os.path.abspath(d)), ("grid", s["grid"]), ("tasks", s["size"]), ("finished", len(s["rows"])),
           ("missing (never started)", " ".join(map(str, s["missing"])) or "none"),
           ("failed", "; ".join(f"{i}: {why}" for i, why in s["failed"]) or "none")])
    md.add("Tables (scripts/survey_report.py): [survey.csv](survey.csv), [survey.h5](survey.h5).", "")
    md.h(2, "Tasks")
    nfig = 0
    rows = []
    for r in s["rows"]:
        t = s["present"][r["index"]]
        stages, notes = task_notes(os.path.join(t, "results.h5"))
        idx = str(r["index"])
        if args.tasks:
            sub = os.path.join(outdir, os.path.basename(t))
            os.makedirs(sub)
            nfig += report_file(os.path.join(t, "results.h5"), sub, args, title=f"Survey task {r['index']}: {r['config']}")
            idx = f"[{r['index']}]({os.path.basename(t)}/report.md)"
        rows.append((idx, r["config"], r["num_params"], r["ranks"], r["resumed"], fmt(r["train_steps"]), fmt(r["train_loss"]),
                     fmt(r["train_grad_norm"]), fmt(r["train_test_loss"]),
                     fmt(r["train_test_accuracy"]) if np.isfinite(r["train_test_accuracy"]) and r["train_test_accuracy"] >= 0 else "-",
                     stages, notes))
    md.table(["task", "configuration", "P", "ranks", "resumed", "steps", "training loss", "gradient norm", "test loss", "test accuracy",
              "stages", "key numbers"], rows)
    if survey_report.plot(s, d, os.path.join(outdir, "survey")):
        md.fig(outdir, "survey.png", "loss per configuration")
        nfig += 1
    for t in sorted(glob.glob(os.path.join(d, "*.md"))):
        with open(t) as fh:
            body = fh.read().rstrip("\n")
        md.h(2, f"From {os.path.basename(t)}")
        md.add(*[("##" + ln if ln.startswith("#") else ln) for ln in body.split("\n")], "")
    with open(os.path.join(outdir, "report.md"), "w") as o:
        o.write(md.text())
    return nfig


# ---------------------------------------------------------------- main
def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="results.h5, a run directory, or a survey directory (task_<i>/results.h5)")
    p.add_argument("--out", default=None, help="output directory (see above for the default)")
    p.add_argument("--log", choices=("auto", "on", "off"), default="auto", help="log scales of losses (default auto)")
    p.add_argument("--slq-sigma", type=float, default=0.01, help="SLQ broadening, fraction of the spectrum's width (default 0.01)")
    p.add_argument("--tasks", action="store_true", help="for a survey: a full report of every finished task too")
    a = p.parse_args()
    tmp = None
    try:
        path = a.path.rstrip("/") or "/"
        if not os.path.exists(path):
            raise ReportError(f"{path}: no such file or directory")
        if not a.slq_sigma > 0:
            raise ReportError(f"--slq-sigma must be positive, not {a.slq_sigma}")
        survey = False
        if os.path.isdir(path):
            if glob.glob(os.path.join(path, "task_*")):
                survey = True
                default = os.path.join(path, "report")
            elif os.path.exists(os.path.join(path, "results.h5")):
                path = os.path.join(path, "results.h5")
            else:
                raise ReportError(f"{path}: a directory without results.h5 or task_<i>/results.h5")
        if not survey:
            stem = os.path.basename(path)
            default = os.path.join(os.path.dirname(path) or ".", "report" if stem == "results.h5" else re.sub(r"\.h5$", "", stem) + "_report")
        out = os.path.abspath(a.out or default)
        if os.path.exists(out) and not (os.path.isdir(out) and (not os.listdir(out) or os.path.exists(os.path.join(out, "report.md")))):
            raise ReportError(f"{out}: exists and is not a report directory (no report.md): not replaced")
        parent = os.path.dirname(out)
        if not os.path.isdir(parent):
            raise ReportError(f"{parent}: no such directory")
        tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".tmp.", dir=parent)
        nfig = report_survey(path, tmp, a) if survey else report_file(path, tmp, a)
        os.chmod(tmp, 0o755)
        if os.path.exists(out):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".old.", dir=parent)
            os.rename(out, os.path.join(old, "r"))
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
        tmp = None
        print(f"report: wrote {os.path.join(out, 'report.md')} and {nfig} figure{'s' if nfig != 1 else ''}")
    except ReportError as e:
        print(f"report: error: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # malformed input that no check above caught: still one line
        msg = f"{type(e).__name__}: {e}".replace("\n", " ")
        print(f"report: error: {a.path}: malformed input ({msg})", file=sys.stderr)
        sys.exit(1)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
