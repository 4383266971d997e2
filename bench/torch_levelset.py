#!/usr/bin/env python3
"""PyTorch reference for the levelset benchmark: the predictor step of level-set continuation.

Same model as `landscape -net_hidden 100,100,100 -net_activation tanh -loss ce` (784-100-100-100-10,
mean softmax cross-entropy over all training rows, float64), starting from landscape's parameters
(dataset /theta_initial of a results file: W_l row-major then b_l, layer by layer).
One predictor step is what the levelset stage does when no correction is needed:
  L, grad L by autograd over all rows; grad R = 2 theta; d = grad R - (grad R.grad L / |grad L|^2) grad L;
  the turn angle between d/|d| and the previous direction sets h (x1.1 below --turn degrees,
  x0.1 above, within [h_min, h_max]); theta -= h d/|d|.
Prints the time of --steps steps after --warmup steps, steps per second, and the final R = |theta|^2
and loss, to compare with landscape's path bit for bit up to round-off.
Set OPENBLAS_NUM_THREADS and OMP_NUM_THREADS to --threads before Python starts (see torch_mlp.py).

  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python3 bench/torch_levelset.py data.h5 results.h5 --threads 1 --steps 200
"""
import argparse
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="landscape HDF5 data file (/train/X, /train/labels): all its rows are the training set")
    ap.add_argument("theta", help="landscape results file with /theta_initial")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", default="100,100,100")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--h_min", type=float, default=1e-4)
    ap.add_argument("--h_max", type=float, default=0.1)
    ap.add_argument("--turn", type=float, default=0.1)
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var) != str(args.threads):
            print(f"torch_levelset: warning: {var}={os.environ.get(var)} but --threads {args.threads}", file=sys.stderr)
    torch.set_num_threads(args.threads)
    dt = torch.float64
    with h5py.File(args.data, "r") as f:
        X = torch.from_numpy(np.ascontiguousarray(f["train/X"][...], dtype=np.float64))
        y = torch.from_numpy(f["train/labels"][...].astype(np.int64))
    with h5py.File(args.theta, "r") as f:
        theta = torch.from_numpy(f["theta_initial"][...].astype(np.float64))
    n, d = X.shape
    widths = [d] + [int(w) for w in args.hidden.split(",")] + [int(y.max()) + 1]
    shapes, off = [], 0
    for i in range(len(widths) - 1):
        shapes.append((off, widths[i + 1], widths[i]))
        off += widths[i + 1] * widths[i] + widths[i + 1]
    assert off == theta.numel(), f"{args.theta}: {theta.numel()} parameters, the MLP {widths} has {off}"
    print(f"torch {torch.__version__}, float64, {torch.get_num_threads()} thread(s), N = {n}, MLP {'-'.join(map(str, widths))}, P = {off}")

    def loss_grad(t):
        t = t.detach().requires_grad_(True)
        a = X
        for i, (o, m, k) in enumerate(shapes):
            W = t[o:o + m * k].view(m, k)
            b = t[o + m * k:o + m * k + m]
            a = F.linear(a, W, b)
            if i < len(shapes) - 1:
                a = torch.tanh(a)
        L = F.cross_entropy(a, y)
        (g,) = torch.autograd.grad(L, t)
        return L.item(), g

    state = {"theta": theta.clone(), "prev": None, "h": args.h_min}

    def step():
        t = state["theta"]
        L, gL = loss_grad(t)
        gR = 2.0 * t
        d = gR - (torch.dot(gR, gL) / torch.dot(gL, gL)) * gL
        dhat = d / torch.linalg.norm(d)
        prev = state["prev"]
        if prev is None:
            state["h"] = args.h_min
        else:
            turn = math.degrees(math.acos(max(-1.0, min(1.0, torch.dot(dhat, prev).item()))))
            state["h"] = max(0.1 * state["h"], args.h_min) if turn >= args.turn else min(1.1 * state["h"], args.h_max)
        state["theta"] = t - state["h"] * dhat
        state["prev"] = dhat
        return L

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        L = step()
    t = time.perf_counter() - t0
    th = state["theta"]
    print(f"result: threads {args.threads} steps {args.steps} time {t:.4f} s steps_per_s {args.steps / t:.2f} "
          f"loss {L:.12e} R {torch.dot(th, th).item():.12e}")


if __name__ == "__main__":
    main()
