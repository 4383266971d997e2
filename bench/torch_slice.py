#!/usr/bin/env python3
"""PyTorch reference for the slice benchmark: the loss on landscape's 2-D grid, evaluated point by point.

Reads a landscape results file written by `-stages slice` (/slice/origin, /slice/directions [2, P],
/slice/x, /slice/y, /slice/loss [ny, nx], /net, /data) and evaluates the same grid the way a PyTorch
user does it (as in Li et al.'s loss-landscape code, net_plotter.set_weights + evaluation.eval_loss):
the model is an nn.Sequential (rebuilt from /slice/origin by scripts/theta_to_torch.py's load_model),
and for every grid point (x, y) its parameters are set to origin + x d1 + y d2, then the training
rows are forwarded in batches under torch.no_grad() and the mean softmax cross-entropy is
sum(batch mean x batch rows) / N (with the accuracy, as there; landscape counts it too). Every point costs a full forward pass, the first layer included.
The training rows are those landscape used: all rows of DATA, or the seeded subset of
-data_train_n (RandomRows of src/data/data.c, ported in bench/torch_hessian.py; seed and count from
the results file's /data attributes).

A full 101 x 101 grid in float64 takes about 20 minutes, so by default every --lines-th grid line
(y index 0, K, 2K, ...) is evaluated, all its points; --full evaluates every line. Prints the time
per point, points/s and the time projected for the full grid (time per point x nx x ny), and the
largest relative difference to landscape's /slice/loss over the evaluated points.
Rows per forward pass: the fastest of --batches (default 10000, 5000, 1000 and Li et al.'s default 128),
each timed on --calibrate points in two rounds first (the best of both). One untimed warm-up point precedes the timing.

Set OPENBLAS_NUM_THREADS and OMP_NUM_THREADS to --threads before Python starts: torch.set_num_threads()
does not reach the OpenBLAS that Debian's torch calls for the matrix products (see torch_mlp.py).

  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python3 bench/torch_slice.py out/s/results.h5 data.h5 --threads 1 --lines 10
"""
import argparse
import os
import resource
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
sys.path.insert(0, HERE)
from theta_to_torch import ConvertError, load_model  # noqa: E402
from torch_hessian import train_rows  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="landscape results.h5 with /slice (2-D) and /net, /data")
    ap.add_argument("data", help="the landscape data file of that run (/train/X, /train/labels)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--batches", default="10000,5000,1000,128",
                    help="candidate rows per forward pass: each is timed on --calibrate points, the fastest evaluates the grid")
    ap.add_argument("--calibrate", type=int, default=8, help="points timed per candidate batch size (default 8)")
    ap.add_argument("--lines", type=int, default=10, help="evaluate every K-th grid line (y index 0, K, 2K, ...)")
    ap.add_argument("--full", action="store_true", help="evaluate every grid line (same as --lines 1)")
    ap.add_argument("--group", default="slice", help="group of the slice in the results file (default slice)")
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var) != str(args.threads):
            print(f"torch_slice: warning: {var}={os.environ.get(var)} but --threads {args.threads}", file=sys.stderr)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    step = 1 if args.full else args.lines
    if step < 1:
        sys.exit("torch_slice: --lines must be >= 1")

    g = args.group.strip("/")
    with h5py.File(args.results, "r") as f:
        if g not in f or "loss" not in f[g]:
            sys.exit(f"torch_slice: {args.results} has no /{g}/loss (run landscape -stages slice)")
        sa = dict(f[g].attrs)
        dirs = f[g + "/directions"][...]
        xs = f[g + "/x"][...]
        ys = f[g + "/y"][...] if g + "/y" in f else np.zeros(1)
        ref = np.atleast_2d(f[g + "/loss"][...])
        da = dict(f["data"].attrs)
        opts = dict(f["run"].attrs).get("options", b"") if "run" in f else b""
    opts = (opts.decode() if isinstance(opts, bytes) else str(opts)).split()
    reg = opts[opts.index("-reg_l2") + 1] if "-reg_l2" in opts[:-1] else 0.0
    loss_name = sa.get("loss", b"ce")
    loss_name = loss_name.decode() if isinstance(loss_name, bytes) else str(loss_name)
    if loss_name != "ce":
        sys.exit(f"torch_slice: the slice's loss is {loss_name}; only ce (softmax cross-entropy) is supported")
    if float(reg) != 0.0:
        sys.exit(f"torch_slice: the run has reg_l2 {reg}; only unregularised losses are supported")
    try:
        model, widths, act, bias, _, P = load_model(args.results, g + "/origin")
    except ConvertError as e:
        sys.exit(f"torch_slice: {e}")
    if dirs.shape[0] == 1:
        dirs = np.vstack([dirs, np.zeros_like(dirs)])
    assert dirs.shape == (2, P), f"/{g}/directions has shape {dirs.shape}, expected (2, {P})"
    nx, ny = xs.size, ys.size
    assert ref.shape == (ny, nx), f"/{g}/loss has shape {ref.shape}, expected ({ny}, {nx})"

    X, y = train_rows(args.data, int(da["seed"]), int(da["train_n"]))
    X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.dtype(args.dtype)))
    y = torch.from_numpy(y.astype(np.int64))
    n = X.shape[0]
    assert X.shape[1] == widths[0], f"the data has {X.shape[1]} columns, the net {widths[0]} inputs"

    # The model in the working precision; origin and directions split like its parameters
    # (0.weight, 0.bias, 2.weight, ...: W_l [n_out, n_in] row-major, then b_l, as landscape's theta).
    model = model.to(dtype)
    params = list(model.parameters())
    origin = [p.detach().clone() for p in params]
    d1, d2, off = [], [], 0
    for p in params:
        k = p.numel()
        d1.append(torch.from_numpy(dirs[0, off:off + k].reshape(p.shape)).to(dtype))
        d2.append(torch.from_numpy(dirs[1, off:off + k].reshape(p.shape)).to(dtype))
        off += k
    assert off == P
    model.eval()
    bs = n

    def set_weights(xv, yv):  # net_plotter.set_weights: p = w + (x d1 + y d2)
        with torch.no_grad():
            for p, w, a, b in zip(params, origin, d1, d2):
                p.copy_(w + (xv * a + yv * b))

    def eval_loss():  # evaluation.eval_loss: the batch means weighted by the batch sizes, and the accuracy (batch bs)
        total, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, n, bs):
                Xb, yb = X[i:i + bs], y[i:i + bs]
                out = model(Xb)
                total += F.cross_entropy(out, yb).item() * Xb.shape[0]
                correct += out.argmax(1).eq(yb).sum().item()
        return total / n, correct / n

    lines = list(range(0, ny, step))
    npts = len(lines) * nx
    print(f"torch {torch.__version__}, {args.dtype}, {torch.get_num_threads()} thread(s), N = {n}, "
          f"MLP {'-'.join(map(str, widths))} ({act}), P = {P}; grid {nx} x {ny}, "
          f"evaluating {'all' if step == 1 else f'every {step}-th of the'} {ny} lines: {len(lines)} lines, {npts} points")
    # The batch size: each candidate after one warm-up point, on --calibrate points of the middle line,
    # in two rounds (the first candidates of the first round pay for the warm-up of the process); best of both.
    cands = sorted({min(int(b), n) for b in args.batches.split(",")}, reverse=True)
    cal = {b: [] for b in cands}
    for _ in range(2):
        for b in cands:
            bs = b
            set_weights(float(xs[nx // 2]), float(ys[ny // 2]))
            eval_loss()  # warm-up
            t0 = time.perf_counter()
            for i in range(args.calibrate):
                set_weights(float(xs[i * nx // max(args.calibrate, 1)]), float(ys[ny // 2]))
                eval_loss()
            cal[b].append((time.perf_counter() - t0) / max(args.calibrate, 1))
    for b in cands:
        print(f"calibration: batch {b}: {', '.join(f'{1e3 * t:.1f}' for t in cal[b])} ms per point")
    bs = min(cands, key=lambda b: min(cal[b]))
    set_weights(float(xs[nx // 2]), float(ys[ny // 2]))
    eval_loss()  # warm-up
    vals = np.empty((len(lines), nx))
    t0 = time.perf_counter()
    for a, j in enumerate(lines):
        for i in range(nx):
            set_weights(float(xs[i]), float(ys[j]))
            vals[a, i], _ = eval_loss()
    t = time.perf_counter() - t0
    r = ref[lines, :]
    rel = np.abs(vals - r) / np.abs(r)
    worst = np.unravel_index(np.argmax(rel), rel.shape)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"largest relative difference to landscape at (x, y) = ({xs[worst[1]]:.4g}, {ys[lines[worst[0]]]:.4g}): "
          f"torch {vals[worst]:.16e} landscape {r[worst]:.16e}")
    print(f"result: dtype {args.dtype} threads {args.threads} batch {bs} lines {len(lines)} step {step} points {npts} "
          f"time {t:.3f} s per_point_ms {1e3 * t / npts:.3f} points_per_s {npts / t:.3f} "
          f"full_grid_s {t / npts * nx * ny:.1f} max_rel_diff {rel.max():.3e} peak_rss_mib {rss:.0f}")


if __name__ == "__main__":
    main()
