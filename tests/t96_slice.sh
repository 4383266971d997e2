# Stage 'slice' and the persistent homology of sublevel sets (docs/slice.md).
# Part 1: 'landscape topology' on synthetic grids with known topology, and GUDHI as an independent
# oracle. Part 2: slice values against numpy and the eval stage, directions, ranks, restart, errors.
SL=$WORK/slice
mkdir -p $SL

# ---- Part 1: synthetic grids ----
$PY -c "
import h5py, numpy as np
x = np.linspace(-2, 2, 81); y = np.linspace(-1.5, 1.5, 61); X, Y = np.meshgrid(x, y)
r = np.random.default_rng(3)
with h5py.File('$SL/grids.h5', 'w') as f:
  f['two_basins'] = (X**2 - 1)**2 + Y**2                      # minima at (+-1, 0), saddle at the origin (value 1)
  x = np.linspace(-2, 2, 81); X, Y = np.meshgrid(x, x); R = np.hypot(X, Y)
  f['ring'] = (R - 1)**2 + 0.05 * X                          # a valley around a peak: one hole from ~0.05 to f(0,0) = 1
  x = np.linspace(-1, 1, 41); X, Y = np.meshgrid(x, x)
  f['monkey'] = X**3 - 3 * X * Y**2                          # a monkey saddle: three lower sectors meet at 0
  g = np.zeros((30, 40)); gx, gy = np.meshgrid(np.arange(40), np.arange(30))
  for k in range(12):
    g += r.normal() * np.exp(-((gx - r.uniform(0, 40))**2 + (gy - r.uniform(0, 30))**2) / r.uniform(10, 60))
  f['bumps'] = g                                             # a random smooth landscape
  f['noise'] = r.normal(size=(17, 23))                       # many small features
  f['line'] = np.sin(np.linspace(0, 13, 200)) + 0.1 * np.linspace(0, 13, 200)
  n = r.normal(size=(5, 5)); n[2, 3] = np.nan; f['nan'] = n
  f['cube'] = np.zeros((2, 2, 2))
"
# 'landscape topology' is a subcommand: it comes first, before the options
topology() { mpiexec -n 1 "$LAND" topology -skip_petscrc "$@"; }
topology_error() { # NAME PATTERN ARGS...: a non-zero exit with one stderr error line naming the cause
  local name=$1 pat=$2 out err rc nerr; shift 2
  capture topology "$@"
  if one_error_line landscape "$pat"; then ok "$name"; else not_ok "$name (rc=$rc, error lines=$nerr)" "$(streams)"; fi
}
for g in two_basins ring monkey bumps noise line; do
  if out=$(topology -topology_input $SL/grids.h5:/$g -topology_levels 201 -output_dir $SL/topo_$g 2>&1); then
    ok "topology of the '$g' grid"; else not_ok "topology of the '$g' grid" "$out"; fi
done
# topo NAME CODE: p = /topology of grid NAME (h0, h1, crit, betti, v = the values)
topo() {
  pycheck "$1" "
f = h5py.File('$SL/topo_$2/results.h5'); t = f['/topology']
h0, h1, crit, betti, v = t['h0'][:], t['h1'][:], t['critical'][:], t['betti'][:], t['values'][:]
fin0 = h0[np.isfinite(h0[:, 1])]; big0 = fin0[fin0[:, 1] - fin0[:, 0] > 1e-3]; big1 = h1[h1[:, 1] - h1[:, 0] > 1e-3]
$3"
}
topo "two basins: one finite H0 pair (0, 1), no hole, 2 minima and 1 saddle" two_basins "
print(big0, crit)
assert len(big0) == 1 and abs(big0[0, 0]) < 1e-12 and abs(big0[0, 1] - 1) < 1e-12
assert np.isinf(h0[:, 1]).sum() == 1 and len(big1) == 0 and list(crit) == [2, 1, 0]
assert np.all(betti[(betti[:, 0] > 1e-9) & (betti[:, 0] < 1), 1] == 2)"
topo "ring valley: one hole born where the ring closes (~0.05) and filled at the peak (1)" ring "
print(big1, crit, t.attrs['total_persistence_h1'])
assert len(big1) == 1 and abs(big1[0, 0] - 0.05) < 0.01 and abs(big1[0, 1] - 1) < 1e-12
mid = betti[(betti[:, 0] > 0.07) & (betti[:, 0] < 0.98)]
assert len(mid) > 50 and np.all(mid[:, 2] == 1) and np.all(mid[:, 1] == 1)
assert crit[2] == 1 and crit[0] - crit[1] + crit[2] == 1"
topo "monkey saddle: three lower sectors merge at 0 (a saddle of multiplicity 2)" monkey "
print(fin0, crit)
assert (np.abs(fin0[:, 1]) < 1e-12).sum() == 2 and list(crit) == [3, 2, 0]
assert np.all(betti[(betti[:, 0] < -1e-9) & (betti[:, 0] > -0.5), 1] == 3)"
topo "a line: b1 = 0, H0 pairs = the local minima but one" line "
lm = sum(1 for i in range(len(v[0])) if (i == 0 or v[0][i] < v[0][i-1]) and (i == len(v[0]) - 1 or v[0][i] < v[0][i+1]))
lmax = sum(1 for i in range(1, len(v[0]) - 1) if v[0][i] > v[0][i-1] and v[0][i] > v[0][i+1])
print(lm, lmax, crit, len(h0)); assert len(h1) == 0 and len(h0) == lm and list(crit) == [lm, 0, lmax] and np.all(betti[:, 2] == 0)"
# The Betti curves against an Euler characteristic counted here, and the diagrams against GUDHI's
# persistence of the same sublevel sets as a simplicial complex (every square cut into four triangles
# around a centre vertex that enters with the square: the same sublevel set at every level).
for g in two_basins ring monkey bumps noise; do
  pycheck "'$g': b0 - b1 = V - E + F at every level; diagrams equal GUDHI's" "
import gudhi
f = h5py.File('$SL/topo_$g/results.h5'); t = f['/topology']; v = t['values'][:]; ny, nx = v.shape
betti = t['betti'][:]
eh = np.maximum(v[:, :-1], v[:, 1:]); ev = np.maximum(v[:-1, :], v[1:, :])
sq = np.maximum(np.maximum(v[:-1, :-1], v[:-1, 1:]), np.maximum(v[1:, :-1], v[1:, 1:]))
for c, b0, b1, chi in betti:
  e = (v <= c).sum() - (eh <= c).sum() - (ev <= c).sum() + (sq <= c).sum()
  assert e == chi == b0 - b1, (c, b0, b1, chi, e)
st = gudhi.SimplexTree(); idx = lambda j, i: j * nx + i
for j in range(ny):
  for i in range(nx): st.insert([idx(j, i)], v[j, i])
for j in range(ny):
  for i in range(nx - 1): st.insert([idx(j, i), idx(j, i + 1)], eh[j, i])
for j in range(ny - 1):
  for i in range(nx): st.insert([idx(j, i), idx(j + 1, i)], ev[j, i])
for j in range(ny - 1):
  for i in range(nx - 1):
    c = nx * ny + j * (nx - 1) + i; ring = [idx(j, i), idx(j, i + 1), idx(j + 1, i + 1), idx(j + 1, i)]
    for k in range(4): st.insert([c, ring[k], ring[(k + 1) % 4]], sq[j, i])
st.compute_persistence(min_persistence=0.0)
for dim, name in ((0, 'h0'), (1, 'h1')):
  a = np.array(sorted(map(tuple, t[name][:]))).reshape(-1, 2); gd = st.persistence_intervals_in_dimension(dim)
  b = np.array(sorted(map(tuple, gd[gd[:, 1] - gd[:, 0] > 0]))) if len(gd) else np.zeros((0, 2))
  assert a.shape == b.shape, (name, a.shape, b.shape)
  if len(a): assert np.array_equal(np.isinf(a), np.isinf(b)) and np.allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=0, atol=1e-12)
print('$g: H0 %d pairs, H1 %d pairs, as GUDHI' % (len(t['h0']), len(t['h1'])))"
done
topology_error "topology: a NaN in the grid" "value nan.* at grid point (2, 3)" -topology_input $SL/grids.h5:/nan -output_dir $SL/err
topology_error "topology: a 3-D dataset" "dimension" -topology_input $SL/grids.h5:/cube -output_dir $SL/err
topology_error "topology: missing dataset" "no dataset /nosuch" -topology_input $SL/grids.h5:/nosuch -output_dir $SL/err
topology_error "topology: missing file" "no such file" -topology_input $SL/none.h5:/x -output_dir $SL/err
topology_error "topology: no dataset part" "FILE.h5:/dataset" -topology_input $SL/grids.h5 -output_dir $SL/err
topology_error "topology: an unused option" "unused option -topology_level" -topology_input $SL/grids.h5:/line -topology_level 3 -output_dir $SL/err
[ ! -e $SL/err/results.h5 ] && ok "topology: no results.h5 after the errors" || not_ok "topology: a results.h5 was left after an error"

# ---- Part 2: the slice stage on Iris (4-8-3 tanh, cross-entropy) ----
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data
"$LAND" import csv -file $SK/iris.csv -test_fraction 0.2 -seed 1 -o $SL/iris.h5 >/dev/null 2>&1
NET="-data_file $SL/iris.h5 -data_chunk_size 16 -net_hidden 8 -net_activation tanh -loss ce"
for sd in 1 2 3; do
  expect_ok "train a 4-8-3 tanh net on Iris (seed $sd)" 1 $NET -seed $sd -stages train -train_type adam -train_epochs 300 -train_batch_size 0 -train_lr 0.02 -train_monitor 0 -output_dir $SL/base$sd
done
S="$NET -net_theta $SL/base1/results.h5 -stages slice -slice_n 9,7 -slice_range -1,1,-0.5,0.5 -slice_test -slice_levels 33"
expect_ok "2-D slice along random directions, 1 rank" 1 $S -output_dir $SL/r1
expect_ok "the same at 2 ranks, data-parallel" 2 $S -slice_parallel data -output_dir $SL/r2d
expect_ok "the same at 2 ranks, grid-parallel" 2 $S -slice_parallel grid -output_dir $SL/r2g
expect_ok "the same at 3 ranks, auto" 3 $S -output_dir $SL/r3
expect_ok "the same with a full forward pass per point (-slice_first_layer 0)" 1 $S -slice_first_layer 0 -output_dir $SL/plain
expect_ok "with an L2 term in the objective" 2 $S -reg_l2 0.01 -output_dir $SL/reg
# numpy forward pass of the 4-8-3 tanh net: the mean cross-entropy and the accuracy of rows X, labels y
NPNET="
def unpack(t):
  return t[:32].reshape(8, 4), t[32:40], t[40:64].reshape(3, 8), t[64:67]
def net_loss(t, X, y):
  W1, b1, W2, b2 = unpack(t); z = np.tanh(X @ W1.T + b1) @ W2.T + b2
  m = z.max(1, keepdims=True); lse = m[:, 0] + np.log(np.exp(z - m).sum(1))
  return (lse - z[np.arange(len(y)), y]).mean(), (z.argmax(1) == y).mean()
d = h5py.File('$SL/iris.h5'); X, y, Xt, yt = d['/train/X'][:], d['/train/labels'][:].astype(int), d['/test/X'][:], d['/test/labels'][:].astype(int)
"
pycheck "every grid point equals a numpy forward pass (1e-12); the test loss and accuracy too" "
$NPNET
f = h5py.File('$SL/r1/results.h5'); g = f['/slice']; o = g['origin'][:]; D = g['directions'][:]
xs, ys, L, TL, TA = g['x'][:], g['y'][:], g['loss'][:], g['test_loss'][:], g['test_accuracy'][:]
assert L.shape == (7, 9) and D.shape == (2, 67) and np.allclose(xs, np.linspace(-1, 1, 9), atol=1e-15) and np.allclose(ys, np.linspace(-0.5, 0.5, 7), atol=1e-15)
assert np.array_equal(o, f['/theta'][:])
err = 0
for j in range(7):
  for i in range(9):
    t = o + xs[i] * D[0] + ys[j] * D[1]
    l, a = net_loss(t, X, y); tl, ta = net_loss(t, Xt, yt)
    err = max(err, abs(L[j, i] - l) / l, abs(TL[j, i] - tl) / tl); assert TA[j, i] == ta
print('max relative difference %.2e' % err); assert err < 1e-12"
pycheck "random directions are filter-normalised: each neuron's incoming weights as long as the origin's, biases zero" "
$NPNET
f = h5py.File('$SL/r1/results.h5'); o = f['/slice/origin'][:]; D = f['/slice/directions'][:]
for d in D:
  (W1, b1, W2, b2), (O1, c1, O2, c2) = unpack(d), unpack(o)
  assert np.allclose(np.linalg.norm(W1, axis=1), np.linalg.norm(O1, axis=1), rtol=1e-13) and np.allclose(np.linalg.norm(W2, axis=1), np.linalg.norm(O2, axis=1), rtol=1e-13)
  assert not b1.any() and not b2.any()
assert abs(D[0] @ D[1]) < 0.9 * np.linalg.norm(D[0]) * np.linalg.norm(D[1])   # two different draws"
pycheck "1, 2 (data and grid) and 3 ranks and the plain forward pass agree (1e-14)" "
ref = h5py.File('$SL/r1/results.h5')['/slice/loss'][:]
for r in ('r2d', 'r2g', 'r3', 'plain'):
  f = h5py.File('$SL/' + r + '/results.h5'); L = f['/slice/loss'][:]
  e = np.abs(L / ref - 1).max(); print(r, f['/slice'].attrs['parallel'], 'max rel diff %.1e' % e, 'bitwise' if np.array_equal(L, ref) else '')
  assert e < 1e-14 and same_bits(f['/slice/directions'][:], h5py.File('$SL/r1/results.h5')['/slice/directions'][:])
assert h5py.File('$SL/r3/results.h5')['/slice'].attrs['parallel'] == b'grid' or h5py.File('$SL/r3/results.h5')['/slice'].attrs['parallel'] == 'grid'"
# the eval stage at one grid point of the L2 run: theta written by numpy, loss compared
$PY -c "
import h5py
f = h5py.File('$SL/reg/results.h5'); g = f['/slice']
with h5py.File('$SL/pt.h5', 'w') as o: o['theta'] = g['origin'][:] + g['x'][6] * g['directions'][0] + g['y'][2] * g['directions'][1]
"
expect_ok "eval at the grid point (x[6], y[2]) with the L2 term" 1 $NET -reg_l2 0.01 -net_theta $SL/pt.h5 -stages eval -output_dir $SL/evpt
pycheck "the slice's value there (loss + L2) equals the eval stage's (1e-12)" "
a = h5py.File('$SL/reg/results.h5')['/slice/loss'][2, 6]; b = h5py.File('$SL/evpt/results.h5')['/eval/loss'][()]
b = float(np.ravel(b)[0]); print(a, b); assert abs(a - b) <= 1e-12 * abs(b)"

# Hessian eigenvectors: directions from the spectrum stage of the same run; the second difference
# along the top eigenvector is its eigenvalue.
H="$NET -net_theta $SL/base1/results.h5 -spectrum_eps_tol 1e-12"
expect_ok "spectrum then a 2-D slice along smallest:0, largest:0" 2 $H -stages spectrum,slice -slice_directions smallest:0,largest:0 -slice_n 5 -output_dir $SL/hess
expect_ok "spectrum then a 1-D slice of step 1e-4 along largest:0" 1 $H -stages spectrum,slice -slice_dim 1 -slice_directions largest:0 -slice_range -1e-4,1e-4 -slice_n 3 -output_dir $SL/hess1
pycheck "the slice's directions are the eigenvectors; L'' along the top one is lambda_max (1e-5)" "
f = h5py.File('$SL/hess/results.h5'); D = f['/slice/directions'][:]
assert np.allclose(D[0], f['/spectrum/smallest/vector_0'][:], atol=1e-14) and np.allclose(D[1], f['/spectrum/largest/vector_0'][:], atol=1e-14)
f = h5py.File('$SL/hess1/results.h5'); L = f['/slice/loss'][0]; lam = f['/spectrum/largest/values'][0]
c = (L[0] - 2 * L[1] + L[2]) / 1e-8; print(c, lam); assert abs(c - lam) < 1e-5 * abs(lam) + 1e-6
assert f['/slice/loss'].shape == (1, 3) and f['/slice/topology/h1'].shape == (0, 2)"
# The plane through three trained networks
expect_ok "the plane through three trained networks (-slice_points)" 2 $NET -stages slice -slice_points $SL/base1/results.h5,$SL/base2/results.h5,$SL/base3/results.h5 -slice_n 5,5 -output_dir $SL/pts
pycheck "the grid passes through the first two networks; the third lies at its recorded coordinates" "
$NPNET
f = h5py.File('$SL/pts/results.h5'); g = f['/slice']; o, D, P, L = g['origin'][:], g['directions'][:], g['points'][:], g['loss'][:]
t = [h5py.File('$SL/base%d/results.h5' % k)['/theta'][:] for k in (1, 2, 3)]
assert np.array_equal(o, t[0]) and np.allclose(o + D[0], t[1], atol=1e-13) and np.allclose(o + P[2, 0] * D[0] + P[2, 1] * D[1], t[2], atol=1e-12)
assert abs(D[0] @ D[1]) < 1e-12 * (D[0] @ D[0]) and abs(np.linalg.norm(D[1]) / np.linalg.norm(D[0]) - 1) < 1e-13
assert list(g['x'][:]) == [-0.5, 0, 0.5, 1, 1.5] and list(P[1]) == [1, 0]
for k, (j, i) in enumerate(((1, 1), (1, 3))):
  l = net_loss(t[k], X, y)[0]; assert abs(L[j, i] - l) < 1e-12 * l, (k, L[j, i], l)
print('third point at', P[2])"
# Principal directions of a level-set path
expect_ok "a short level-set path with its PCA" 1 $NET -net_theta $SL/base1/results.h5 -stages levelset -levelset_steps 60 -levelset_snapshot_interval 5 -levelset_pca_components 2 -levelset_monitor 0 -output_dir $SL/lv
expect_ok "a slice along pca:0, pca:1 of that path (-slice_source)" 1 $NET -net_theta $SL/lv/results.h5 -stages slice -slice_source $SL/lv/results.h5 -slice_directions pca:0,pca:1 -slice_n 5 -output_dir $SL/pca
pycheck "the PCA directions are the components times the path's std, unit length" "
f = h5py.File('$SL/lv/results.h5'); C, sd = f['/levelset/pca/components'][:], f['/levelset/pca/std'][:]
D = h5py.File('$SL/pca/results.h5')['/slice/directions'][:]
for k in range(2):
  v = C[k] * sd; v /= np.linalg.norm(v); assert np.allclose(D[k], v, atol=1e-14)"

# Exact restart: a signal after grid line 8 of 21 on 2 ranks, resumed on 3 ranks
R="$NET -net_theta $SL/base1/results.h5 -stages slice -slice_n 11,21 -slice_test"
expect_ok "an 11 x 21 slice without interruption" 1 $R -output_dir $SL/full
d=$SL/restart
out=$(land 2 $R -output_dir $d -checkpoint_signal_at 8 2>&1); rc=$?
if [ $rc -eq 75 ] && [ -f $d/results.partial.h5 ]; then ok "SIGUSR1 after grid line 8: checkpoint and exit 75"; else not_ok "slice stop on a signal (rc=$rc)" "$out"; fi
expect_ok "resume at 3 ranks with -restart auto" 3 $R -output_dir $d -restart auto
same_datasets "the resumed slice equals the uninterrupted one" $SL/full/results.h5 $d/results.h5 /slice/loss /slice/test_loss /slice/test_accuracy /slice/directions /slice/topology/h0 /slice/topology/h1

# One-line errors
E="$NET -net_theta $SL/base1/results.h5 -stages slice"
expect_error "slice: -slice_dim 3" "must be 1 or 2" 1 $E -slice_dim 3
expect_error "slice: unknown direction" "unknown direction 'hessian'" 1 $E -slice_directions hessian,random
expect_error "slice: one direction for a plane" "needs 2 directions, got 1" 1 $E -slice_directions random
expect_error "slice: two points for a plane" "needs 3 files, got 2" 1 $E -slice_points $SL/base1/results.h5,$SL/base2/results.h5
expect_error "slice: a missing point file" "no such file $SL/nosuch.h5" 1 $E -slice_dim 1 -slice_points $SL/base1/results.h5,$SL/nosuch.h5
expect_error "slice: the same point twice" "hold the same parameters" 1 $E -slice_dim 1 -slice_points $SL/base1/results.h5,$SL/base1/results.h5
expect_error "slice: points with filter normalisation" "not scaled" 1 $E -slice_dim 1 -slice_normalize filter -slice_points $SL/base1/results.h5,$SL/base2/results.h5
expect_error "slice: an empty range" "need min < max on axis 1" 1 $E -slice_range 1,-1,0,1
expect_error "slice: one point per axis" "at least 2 points per axis" 1 $E -slice_n 1
expect_error "slice: Hessian directions without a spectrum stage" "no dataset /spectrum/smallest/vector_0" 1 $E -slice_directions smallest:0,random
expect_error "slice: a bad eigenvector index" "non-negative index" 1 $E -slice_directions largest:x,random
expect_error "slice: PCA without a level-set path" "no dataset /levelset/pca/components" 1 $E -slice_source $SL/base1/results.h5 -slice_directions pca:0,pca:1
expect_error "slice: an unknown parallel mode" "slice_parallel" 1 $E -slice_parallel rows
