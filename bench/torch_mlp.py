#!/usr/bin/env python3
"""PyTorch reference for the core benchmark: loss and gradient of an MLP on a landscape data file.

Same model as `landscape -net_hidden 256,256 -net_activation relu -loss ce`:
nn.Sequential(Linear(784,256), ReLU, Linear(256,256), ReLU, Linear(256,10)),
mean softmax cross-entropy over the whole training set, the data held in memory.
One loss+gradient is the forward pass and loss.backward() over all N rows,
either at once or in batches (the batch losses weighted by batch/N, so the
accumulated gradient is the full-batch one).
Prints the best of --repeat timings after one warm-up, per batch size,
and a last line `best: ...` with the fastest batch size.

The thread count must also be set in the environment before Python starts
(OPENBLAS_NUM_THREADS and OMP_NUM_THREADS), because torch.set_num_threads()
does not reach the OpenBLAS that torch calls for the matrix products.

  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python3 bench/torch_mlp.py data.h5 --threads 1 --dtype float64
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
from torch import nn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", help="landscape HDF5 data file with /train/X and /train/labels")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--batches", default="60000,10000", help="comma-separated batch sizes (rows)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--hidden", default="256,256")
    args = ap.parse_args()

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var) != str(args.threads):
            print(f"torch_mlp: warning: {var}={os.environ.get(var)} but --threads {args.threads}", file=sys.stderr)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)

    with h5py.File(args.file, "r") as f:
        X = torch.from_numpy(np.ascontiguousarray(f["train/X"][...], dtype=np.dtype(args.dtype)))
        y = torch.from_numpy(f["train/labels"][...].astype(np.int64))
    n, d = X.shape
    k = int(y.max()) + 1
    widths = [d] + [int(w) for w in args.hidden.split(",")] + [k]
    torch.manual_seed(0)
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers).to(dtype)
    P = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {args.dtype}, {torch.get_num_threads()} thread(s), "
          f"N = {n}, MLP {'-'.join(map(str, widths))}, P = {P}")

    def loss_and_grad(bs):
        model.zero_grad(set_to_none=True)
        total = 0.0
        for i in range(0, n, bs):
            Xb, yb = X[i:i + bs], y[i:i + bs]
            loss = F.cross_entropy(model(Xb), yb)
            if Xb.shape[0] != n:
                loss = loss * (Xb.shape[0] / n)
            loss.backward()
            total += loss.item()
        return total

    results = []
    for bs in [int(b) for b in args.batches.split(",")]:
        bs = min(bs, n)
        loss = loss_and_grad(bs)  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            loss_and_grad(bs)
            times.append(time.perf_counter() - t0)
        t = min(times)
        results.append((t, bs))
        print(f"batch {bs:6d}: loss {loss:.6f}  best of {args.repeat}: {t:.4f} s, {n / t:.0f} samples/s")
    t, bs = min(results)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"best: dtype {args.dtype} threads {args.threads} batch {bs} time {t:.4f} s "
          f"samples/s {n / t:.0f} peak_rss_mib {rss:.1f}")


if __name__ == "__main__":
    main()
