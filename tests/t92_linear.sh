# Stochastic neurons (-net_noise) and the 'linear' stage: exact solutions of a deep linear network
# with weight decay and stochastic neurons (docs/deep-linear.md).

# ---- Sampled noise: derivatives of the noisy loss by finite differences, at 1 to 3 ranks ----
N="-data_type teacher -data_n 200 -data_d 5 -data_k 3 -data_chunk_size 16 -stages check"
for nz in dropout gaussian; do
  for act in tanh softplus linear; do
    expect_ok "derivatives with $nz noise, $act mse, bias+skip+L2" 1 $N -net_hidden 16,16 -net_skip -net_activation $act -loss mse -reg_l2 0.01 -net_noise $nz -net_noise_var 0.5 -output_dir $WORK/nz
  done
  expect_ok "derivatives with $nz noise, sigmoid ce, no bias" 1 $N -data_classify -net_hidden 16,12 -net_bias 0 -net_activation sigmoid -loss ce -net_noise $nz -net_noise_var 0.3 -output_dir $WORK/nz
done
for n in 2 3; do
  expect_ok "derivatives with gaussian noise, tanh ce at $n ranks" $n $N -data_classify -net_hidden 16,16 -net_skip -net_activation tanh -loss ce -net_noise gaussian -net_noise_var 0.5 -output_dir $WORK/nz
done
# The noisy loss is a fixed function of theta: bitwise equal at 1, 2 and 3 ranks, and it changes
# with the noise seed and variance.
E="-data_type teacher -data_n 500 -data_test_n 50 -data_d 5 -data_k 2 -data_chunk_size 16 -net_hidden 12,12 -net_activation tanh -loss mse -reg_l2 0.001 -stages eval"
for n in 1 2 3; do
  expect_ok "eval with dropout at $n ranks" $n $E -net_noise dropout -net_noise_var 0.25 -output_dir $WORK/nze$n
done
for n in 2 3; do
  same_datasets "dropout loss and gradient bitwise equal at 1 and $n ranks" $WORK/nze1/results.h5 $WORK/nze$n/results.h5 /eval/loss /eval/gradient /eval/test_loss
done
expect_ok "eval without noise" 1 $E -output_dir $WORK/nze0
expect_ok "eval with dropout, another noise seed" 1 $E -net_noise dropout -net_noise_var 0.25 -net_noise_seed 7 -output_dir $WORK/nzes
pycheck "noise changes the training loss, and the noise seed changes it, but not the test loss (no noise on test rows)" "
f = lambda d, p: h5py.File('$WORK/' + d + '/results.h5')[p][0]
a, b, c = f('nze0', '/eval/loss'), f('nze1', '/eval/loss'), f('nzes', '/eval/loss')
print(a, b, c); assert a != b and b != c and abs(b - a) < 0.5 * a
assert f('nze0', '/eval/test_loss') == f('nze1', '/eval/test_loss')"
expect_error "negative noise variance" "-net_noise_var" 1 $E -net_noise gaussian -net_noise_var -1

# ---- Stage 'linear' ----
# Data with known moments (64 rows, 4 patterns repeated): iso.h5 has A = I, b = (1, 0), E y^2 = 2;
# aniso.h5 has A = diag(2, 0.5), b = (0.6, 0.8), E y^2 = 1.46 (the cases of research notes C6).
$PY -c "
import h5py, numpy as np
s = np.sqrt(2)
for name, X, Y in (('iso', [[s, 0], [-s, 0], [0, s], [0, -s]], [s, -s, s, s]), ('aniso', [[2, 0], [-2, 0], [0, 1], [0, -1]], [0.6, -0.6, 1.6, -1.6])):
  with h5py.File('$WORK/lin_' + name + '.h5', 'w') as f:
    f['/train/X'] = np.array(X * 16, float); f['/train/Y'] = np.array(Y * 16, float)[:, None]
"
LIN="-data_chunk_size 5 -net_activation linear -net_bias 0 -loss mse -stages linear"
# linrun NAME DATA HIDDEN REG_L2 ARGS...: the linear stage into $WORK/lin_<NAME without blanks>
linrun() {
  local name=$1 data=$2 hidden=$3 reg=$4; shift 4
  expect_ok "linear stage: $name" 1 $LIN -data_file $WORK/lin_$data.h5 -net_hidden $hidden -reg_l2 $reg "$@" -output_dir "$WORK/lin_${name// /_}"
}
# Full-network minima of C6 (paper convention L* = 2 x landscape loss, gamma = 2 reg_l2): the closed form
# must give the reference value and TAO on the exact expected loss must agree with it.
linrun "D=1 sigma2=0.5 gamma=0.3" iso 2 0.15 -net_noise gaussian -net_noise_var 0.5
linrun "D=2 sigma2=0.5 gamma=0.1" iso 2,2 0.05 -net_noise gaussian -net_noise_var 0.5
linrun "D=2 sigma2=0 gamma=0.1" iso 2,2 0.05
linrun "D=2 widths 1,3 dropout 0.5" iso 1,3 0.05 -net_noise dropout -net_noise_var 0.5
linrun "D=2 widths 3,1 dropout 0.5" iso 3,1 0.05 -net_noise dropout -net_noise_var 0.5
linrun "D=2 widths 3,2 dropout 0.5" iso 3,2 0.05 -net_noise dropout -net_noise_var 0.5 -stages linear,eval -net_noise_seed 3
linrun "D=2 anisotropic A" aniso 2,2 0.05 -net_noise dropout -net_noise_var 0.5
linrun "D=2 anisotropic A, TAO nls" aniso 2,2 0.05 -net_noise dropout -net_noise_var 0.5 -linear_tao_type nls
# Beyond the reference table: D = 3 with unequal widths and strong dropout, where only TAO checks the closed form.
linrun "D=3 widths 1,3,2 dropout 1" aniso 1,3,2 0.02 -net_noise dropout -net_noise_var 1
pycheck "D=3 unequal widths: closed form and TAO agree to 1e-8; prediction variance (kappa - 1) v*^T A v* of every case agrees with TAO's to 1e-7" "
import glob
g = h5py.File('$WORK/lin_D=3_widths_1,3,2_dropout_1/results.h5')['/linear']
assert abs(g['loss_tao'][0] - g['loss_closed'][0]) <= 1e-8 * g['loss_closed'][0] and abs(g.attrs['kappa'] - 2 * 4 / 3 * 3 / 2) < 1e-15
n = 0
for f in glob.glob('$WORK/lin_D=*/results.h5'):
  g = h5py.File(f)['/linear']; a, b = g['prediction_variance_tao'][0], g['prediction_variance_closed'][0]
  print(f.split('/')[-2], a, b); assert abs(a - b) <= 1e-7 * max(b, 1e-3); n += 1
assert n >= 8"
pycheck "closed form = C6 reference minima to 1e-6, and TAO agrees with it to 1e-8" "
ref = {'D=1 sigma2=0.5 gamma=0.3': 1.608000, 'D=2 sigma2=0.5 gamma=0.1': 1.573811, 'D=2 sigma2=0 gamma=0.1': 1.289638,
       'D=2 widths 1,3 dropout 0.5': 1.626488, 'D=2 widths 3,1 dropout 0.5': 1.626488, 'D=2 widths 3,2 dropout 0.5': 1.538384,
       'D=2 anisotropic A': 1.46 - 0.638719, 'D=2 anisotropic A, TAO nls': 1.46 - 0.638719}
for name, L in ref.items():
  g = h5py.File('$WORK/lin_' + name.replace(' ', '_') + '/results.h5')['/linear']
  lc, lt, lp = g['loss_closed'][0], g['loss_tao'][0], g['loss_closed_paper'][0]
  print(name, lp, L, abs(lt - lc) / lc)
  assert abs(lp - L) <= 1e-6 and lp == 2 * lc and abs(lt - lc) <= 1e-8 * lc"
pycheck "anisotropic case: v*, |v*|, layer norms of C6; TAO's end-to-end map and balanced layers agree" "
g = h5py.File('$WORK/lin_D=2_anisotropic_A/results.h5')['/linear']
v, vt = g['v_closed'][:], g['v_tao'][:]; print(v, vt, g['layer_norm2_tao'][:])
assert np.allclose(v, [0.185313, 0.894837], atol=1e-6) and abs(np.linalg.norm(v) - 0.913824) < 1e-6
assert np.linalg.norm(vt - v) < 1e-6 and np.allclose(g['layer_norm2_tao'][:], 0.94169, atol=1e-5) and abs(g['layer_norm2_closed'][0] - 0.94169) < 1e-5
assert np.allclose(g['A'][:], np.diag([2, 0.5]), atol=1e-15) and np.allclose(g['b'][:], [0.6, 0.8], atol=1e-15)"
# The exact expected loss against an independent computation: enumerate the 2^5 dropout masks of the
# 3,2 net at TAO's minimiser; and the sampled dropout loss of the eval stage against numpy with the
# same counter-based multipliers (splitmix64, stream 1000 + layer, index row * width + unit).
pycheck "exact expected loss = enumeration of dropout masks; sampled loss = numpy with the same multipliers" "
import itertools
f = h5py.File('$WORK/lin_D=2_widths_3,2_dropout_0.5/results.h5')
th = f['/theta'][:]; d = h5py.File('$WORK/lin_iso.h5'); X = d['/train/X'][:]; Y = d['/train/Y'][:, 0]
W1, W2, U = th[:6].reshape(3, 2), th[6:12].reshape(2, 3), th[12:14].reshape(1, 2)
p, reg = 1 / 1.5, 0.05 * (th ** 2).sum()
E = 0
for m in itertools.product([0, 1], repeat=5):
  e = np.where(np.array(m) == 1, 1 / p, 0.0); pr = np.prod(np.where(np.array(m) == 1, p, 1 - p))
  fx = (U @ (e[3:, None] * (W2 @ (e[:3, None] * (W1 @ X.T)))))[0]
  E += pr * 0.5 * ((fx - Y) ** 2).mean()
print(E + reg, f['/linear/loss_tao'][0]); assert abs(E + reg - f['/linear/loss_tao'][0]) <= 1e-13
M = (1 << 64) - 1
def mix(z):
  z &= M; z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M; z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M; return z ^ (z >> 31)
def unif(seed, stream, i): return ((mix(mix(mix(seed + 0x9e3779b97f4a7c15) + stream) + i) >> 11) + 0.5) / 2.0 ** 53
eps = lambda l, w: np.array([[1 / p if unif(3, 1000 + l, r * w + j) < p else 0.0 for j in range(w)] for r in range(len(X))])
fx = ((eps(2, 2) * ((eps(1, 3) * (X @ W1.T)) @ W2.T)) @ U.T)[:, 0]
Ls = 0.5 * ((fx - Y) ** 2).mean() + reg
print(Ls, f['/eval/loss'][0]); assert abs(Ls - f['/eval/loss'][0]) <= 1e-13 * Ls"
# Non-zero stationary points of C6 (sigma^2 = 0, widths 2): per-layer norm lambda = |v|^(1/(D+1)), |v|, l;
# at D=2, gamma=0.42 the non-zero point is only a local minimum and the origin is global.
for c in "1 0.5" "1 0.1" "2 0.1" "2 0.3" "2 0.42" "3 0.1" "3 0.2"; do
  set -- $c
  hid=$(printf '2,%.0s' $(seq $1)); hid=${hid%,}
  linrun "roots D=$1 gamma=$2" iso $hid $($PY -c "print($2 / 2)")
done
pycheck "non-zero stationary points: lambda, |v| and l of C6 to 1e-6; the smaller root (D=2) too" "
ref = [(1, 0.5, 0.707107, 0.5, -0.25, None), (1, 0.1, 0.948683, 0.9, -0.81, None), (2, 0.1, 0.964158, 0.896283, -0.710362, 0.100100),
       (2, 0.3, 0.868218, 0.654465, -0.202183, 0.309132), (2, 0.42, 0.768133, 0.453219, 0.042404, None),
       (3, 0.1, 0.972445, 0.894253, -0.610558, None), (3, 0.2, 0.937489, 0.772439, -0.245108, None)]
for D, gam, lam, vn, ell, lam2 in ref:
  g = h5py.File('$WORK/lin_roots_D=%d_gamma=%g/results.h5' % (D, gam))['/linear']
  t, ts = g['roots'][:]; e = g['ell_nonzero'][0]
  print(D, gam, t ** (1 / (D + 1)), t, e, ts ** (1 / (D + 1)))
  assert abs(t ** (1 / (D + 1)) - lam) < 1e-6 and abs(t - vn) < 1e-6 and abs(e - ell) < 1e-6
  if lam2: assert abs(ts ** (1 / (D + 1)) - lam2) < 1e-6
  og = g.attrs['origin_global']; assert og == (ell > 0)
  assert (abs(g['loss_closed'][0] - 1.0) < 1e-12) == (ell > 0) and abs(g['loss_tao'][0] - g['loss_closed'][0]) <= 1e-8"
# Thresholds of C6 (A = I, |b| = 1, kappa = 1) by bisection, against the table and the isotropic formulas,
# and the phase table against them (codes 0: origin global, 1: bad local minimum, 2: saddle).
linrun "thresholds" iso 2,2 0.05 -linear_phase_depths 1,2,3,4,5 -linear_phase_reg_l2 0.05,0.1,0.15,0.19,0.21,0.3,0.6
pycheck "gamma_c, gamma_e for D = 1..5 = C6 table to 1e-6 and the formulas to 1e-9; phase codes follow from them" "
g = h5py.File('$WORK/lin_thresholds/results.h5')['/linear']
gc = [1, 0.396850, 0.272166, 0.210367, 0.172355]; ge = [1, 0.472470, 0.384900, 0.346975, 0.325730]
print(g['gamma_c'][:], g['gamma_e'][:])
assert np.allclose(g['gamma_c'][:], gc, atol=1e-6, rtol=0) and np.allclose(g['gamma_e'][:], ge, atol=1e-6, rtol=0)
assert np.allclose(g['gamma_c'][:], g['gamma_c_formula'][:], atol=1e-9, rtol=0) and np.allclose(g['gamma_e'][:], g['gamma_e_formula'][:], atol=1e-9, rtol=0)
ph, regs = g['phase'][:], g['phase_reg_l2'][:]; print(ph)
for i, D in enumerate(range(1, 6)):
  for k, r in enumerate(regs):
    want = (2 if 2 * r < 1 else 0) if D == 1 else (1 if 2 * r < gc[i] else 0)
    assert ph[i, k] == want, (D, r, ph[i, k], want)"
# Hessian at the origin by SLEPc: 2 reg_l2 I at D >= 2 (with noise too); D = 1 without noise: 2 reg_l2 -+ |b|.
pycheck "Hessian at the origin: D=2 eigenvalues 2 reg_l2 = 0.1; D=1 (reg_l2 0.25, |b| = 1) -0.5 and 1.5" "
for name in ('D=2 sigma2=0 gamma=0.1', 'D=2 sigma2=0.5 gamma=0.1', 'D=2 anisotropic A'):
  ev = h5py.File('$WORK/lin_' + name.replace(' ', '_') + '/results.h5')['/linear/hessian_origin_eigenvalues'][:]; print(name, ev)
  assert np.allclose(ev, [0.1, 0.1], atol=1e-12, rtol=0)
ev = h5py.File('$WORK/lin_roots_D=1_gamma=0.5/results.h5')['/linear/hessian_origin_eigenvalues'][:]; print(ev)
assert np.allclose(ev, [-0.5, 1.5], atol=1e-10, rtol=0)"
# The exact gradient against central differences (checked in the run; the value is recorded).
linrun "gradient check, D=3, unequal widths, gaussian noise" aniso 3,1,2 0.02 -net_noise gaussian -net_noise_var 0.7
pycheck "exact gradient matches central differences to 1e-7" "
for name in ('gradient check, D=3, unequal widths, gaussian noise', 'D=2 anisotropic A'):
  e = h5py.File('$WORK/lin_' + name.replace(' ', '_') + '/results.h5')['/linear/gradient_fd'][0]; print(e); assert e < 1e-7"
expect_error "the gradient check can fail (tolerance 0)" "check(s) failed" 1 $LIN -data_file $WORK/lin_iso.h5 -net_hidden 2,2 -reg_l2 0.05 -linear_check_tol 0
# The same numbers at 1, 2 and 3 ranks: bitwise for everything but SLEPc's eigenvalues.
for n in 1 2 3; do
  expect_ok "linear stage at $n ranks" $n $LIN -data_file $WORK/lin_aniso.h5 -net_hidden 3,2 -reg_l2 0.05 -net_noise dropout -net_noise_var 0.5 -linear_phase_reg_l2 0.05,0.1 -stages linear,eval -output_dir $WORK/linr$n
done
for n in 2 3; do
  same_datasets "linear stage bitwise equal at 1 and $n ranks" $WORK/linr1/results.h5 $WORK/linr$n/results.h5 /linear/A /linear/b /linear/loss_tao /linear/loss_closed /linear/v_tao /linear/v_closed /linear/gamma_c /linear/gamma_e /linear/phase /theta /eval/loss
  pycheck "Hessian eigenvalues at the origin agree at 1 and $n ranks to 1e-12" "
a = h5py.File('$WORK/linr1/results.h5')['/linear/hessian_origin_eigenvalues'][:]; b = h5py.File('$WORK/linr$n/results.h5')['/linear/hessian_origin_eigenvalues'][:]
assert np.allclose(a, b, atol=1e-12, rtol=0)"
done
# Small initialisation (std 0.05) and full-batch gradient descent on the same data, reg_l2 0.05 (gamma 0.1):
# D = 1 escapes to the global minimum 1/2 (2 - (1 - 0.1)^2) = 0.595, D = 2 stays at the origin (loss 1)
# although its global minimum is 1.289638 / 2: the origin is a bad local minimum.
GD="$LIN -data_file $WORK/lin_iso.h5 -data_chunk_size 64 -reg_l2 0.05 -net_init normal -net_init_scale 0.05 -stages train -train_type sgd -train_batch_size 64 -train_lr 0.1 -train_max_it 3000 -train_epochs 3000 -train_monitor 0"
expect_ok "small-init gradient descent, D=1" 1 $GD -net_hidden 2 -output_dir $WORK/lin_gd1
expect_ok "small-init gradient descent, D=2" 1 $GD -net_hidden 2,2 -output_dir $WORK/lin_gd2
pycheck "small init: D=1 reaches its global minimum, D=2 stays at the origin" "
a = h5py.File('$WORK/lin_gd1/results.h5')['/train'].attrs['loss']; b = h5py.File('$WORK/lin_gd2/results.h5')['/train'].attrs['loss']
t = h5py.File('$WORK/lin_gd2/results.h5')['/theta'][:]; print(a, b, abs(t).max())
assert abs(a - 0.595) < 1e-9 and abs(b - 1.0) < 1e-12 and abs(t).max() < 1e-6"
# Only deep linear nets: one-line errors.
expect_error "linear stage on a relu net" "needs a deep linear network" 1 $LIN -data_file $WORK/lin_iso.h5 -net_hidden 2,2 -net_activation relu
expect_error "linear stage with biases" "needs a deep linear network" 1 $LIN -data_file $WORK/lin_iso.h5 -net_hidden 2,2 -net_bias 1
expect_error "linear stage with two outputs" "needs a deep linear network" 2 $LIN -data_type teacher -data_n 50 -data_d 3 -data_k 2 -net_hidden 2
