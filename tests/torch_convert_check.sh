#!/usr/bin/env bash
# Check scripts/torch_to_theta.py and scripts/theta_to_torch.py (docs/interop.md).
#   (a) nn.Sequential 7-5-4-3, tanh, float64: torch -> theta -> torch is bitwise exact, and /theta has the
#       layout of DESIGN §5 (W_l row-major, then b_l);
#   (b) the same for a state_dict with relu, for bias-free layers and for leaky_relu and softplus;
#   (c) error cases exit with 2 and one line on stderr;
#   (d) with bin/landscape (built with make if needed): landscape's eval stage on the converted
#       parameters gives PyTorch's mse loss and autograd gradient.
# Output is TAP (ok N - ... / not ok N - ...); the exit code is 1 if any check failed.
# Environment: PYTHON (default /usr/bin/python3), LANDSCAPE_SCRIPTS (default <repo>/scripts),
# LANDSCAPE_MAKE_ATTEMPTS (default 3) and LANDSCAPE_MAKE_WAIT (seconds, default 60) for a build that fails.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
SCRIPTS=${LANDSCAPE_SCRIPTS:-$root/scripts}
T2T=$SCRIPTS/torch_to_theta.py
T2P=$SCRIPTS/theta_to_torch.py

tmp=$(mktemp -d "${TMPDIR:-/tmp}/torch_convert_check.XXXXXX") || { echo "Bail out! mktemp -d failed"; exit 1; }
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

n=0
failed=0
last=ok
ok() {
  n=$((n + 1))
  last=ok
  echo "ok $n - $1"
}
not_ok() {
  n=$((n + 1))
  last=fail
  failed=$((failed + 1))
  echo "not ok $n - $1"
  shift
  local f
  for f in "$@"; do [ -s "$f" ] && sed 's/^/#   /' "$f" | head -n 30; done
}
# check DESC CMD...: the command must succeed.
check() {
  local desc=$1
  shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$desc"; else not_ok "$desc (exit $?)" "$tmp/out" "$tmp/err"; fi
}
# check_error DESC REGEX OUTFILE CMD...: exit code 2, exactly one line on stderr matching REGEX,
# nothing on stdout, and neither OUTFILE nor OUTFILE.tmp left behind.
check_error() {
  local desc=$1 re=$2 outf=$3 rc
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  local lines
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" -ne 2 ]; then
    not_ok "$desc: exit code $rc, expected 2" "$tmp/out" "$tmp/err"
  elif [ "$lines" -ne 1 ]; then
    not_ok "$desc: $lines lines on stderr, expected 1" "$tmp/err"
  elif ! grep -Eq -- "$re" "$tmp/err"; then
    echo "#   expected a message matching: $re" >"$tmp/why"
    not_ok "$desc: unexpected message" "$tmp/err" "$tmp/why"
  elif [ -s "$tmp/out" ]; then
    not_ok "$desc: wrote to stdout" "$tmp/out"
  elif [ -e "$outf" ] || [ -e "$outf.tmp" ]; then
    not_ok "$desc: left $outf or $outf.tmp behind"
  else
    ok "$desc ($(cat "$tmp/err"))"
  fi
}

if ! "$PY" -c 'import torch, h5py, numpy' 2>/dev/null; then
  echo "Bail out! $PY cannot import torch, h5py and numpy (Debian: apt-get install python3-torch python3-h5py)"
  exit 1
fi
for s in "$T2T" "$T2P"; do [ -f "$s" ] || { echo "Bail out! missing $s"; exit 1; }; done

# ---- The Python side of the checks ----
cat >"$tmp/h.py" <<'EOF'
import sys
import h5py
import numpy as np
import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)
ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity, "softplus": nn.Softplus}


def mlp(widths, act, bias=True, slope=0.01):
    mods = []
    for l in range(1, len(widths)):
        mods.append(nn.Linear(widths[l - 1], widths[l], bias=bias))
        if l < len(widths) - 1:
            mods.append(nn.LeakyReLU(slope) if act == "leaky_relu" else ACT[act]())
    return nn.Sequential(*mods)


def spec(s):
    """'tanh:1' -> (act, bias, slope) for 7-5-4-3; 'leaky_relu:0:0.2' gives a slope."""
    p = s.split(":")
    return p[0], p[1] == "1", float(p[2]) if len(p) > 2 else 0.01


def load_model(path, s):
    """The model in path; a state_dict is loaded into a fresh 7-5-4-3 Sequential of spec s."""
    obj = torch.load(path)
    if isinstance(obj, nn.Module):
        return obj
    act, bias, slope = spec(s)
    m = mlp([7, 5, 4, 3], act, bias, slope)
    m.load_state_dict(obj)  # strict: same keys and shapes
    return m


def linears(m):
    return [x for x in m if isinstance(x, nn.Linear)]


def flat(m, grad=False):
    parts = []
    for lin in linears(m):
        for t in (lin.weight, lin.bias):
            if t is not None:
                parts.append((t.grad if grad else t).detach().reshape(-1).numpy())
    return np.concatenate(parts)


def cmd_make(*kinds):
    for kind in kinds:
        make(kind, kind + ".pt")


def make(kind, path):
    torch.manual_seed(sum(map(ord, kind)))
    w = [7, 5, 4, 3]
    L = nn.Linear
    models = {
        "seq_tanh": lambda: mlp(w, "tanh"),
        "sd_relu": lambda: mlp(w, "relu").state_dict(),
        "seq_nobias_sigmoid": lambda: mlp(w, "sigmoid", bias=False),
        "sd_nobias_relu": lambda: mlp(w, "relu", bias=False).state_dict(),
        "seq_nobias_leaky": lambda: mlp(w, "leaky_relu", bias=False, slope=0.2),
        "seq_softplus": lambda: mlp(w, "softplus"),
        "seq_float32": lambda: mlp(w, "tanh").float(),
        "bad_chain_seq": lambda: nn.Sequential(L(7, 5), nn.Tanh(), L(4, 3)),
        "bad_chain_sd": lambda: nn.Sequential(L(7, 5), nn.ReLU(), L(4, 3)).state_dict(),
        "bad_gelu": lambda: nn.Sequential(L(7, 5), nn.GELU(), L(5, 3)),
        "bad_mixed_bias": lambda: nn.Sequential(L(7, 5), nn.Tanh(), L(5, 3, bias=False)),
        "bad_mixed_act": lambda: nn.Sequential(L(7, 5), nn.Tanh(), L(5, 4), nn.ReLU(), L(4, 3)),
        "bad_softmax": lambda: nn.Sequential(L(7, 5), nn.Tanh(), L(5, 3), nn.Softmax(dim=1)),
        "bad_batchnorm_sd": lambda: nn.Sequential(L(7, 5), nn.BatchNorm1d(5), L(5, 3)).state_dict(),
    }
    torch.save(models[kind](), path)


def cmd_layout(model, s, theta_file, options_file, theta_arg):
    """/theta is W_1 (row-major), b_1, W_2, ...; /net describes the net; the options match."""
    m = load_model(model, s)
    act, bias, slope = spec(s)
    with h5py.File(theta_file, "r") as f:
        th = f["theta"]
        assert th.dtype == np.float64 and th.ndim == 1, f"/theta is {th.dtype} with {th.ndim} dimensions"
        th = th[()]
        widths = f["net/widths"][()].tolist()
        a = dict(f["net"].attrs)
    expect = np.concatenate([t.detach().to(torch.float64).numpy().reshape(-1, order="C")
                             for lin in linears(m) for t in (lin.weight, lin.bias) if t is not None])
    assert th.shape == expect.shape, f"/theta has length {th.size}, expected {expect.size}"
    # row-major spot checks: theta[1] is W_1[0, 1] (not W_1[1, 0]); W_2 starts after W_1 (and b_1)
    W1 = linears(m)[0].weight.detach().to(torch.float64).numpy()
    assert th[1] == W1[0, 1] and th[7] == W1[1, 0], "W_1 is not stored row-major (n_out x n_in)"
    o2 = 35 + (5 if bias else 0)
    assert th[o2 + 1] == linears(m)[1].weight[0, 1].item(), "W_2 does not start after W_1 and b_1"
    if bias:
        assert np.array_equal(th[35:40], linears(m)[0].bias.detach().to(torch.float64).numpy()), "b_1 does not follow W_1"
    assert np.array_equal(th.view(np.uint64), expect.view(np.uint64)), "/theta differs from the flattened parameters"
    assert widths == [7, 5, 4, 3], f"/net/widths = {widths}"
    actname = a["activation"].decode() if isinstance(a["activation"], bytes) else str(a["activation"])
    assert actname == act, f"/net activation {actname}, expected {act}"
    assert int(a["bias"]) == int(bias) and int(a["skip"]) == 0 and int(a["num_params"]) == expect.size, f"/net attributes {a}"
    want = f"-net_hidden 5,4 -net_activation {act}"
    if act == "leaky_relu":
        want += f" -net_leaky_slope {slope!r}"
        assert float(a["leaky_slope"]) == slope, f"/net leaky_slope {a['leaky_slope']}"
    want += f" -net_bias {int(bias)} -net_theta {theta_arg}"
    last = open(options_file).read().rstrip("\n").split("\n")[-1]
    assert last == want, f"printed options '{last}', expected '{want}'"


def cmd_roundtrip(orig, s, back, back_kind):
    """Parameters bitwise equal, float64, same modules, and identical outputs."""
    m0 = load_model(orig, s)
    obj = torch.load(back)
    assert isinstance(obj, nn.Module) == (back_kind == "module"), f"{back} holds a {type(obj).__name__}"
    m1 = load_model(back, s)
    assert type(m1) is nn.Sequential, type(m1)
    t0 = [type(x) for x in m0]
    t1 = [type(x) for x in m1]
    assert t0 == t1, f"modules {t0} != {t1}"
    for a, b in zip(m0, m1):
        if isinstance(a, nn.LeakyReLU):
            assert a.negative_slope == b.negative_slope, (a, b)
    sd0, sd1 = m0.state_dict(), m1.state_dict()
    assert list(sd0) == list(sd1), f"keys {list(sd0)} != {list(sd1)}"
    for k in sd0:
        assert sd1[k].dtype == torch.float64, f"{k} is {sd1[k].dtype}"
        x, y = sd0[k].to(torch.float64), sd1[k]
        assert x.shape == y.shape, f"{k}: shape {list(x.shape)} != {list(y.shape)}"
        assert np.array_equal(x.numpy().view(np.uint64), y.numpy().view(np.uint64)), f"{k} differs"
    m0 = m0.to(torch.float64)
    g = torch.Generator().manual_seed(7)
    X = 3 * torch.randn(200, 7, generator=g)
    with torch.no_grad():
        y0, y1 = m0(X), m1(X)
    assert torch.equal(y0, y1), f"outputs differ by up to {(y0 - y1).abs().max().item():.3e}"


def cmd_verify(name, s, desc):
    """Layout of name.h5 and the round trips name.back.pt, name.back_sd.pt: one PASS/FAIL line each."""
    for what, fn, args in (("/theta layout (W_l row-major, then b_l), /net and printed options", cmd_layout,
                            (name + ".pt", s, name + ".h5", name + ".out", name + ".h5")),
                           ("parameters bitwise equal, outputs identical (nn.Sequential)", cmd_roundtrip,
                            (name + ".pt", s, name + ".back.pt", "module")),
                           ("parameters bitwise equal, outputs identical (state_dict)", cmd_roundtrip,
                            (name + ".pt", s, name + ".back_sd.pt", "state_dict"))):
        try:
            fn(*args)
            print(f"PASS {desc}: {what}")
        except Exception as e:
            print(f"FAIL {desc}: {what}: {type(e).__name__}: {' '.join(str(e).split())}")


def cmd_badfile(kind, path):
    th = np.random.default_rng(0).standard_normal
    with h5py.File(path, "w") as f:
        net = f.create_group("net")
        if kind == "nonet":  # a /theta but no /net
            f["theta"] = th(58)
            del f["net"]
            return
        if kind == "length":  # 7-5-3 with biases has 35 + 5 + 15 + 3 = 58 parameters
            f["theta"] = th(10)
            net["widths"] = np.array([7, 5, 3], dtype=np.int64)
            skip = 0
        else:  # skip: 7-5-5-3, a skip connection into hidden layer 2
            f["theta"] = th(35 + 5 + 25 + 5 + 15 + 3)
            net["widths"] = np.array([7, 5, 5, 3], dtype=np.int64)
            skip = 1
        net.attrs["activation"] = np.bytes_("tanh")
        net.attrs["bias"] = np.int64(1)
        net.attrs["skip"] = np.int64(skip)


def cmd_data(path):
    g = np.random.default_rng(2024)
    with h5py.File(path, "w") as f:
        f["train/X"] = g.standard_normal((64, 7))
        f["train/Y"] = g.standard_normal((64, 3))


def cmd_cross(model, s, data, results, theta_file):
    """landscape's /eval/loss and /eval/gradient against PyTorch (mse: (1/N) sum_i 1/2 ||f_i - y_i||^2)."""
    m = load_model(model, s).to(torch.float64)
    with h5py.File(data, "r") as f:
        X = torch.from_numpy(f["train/X"][()])
        Y = torch.from_numpy(f["train/Y"][()])
    with h5py.File(results, "r") as f:
        loss = float(np.asarray(f["eval/loss"][()]).reshape(-1)[0])
        grad = f["eval/gradient"][()]
        theta0 = f["theta_initial"][()]
        widths = f["net/widths"][()].tolist()
    with h5py.File(theta_file, "r") as f:
        th = f["theta"][()]
    assert np.array_equal(theta0.view(np.uint64), th.view(np.uint64)), "landscape's /theta_initial differs from the converted /theta"
    assert widths == [7, 5, 4, 3], f"results /net/widths = {widths}"
    m.zero_grad()
    f = m(X)
    L = 0.5 * ((f - Y) ** 2).sum(dim=1).mean()
    L.backward()
    gt = flat(m, grad=True)
    lt = L.item()
    rl = abs(loss - lt) / abs(lt)
    assert grad.shape == gt.shape, f"/eval/gradient has length {grad.size}, expected {gt.size}"
    rg = np.abs(grad - gt).max() / np.abs(gt).max()
    print(f"loss landscape {loss:.17g} torch {lt:.17g} rel {rl:.2e}; gradient rel (max norm) {rg:.2e}")
    assert rl <= 1e-12, f"loss differs: relative {rl:.3e} > 1e-12"
    assert rg <= 1e-10, f"gradient differs: relative {rg:.3e} > 1e-10"


if __name__ == "__main__":
    try:
        globals()["cmd_" + sys.argv[1]](*sys.argv[2:])
    except AssertionError as e:
        print(f"check failed: {e}", file=sys.stderr)
        sys.exit(1)
EOF
h() { "$PY" "$tmp/h.py" "$@"; }
t2t() { "$PY" "$T2T" "$@"; }
t2p() { "$PY" "$T2P" "$@"; }

# verify NAME SPEC DESC: report the PASS/FAIL lines of the helper as TAP
verify() {
  local line
  h verify "$@" >"$tmp/verify" 2>"$tmp/verify.err"
  grep -q . "$tmp/verify" || not_ok "$3: the verification did not run" "$tmp/verify.err"
  while IFS= read -r line; do
    case $line in
    "PASS "*) ok "${line#PASS }" ;;
    *) not_ok "${line#FAIL }" ;;
    esac
  done <"$tmp/verify"
}

cd "$tmp" || exit 1
h make seq_tanh sd_relu seq_nobias_sigmoid sd_nobias_relu seq_nobias_leaky seq_softplus seq_float32 \
  bad_chain_seq bad_chain_sd bad_gelu bad_mixed_bias bad_mixed_act bad_softmax bad_batchnorm_sd ||
  { echo "Bail out! cannot build the PyTorch models"; exit 1; }

# roundtrip NAME SPEC DESC [torch_to_theta options]: torch -> theta (layout, options) -> torch (module and state_dict)
roundtrip() {
  local name=$1 s=$2 desc=$3
  shift 3
  if t2t "$name.pt" "$name.h5" "$@" >"$name.out" 2>"$name.err"; then
    ok "$desc: torch_to_theta.py succeeds"
  else
    not_ok "$desc: torch_to_theta.py failed" "$name.out" "$name.err"
    return
  fi
  check "$desc: theta_to_torch.py -> nn.Sequential" t2p "$name.h5" "$name.back.pt"
  check "$desc: theta_to_torch.py --state-dict" t2p "$name.h5" "$name.back_sd.pt" --state-dict
  verify "$name" "$s" "$desc"
}

# ---- (a) nn.Sequential, tanh ----
roundtrip seq_tanh tanh:1 "nn.Sequential 7-5-4-3 tanh"

# ---- (b) state_dict with relu, bias-free layers, leaky_relu, softplus ----
roundtrip sd_relu relu:1 "state_dict 7-5-4-3 relu (default activation)"
if grep -q "relu assumed" sd_relu.err; then ok "state_dict without --activation: says relu is assumed"
else not_ok "state_dict without --activation: says relu is assumed" sd_relu.err; fi
roundtrip sd_nobias_relu relu:0 "state_dict 7-5-4-3 relu, bias=False (--activation relu)" --activation relu
if grep -q "assumed" sd_nobias_relu.err; then not_ok "state_dict with --activation: no 'assumed' note" sd_nobias_relu.err
else ok "state_dict with --activation: no 'assumed' note"; fi
roundtrip seq_nobias_sigmoid sigmoid:0 "nn.Sequential 7-5-4-3 sigmoid, bias=False"
roundtrip seq_nobias_leaky leaky_relu:0:0.2 "nn.Sequential 7-5-4-3 LeakyReLU(0.2), bias=False"
roundtrip seq_softplus softplus:1 "nn.Sequential 7-5-4-3 softplus"
if grep -q "threshold" seq_softplus.err; then ok "softplus: warns that the threshold is ignored"; else not_ok "softplus: warns that the threshold is ignored" seq_softplus.err; fi
if t2t seq_float32.pt seq_float32.h5 >seq_float32.out 2>seq_float32.err; then
  check "float32 nn.Sequential: stored exactly as float64" h layout seq_float32.pt tanh:1 seq_float32.h5 seq_float32.out seq_float32.h5
else not_ok "float32 nn.Sequential: torch_to_theta.py failed" seq_float32.out seq_float32.err; fi

# ---- (c) errors: exit code 2 and one line ----
check_error "nn.Sequential whose shapes do not chain" "torch_to_theta: error: .*(chain|shape)" x1.h5 t2t bad_chain_seq.pt x1.h5
check_error "state_dict whose shapes do not chain" "torch_to_theta: error: .*(chain|shape)" x2.h5 t2t bad_chain_sd.pt x2.h5
check_error "unsupported activation nn.GELU" "torch_to_theta: error: .*GELU" x3.h5 t2t bad_gelu.pt x3.h5
check_error "some layers with and some without biases" "torch_to_theta: error: .*bias" x4.h5 t2t bad_mixed_bias.pt x4.h5
check_error "different hidden activations" "torch_to_theta: error: .*activation" x5.h5 t2t bad_mixed_act.pt x5.h5
check_error "activation after the output layer" "torch_to_theta: error: .*Softmax.*output layer is affine" x6.h5 t2t bad_softmax.pt x6.h5
check_error "state_dict with a BatchNorm layer" "torch_to_theta: error: .*running_mean|torch_to_theta: error: .*not" x7.h5 t2t bad_batchnorm_sd.pt x7.h5
check_error "missing model file" "torch_to_theta: error: .*no such file" x8.h5 t2t nonexistent.pt x8.h5
check_error "unknown --activation" "torch_to_theta: error: .*activation" x9.h5 t2t sd_relu.pt x9.h5 --activation gelu
h badfile length len.h5 && h badfile skip skip.h5 && h badfile nonet nonet.h5 || { echo "Bail out! cannot write the bad HDF5 files"; exit 1; }
check_error "/theta length does not match the widths (states both numbers)" "theta_to_torch: error: .*length 10\b.*\b58 parameters" x10.pt t2p len.h5 x10.pt
check_error "skip connections refused" "theta_to_torch: error: .*skip" x11.pt t2p skip.h5 x11.pt
check_error "file without /net" "theta_to_torch: error: .*/net" x12.pt t2p nonet.h5 x12.pt
check_error "not an HDF5 file" "theta_to_torch: error: .*HDF5" x13.pt t2p seq_tanh.pt x13.pt

# ---- (d) cross-check with landscape ----
lbin=$root/bin/landscape
make_log=$tmp/make.log
if [ -f "$root/makefile" ] && command -v make >/dev/null && ! make -q -C "$root" bin/landscape >/dev/null 2>&1; then
  # (re)build; the sources may be briefly broken while someone edits them: retry
  attempts=${LANDSCAPE_MAKE_ATTEMPTS:-3}
  for ((i = 1; i <= attempts; i++)); do
    if make -s -C "$root" bin/landscape >"$make_log" 2>&1; then break; fi
    echo "# make failed (attempt $i of $attempts)$([ "$i" -lt "$attempts" ] && echo "; retrying in ${LANDSCAPE_MAKE_WAIT:-60} s")"
    sed 's/^/#   /' "$make_log" | tail -n 5
    [ "$i" -eq "$attempts" ] && [ -x "$lbin" ] && echo "# make failed: using the existing, possibly stale, $lbin"
    [ "$i" -lt "$attempts" ] && sleep "${LANDSCAPE_MAKE_WAIT:-60}"
  done
fi
if [ ! -x "$lbin" ]; then
  n=$((n + 1))
  echo "ok $n - landscape cross-check # SKIP no $lbin (make failed or no build)"
else
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
  h data data.h5 || { echo "Bail out! cannot write data.h5"; exit 1; }
  # tanh with biases, with the options of the brief
  if t2t seq_tanh.pt theta.h5 >theta.out 2>theta.err; then
    check "landscape -stages eval on the converted tanh net" "$lbin" -skip_petscrc -data_file data.h5 -net_hidden 5,4 \
      -net_activation tanh -net_bias 1 -net_theta theta.h5 -loss mse -stages eval -output_dir run_tanh
    cp "$tmp/out" run_tanh.log
    if [ -f run_tanh/results.h5 ]; then
      check "landscape /eval/loss (1e-12) and /eval/gradient (1e-10) equal PyTorch's (tanh, biases)" h cross seq_tanh.pt tanh:1 data.h5 run_tanh/results.h5 theta.h5
      [ "$last" = ok ] && sed 's/^/# /' "$tmp/out"
      check "theta_to_torch.py on landscape's results.h5" t2p run_tanh/results.h5 from_results.pt
      check "results.h5 -> torch gives the original model bitwise" h roundtrip seq_tanh.pt tanh:1 from_results.pt module
    else
      not_ok "landscape wrote no run_tanh/results.h5" run_tanh.log
    fi
  else
    not_ok "torch_to_theta.py for the landscape cross-check" theta.out theta.err
  fi
  # bias-free leaky_relu, with the options that torch_to_theta.py prints
  if t2t seq_nobias_leaky.pt theta_leaky.h5 >theta_leaky.out 2>theta_leaky.err; then
    read -r -a opts < <(tail -n 1 theta_leaky.out)
    check "landscape -stages eval with the printed options: ${opts[*]}" "$lbin" -skip_petscrc -data_file data.h5 "${opts[@]}" \
      -loss mse -stages eval -output_dir run_leaky
    cp "$tmp/out" run_leaky.log
    if [ -f run_leaky/results.h5 ]; then
      check "landscape /eval/loss and /eval/gradient equal PyTorch's (leaky_relu 0.2, no biases)" h cross seq_nobias_leaky.pt leaky_relu:0:0.2 data.h5 run_leaky/results.h5 theta_leaky.h5
      [ "$last" = ok ] && sed 's/^/# /' "$tmp/out"
    else
      not_ok "landscape wrote no run_leaky/results.h5" run_leaky.log
    fi
  else
    not_ok "torch_to_theta.py for the leaky_relu cross-check" theta_leaky.out theta_leaky.err
  fi
fi

echo "1..$n"
if [ "$failed" -gt 0 ]; then
  echo "# $failed of $n checks failed"
  exit 1
fi
echo "# all $n checks passed"
exit 0
