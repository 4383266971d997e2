#!/usr/bin/python3
"""Convert a PyTorch MLP into landscape's flat parameter vector (DESIGN §5, docs/interop.md).

  torch_to_theta.py MODEL.pt OUT.h5 [--activation NAME] [--leaky-slope S]

MODEL.pt is either a saved nn.Sequential (torch.save(model)) or a state_dict
(torch.save(model.state_dict())) of an MLP made of nn.Linear layers and activation modules.
OUT.h5 receives the dataset /theta (float64): for each nn.Linear in order, its weight
(n_out x n_in, row-major, i.e. weight.flatten()) and then its bias, if the net has biases.
It also receives /net/widths and the attributes activation, bias, skip, num_params and
leaky_slope of /net, as in a landscape results file, so that theta_to_torch.py can read it back.
The last line printed on stdout is the matching landscape options, e.g.
  -net_hidden 100,100 -net_activation tanh -net_bias 1 -net_theta OUT.h5
Errors are one line on stderr and exit code 2.
"""
import argparse
import os
import shlex
import sys
import warnings

PROG = "torch_to_theta"
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear", "softplus")


class ConvertError(Exception):
    pass


def note(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: one line, exit 2
        raise ConvertError(f"{message} (usage: {PROG}.py MODEL.pt OUT.h5 [--activation NAME] [--leaky-slope S])")


def parse_args(argv):
    p = Parser(prog=f"{PROG}.py", description="Convert a PyTorch MLP (nn.Sequential or state_dict) to landscape's /theta.")
    p.add_argument("model", metavar="MODEL.pt", help="torch.save(model) of an nn.Sequential, or torch.save(model.state_dict())")
    p.add_argument("out", metavar="OUT.h5", help="output HDF5 file (written as OUT.h5.tmp, then renamed)")
    p.add_argument("--activation", choices=ACTIVATIONS, default=None,
                   help="hidden activation of a bare state_dict (default relu); ignored for an nn.Sequential, which names its own")
    p.add_argument("--leaky-slope", type=float, default=None,
                   help="negative slope with --activation leaky_relu (default 0.01, PyTorch's default)")
    return p.parse_args(argv)


def load(path):
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    import torch
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu")
    except Exception as e:  # unpickling a custom class, a corrupt file, ...
        msg = " ".join(str(e).split())
        hint = ""
        if isinstance(e, AttributeError) and "Can't get attribute" in msg:
            hint = "; a model of a custom class cannot be loaded here: save its state_dict() instead"
        raise ConvertError(f"{path}: cannot be loaded by torch.load: {type(e).__name__}: {msg}{hint}")


def activation_of(mod, where):
    """(landscape name, leaky slope or None) for a supported activation module, else None."""
    import torch.nn as nn
    if isinstance(mod, nn.ReLU):
        return ("relu", None)
    if isinstance(mod, nn.LeakyReLU):
        s = float(mod.negative_slope)
        if not (0 <= s < 1):
            raise ConvertError(f"{where}: nn.LeakyReLU negative_slope {s!r} is not supported (landscape needs 0 <= slope < 1)")
        return ("leaky_relu", s)
    if isinstance(mod, nn.Sigmoid):
        return ("sigmoid", None)
    if isinstance(mod, nn.Tanh):
        return ("tanh", None)
    if isinstance(mod, nn.Identity):
        return ("linear", None)
    if isinstance(mod, nn.Softplus):
        if float(mod.beta) != 1:
            raise ConvertError(f"{where}: nn.Softplus with beta {mod.beta!r} is not supported (landscape's softplus is log(1 + e^z), beta 1)")
        return ("softplus", None)
    return None


def flatten_modules(seq, prefix=""):
    import torch.nn as nn
    for name, mod in seq.named_children():
        full = f"{prefix}{name}"
        if isinstance(mod, nn.Sequential):
            yield from flatten_modules(mod, full + ".")
        else:
            yield full, mod


def from_sequential(model, path):
    """Layers [(weight, bias or None)] and (activation, slope) of an nn.Sequential MLP."""
    import torch.nn as nn
    if isinstance(model, nn.Linear):
        model = nn.Sequential(model)
    if not isinstance(model, nn.Sequential):
        raise ConvertError(f"{path} holds a {type(model).__module__}.{type(model).__name__}, not an nn.Sequential: "
                           "save its state_dict() and give --activation")
    layers, gaps, cur = [], [], []  # gaps[i]: activations between Linear i and i+1
    trailing = []
    for name, mod in flatten_modules(model):
        where = f"module {name} ({type(mod).__name__})"
        if isinstance(mod, nn.Linear):
            if layers:
                gaps.append(cur)
            elif cur:
                raise ConvertError(f"{path}: {cur[0][0]} comes before the first nn.Linear; landscape's first layer is affine")
            layers.append((name, mod.weight.detach(), None if mod.bias is None else mod.bias.detach()))
            cur = []
            continue
        if isinstance(mod, (nn.Softmax, nn.LogSoftmax)):
            raise ConvertError(f"{path}: {where} is not supported: landscape's output layer is affine and its ce loss applies "
                               "softmax itself (remove it; ce = nn.CrossEntropyLoss on the logits)")
        if isinstance(mod, nn.Dropout):
            note(f"warning: {where} ignored: it is the identity in evaluation, and landscape has no dropout")
            continue
        if isinstance(mod, nn.Flatten):
            if mod.start_dim != 1 or mod.end_dim != -1:
                raise ConvertError(f"{path}: {where} with start_dim {mod.start_dim}, end_dim {mod.end_dim} is not supported (only nn.Flatten())")
            note(f"note: {where} dropped: landscape's inputs are already flat rows (images flattened row by row)")
            continue
        act = activation_of(mod, f"{path}: {where}")
        if act is None:
            raise ConvertError(f"{path}: {where} is not supported: only nn.Linear and the activations nn.ReLU, nn.LeakyReLU, "
                               "nn.Sigmoid, nn.Tanh, nn.Identity, nn.Softplus")
        cur.append((where, act))
    if not layers:
        raise ConvertError(f"{path}: the nn.Sequential has no nn.Linear layer")
    if cur:
        raise ConvertError(f"{path}: {cur[0][0]} follows the last nn.Linear; landscape's output layer is affine "
                           "(its losses apply softmax themselves: remove it)")
    acts = set()
    for i, gap in enumerate(gaps):
        if len(gap) > 1:
            raise ConvertError(f"{path}: {gap[0][0]} and {gap[1][0]} both lie between nn.Linear layers {i + 1} and {i + 2}; "
                               "landscape applies one activation per hidden layer")
        acts.add(gap[0][1] if gap else ("linear", None))
    if len(acts) > 1:
        names = ", ".join(sorted(a if s is None else f"{a}({s!r})" for a, s in acts))
        raise ConvertError(f"{path}: the hidden layers use different activations ({names}); landscape uses one for all of them")
    act = acts.pop() if acts else None
    return layers, act


def from_state_dict(sd, path):
    """Layers [(prefix, weight, bias or None)] of a state_dict, in order."""
    import torch
    for key in ("state_dict", "model_state_dict"):
        if key in sd and isinstance(sd[key], dict) and not torch.is_tensor(sd[key]):
            note(f"note: using the entry '{key}' of the checkpoint dict")
            sd = sd[key]
            break
    groups = {}
    for key, val in sd.items():
        if not torch.is_tensor(val):
            raise ConvertError(f"{path}: entry '{key}' is a {type(val).__name__}, not a tensor: not a state_dict")
        prefix, _, kind = key.rpartition(".")
        if kind not in ("weight", "bias"):
            raise ConvertError(f"{path}: state_dict entry '{key}' is not the weight or bias of an nn.Linear "
                               "(only MLPs of nn.Linear layers and parameter-free activations are supported)")
        g = groups.setdefault(prefix, {})
        g[kind] = val.detach()
    if not groups:
        raise ConvertError(f"{path}: the state_dict is empty")
    names = list(groups)
    if all(n.isdigit() for n in names):  # nn.Sequential indices: order numerically
        names.sort(key=int)
    layers = []
    for n in names:
        g = groups[n]
        label = n if n else "(top level)"
        if "weight" not in g:
            raise ConvertError(f"{path}: state_dict has '{n}.bias' but no '{n}.weight'")
        w, b = g["weight"], g.get("bias")
        if w.dim() != 2:
            raise ConvertError(f"{path}: '{n}.weight' has shape {list(w.shape)}: not an nn.Linear weight (2 dimensions)")
        layers.append((label, w, b))
    return layers


def check_layers(layers, path):
    import torch
    widths = [int(layers[0][1].shape[1])]
    for i, (name, w, b) in enumerate(layers):
        n_out, n_in = int(w.shape[0]), int(w.shape[1])
        if n_in != widths[-1]:
            prev = layers[i - 1][0]
            raise ConvertError(f"{path}: layer '{name}' has weight shape [{n_out}, {n_in}] (n_out x n_in) but the previous layer "
                               f"'{prev}' has {widths[-1]} outputs: the shapes do not chain")
        if n_out < 1 or n_in < 1:
            raise ConvertError(f"{path}: layer '{name}' has an empty weight of shape [{n_out}, {n_in}]")
        if b is not None and list(b.shape) != [n_out]:
            raise ConvertError(f"{path}: layer '{name}' has bias shape {list(b.shape)}; expected [{n_out}]")
        for t, what in ((w, "weight"), (b, "bias")):
            if t is None:
                continue
            if not t.is_floating_point():
                raise ConvertError(f"{path}: layer '{name}' {what} has dtype {t.dtype}: not a real floating-point type")
            if not bool(torch.isfinite(t).all()):
                raise ConvertError(f"{path}: layer '{name}' {what} has NaN or Inf entries")
        widths.append(n_out)
    has = [b is not None for _, _, b in layers]
    if any(has) and not all(has):
        with_b = ", ".join(f"'{n}'" for n, _, b in layers if b is not None)
        without = ", ".join(f"'{n}'" for n, _, b in layers if b is None)
        raise ConvertError(f"{path}: some layers have biases ({with_b}) and some do not ({without}); landscape needs all or none")
    return widths, all(has)


def flat_theta(layers):
    import numpy as np
    import torch
    parts = []
    for _, w, b in layers:
        # float16/bfloat16/float32 -> float64 is exact; C order = row-major = landscape's W_l layout
        parts.append(w.to(dtype=torch.float64).contiguous().numpy().reshape(-1))
        if b is not None:
            parts.append(b.to(dtype=torch.float64).contiguous().numpy().reshape(-1))
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float64)


def write_h5(out, theta, widths, act, slope, bias, source):
    import h5py
    import numpy as np
    tmp = out + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("theta", data=theta, dtype="<f8")  # contiguous, as landscape reads it
            net = f.create_group("net")
            net.create_dataset("widths", data=np.asarray(widths, dtype=np.int64))
            net.attrs["activation"] = np.bytes_(act)
            net.attrs["bias"] = np.int64(1 if bias else 0)
            net.attrs["skip"] = np.int64(0)
            net.attrs["num_params"] = np.int64(theta.size)
            net.attrs["leaky_slope"] = np.float64(slope)
            f.attrs["source"] = np.bytes_(source)
            f.attrs["converter"] = np.bytes_("scripts/torch_to_theta.py")
        os.replace(tmp, out)
    except Exception as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ConvertError(f"{out}: cannot write: {' '.join(str(e).split())}")


def main(argv):
    args = parse_args(argv)
    obj = load(args.model)
    import torch.nn as nn
    if isinstance(obj, nn.Module):
        if args.activation is not None or args.leaky_slope is not None:
            note("note: --activation/--leaky-slope ignored: the nn.Sequential names its own activations")
        layers, act = from_sequential(obj, args.model)
        kind = "nn.Sequential"
        act_known = True
    elif isinstance(obj, dict):
        layers = from_state_dict(obj, args.model)
        act, kind, act_known = None, "state_dict", False
    else:
        raise ConvertError(f"{args.model} holds a {type(obj).__name__}: neither an nn.Sequential nor a state_dict")
    widths, bias = check_layers(layers, args.model)
    L = len(layers)
    if not act_known:
        name = args.activation or "relu"
        if args.leaky_slope is not None and name != "leaky_relu":
            raise ConvertError("--leaky-slope needs --activation leaky_relu")
        slope = 0.01 if args.leaky_slope is None else args.leaky_slope
        if name == "leaky_relu" and not (0 <= slope < 1):
            raise ConvertError(f"--leaky-slope {slope!r} must lie in [0, 1)")
        act = (name, slope if name == "leaky_relu" else None)
        if L > 1:
            how = "given by --activation" if args.activation else "assumed (default; give --activation NAME if it is not relu)"
            note(f"note: a state_dict does not record activations: hidden activation {name} {how}")
    if act is None:  # a single nn.Linear: no hidden layer, the activation is irrelevant
        act = ("linear", None)
    act_name, slope = act
    if act_name == "softplus" and L > 1:
        note("warning: nn.Softplus threshold ignored: landscape computes log(1 + e^z) exactly, PyTorch returns z where z > threshold "
             "(a difference below 2.1e-9 for the default threshold 20)")
    theta = flat_theta(layers)
    dtypes = sorted({str(t.dtype).replace("torch.", "") for _, w, b in layers for t in (w, b) if t is not None})
    if dtypes != ["float64"]:
        note(f"note: parameters were {', '.join(dtypes)}; stored exactly as float64")
    expect = sum(widths[l + 1] * widths[l] + (widths[l + 1] if bias else 0) for l in range(L))
    assert theta.size == expect
    write_h5(args.out, theta, widths, act_name, 0.01 if slope is None else slope, bias, os.path.basename(args.model))
    arch = "-".join(str(w) for w in widths)
    actdesc = act_name if L > 1 else "no hidden layer"
    print(f"{PROG}: wrote {args.out}: MLP {arch} ({kind}), {actdesc}, bias {'on' if bias else 'off'}, {theta.size} parameters; "
          f"the data must have d = {widths[0]} inputs and k = {widths[-1]} outputs")
    opts = []
    if L > 1:
        opts += ["-net_hidden", ",".join(str(w) for w in widths[1:-1]), "-net_activation", act_name]
        if act_name == "leaky_relu":
            opts += ["-net_leaky_slope", repr(float(slope))]
    opts += ["-net_bias", "1" if bias else "0", "-net_theta", shlex.quote(args.out)]
    print(" ".join(opts))
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
