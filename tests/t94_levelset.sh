# Stage 'levelset': continuation on {L = L0} lowering ||theta||^2, and PCA of the path (docs/levelset.md).
# A linear model with mse has ellipsoidal level sets, so the end of the path is known: the minimiser of
# ||theta||^2 on {L = L0}, a Lagrange problem solved here in numpy (theta(nu) = (A - nu I)^-1 b, root in nu).
LV=$WORK/lv
mkdir -p $LV
# 64 rows, 5 inputs of different scales; the last input is all zero, and its weight starts at zero, so
# that one coordinate never moves along the path (the PCA's zero-variance guard must leave it out).
$PY -c "
import h5py, numpy as np
r = np.random.default_rng(0)
X = np.c_[r.normal(size=(64, 4)) * [1.0, 0.7, 0.5, 0.3], np.zeros(64)]
w = np.array([1.0, -0.5, 0.8, 0.3, 0.0]); y = X @ w + 0.4 + 0.3 * r.normal(size=64)
Xt = np.c_[r.normal(size=(32, 4)), np.zeros(32)]
with h5py.File('$LV/lin.h5', 'w') as f:
  f['/train/X'] = X; f['/train/Y'] = y[:, None]; f['/test/X'] = Xt; f['/test/Y'] = (Xt @ w + 0.4)[:, None]
with h5py.File('$LV/start.h5', 'w') as f:
  f['/theta'] = np.array([0.3, 0.2, -0.4, 0.1, 0.0, 0.0])
with h5py.File('$LV/short.h5', 'w') as f:
  f['/theta'] = np.zeros(4)
"
LS="-data_file $LV/lin.h5 -data_chunk_size 16 -net_hidden 0 -loss mse -net_theta $LV/start.h5 -stages train,levelset -train_type sgd -train_lr 0.05
 -train_batch_size 0 -train_max_it 30 -train_monitor 0 -levelset_steps 4000 -levelset_h_max 0.01 -levelset_stop_angle 179.99 -levelset_monitor 0
 -levelset_snapshot_interval 20"
# lvcheck NAME RESULTS: the path stays on the level set and ends at the analytic minimiser
lvcheck() {
  pycheck "$1" "
from scipy.optimize import brentq
d = h5py.File('$LV/lin.h5'); X = np.c_[d['/train/X'][:], np.ones(64)]; y = d['/train/Y'][:, 0]
A = X.T @ X / 64; b = X.T @ y / 64; c = y @ y / 128
L = lambda t: 0.5 * t @ A @ t - b @ t + c
f = h5py.File('$2'); g = f['/levelset']; L0 = g.attrs['L0']; th = f['/theta'][:]; h = g['history'][:]
lam, Q = np.linalg.eigh(A); bt = Q.T @ b
tnu = lambda nu: Q @ (bt / (lam - nu))
ts = tnu(brentq(lambda nu: L(tnu(nu)) - L0, -1e8, -1e-12))   # the branch through the origin side: min ||theta||
gl = A @ ts - b; assert abs(ts @ gl / np.linalg.norm(ts) / np.linalg.norm(gl) + 1) < 1e-12   # Lagrange: grad R anti-parallel to grad L
# every recorded point is on the level set: the stage's L (history) and an independent numpy L of the snapshots
lerr = np.abs(h[:, 3] - L0).max(); snaps = f['/levelset/snapshots'][:]
nerr = max(abs(L(s) - L0) for s in snaps)
print('max |L - L0| stage %.2e numpy %.2e; |theta_end - theta*| %.2e; R %.8f vs %.8f; angle %.4f; steps %d' % (lerr, nerr, np.linalg.norm(th - ts), h[-1, 2], ts @ ts, h[-1, 1], len(h)))
assert lerr <= 1e-5 and nerr <= 1e-5 + 1e-12 and np.allclose(h[:, 4], h[:, 3] - L0, rtol=0, atol=1e-15)
assert np.linalg.norm(th - ts) <= 2e-3 * np.linalg.norm(ts) and abs(h[-1, 2] - ts @ ts) <= 1e-3 * (ts @ ts)
assert h[-1, 1] >= 179.99 and g.attrs['stop_reason'].startswith(b'angle' if isinstance(g.attrs['stop_reason'], bytes) else 'angle')
assert abs(snaps[:, 4]).max() == 0 and np.array_equal(snaps[-1], th)   # the zero-input weight never moved; the last snapshot is the end
assert h[-1, 2] < h[0, 2] - 0.1"
}
expect_ok "study corrector on a linear mse model (ellipsoidal level set)" 1 $LS -output_dir $LV/s1
lvcheck "study corrector: on the level set within tol, ends at the analytic minimiser of ||theta||^2" $LV/s1/results.h5
expect_ok "Newton corrector, tight level tolerance 1e-9, no step reset after correctors" 1 $LS -levelset_corrector newton -levelset_tol 1e-9 -levelset_h_reset 0 -output_dir $LV/n1
lvcheck "Newton corrector: on the level set, ends at the analytic minimiser" $LV/n1/results.h5
pycheck "Newton corrector: corrector steps were taken and counted per predictor step" "
g = h5py.File('$LV/n1/results.h5')['/levelset']; h = g['history'][:]; print(g.attrs['corrector_steps_total'], g.attrs['corrector_steps_max'], h[:, 9].sum())
assert g.attrs['corrector_steps_total'] > 100 and h[:, 9].sum() == g.attrs['corrector_steps_total'] and np.abs(h[:, 4]).max() <= 1e-9"
expect_ok "study corrector with tolerance 1e-8 and h_c 1e-5" 1 $LS -levelset_tol 1e-8 -levelset_h_corrector 1e-5 -output_dir $LV/s2
pycheck "study corrector at tolerance 1e-8: the stage's L within tol at every point" "
g = h5py.File('$LV/s2/results.h5')['/levelset']; h = g['history'][:]; print(g.attrs['corrector_steps_total'], np.abs(h[:, 4]).max())
assert g.attrs['corrector_steps_total'] > 10 and np.abs(h[:, 4]).max() <= 1e-8"
# Regulariser variants: weights only (biases free), and a smoothed L1 norm; both lower their R on the level set.
expect_ok "regulariser l2_weights" 1 $LS -levelset_reg l2_weights -levelset_corrector newton -levelset_steps 500 -output_dir $LV/w1
expect_ok "regulariser l1_smooth" 1 $LS -levelset_reg l1_smooth -levelset_corrector newton -levelset_steps 500 -output_dir $LV/l1
pycheck "l2_weights: R = ||W||^2 without the bias; l1_smooth: R = sum sqrt(theta^2 + eps^2) - eps; both fall" "
for d, fn in (('w1', lambda t: (t[:5] ** 2).sum()), ('l1', lambda t: (np.sqrt(t ** 2 + 1e-6) - 1e-3).sum())):
  f = h5py.File('$LV/' + d + '/results.h5'); h = f['/levelset/history'][:]; s = f['/levelset/snapshots'][:]
  print(d, h[0, 2], h[-1, 2]); assert h[-1, 2] < h[0, 2] and abs(fn(s[-1]) - h[-1, 2]) <= 1e-13 * h[-1, 2]"

# Bitwise agreement at 1, 2 and 3 ranks (path, snapshots, theta); the PCA (SLEPc) to round-off.
for n in 2 3; do
  expect_ok "study corrector at $n ranks" $n $LS -output_dir $LV/s$n"r"
  same_datasets "path bitwise equal at 1 and $n ranks" $LV/s1/results.h5 $LV/s$n"r"/results.h5 /theta /levelset/history /levelset/snapshots /levelset/snapshot_steps
  pycheck "PCA at 1 and $n ranks agrees to 1e-10 (the three leading components; the others have singular values near 0)" "
a = h5py.File('$LV/s1/results.h5')['/levelset/pca']; b = h5py.File('$LV/s${n}r/results.h5')['/levelset/pca']
assert np.allclose(a['explained_variance_ratio'][:], b['explained_variance_ratio'][:], rtol=0, atol=1e-12)
for k in ('coordinates', 'components'): assert np.allclose(a[k][..., :3] if k == 'coordinates' else a[k][:3], b[k][..., :3] if k == 'coordinates' else b[k][:3], rtol=0, atol=1e-10), k"
done

# PCA against numpy: z-score the same snapshots (population std, constant coordinates left out), SVD,
# explained variance and path coordinates (sign: the largest |coordinate| positive); a projected point.
expect_ok "PCA of the last 60 snapshots with a projected point" 2 $LS -levelset_pca_last 60 -levelset_pca_components 3 -levelset_pca_points $LV/start.h5,$LV/s1/results.h5 -output_dir $LV/pca
pycheck "PCA = numpy SVD of the z-scored snapshots; the constant coordinate is guarded; points projected alike" "
f = h5py.File('$LV/pca/results.h5'); g = f['/levelset/pca']; S = f['/levelset/snapshots'][-60:]
mu = S.mean(0); sd = S.std(0); keep = sd > 1e-10 * np.maximum(abs(mu), 1e-300)
Z = np.where(keep, (S - mu) / np.where(keep, sd, 1), 0)
U, s, Vt = np.linalg.svd(Z, full_matrices=False); C = U[:, :3] * s[:3]
C *= np.sign(C[np.abs(C).argmax(0), range(3)])
evr = s[:3] ** 2 / (Z ** 2).sum()
print(g.attrs['zero_variance_coordinates'], evr, g['explained_variance_ratio'][:], g['relative_error'][:])
assert g.attrs['zero_variance_coordinates'] == 1 and (~keep).sum() == 1 and np.array_equal(np.array(g['snapshot_steps'][:]), f['/levelset/snapshot_steps'][-60:].astype(float))
assert np.allclose(g['explained_variance_ratio'][:], evr, rtol=1e-9, atol=1e-12) and np.allclose(g['coordinates'][:], C, rtol=0, atol=1e-9 * abs(C).max())
V = g['components'][:]; assert np.allclose(V @ V.T, np.eye(3), atol=1e-10) and np.all(V[:, ~keep] == 0)
for i, p in enumerate([h5py.File('$LV/start.h5')['/theta'][:], h5py.File('$LV/s1/results.h5')['/theta'][:]]):
  z = np.where(keep, (p - mu) / np.where(keep, sd, 1), 0); assert np.allclose(g['points'][i], V @ z, rtol=0, atol=1e-9), (g['points'][i], V @ z)
assert np.allclose(g['points'][1], C[-1], rtol=0, atol=1e-9)   # the path's end is its own last snapshot"

# Exact restart: SIGUSR1 at predictor step 900 on 2 ranks (exit 75), resumed on 3 ranks; and a writer killed
# (SIGKILL) in the middle of checkpoint 3 of -checkpoint_interval 400, resumed from generation 2 on 1 rank.
d=$LV/sig
out=$(land 2 $LS -output_dir $d -checkpoint_signal_at 900 2>&1); rc=$?
if [ $rc -eq 75 ] && [ -f $d/results.partial.h5 ] && [ -f $d/checkpoints/latest ]; then ok "SIGUSR1 at predictor step 900: checkpoint and exit 75"; else not_ok "levelset stop on a signal (rc=$rc)" "$out"; fi
expect_ok "resume at 3 ranks with -restart auto" 3 $LS -output_dir $d -restart auto
same_datasets "interrupted on 2, resumed on 3 ranks: path, snapshots and theta bitwise equal" $LV/s1/results.h5 $d/results.h5 /theta /levelset/history /levelset/snapshots /levelset/snapshot_steps
d=$LV/kill
out=$(land 2 $LS -output_dir $d -checkpoint_interval 400 -checkpoint_kill_at_generation 3 2>&1); rc=$?
if [ $rc -ne 0 ] && [ "$(cat $d/checkpoints/latest)" = ckpt_000002.h5 ]; then ok "killed while writing checkpoint 3 (step 1200)"; else not_ok "kill during a levelset checkpoint (rc=$rc)" "$out"; fi
expect_ok "resume from generation 2 (step 800) at 1 rank" 1 $LS -output_dir $d -checkpoint_interval 400 -restart auto
same_datasets "after the crash the path is still bitwise the uninterrupted one" $LV/s1/results.h5 $d/results.h5 /theta /levelset/history /levelset/snapshots

# One-line errors for bad options.
B="-data_file $LV/lin.h5 -data_chunk_size 16 -net_hidden 0 -loss mse -stages levelset"
expect_error "unknown corrector" "levelset_corrector" 1 $B -levelset_corrector gauss
expect_error "unknown regulariser" "levelset_reg" 1 $B -levelset_reg l3
expect_error "h_min above h_max" "levelset_h_min" 1 $B -levelset_h_min 0.5 -levelset_h_max 0.1
expect_error "non-positive tolerance" "levelset_tol" 1 $B -levelset_tol 0
expect_error "stop angle beyond 180" "levelset_stop_angle" 1 $B -levelset_stop_angle 181
expect_error "weight decay in the objective" "reg_l2 0" 2 $B -reg_l2 0.1
expect_error "missing PCA point file" "no such file" 1 $B -levelset_pca_points $LV/nothing.h5
expect_error "PCA point of the wrong length" "expects 6 parameters" 2 $B -levelset_pca_points $LV/short.h5 -levelset_steps 5 -levelset_monitor 0
