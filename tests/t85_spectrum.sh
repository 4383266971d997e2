# Hessian spectrum (SLEPc) and stationary points: known spectra (a quadratic model, a deep linear
# net at the origin), the Morse index of constructed saddles, Newton converging to a saddle,
# agreement at 1, 2 and 3 ranks, every copy of a multiple eigenvalue (a constructed spectrum with
# copies straddling the k-th position), stochastic Lanczos quadrature and Hutchinson against the
# exact spectrum, checkpoint inside an eigensolve (and inside a deflated one) with a warm-started
# resume, and bad options.
S=$WORK/spec; mkdir -p $S
# Data written here, so that numpy knows X: a regression set (d = 30, one target) for the
# quadratic model and a small one (d = 4) for the linear nets.
$PY - <<EOF
import h5py, numpy as np
r = np.random.default_rng(7)
for name, n, d in (("quad", 400, 30), ("lin", 300, 4)):
    X = r.standard_normal((n, d)) @ np.diag(np.linspace(0.3, 2.0, d))
    y = X @ r.standard_normal(d) + 0.1 * r.standard_normal(n)
    with h5py.File("$S/%s.h5" % name, "w") as f:
        f["/train/X"] = X; f["/train/Y"] = y[:, None]
# A prescribed spectrum with multiple eigenvalues: centred columns X = U diag(sqrt(n mu)) V^T (U
# orthonormal and orthogonal to the ones vector), so the quadratic model's Hessian (mse, intercept,
# no regulariser) is blockdiag(X^T X / n, 1): eigenvalues mu and 1. mu holds 0.1, 0.13, then 0.2
# eight times (positions 3-10), a spread of simple ones, then 3.02 eight times, 3.04, 3.06: with
# k = 5 the copies straddle the k-th position at both ends. P = 301, wider than the search space.
n, d, m = 400, 300, 8
mu = np.concatenate([[0.1, 0.13], [0.2] * m, np.linspace(0.3, 3.0, d - 2 * m - 4), [3.02] * m, [3.04, 3.06]])
r = np.random.default_rng(11)
A = r.standard_normal((n, d)); A -= A.mean(axis=0)
U, _ = np.linalg.qr(A); V, _ = np.linalg.qr(r.standard_normal((d, d)))
X = U @ np.diag(np.sqrt(n * mu)) @ V.T
with h5py.File("$S/mult.h5", "w") as f:
    f["/train/X"] = X; f["/train/Y"] = (X @ r.standard_normal(d))[:, None]
EOF

# 1. Quadratic model (no hidden layer, mse, L2 on the weights only): H = X1^T X1 / N + 2 gamma diag(1..1, 0).
Q="-data_file $S/quad.h5 -net_hidden 0 -loss mse -reg_l2 0.05 -stages spectrum -spectrum_eps_tol 1e-12"
expect_ok "quadratic model: minimised by TAO Newton, then the spectrum stage" 2 $Q -stages train,spectrum -train_type tao -train_tao_type nls -train_monitor 0 -output_dir $S/q
pycheck "quadratic model: 5 smallest, 5 largest and all 31 eigenvalues equal numpy's (1e-10), residuals small, verdict local minimum" "
f = h5py.File('$S/quad.h5'); X = f['/train/X'][()]; n, d = X.shape
X1 = np.hstack([X, np.ones((n, 1))]); H = X1.T @ X1 / n + np.diag([0.1] * d + [0.0])
ev = np.linalg.eigvalsh(H)
r = h5py.File('$S/q/results.h5'); s = r['/spectrum']
sm = s['smallest/values'][()].ravel(); lg = s['largest/values'][()].ravel(); de = s['dense/eigenvalues'][()].ravel()
sc = ev.max()
assert np.allclose(sm, ev[:5], rtol=0, atol=1e-10 * sc), (sm, ev[:5])
assert np.allclose(lg, ev[::-1][:5], rtol=0, atol=1e-10 * sc), (lg, ev[-5:])
assert np.allclose(de, ev, rtol=0, atol=1e-12 * sc)
assert s['smallest/residuals'][()].max() < 1e-10 * sc and s['largest/residuals'][()].max() < 1e-10 * sc
assert s.attrs['verdict'] == b'local minimum', s.attrs['verdict']
assert s.attrs['num_negative'] == 0 and s.attrs['num_positive'] == d + 1"

# 2. Deep linear nets at the origin. Two hidden layers: every data term is of order >= 3, so the
#    Hessian is 2 gamma I exactly. One hidden layer of width m: blocks [[2g, -b^T], [-b, 2g I]] with
#    b = mean(x y): eigenvalues 2g -+ |b| (m times each) and 2g; a saddle of index m when |b| > 2g.
L="-data_file $S/lin.h5 -net_activation linear -net_bias 0 -net_init normal -net_init_scale 0 -loss mse -stages spectrum"
expect_ok "deep linear net (2 hidden layers) at the origin" 3 $L -net_hidden 3,5 -reg_l2 0.3 -output_dir $S/dl2
pycheck "two hidden layers: all eigenvalues 2 gamma = 0.6 (dense and SLEPc), verdict local minimum" "
s = h5py.File('$S/dl2/results.h5')['/spectrum']
for ds in ('dense/eigenvalues', 'smallest/values', 'largest/values'):
    v = s[ds][()].ravel(); assert np.allclose(v, 0.6, rtol=0, atol=1e-13), (ds, v)
assert s.attrs['verdict'] == b'local minimum'"
for g in 0.01 2.0; do
  expect_ok "deep linear net (1 hidden layer, width 3) at the origin, gamma $g" 2 $L -net_hidden 3 -reg_l2 $g -output_dir $S/dl1_$g
done
pycheck "one hidden layer: eigenvalues 2g -+ |b| and 2g; Morse index 3 below the threshold, a local minimum above it" "
f = h5py.File('$S/lin.h5'); X = f['/train/X'][()]; y = f['/train/Y'][()].ravel(); b = np.linalg.norm(X.T @ y / len(y))
for g, index, verdict in ((0.01, 3, b'strict saddle of index 3'), (2.0, 0, b'local minimum')):
    s = h5py.File('$S/dl1_%s/results.h5' % g)['/spectrum']
    de = s['dense/eigenvalues'][()].ravel()
    want = np.sort([2 * g - b] * 3 + [2 * g + b] * 3 + [2 * g] * 9)
    assert np.allclose(de, want, rtol=0, atol=1e-12), (de, want)
    assert s.attrs['num_negative'] == index and s.attrs['verdict'] == verdict, (s.attrs['num_negative'], s.attrs['verdict'])"

# 3. Newton (SNES + MINRES) started near that saddle converges to it, where gradient descent
#    would leave; so does the gradient-norm minimisation (TAO). Then the spectrum stage classifies it.
for t in newton gradnorm; do
  expect_ok "stationary ($t) from near the index-3 saddle, then spectrum" 2 $L -net_hidden 3 -reg_l2 0.01 -net_init_scale 0.05 -stages stationary,spectrum -stationary_type $t -stationary_monitor 0 -output_dir $S/st_$t
  pycheck "stationary ($t): reached ||grad L|| <= 1e-10 at the origin, index 3" "
f = h5py.File('$S/st_$t/results.h5'); st = f['/stationary']; s = f['/spectrum']
assert st.attrs['verdict'] == b'reached' and st.attrs['gradient_norm'] <= 1e-10, dict(st.attrs)
assert np.abs(f['/theta'][()]).max() < 1e-9, np.abs(f['/theta'][()]).max()
assert s.attrs['verdict'] == b'strict saddle of index 3', s.attrs['verdict']"
done
# Newton at a local minimum of a tanh net reached by training: the index there is 0 (or degenerate).
T="-data_type teacher -data_n 600 -data_d 5 -data_k 1 -data_chunk_size 32 -net_hidden 8,8 -net_activation tanh -loss mse -reg_l2 1e-3"
expect_ok "tanh net: train, Newton polish, spectrum" 2 $T -stages train,stationary,spectrum -train_type tao -train_max_it 300 -train_monitor 0 -stationary_monitor 0 -output_dir $S/tanh
pycheck "tanh net: Newton reaches the critical point (quadratic convergence at the end) and its verdict is consistent with the dense spectrum" "
f = h5py.File('$S/tanh/results.h5'); st = f['/stationary']; s = f['/spectrum']
h = f['/stationary/history'][()]
assert st.attrs['verdict'] == b'reached', dict(st.attrs)
de = s['dense/eigenvalues'][()].ravel(); z = s.attrs['zero_band']
neg = int((de < -z).sum()); assert s.attrs['num_negative'] == neg
v = s.attrs['verdict'].decode()
assert (neg == 0 and v in ('local minimum', 'degenerate')) or v == 'strict saddle of index %d' % neg, (v, neg)"

# 4. The same eigenvalues at 1, 2 and 3 ranks. The dense Hessian is assembled from products that are
#    bitwise reproducible, so its eigenvalues are too; SLEPc's reductions are not, so its eigenvalues
#    agree to round-off.
for n in 1 2 3; do
  expect_ok "tanh net spectrum at $n rank(s)" $n $T -net_theta $S/tanh/results.h5 -stages spectrum -spectrum_eps_tol 1e-12 -output_dir $S/r$n
done
same_datasets "dense Hessian eigenvalues bitwise equal at 1, 2 and 3 ranks" $S/r1/results.h5 $S/r2/results.h5 /spectrum/dense/eigenvalues
same_datasets "dense Hessian eigenvalues bitwise equal at 1 and 3 ranks" $S/r1/results.h5 $S/r3/results.h5 /spectrum/dense/eigenvalues
pycheck "SLEPc eigenvalues (tol 1e-12) at 1, 2 and 3 ranks: every copy present, so the 5 smallest and 5 largest agree position by position across ranks and with the dense ones (1e-9 of ||H||), and the file says so" "
v = [h5py.File('$S/r%d/results.h5' % n)['/spectrum'] for n in (1, 2, 3)]
de = v[0]['dense/eigenvalues'][()].ravel(); sc = np.abs(de).max()
for s in v:
    sm = s['smallest/values'][()].ravel(); lg = s['largest/values'][()].ravel()
    assert np.allclose(sm, de[:5], rtol=0, atol=1e-9 * sc), (sm, de[:5])
    assert np.allclose(lg, de[::-1][:5], rtol=0, atol=1e-9 * sc), (lg, de[::-1][:5])
    for t in ('smallest', 'largest'):
        assert np.allclose(s[t + '/values'][()].ravel(), v[0][t + '/values'][()].ravel(), rtol=0, atol=1e-9 * sc)
        a = s[t].attrs
        assert a['multiplicity_check'] == 1 and a['dense_agree'] == 1 and a['dense_max_difference'] < 1e-9, dict(a)"

# A known multiple eigenvalue at the boundary of the k requested (the data above): a single-vector
# Krylov solve returns some copies of 0.2 and 3.02 and not others, and which depends on round-off;
# the deflated solves of the multiplicity check find the rest.
M="-data_file $S/mult.h5 -net_hidden 0 -loss mse -stages spectrum -spectrum_eps_nev 5 -spectrum_eps_tol 1e-12"
for n in 1 2 3; do
  expect_ok "constructed spectrum with 8 copies at each end, straddling the 5th position, at $n rank(s)" $n $M -output_dir $S/m$n
done
pycheck "constructed spectrum: the 5 smallest are 0.1, 0.13, 0.2, 0.2, 0.2 and the 5 largest 3.06, 3.04, 3.02, 3.02, 3.02 at 1, 2 and 3 ranks, position by position (1e-9 of ||H||); the file counts the copies and agrees with the dense eigenvalues" "
want = {'smallest': [0.1, 0.13, 0.2, 0.2, 0.2], 'largest': [3.06, 3.04, 3.02, 3.02, 3.02]}
for n in (1, 2, 3):
    s = h5py.File('$S/m%d/results.h5' % n)['/spectrum']; de = s['dense/eigenvalues'][()].ravel(); sc = np.abs(de).max()
    assert abs(sc - 3.06) < 1e-12 and np.allclose(de[:10], [0.1, 0.13] + [0.2] * 8, rtol=0, atol=1e-12), de[:10]
    for t, w in want.items():
        v = s[t + '/values'][()].ravel(); a = s[t].attrs
        assert np.allclose(v, w, rtol=0, atol=1e-9 * sc), (n, t, v)
        assert a['multiplicity_check'] == 1 and a['kth_copies'] >= 3 and a['dense_agree'] == 1, (n, t, dict(a))
        assert s[t + '/residuals'][()].max() < 1e-10 * sc, s[t + '/residuals'][()]"
# The check off: whatever the solve returns, the file never contradicts its dense eigenvalues in silence.
expect_ok "constructed spectrum, -spectrum_multiplicity_check 0" 1 $M -spectrum_multiplicity_check 0 -output_dir $S/m0
pycheck "without the check, dense_agree says whether the values equal the dense ones position by position, and a disagreement names a missing copy" "
s = h5py.File('$S/m0/results.h5')['/spectrum']; de = s['dense/eigenvalues'][()].ravel(); sc = np.abs(de).max()
for t, d in (('smallest', de[:5]), ('largest', de[::-1][:5])):
    a = s[t].attrs; same = np.allclose(s[t + '/values'][()].ravel(), d, rtol=0, atol=1e-9 * sc)
    assert a['multiplicity_check'] == -1 and a['deflated_solves'] == 0 and a['dense_agree'] == same, (t, dict(a))
    assert same or b'a copy of a multiple eigenvalue is missing' in a['dense_agreement'], a['dense_agreement']"
# -spectrum_which largest: the verdict sentence holds only what was computed (no lambda_min = nan).
expect_ok "tanh net, -spectrum_which largest, no dense path" 1 $T -net_theta $S/tanh/results.h5 -stages spectrum -spectrum_which largest -spectrum_dense_max 0 -output_dir $S/wl
if printf '%s' "$LAST_OUT" | grep -qi 'nan'; then not_ok "-spectrum_which largest prints no nan" "$LAST_OUT"; else ok "-spectrum_which largest prints no nan"; fi
pycheck "-spectrum_which largest: verdict_basis has lambda_max and no lambda_min; no smallest group" "
s = h5py.File('$S/wl/results.h5')['/spectrum']; b = s.attrs['verdict_basis'].decode()
assert 'lambda_max = ' in b and 'lambda_min' not in b and 'nan' not in b.lower(), b
assert 'smallest' not in s and 'largest/values' in s"

# SLEPc's power method (largest magnitude only) works through the stage: the smallest come from a
# shift by ||H||. Same eigenvalues as the dense path, in the same order.
expect_ok "quadratic model with -spectrum_eps_type power" 2 $Q -spectrum_eps_type power -spectrum_eps_nev 3 -spectrum_eps_tol 1e-11 -spectrum_eps_max_it 100000 -output_dir $S/pw
pycheck "power method: 3 smallest (ascending) and 3 largest (descending) equal the dense eigenvalues (1e-9 of ||H||)" "
s = h5py.File('$S/pw/results.h5')['/spectrum']; de = s['dense/eigenvalues'][()].ravel(); sc = de.max()
assert np.allclose(s['smallest/values'][()].ravel(), de[:3], rtol=0, atol=1e-9 * sc), (s['smallest/values'][()], de[:3])
assert np.allclose(s['largest/values'][()].ravel(), de[::-1][:3], rtol=0, atol=1e-9 * sc)"

# 5. Stochastic Lanczos quadrature and Hutchinson against the exact spectrum of the quadratic model:
#    with as many Lanczos steps as parameters the quadrature nodes are the eigenvalues.
expect_ok "SLQ (31 steps) and Hutchinson (200 probes) on the quadratic model" 2 $Q -spectrum_which none -spectrum_slq_probes 3 -spectrum_slq_steps 31 -spectrum_trace_probes 200 -output_dir $S/slq
pycheck "SLQ nodes are the eigenvalues, weights sum to 1; Hutchinson's trace within 4 standard errors" "
r = h5py.File('$S/slq/results.h5')['/spectrum']; ev = r['dense/eigenvalues'][()].ravel()
nodes = r['slq/nodes'][()]; w = r['slq/weights'][()]
assert np.allclose(w.sum(axis=1), 1, atol=1e-12), w.sum(axis=1)
for p in range(3):
    for t, wt in zip(nodes[p], w[p]):
        if wt > 1e-8: assert np.abs(ev - t).min() < 1e-8 * ev.max(), (t, wt)
tr, se, k = r['trace'][()].ravel()
assert k == 200 and abs(tr - ev.sum()) < 4 * se, (tr, se, ev.sum())"

# 6. A signal inside the largest-eigenpair solve: checkpoint with the leading basis vectors, exit
#    75; the resumed run (another rank count) warm-starts and ends with the same eigenvalues.
W="$T -net_theta $S/tanh/results.h5 -stages spectrum -spectrum_which largest -spectrum_eps_nev 4 -spectrum_eps_ncv 6 -spectrum_dense_max 0"
expect_ok "spectrum with a narrow search space, uninterrupted" 2 $W -output_dir $S/ck_ref
out=$(land 2 $W -output_dir $S/ck -checkpoint_signal_at 2 2>&1); rc=$?
if [ $rc -eq 75 ] && [ -f $S/ck/checkpoints/latest ]; then ok "SIGUSR1 at eigensolver iteration 2: checkpoint and exit 75"; else not_ok "signal inside EPSSolve (rc=$rc)" "$out"; fi
out=$(land 3 $W -output_dir $S/ck -restart auto 2>&1)
if [ $? -eq 0 ] && printf '%s' "$out" | grep -q "warm start from"; then ok "resumed at 3 ranks from the saved basis (warm start)"; else not_ok "resume of the spectrum stage" "$out"; fi
pycheck "resumed eigenvalues equal the uninterrupted ones (1e-8 of ||H||)" "
a = h5py.File('$S/ck_ref/results.h5')['/spectrum']; b = h5py.File('$S/ck/results.h5')['/spectrum']
for p in ('largest',):
    x = a[p + '/values'][()].ravel(); y = b[p + '/values'][()].ravel(); sc = abs(a['largest/values'][()].ravel()[0])
    assert np.allclose(x, y, rtol=0, atol=1e-8 * sc), (p, x, y)"
# The same inside the multiplicity check: the signal lands in the first deflated solve (the poll
# counts the part's iterations over its solves), and the checkpoint holds the pairs locked so far.
first=$($PY -c "import h5py; g = h5py.File('$S/ck_ref/results.h5')['/spectrum/largest']; its = int(g['solver'][()].ravel()[0]); d = int(g.attrs['deflated_iterations']); assert d >= 2, d; print(its - d)" 2>&1)
case $first in
  '' | *[!0-9]*) not_ok "the reference run's first solve and deflated iterations" "$first"; first=0 ;;
  *) out=$(land 2 $W -output_dir $S/ckd -checkpoint_signal_at $((first + 1)) 2>&1); rc=$?
     if [ $rc -eq 75 ]; then ok "SIGUSR1 at iteration $((first + 1)), inside the first deflated solve: checkpoint and exit 75"; else not_ok "signal inside the deflated solve (rc=$rc, first solve: $first iterations)" "$out"; fi ;;
esac
out=$(land 3 $W -output_dir $S/ckd -restart auto 2>&1)
if [ $? -eq 0 ] && printf '%s' "$out" | grep -q "multiplicity check resumed with [1-9][0-9]* locked pairs"; then ok "resumed at 3 ranks inside the multiplicity check, with its locked pairs"; else not_ok "resume inside the multiplicity check" "$out"; fi
pycheck "resumed inside the multiplicity check: eigenvalues equal the uninterrupted ones (1e-8 of ||H||), check completed" "
a = h5py.File('$S/ck_ref/results.h5')['/spectrum/largest']; b = h5py.File('$S/ckd/results.h5')['/spectrum/largest']
x = a['values'][()].ravel(); y = b['values'][()].ravel()
assert np.allclose(x, y, rtol=0, atol=1e-8 * abs(x[0])), (x, y)
assert b.attrs['multiplicity_check'] == 1 and b.attrs['deflated_solves'] >= 1, dict(b.attrs)"
# Warm start from the eigenvectors of an earlier run: far fewer products.
expect_ok "warm start from an earlier run's eigenvectors (-spectrum_initial)" 2 $W -spectrum_initial $S/ck_ref/results.h5 -output_dir $S/warm
pycheck "the warm-started solve needs fewer Hessian products than the cold one" "
a = h5py.File('$S/ck_ref/results.h5')['/spectrum/hessian_products'][()].ravel()[0]
b = h5py.File('$S/warm/results.h5')['/spectrum/hessian_products'][()].ravel()[0]
assert b < a, (a, b)"

# 7. Bad options: one line, nothing written.
expect_error "unknown -spectrum_eps_type" "Unknown EPS type given: nosuch" 1 $Q -spectrum_eps_type nosuch
expect_error "a -spectrum_eps_<which> option is refused, not overridden" "use -spectrum_which" 1 $Q -spectrum_eps_largest_magnitude
expect_error "-spectrum_slq_steps 1" "slq_steps" 1 $Q -spectrum_slq_steps 1
expect_error "-spectrum_initial: missing file" "no such file" 1 $Q -spectrum_initial $S/none.h5
expect_error "an eigensolve that cannot converge names the options to change" "did not converge" 1 $W -spectrum_eps_max_it 1 -spectrum_eps_tol 1e-14
expect_error "unknown -stationary_type" "nosuch" 1 $L -net_hidden 3 -stages stationary -stationary_type nosuch
