#!/usr/bin/env python3
"""PyTorch reference for the spectrum benchmark: Hessian-vector products and PyHessian's power iteration.

Same model and data as `landscape -data_file DATA -data_train_n N -net_hidden 256,256
-net_activation relu -loss ce -net_theta POINT`: the MLP is rebuilt from POINT's /theta (layout of
docs/formats.md: per layer W (n_out x n_in, row-major) then b), the training rows are the same
seeded subset landscape selects (splitmix64 port of RandomRows in src/data/data.c, seed and N from
POINT's /data attributes), and the loss is the mean softmax cross-entropy over all N rows, float64.
One Hessian-vector product is PyTorch's double backward: g = autograd.grad(L, params,
create_graph=True), Hv = autograd.grad(g . v, params), over the whole batch at once.

Modes:
  check  loss and Hv (v = theta) against landscape's /eval/loss and /eval/hvp of --reference
         (a landscape results.h5 written at POINT with -eval_hvp_direction POINT); prints the
         relative differences, so the two sides are known to compute the same thing.
  hvp    the time of one product, best of --repeat after one warm-up.
  power  PyHessian's top-k algorithm (hessian.eigenvalues: power iteration, Gram-Schmidt deflation
         against the eigenvectors already found) for the --nev largest eigenpairs, then the
         standard shifted power iteration on (lambda_max I - H), with the same deflation, for the
         --nev smallest (PyHessian has no smallest mode). Instead of PyHessian's relative change
         of the eigenvalue, each pair stops on the residual test landscape's spectrum stage uses:
         ||H v - lambda v|| <= tol * max(|lambda|, ||H||), with ||H|| = |lambda_1| once the first
         pair is found. The products of each part are capped (--cap_largest, --cap_smallest);
         a pair that hits the cap is reported as not converged, with its residual.

The thread count must also be set in the environment (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS).
"""
import argparse
import json
import os
import resource
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

M64 = (1 << 64) - 1


def mix64(z):
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def rand_uniform(seed, stream, index):  # LandRandUniform (src/net/net.c)
    x = mix64(mix64(mix64(seed + 0x9E3779B97F4A7C15) + stream) + index)
    return ((x >> 11) + 0.5) * (1.0 / 9007199254740992.0)


def random_rows(seed, stream, n, count):  # RandomRows (src/data/data.c)
    p = list(range(n))
    for i in range(count):
        j = min(i + int(rand_uniform(seed, stream, i) * (n - i)), n - 1)
        p[i], p[j] = p[j], p[i]
    return sorted(p[:count])


def train_rows(data_file, seed, n_sub):
    """The training rows landscape uses with -data_train_n n_sub (all when n_sub is 0 or the whole file)."""
    with h5py.File(data_file, "r") as f:
        n_file = f["train/X"].shape[0]
        if 0 < n_sub < n_file:
            rows = random_rows(seed, 8, n_file, n_sub)
            return f["train/X"][rows, :], f["train/labels"][rows]
        return f["train/X"][...], f["train/labels"][...]


def load(data_file, point):
    with h5py.File(point, "r") as f:
        theta = torch.from_numpy(f["theta"][...].astype(np.float64))
        widths = [int(w) for w in f["net/widths"][...]]
        na = dict(f["net"].attrs)
        da = dict(f["data"].attrs)
    act = na["activation"].decode() if isinstance(na["activation"], bytes) else str(na["activation"])
    if act != "relu" or int(na["bias"]) != 1 or int(na["skip"]) != 0:
        sys.exit(f"torch_hessian: the point's net is {act}, bias {na['bias']}, skip {na['skip']}: only relu with biases is supported")
    X, y = train_rows(data_file, int(da["seed"]), int(da["train_n"]))
    X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64))
    y = torch.from_numpy(y.astype(np.int64))
    # parameters in landscape's order: W_1, b_1, W_2, b_2, ...
    params, off = [], 0
    for a, b in zip(widths[:-1], widths[1:]):
        params.append(theta[off:off + a * b].view(b, a).clone().requires_grad_(True))
        off += a * b
        params.append(theta[off:off + b].clone().requires_grad_(True))
        off += b
    assert off == theta.numel(), "theta length does not match /net/widths"
    return X, y, params, widths


def loss_fn(params, X, y):
    h = X
    L = len(params) // 2
    for l in range(L):
        h = F.linear(h, params[2 * l], params[2 * l + 1])
        if l < L - 1:
            h = torch.relu(h)
    return F.cross_entropy(h, y)


class Hessian:
    def __init__(self, params, X, y):
        self.params, self.X, self.y = params, X, y
        self.shapes = [p.shape for p in params]
        self.sizes = [p.numel() for p in params]
        self.P = sum(self.sizes)
        self.count = 0

    def mult(self, v):  # v: flat float64 tensor of length P
        self.count += 1
        loss = loss_fn(self.params, self.X, self.y)
        g = torch.autograd.grad(loss, self.params, create_graph=True)
        vs = [c.view(s) for c, s in zip(torch.split(v, self.sizes), self.shapes)]
        gv = sum((gi * vi).sum() for gi, vi in zip(g, vs))
        hv = torch.autograd.grad(gv, self.params)
        return torch.cat([h.reshape(-1) for h in hv]).detach()


def deflate(v, found):  # PyHessian's orthnormal(): Gram-Schmidt against the found vectors, normalise
    for u in found:
        v = v - torch.dot(v, u) * u
    return v / v.norm()


def power_part(H, nev, tol, cap, shift, hnorm, gen, log):
    """nev pairs of H (shift None) or of shift*I - H (power iteration finds the largest of those).
    Returns a list of dicts and the updated ||H|| estimate."""
    found, out, used = [], [], 0
    for i in range(nev):
        v = deflate(torch.randn(H.P, dtype=torch.float64, generator=gen), found)
        its, lam, rel, t0 = 0, float("nan"), float("inf"), time.perf_counter()
        converged = False
        while used < cap:
            v = deflate(v, found)
            Hv = H.mult(v)
            used += 1
            its += 1
            lam = float(torch.dot(v, Hv))  # Rayleigh quotient of H (||v|| = 1)
            res = float((Hv - lam * v).norm())
            scale = max(abs(lam), hnorm)
            rel = res / scale
            if rel <= tol:
                converged = True
                break
            w = Hv if shift is None else shift * v - Hv  # one step of power iteration
            v = w / w.norm()
        if i == 0 and shift is None and converged:
            hnorm = max(hnorm, abs(lam))
        out.append(dict(value=lam, residual=res, relative_residual=rel, products=its, converged=converged,
                        time_s=time.perf_counter() - t0))
        log(f"  pair {i + 1}: lambda {lam:+.10e} residual {res:.2e} relative {rel:.2e} products {its} "
            f"{'converged' if converged else 'NOT converged (cap reached)'}")
        found.append(v)
        if not converged:
            break
    return out, hnorm, used


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["check", "hvp", "power"])
    ap.add_argument("data", help="landscape HDF5 data file (the one the point was computed with)")
    ap.add_argument("point", help="landscape results.h5 with /theta, /net and /data (train_n, seed)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reference", help="check: landscape results.h5 with /eval/loss and /eval/hvp (v = theta)")
    ap.add_argument("--nev", type=int, default=5)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--cap_largest", type=int, default=1000, help="power: product budget for the largest pairs")
    ap.add_argument("--cap_smallest", type=int, default=500, help="power: product budget for the smallest pairs")
    ap.add_argument("--json", help="power: write the results here")
    args = ap.parse_args()

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var) != str(args.threads):
            print(f"torch_hessian: warning: {var}={os.environ.get(var)} but --threads {args.threads}", file=sys.stderr)
    torch.set_num_threads(args.threads)
    X, y, params, widths = load(args.data, args.point)
    H = Hessian(params, X, y)
    print(f"torch {torch.__version__}, float64, {torch.get_num_threads()} thread(s), N = {X.shape[0]}, "
          f"MLP {'-'.join(map(str, widths))}, P = {H.P}", flush=True)

    if args.mode == "check":
        with torch.no_grad():
            loss = float(loss_fn(params, X, y))
        theta = torch.cat([p.detach().reshape(-1) for p in params])
        hv = H.mult(theta)
        with h5py.File(args.reference, "r") as f:
            ref_loss = float(f["eval/loss"][0])
            ref_hv = torch.from_numpy(f["eval/hvp"][...].astype(np.float64))
        dl = abs(loss - ref_loss) / abs(ref_loss)
        dh = float((hv - ref_hv).norm() / ref_hv.norm())
        print(f"check: loss torch {loss:.15e} landscape {ref_loss:.15e} relative difference {dl:.2e}")
        print(f"check: H theta relative difference ||Hv_torch - Hv_landscape|| / ||Hv_landscape|| = {dh:.2e}")
        print(f"check_result: loss_reldiff {dl:.3e} hvp_reldiff {dh:.3e}")
        return

    if args.mode == "hvp":
        gen = torch.Generator().manual_seed(1)
        v = torch.randn(H.P, dtype=torch.float64, generator=gen)
        H.mult(v)  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            H.mult(v)
            times.append(time.perf_counter() - t0)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print("times: " + " ".join(f"{t:.4f}" for t in times))
        print(f"best: threads {args.threads} hvp_time {min(times):.4f} s peak_rss_mib {rss:.1f}")
        return

    # power
    gen = torch.Generator().manual_seed(0)
    log = lambda s: print(s, flush=True)
    res = {"tol": args.tol, "nev": args.nev, "threads": args.threads}
    log(f"power: {args.nev} largest, stop at ||Hv - lambda v|| <= {args.tol:g} max(|lambda|, ||H||), cap {args.cap_largest} products")
    t0 = time.perf_counter()
    big, hnorm, used = power_part(H, args.nev, args.tol, args.cap_largest, None, 0.0, gen, log)
    res["largest"] = dict(pairs=big, products=used, time_s=time.perf_counter() - t0, cap=args.cap_largest,
                          cap_hit=not all(p["converged"] for p in big) or len(big) < args.nev)
    log(f"power: largest: {used} products, {res['largest']['time_s']:.1f} s")
    if big and big[0]["converged"]:
        shift = big[0]["value"]
        log(f"power: {args.nev} smallest by power iteration on ({shift:.6e} I - H), cap {args.cap_smallest} products")
        t0 = time.perf_counter()
        small, _, used = power_part(H, args.nev, args.tol, args.cap_smallest, shift, hnorm, gen, log)
        res["smallest"] = dict(pairs=small, products=used, time_s=time.perf_counter() - t0, cap=args.cap_smallest, shift=shift,
                               cap_hit=not all(p["converged"] for p in small) or len(small) < args.nev)
        log(f"power: smallest: {used} products, {res['smallest']['time_s']:.1f} s")
    res["hessian_products"] = H.count
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
