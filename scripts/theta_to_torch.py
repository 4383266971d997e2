#!/usr/bin/python3
"""Rebuild a PyTorch nn.Sequential (float64) from landscape parameters (DESIGN §5, docs/interop.md).

  theta_to_torch.py RESULTS.h5 OUT.pt [--state-dict] [--dataset theta]

RESULTS.h5 is a landscape results file (out/.../results.h5) or an output of torch_to_theta.py:
the parameters come from /theta (or /theta_initial with --dataset theta_initial) and the
architecture from /net/widths and the attributes activation, bias, skip and leaky_slope of /net.
OUT.pt receives torch.save(model), or torch.save(model.state_dict()) with --state-dict.
The model is Linear, act, Linear, act, ..., Linear (act = nn.Identity for landscape's linear),
so its state_dict keys are 0.weight, 0.bias, 2.weight, ...
Skip connections have no nn.Sequential equivalent and are refused.
Errors are one line on stderr and exit code 2.
"""
import argparse
import os
import sys

PROG = "theta_to_torch"
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear", "softplus")


class ConvertError(Exception):
    pass


def note(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: one line, exit 2
        raise ConvertError(f"{message} (usage: {PROG}.py RESULTS.h5 OUT.pt [--state-dict] [--dataset theta])")


def parse_args(argv):
    p = Parser(prog=f"{PROG}.py", description="Rebuild a PyTorch nn.Sequential from landscape's /theta and /net.")
    p.add_argument("results", metavar="RESULTS.h5", help="landscape results.h5, or a torch_to_theta.py output")
    p.add_argument("out", metavar="OUT.pt", help="output file (written as OUT.pt.tmp, then renamed)")
    p.add_argument("--state-dict", action="store_true", help="save model.state_dict() instead of the model")
    p.add_argument("--dataset", default="theta", help="parameter dataset: theta (default) or theta_initial")
    return p.parse_args(argv)


def as_str(v):
    import numpy as np
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("ascii", "replace").rstrip("\0").strip()
    if isinstance(v, np.ndarray) and v.size == 1:
        return as_str(v.reshape(-1)[0])
    return str(v).strip()


def as_int(v, what, path):
    import numpy as np
    a = np.asarray(v).reshape(-1)
    if a.size != 1 or not np.issubdtype(a.dtype, np.integer):
        raise ConvertError(f"{path}: {what} is not an integer")
    return int(a[0])


def read(path, dataset):
    import h5py
    import numpy as np
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except Exception as e:
        raise ConvertError(f"{path}: not a readable HDF5 file ({' '.join(str(e).split())})")
    with f:
        name = dataset.strip("/")
        if name not in f or not isinstance(f[name], h5py.Dataset):
            raise ConvertError(f"{path} has no dataset /{name}")
        if "net" not in f or "widths" not in f["net"]:
            raise ConvertError(f"{path} has no /net/widths: not a landscape results file or torch_to_theta.py output")
        theta = f[name][()]
        net = f["net"]
        widths = np.asarray(net["widths"][()])
        attrs = dict(net.attrs)
    if theta.ndim != 1:
        raise ConvertError(f"{path}:/{name} has shape {list(theta.shape)}; expected a vector")
    if not np.issubdtype(theta.dtype, np.floating):
        raise ConvertError(f"{path}:/{name} has type {theta.dtype}; expected floating point")
    if widths.ndim != 1 or widths.size < 2 or not np.issubdtype(widths.dtype, np.integer) or (widths < 1).any():
        raise ConvertError(f"{path}: /net/widths = {widths.tolist()} is not a list of at least 2 positive integers [d, h1, ..., k]")
    for key in ("activation", "bias"):
        if key not in attrs:
            raise ConvertError(f"{path}: /net has no attribute '{key}'")
    act = as_str(attrs["activation"])
    if act not in ACTIVATIONS:
        raise ConvertError(f"{path}: /net activation '{act}' is not one of {', '.join(ACTIVATIONS)}")
    bias = as_int(attrs["bias"], "/net attribute bias", path) != 0
    skip = as_int(attrs["skip"], "/net attribute skip", path) != 0 if "skip" in attrs else False
    slope = float(np.asarray(attrs.get("leaky_slope", 0.01)).reshape(-1)[0])
    num_params = as_int(attrs["num_params"], "/net attribute num_params", path) if "num_params" in attrs else None
    return theta.astype(np.float64, copy=False), [int(w) for w in widths], act, bias, skip, slope, num_params


def load_model(path, dataset="theta"):
    """nn.Sequential (float64) holding the parameters /DATASET of the landscape results file PATH.

    Returns (model, widths, act, bias, slope, P); raises ConvertError. The parameters of the model,
    in order (0.weight, 0.bias, 2.weight, ...), are theta split layer by layer: W_l (n_out x n_in,
    row-major), then b_l. For importing (bench/torch_slice.py); main() is the command line."""
    theta, widths, act, bias, skip, slope, num_params = read(path, dataset)
    L = len(widths) - 1
    arch = "-".join(str(w) for w in widths)
    if skip:
        # landscape adds h_l to hidden layer l+1 when both are hidden and of equal width (DESIGN §5)
        skipped = [l for l in range(2, L) if widths[l] == widths[l - 1]]
        if skipped:
            raise ConvertError(f"{path}: the network {arch} has skip connections (h_{{l+1}} = h_l + act(W h_l + b)) into hidden "
                               f"layer{'s' if len(skipped) > 1 else ''} {', '.join(map(str, skipped))}: nn.Sequential cannot express them")
        note(f"note: /net skip is set but no two consecutive hidden layers of {arch} have equal widths: the network has no skip connection")
    P = sum(widths[l + 1] * widths[l] + (widths[l + 1] if bias else 0) for l in range(L))
    if theta.size != P:
        raise ConvertError(f"{path}:/{dataset.strip('/')} has length {theta.size} but the network {arch} "
                           f"({'with' if bias else 'without'} biases) has {P} parameters")
    if num_params is not None and num_params != P:
        raise ConvertError(f"{path}: /net num_params is {num_params} but the network {arch} has {P} parameters")
    import numpy as np
    if not np.isfinite(theta).all():
        raise ConvertError(f"{path}:/{dataset.strip('/')} has NaN or Inf entries")

    import torch
    import torch.nn as nn

    def make_act():
        return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity,
                "softplus": nn.Softplus, "leaky_relu": lambda: nn.LeakyReLU(slope)}[act]()

    mods, off = [], 0
    with torch.no_grad():
        for l in range(1, L + 1):
            n_in, n_out = widths[l - 1], widths[l]
            lin = nn.Linear(n_in, n_out, bias=bias, dtype=torch.float64)
            lin.weight.copy_(torch.from_numpy(theta[off:off + n_out * n_in].reshape(n_out, n_in).copy()))
            off += n_out * n_in
            if bias:
                lin.bias.copy_(torch.from_numpy(theta[off:off + n_out].copy()))
                off += n_out
            mods.append(lin)
            if l < L:
                mods.append(make_act())
    assert off == P
    return nn.Sequential(*mods), widths, act, bias, slope, P


def main(argv):
    args = parse_args(argv)
    model, widths, act, bias, slope, P = load_model(args.results, args.dataset)
    import torch
    L = len(widths) - 1
    arch = "-".join(str(w) for w in widths)
    tmp = args.out + ".tmp"
    try:
        torch.save(model.state_dict() if args.state_dict else model, tmp)
        os.replace(tmp, args.out)
    except Exception as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ConvertError(f"{args.out}: cannot write: {' '.join(str(e).split())}")
    actdesc = (act + (f" (slope {slope!r})" if act == "leaky_relu" else "")) if L > 1 else "no hidden layer"
    what = "state_dict of nn.Sequential" if args.state_dict else "nn.Sequential"
    print(f"{PROG}: wrote {args.out}: {what} {arch}, {actdesc}, bias {'on' if bias else 'off'}, {P} parameters (float64)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ConvertError as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # anything unexpected is still one line
        print(f"{PROG}: error: {type(e).__name__}: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(2)
