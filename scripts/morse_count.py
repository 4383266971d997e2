#!/usr/bin/env python3
"""Morse counts of a multi-start survey (docs/morse.md): the distinct critical points the stationary
stage certified, modulo the symmetries of hidden units, their Morse indices from the dense Hessian
spectrum, their losses and orbit sizes, and the Morse relations they would satisfy if complete.

  /usr/bin/python3 scripts/morse_count.py SURVEY_DIR [SURVEY_DIR ...] [--rtol 1e-4] [--zero-tol 1e-6]
      [--loss-rtol 1e-8] [--start-factors seed,train_max_it,train_type,train_lr,net_init_scale,net_theta] [--summary PREFIX]

A survey's tasks are grouped into configurations: the /survey config string without the factors
that only choose the start (--start-factors). For each configuration:

* a task counts when /stationary says 'reached' (||grad L|| <= grad_tol) and /spectrum/dense/eigenvalues
  exists; its Morse index is the number of eigenvalues below -zero_tol * max|lambda|; a point with an
  eigenvalue within that band is degenerate and kept apart (Morse theory needs non-degenerate points);
* theta is brought to a canonical form modulo the permutations of the units of each hidden layer
  (shared along a chain of skip-connected layers, whose residual stream they act on) and the sign
  flips where they are symmetries: tanh (w_in, b, w_out) -> -(w_in, b, w_out); sigmoid, through
  sigma(z) = (1 + tanh(z/2))/2, the flip (w_in, b, w_out) -> -(w_in, b, w_out) with the next layer's
  bias plus w_out; none for relu-like, softplus and linear units (those have continuous symmetries);
* two points are one when, after the optimal alignment of their units layer by layer (assignment
  on the units' incoming weights and biases), ||theta_a - g theta_b|| <= rtol max(||theta_a||, ||theta_b||, 1)
  (the 1: points near theta = 0 are compared in absolute terms),
  and their losses agree to loss_rtol (a cross-check: a distance match with different losses is
  reported and not merged);
* the orbit of a point has prod_blocks h! 2^h / |stabiliser| elements (2^h only with sign symmetry);
  the stabiliser is counted by enumerating the unit matchings of the point with itself.

Writes SURVEY_DIR/morse.md (tables), morse.csv (one row per configuration), morse_points.csv (one row
per distinct point) and morse.h5 (the canonical points and everything in the tables); --summary PREFIX
adds PREFIX.md and PREFIX.csv with one row per configuration of all the surveys given.
Errors are one line 'morse_count: error: ...' and exit status 1."""
import argparse, glob, itertools, math, os, re, sys

import h5py
import numpy as np

try:
    from scipy.optimize import linear_sum_assignment
except ImportError:  # small widths only: brute force below
    linear_sum_assignment = None


def fail(msg):
    print("morse_count: error: " + msg, file=sys.stderr)
    sys.exit(1)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


# ---- architecture, layout and the symmetry group ----


def parse_options(s):
    """'-a 1 -b -c x' -> {'a': '1', 'b': '', 'c': 'x'} (a value never starts with '-' and a letter)."""
    toks, out, i = s.split(), {}, 0
    while i < len(toks):
        t = toks[i]
        if t.startswith("-") and len(t) > 1 and not re.match(r"-[0-9.]", t):
            if i + 1 < len(toks) and not (toks[i + 1].startswith("-") and re.match(r"-[A-Za-z]", toks[i + 1])):
                out[t[1:]] = toks[i + 1]
                i += 2
                continue
            out[t[1:]] = ""
        i += 1
    return out


def truthy(v):
    return v is not None and v.lower() not in ("0", "false", "no")


class Arch:
    """widths[0..L], activation, bias, skip flag per hidden layer, blocks of skip-connected hidden
    layers (1-based layer numbers as in LandNetGetLayer), and which symmetries hold."""

    def __init__(self, widths, act, bias, skip, opts):
        self.w = [int(x) for x in widths]
        self.L = len(self.w) - 1
        self.act, self.bias = act, bool(bias)
        self.woff, self.boff, off = [0] * (self.L + 1), [0] * (self.L + 1), 0
        for l in range(1, self.L + 1):
            self.woff[l] = off
            off += self.w[l] * self.w[l - 1]
            self.boff[l] = off if self.bias else -1
            off += self.w[l] if self.bias else 0
        self.P = off
        self.skip = [bool(skip) and 2 <= l < self.L and self.w[l] == self.w[l - 1] for l in range(self.L + 1)]
        self.blocks = []
        for l in range(1, self.L):
            if self.skip[l]:
                self.blocks[-1][1] = l
            else:
                self.blocks.append([l, l])
        gamma = float(opts.get("reg_l2", "0") or 0)
        l2bias = truthy(opts.get("reg_l2_bias")) and gamma > 0
        self.note = ""
        if opts.get("net_noise", "none") not in ("none", ""):
            fail("-net_noise draws fixed noise per (row, unit): the units are not interchangeable, there is no permutation symmetry to divide out")
        if act == "tanh":
            self.signs = True
        elif act == "sigmoid":
            if any(self.skip):
                fail("sigmoid with skip connections: the sign flip acts affinely on the residual stream (h -> c - h), which is not implemented; "
                     "use tanh for skip-connected nets")
            self.signs = self.bias and not l2bias
            if not self.bias:
                self.note = "sigmoid without biases: the flip needs the next bias, so permutations only"
            elif l2bias:
                self.note = "sigmoid with -reg_l2_bias: the flip shifts the next bias and changes the penalty, so permutations only"
        else:
            self.signs = False
            self.note = "%s: permutations only (no sign symmetry; relu-like and linear units also have continuous symmetries, so no isolated critical points)" % act
        self.sigmoid_map = act == "sigmoid" and self.signs
        self.group = 1
        for a, b in self.blocks:
            h = self.w[a]
            self.group *= math.factorial(h) * (2**h if self.signs else 1)

    def get(self, t, l):
        n, m = self.w[l], self.w[l - 1]
        W = t[self.woff[l]:self.woff[l] + n * m].reshape(n, m).copy()
        b = t[self.boff[l]:self.boff[l] + n].copy() if self.bias else None
        return W, b

    def put(self, t, l, W, b):
        n, m = self.w[l], self.w[l - 1]
        t[self.woff[l]:self.woff[l] + n * m] = W.ravel()
        if self.bias:
            t[self.boff[l]:self.boff[l] + n] = b

    # sigmoid(z) = (1 + tanh(z/2))/2: in the coordinates of the equivalent tanh net (units
    # t = tanh(z/2)) the sigmoid's flip with bias adjustment is a plain sign flip.
    def to_sym(self, t):
        if not self.sigmoid_map:
            return t.copy()
        u = t.copy()
        for l in range(1, self.L + 1):
            W, b = self.get(t, l)
            if l == 1:
                Wt, bt = W / 2, b / 2
            elif l < self.L:
                Wt, bt = W / 4, b / 2 + W.sum(1) / 4
            else:
                Wt, bt = W / 2, b + W.sum(1) / 2
            if self.L == 1:
                Wt, bt = W, b
            self.put(u, l, Wt, bt)
        return u

    def from_sym(self, u):
        if not self.sigmoid_map:
            return u.copy()
        t = u.copy()
        for l in range(1, self.L + 1):
            Wt, bt = self.get(u, l)
            if self.L == 1:
                W, b = Wt, bt
            elif l == 1:
                W, b = 2 * Wt, 2 * bt
            elif l < self.L:
                W = 4 * Wt
                b = 2 * (bt - W.sum(1) / 4)
            else:
                W = 2 * Wt
                b = bt - W.sum(1) / 2
            self.put(t, l, W, b)
        return t

    def apply(self, u, k, perm, sgn):
        """Block k acted on by (perm, signs): new unit i = sgn[i] * old unit perm[i] (symmetric coordinates)."""
        u = u.copy()
        a, z = self.blocks[k]
        for l in range(a, z + 1):
            W, b = self.get(u, l)
            W = W[perm] * sgn[:, None]
            if l > a:  # skip-connected: the same stream on both sides
                W = W[:, perm] * sgn[None, :]
            self.put(u, l, W, b[perm] * sgn if self.bias else None)
        W, b = self.get(u, z + 1)
        self.put(u, z + 1, W[:, perm] * sgn[None, :], b)
        return u

    def features(self, u, k):
        """Per unit of block k: odd features (flip sign with the unit: incoming row, biases) and even ones
        (unchanged by every symmetry of this and the other blocks: skip diagonals, norms of the unit's
        inner rows and columns and of its outgoing column)."""
        a, z = self.blocks[k]
        h = self.w[a]
        W, b = self.get(u, a)
        odd = [W] + ([b[:, None]] if self.bias else [])
        even = []
        for l in range(a + 1, z + 1):
            W, b = self.get(u, l)
            if self.bias:
                odd.append(b[:, None])
            even += [np.diag(W)[:, None], np.linalg.norm(W, axis=1)[:, None], np.linalg.norm(W, axis=0)[:, None]]
        W, _ = self.get(u, z + 1)
        even.append(np.linalg.norm(W, axis=0)[:, None])
        return np.hstack(odd), np.hstack(even) if even else np.zeros((h, 0))


def unit_cost(oa, ea, ob, eb, signs):
    """cost[i, j] of matching unit j of b to unit i of a, and the sign that achieves it."""
    dm = ((oa[:, None, :] - ob[None, :, :]) ** 2).sum(-1)
    dp = ((oa[:, None, :] + ob[None, :, :]) ** 2).sum(-1)
    de = ((ea[:, None, :] - eb[None, :, :]) ** 2).sum(-1)
    if not signs:
        return dm + de, np.ones_like(dm)
    return np.minimum(dm, dp) + de, np.where(dp < dm, -1.0, 1.0)


def assignment(cost):
    if linear_sum_assignment is not None:
        r, c = linear_sum_assignment(cost)
        return c[np.argsort(r)]
    n = cost.shape[0]
    if n > 9:
        fail("scipy is missing and a hidden layer is wider than 9: install python3-scipy")
    best = min(itertools.permutations(range(n)), key=lambda p: cost[np.arange(n), p].sum())
    return np.array(best)


def align(arch, ua, ub):
    """g ub with g chosen block by block to match ua (symmetric coordinates)."""
    for k in range(len(arch.blocks)):
        oa, ea = arch.features(ua, k)
        ob, eb = arch.features(ub, k)
        cost, sg = unit_cost(oa, ea, ob, eb, arch.signs)
        perm = assignment(cost)
        ub = arch.apply(ub, k, perm, sg[np.arange(len(perm)), perm])
    return ub


def canonical(arch, u):
    """Canonical representative: in each block (in order), units sorted by the norm of all parameters
    that touch them (invariant under every symmetry), each with the sign that makes the entry of
    largest magnitude of its odd features positive."""
    for k, (a, z) in enumerate(arch.blocks):
        o, e = arch.features(u, k)
        h = o.shape[0]
        sgn = np.ones(h)
        if arch.signs:
            big = o[np.arange(h), np.argmax(np.abs(o), axis=1)]
            sgn = np.where(big < 0, -1.0, 1.0)
        so = o * sgn[:, None]
        key = (o**2).sum(1) + (e[:, -1] ** 2 if e.shape[1] else 0)
        for l in range(a + 1, z + 1):
            W, _ = arch.get(u, l)
            key = key + (W**2).sum(1) + (W**2).sum(0) - np.diag(W) ** 2
        # descending key; ties broken by the sign-normalised incoming features
        order = sorted(range(h), key=lambda i: (-round(key[i], 12), tuple(np.round(-so[i], 12))))
        perm = np.array(order)
        u = arch.apply(u, k, perm, sgn[perm])
    return u


def stabiliser(arch, u, tol, cap=200000):
    """Number of group elements g with g u = u (within tol in norm); (count, complete).
    Units whose every parameter is zero are decoupled from the rest: any signed permutation of them
    fixes u, so they contribute m! 2^m (m! without signs) and the search keeps them in place."""
    count, visited, factor = 0, 0, 1
    zero = []
    for k in range(len(arch.blocks)):
        o, e = arch.features(u, k)
        z = (np.abs(o).max(1, initial=0) <= tol) & (np.abs(e).max(1, initial=0) <= tol)
        zero.append(z)
        factor *= math.factorial(int(z.sum())) * (2 ** int(z.sum()) if arch.signs else 1)

    def rec(k, x):
        nonlocal count, visited
        if visited > cap:
            return
        if k == len(arch.blocks):
            visited += 1
            if np.linalg.norm(x - u) <= tol:
                count += 1
            return
        oa, ea = arch.features(u, k)
        ob, eb = arch.features(x, k)
        h = oa.shape[0]
        opts = []
        for i in range(h):
            c = []
            if zero[k][i]:
                opts.append([(i, 1.0)])
                continue
            for j in np.flatnonzero(~zero[k]):
                for s in ((1.0, -1.0) if arch.signs else (1.0,)):
                    d = np.sum((oa[i] - s * ob[j]) ** 2) + np.sum((ea[i] - eb[j]) ** 2)
                    if d <= tol**2:
                        c.append((j, s))
            opts.append(c)
        perm, sgn, used = np.zeros(h, int), np.ones(h), set()

        def place(i):
            nonlocal visited
            if visited > cap:
                return
            if i == h:
                rec(k + 1, arch.apply(x, k, perm.copy(), sgn.copy()))
                return
            for j, s in opts[i]:
                if j not in used:
                    used.add(j)
                    perm[i], sgn[i] = j, s
                    place(i + 1)
                    used.discard(j)

        place(0)

    rec(0, u)
    return max(count, 1) * factor, visited <= cap


# ---- reading a survey ----


def load_task(path, start_factors):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail("cannot read %s: %s" % (path, e))
    with f:
        for need in ("/net", "/net/widths", "/theta", "/run"):
            if need not in f:
                fail("%s has no %s (not a results file of landscape?)" % (path, need))
        cfg = text(f["/survey"].attrs.get("config", "")) if "/survey" in f else ""
        parts = re.findall(r"-(\S+) (\S+)", cfg)
        key = " ".join("-%s %s" % (n, v) for n, v in parts if n not in start_factors)
        t = {
            "path": path,
            "config": key,
            "start": " ".join("-%s %s" % (n, v) for n, v in parts if n in start_factors),
            "widths": np.atleast_1d(f["/net/widths"][()]).astype(int).tolist(),
            "act": text(f["/net"].attrs["activation"]),
            "bias": int(f["/net"].attrs["bias"]),
            "skip": int(f["/net"].attrs.get("skip", 0)),
            "opts": parse_options(text(f["/run"].attrs.get("options", ""))),
            "theta": np.atleast_1d(f["/theta"][()]).astype(float),
            "reached": False,
            "eig": None,
        }
        if "/stationary" in f:
            st = f["/stationary"].attrs
            t["reached"] = text(st.get("verdict", "")) == "reached"
            t["gnorm"] = float(st.get("gradient_norm", np.nan))
            t["verdict"] = text(st.get("verdict", ""))
        else:
            t["verdict"] = "no stationary stage"
        if "/spectrum/dense/eigenvalues" in f:
            t["eig"] = np.sort(np.atleast_1d(f["/spectrum/dense/eigenvalues"][()]).ravel())
            t["loss"] = float(np.atleast_1d(f["/spectrum/loss"][()])[0]) if "/spectrum/loss" in f else np.nan
        elif "/stationary/summary" in f:
            t["loss"] = float(np.atleast_1d(f["/stationary/summary"][()])[0])
        t["survey_size"] = int(f["/survey"].attrs.get("size", 0)) if "/survey" in f else 0
    return t


def near_flip_classes(arch, t0, nd, dist=0.05):
    """Sigmoid with the biases in the penalty: the flip is broken only by the penalty, so points come in
    near-copies. Classes of the non-degenerate points modulo the flips too (within dist relative), and of the minima."""
    full = Arch(arch.w, arch.act, arch.bias, 0, {})
    u = [canonical(full, full.to_sym(p["theta"])) for p in nd]
    parent = list(range(len(nd)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(nd)):
        ti = full.from_sym(u[i])
        for j in range(i):
            if np.linalg.norm(ti - full.from_sym(align(full, u[i], u[j]))) <= dist * max(np.linalg.norm(ti), 1.0):
                parent[find(i)] = find(j)
    return dist, len({find(i) for i in range(len(nd))}), len({find(i) for i in range(len(nd)) if nd[i]["index"] == 0}), \
        sum(1 for p in nd if p["index"] == 0)


def morse_checks(counts, P):
    """Strong Morse inequalities for R^P (b_0 = 1, b_k = 0 for k > 0): sum_{j<=k} (-1)^(k-j) c_j >= (-1)^k,
    and the Euler relation sum (-1)^k c_k = 1. Returns (weak ok, first k where a strong one fails or -1, euler)."""
    c = np.zeros(P + 1)
    for k, n in counts.items():
        c[k] = n
    weak = c[0] >= 1
    first = -1
    s = 0.0
    for k in range(P + 1):
        s = -s + c[k]
        if s < (-1) ** k and first < 0:
            first = k
    euler = sum((-1) ** k * c[k] for k in range(P + 1))
    return bool(weak), first, int(round(euler))


def analyse(tasks, a):
    t0 = tasks[0]
    arch = Arch(t0["widths"], t0["act"], t0["bias"], t0["skip"], t0["opts"])
    for t in tasks:
        if t["widths"] != t0["widths"] or t["act"] != t0["act"] or t["skip"] != t0["skip"]:
            fail("configuration '%s' mixes architectures (%s and %s): add the varying option to the grid's configuration factors"
                 % (t0["config"], t0["path"], t["path"]))
        if len(t["theta"]) != arch.P:
            fail("%s: /theta has %d entries, the net needs %d" % (t["path"], len(t["theta"]), arch.P))
    pts = []  # distinct points
    stats = {"tasks": len(tasks), "certified": 0, "spectrum": 0, "loss_mismatch": 0}
    usable = []
    for t in tasks:
        if not t["reached"]:
            continue
        stats["certified"] += 1
        if t["eig"] is None or len(t["eig"]) != arch.P:
            continue
        stats["spectrum"] += 1
        ev = t["eig"]
        band = a.zero_tol * np.abs(ev).max()
        t["index"] = int((ev < -band).sum())
        t["nzero"] = int((np.abs(ev) <= band).sum())
        t["minrel"] = float(np.abs(ev).min() / max(np.abs(ev).max(), 1e-300))
        t["u"] = canonical(arch, arch.to_sym(t["theta"]))
        usable.append(t)
    usable.sort(key=lambda t: (t["loss"], t["path"]))
    for t in usable:
        th = arch.from_sym(t["u"])
        hit = None
        for p in pts:
            ub = align(arch, p["u"], t["u"])
            d = np.linalg.norm(p["theta"] - arch.from_sym(ub)) / max(np.linalg.norm(p["theta"]), np.linalg.norm(th), 1.0)
            if d <= a.rtol:
                if abs(p["loss"] - t["loss"]) <= a.loss_rtol * max(abs(p["loss"]), abs(t["loss"])) + 1e-15:
                    hit = p
                    p["dmax"] = max(p["dmax"], d)
                    break
                stats["loss_mismatch"] += 1
        if hit is None:
            pts.append({"u": t["u"], "theta": th, "loss": t["loss"], "index": t["index"], "nzero": t["nzero"], "minrel": t["minrel"],
                        "tasks": [t], "dmax": 0.0})
        else:
            hit["tasks"].append(t)
            if hit["index"] != t["index"] or hit["nzero"] != t["nzero"]:
                hit["index_conflict"] = True
    # separation of the distinct points (the dedup tolerance should sit in a gap) and equal-loss pairs
    dmin, same_loss = np.inf, 0
    for i, p in enumerate(pts):
        p["stab"], p["stab_complete"] = stabiliser(arch, p["u"], a.rtol * max(np.linalg.norm(p["u"]), 1.0))
        p["orbit"] = arch.group // p["stab"]
        for q in pts[:i]:
            if p["nzero"] or q["nzero"]:
                continue
            ub = align(arch, q["u"], p["u"])
            d = np.linalg.norm(q["theta"] - arch.from_sym(ub)) / max(np.linalg.norm(q["theta"]), np.linalg.norm(p["theta"]), 1.0)
            dmin = min(dmin, d)
            if abs(p["loss"] - q["loss"]) <= a.loss_rtol * max(abs(p["loss"]), abs(q["loss"])):
                same_loss += 1
    nd = [p for p in pts if p["nzero"] == 0]
    stats["near_flips"] = near_flip_classes(arch, t0, nd) if arch.act == "sigmoid" and arch.bias and not arch.signs else None
    c, C = {}, {}
    for p in nd:
        c[p["index"]] = c.get(p["index"], 0) + 1
        C[p["index"]] = C.get(p["index"], 0) + p["orbit"]
    gamma = float(t0["opts"].get("reg_l2", "0") or 0)
    stats.update({
        "gamma": gamma,
        "label": "%s %s%s, L2 %g%s" % ("-".join(map(str, arch.w)), arch.act, " skip" if any(arch.skip) else "", gamma,
                                       " (with biases)" if gamma and truthy(t0["opts"].get("reg_l2_bias")) else ""),
        "arch": arch, "points": pts, "c": c, "C": C, "dmin": dmin, "same_loss_pairs": same_loss,
        "dmax": max([p["dmax"] for p in pts if p["nzero"] == 0], default=0.0),
        "nondegenerate_tasks": sum(len(p["tasks"]) for p in nd),
        "degenerate_tasks": sum(len(p["tasks"]) for p in pts if p["nzero"] > 0),
        "distinct": len(nd), "distinct_degenerate": len(pts) - len(nd),
        "degenerate_levels": len({round(p["loss"], 9) for p in pts if p["nzero"] > 0}),
        "nonfree": sum(1 for p in nd if p["stab"] > 1),
        "index_conflicts": sum(1 for p in pts if p.get("index_conflict")),
    })
    stats["weak_C"], stats["strong_C"], stats["euler_C"] = morse_checks(C, arch.P)
    stats["weak_c"], stats["strong_c"], stats["euler_c"] = morse_checks(c, arch.P)
    return stats


def fmt_counts(c):
    return ", ".join("c%d=%d" % (k, c[k]) for k in sorted(c)) or "none"


def fmt_loss(x):
    return "%.6g" % x


def report(d, a):
    if not os.path.isdir(d):
        fail("%s is not a directory" % d)
    dirs = sorted(glob.glob(os.path.join(d, "task_*")))
    found = [(int(re.search(r"task_(\d+)$", x).group(1)), os.path.join(x, "results.h5")) for x in dirs if re.search(r"task_(\d+)$", x)]
    files = [(i, p) for i, p in found if os.path.exists(p)]
    if not files:
        fail("%s holds no task_*/results.h5 (run the survey first)" % d)
    tasks = []
    for i, p in files:
        t = load_task(p, a.start_factors)
        t["task"] = i
        tasks.append(t)
    size = max([t["survey_size"] for t in tasks] + [max(i for i, _ in found) + 1])
    missing = [i for i in range(size) if i not in {j for j, _ in files}]
    configs = {}
    for t in tasks:
        configs.setdefault(t["config"], []).append(t)
    order = sorted(configs, key=lambda k: min(t["task"] for t in configs[k]))
    res = [(k, analyse(configs[k], a)) for k in order]

    md = ["# Morse counts: %s" % d, "",
          "%d task results of %d (missing or failed: %s); dedup rtol %g, zero band %g max|lambda|, loss cross-check %g; "
          "start factors %s." % (len(files), size, " ".join(map(str, missing)) or "none", a.rtol, a.zero_tol, a.loss_rtol, ",".join(a.start_factors)),
          "",
          "| # | configuration | P | group | starts | certified | degenerate (distinct, loss levels) | distinct non-degenerate | c_k (modulo symmetry) | "
          "C_k = sum of orbits | sum (-1)^k c_k | sum (-1)^k C_k | strong Morse (C_k): first failing k | lowest loss |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n, (k, s) in enumerate(res):
        ar = s["arch"]
        low = min([p["loss"] for p in s["points"]], default=np.nan)
        md.append("| %d | %s | %d | %d | %d | %d | %d (%d, %d) | %d | %s | %s | %d | %d | %s | %s |" % (
            n, k or "(all)", ar.P, ar.group, s["tasks"], s["certified"], s["degenerate_tasks"], s["distinct_degenerate"], s["degenerate_levels"],
            s["distinct"], fmt_counts(s["c"]), fmt_counts(s["C"]).replace("c", "C"), s["euler_c"], s["euler_C"],
            "none fails" if s["strong_C"] < 0 else str(s["strong_C"]), fmt_loss(low)))
    md += ["", "Per configuration, the distinct points (index, loss, orbit size, starts that found them):", ""]
    for n, (k, s) in enumerate(res):
        ar = s["arch"]
        md.append("%d. `%s`: %s, symmetry group of order %d%s." % (n, k or "(all)", s["label"], ar.group, "; " + ar.note if ar.note else ""))
        for p in sorted(s["points"], key=lambda p: (p["nzero"] > 0, p["index"], p["loss"])):
            md.append("    - %s index %d, loss %s, orbit %d%s, found %dx, min|lambda|/max|lambda| %.1e" % (
                "degenerate (%d zero)," % p["nzero"] if p["nzero"] else "", p["index"], fmt_loss(p["loss"]), p["orbit"],
                "" if p["stab_complete"] else " (stabiliser search capped)", len(p["tasks"]), p["minrel"]))
        md.append("    - checks: non-degenerate duplicates within %.1e, distinct non-degenerate points at least %.1e apart (relative), %d pairs of them with equal loss; "
                  "%d distance matches rejected for a different loss; %d points whose duplicates disagree on the index; %d non-free orbits" % (
                      s["dmax"], s["dmin"], s["same_loss_pairs"], s["loss_mismatch"], s["index_conflicts"], s["nonfree"]))
        if s["near_flips"]:
            md.append("    - modulo the sign flips as well (broken only by the bias penalty; within %g relative): %d classes of the %d points, %d of the %d minima"
                      % (s["near_flips"][0], s["near_flips"][1], s["distinct"], s["near_flips"][2], s["near_flips"][3]))
    md += ["", "A failed Morse relation means the sample of critical points is incomplete (or the loss is not a proper Morse function, "
           "e.g. without L2), not that the theory fails."]
    with open(os.path.join(d, "morse.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    kmax = max([max(s["c"], default=0) for _, s in res] + [0])
    with open(os.path.join(d, "morse.csv"), "w") as f:
        f.write("config,P,group,starts,certified,with_spectrum,degenerate_starts,distinct_degenerate,degenerate_loss_levels,distinct,"
                + ",".join("c%d" % k for k in range(kmax + 1)) + "," + ",".join("C%d" % k for k in range(kmax + 1))
                + ",euler_c,euler_C,weak_ok,strong_first_fail_C,lowest_loss,dup_dmax,distinct_dmin\n")
        for k, s in res:
            low = min([p["loss"] for p in s["points"]], default=np.nan)
            f.write('"%s",%d,%d,%d,%d,%d,%d,%d,%d,%d,%s,%s,%d,%d,%d,%d,%.12g,%.3e,%.3e\n' % (
                k, s["arch"].P, s["arch"].group, s["tasks"], s["certified"], s["spectrum"], s["degenerate_tasks"], s["distinct_degenerate"],
                s["degenerate_levels"], s["distinct"], ",".join(str(s["c"].get(j, 0)) for j in range(kmax + 1)),
                ",".join(str(s["C"].get(j, 0)) for j in range(kmax + 1)), s["euler_c"], s["euler_C"], s["weak_C"], s["strong_C"], low,
                s["dmax"], s["dmin"]))
    with open(os.path.join(d, "morse_points.csv"), "w") as f:
        f.write("config,point,loss,index,n_zero,degenerate,min_rel_eig,orbit,stabiliser,found,tasks\n")
        for k, s in res:
            for n, p in enumerate(s["points"]):
                f.write('"%s",%d,%.15g,%d,%d,%d,%.3e,%d,%d,%d,%s\n' % (
                    k, n, p["loss"], p["index"], p["nzero"], int(p["nzero"] > 0), p["minrel"], p["orbit"], p["stab"], len(p["tasks"]),
                    " ".join(str(t["task"]) for t in p["tasks"])))
    with h5py.File(os.path.join(d, "morse.h5.tmp"), "w") as f:
        f.attrs["rtol"], f.attrs["zero_tol"], f.attrs["loss_rtol"] = a.rtol, a.zero_tol, a.loss_rtol
        f.attrs["start_factors"] = ",".join(a.start_factors)
        f["missing"] = np.array(missing, dtype=np.int64)
        for n, (k, s) in enumerate(res):
            g = f.create_group("config_%02d" % n)
            g.attrs["config"] = k
            g.attrs["label"] = s["label"]
            g.attrs["reg_l2"] = s["gamma"]
            g.attrs["widths"] = np.array(s["arch"].w)
            g.attrs["activation"] = s["arch"].act
            g.attrs["skip"] = int(any(s["arch"].skip))
            g.attrs["group_order"] = s["arch"].group
            g.attrs["sign_symmetry"] = int(s["arch"].signs)
            for key in ("tasks", "certified", "spectrum", "distinct", "distinct_degenerate", "euler_c", "euler_C", "strong_C"):
                g.attrs[key] = s[key]
            pts = s["points"]
            g["theta"] = np.array([p["theta"] for p in pts]).reshape(len(pts), s["arch"].P)
            for key in ("loss", "index", "nzero", "orbit", "stab", "minrel"):
                g[key] = np.array([p[key] for p in pts])
            g["found"] = np.array([len(p["tasks"]) for p in pts], dtype=np.int64)
            pot = {t["task"]: n for n, p in enumerate(pts) for t in p["tasks"]}
            ids = sorted(t["task"] for t in configs[k])
            g["task"] = np.array(ids, dtype=np.int64)
            g["point_of_task"] = np.array([pot.get(i, -1) for i in ids], dtype=np.int64)
            g["c"] = np.array([s["c"].get(j, 0) for j in range(s["arch"].P + 1)], dtype=np.int64)
            g["C"] = np.array([s["C"].get(j, 0) for j in range(s["arch"].P + 1)], dtype=np.int64)
    os.replace(os.path.join(d, "morse.h5.tmp"), os.path.join(d, "morse.h5"))
    print("\n".join(md))
    return [(d, k, s) for k, s in res]


def summary(rows, prefix, a):
    """One row per configuration of every survey: the tables of docs/morse.md."""
    kmax = max([max(s["c"], default=0) for _, _, s in rows] + [0])
    head = ["survey", "configuration", "net", "P", "group", "starts", "certified", "degenerate starts", "distinct", "non-free"] + \
        ["c%d" % k for k in range(kmax + 1)] + ["sum (-1)^k c_k", "sum (-1)^k C_k", "strong Morse (C_k) fails at k", "lowest loss", "minima (loss)"]
    md = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    with open(prefix + ".csv", "w") as f:
        f.write(",".join('"%s"' % h for h in head) + "\n")
        for d, k, s in rows:
            mins = sorted(p["loss"] for p in s["points"] if p["nzero"] == 0 and p["index"] == 0)
            low = min([p["loss"] for p in s["points"]], default=np.nan)
            cells = [os.path.basename(os.path.normpath(d)), k or "(all)", s["label"], s["arch"].P, s["arch"].group, s["tasks"], s["certified"],
                     s["degenerate_tasks"], s["distinct"], s["nonfree"]] + [s["c"].get(j, 0) for j in range(kmax + 1)] + \
                    [s["euler_c"], s["euler_C"], "-" if s["strong_C"] < 0 else s["strong_C"], fmt_loss(low), " ".join(fmt_loss(x) for x in mins) or "-"]
            md.append("| " + " | ".join(str(c) for c in cells) + " |")
            f.write(",".join('"%s"' % c for c in cells) + "\n")
    with open(prefix + ".md", "w") as f:
        f.write("\n".join(md) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", nargs="+", metavar="SURVEY_DIR")
    p.add_argument("--rtol", type=float, default=1e-4, help="dedup: relative distance after alignment (default 1e-4)")
    p.add_argument("--zero-tol", type=float, default=1e-6, help="an eigenvalue with |lambda| <= zero_tol max|lambda| is zero (default 1e-6)")
    p.add_argument("--loss-rtol", type=float, default=1e-8, help="duplicates must agree in loss to this relative tolerance (default 1e-8)")
    p.add_argument("--start-factors", default="seed,train_max_it,train_type,train_lr,net_init_scale,net_theta",
                   help="survey factors that only choose the start (default seed,train_max_it,train_type,train_lr,net_init_scale,net_theta)")
    p.add_argument("--summary", metavar="PREFIX", help="also write PREFIX.md and PREFIX.csv: one row per configuration of all the surveys")
    a = p.parse_args()
    a.start_factors = [x for x in a.start_factors.split(",") if x]
    for d in a.dirs:
        if not os.path.isdir(d):
            fail("%s is not a directory" % d)
    rows = []
    for d in a.dirs:
        rows += report(d, a)
    if a.summary:
        summary(rows, a.summary, a)


if __name__ == "__main__":
    main()
