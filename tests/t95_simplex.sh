# Stage 'simplex': the Deep ReLU Simplex (docs/simplex.md). Convex cases against an LP solver
# (HiGHS through scipy), local-minimum certificates checked by perturbation, the vertex sequence at
# 1, 2 and 3 ranks, exact restart, the trajectory estimators against numpy/scipy, one-line errors.
LP="$PY $ROOT/tests/lp_check.py"

# ---- LAD and quantile regression: convex, so the walk must reach the LP optimum ----
# lpcmp NAME DIR DATA LOSS ALPHA: the final loss of the run in DIR against HiGHS (LP dual) to 1e-9 relative
lpcmp() {
  local name=$1 dir=$2 data=$3 loss=$4 alpha=$5 ref
  ref=$($LP solve "$data" "$loss" "$alpha" 1 dual 2>&1 | awk '/^highs-dual/ {print $2}')
  pycheck "$name" "
f = h5py.File('$dir/results.h5')
L = f['/simplex/summary'][2]; ref = float('$ref')
assert f['/simplex'].attrs['verdict'] in ('global minimum', b'global minimum'), f['/simplex'].attrs['verdict']
print('landscape %.17g  HiGHS %.17g  relative difference %.2e' % (L, ref, abs(L - ref) / ref))
assert abs(L - ref) <= 1e-9 * ref"
}
i=0
for spec in "200 3 1 l1 0.5" "2000 6 2 l1 0.5" "2000 6 3 quantile 0.8" "5000 10 4 quantile 0.2" "20000 8 5 l1 0.5"; do
  set -- $spec; i=$((i + 1))
  $LP make $WORK/lad$i.h5 $1 $2 $3
  for step in first long; do
    [ "$1" -gt 5000 ] && [ $step = first ] && continue
    nr=$(( (i % 2) + 1 ))
    expect_ok "simplex on $4 regression (N=$1, p=$2, $step steps, $nr ranks)" $nr -data_file $WORK/lad$i.h5 -net_hidden "" -loss $4 -loss_quantile $5 \
      -stages simplex -simplex_monitor 0 -simplex_step $step -data_chunk_size 64 -output_dir $WORK/sx_lad$i$step
    lpcmp "$4 regression N=$1 ($step steps) reaches the LP optimum" $WORK/sx_lad$i$step $WORK/lad$i.h5 $4 $5
  done
done
$LP make $WORK/lad_big.h5 100000 10 7
expect_ok "simplex on LAD with N=1e5, p=10 (long steps, 2 ranks)" 2 -data_file $WORK/lad_big.h5 -net_hidden "" -loss l1 -stages simplex \
  -simplex_monitor 0 -simplex_step long -output_dir $WORK/sx_ladbig
lpcmp "LAD N=1e5 reaches the LP optimum" $WORK/sx_ladbig $WORK/lad_big.h5 l1 0.5
# degenerate instances: small integers, every row three times; Bland's rule must end the zero-length pivots
for seed in 1 2 3; do
  $LP make $WORK/deg$seed.h5 300 4 $seed -1
  expect_ok "simplex on degenerate LAD (seed $seed)" 1 -data_file $WORK/deg$seed.h5 -net_hidden "" -loss l1 -stages simplex -simplex_monitor 0 -output_dir $WORK/sx_deg$seed
  lpcmp "degenerate LAD (seed $seed) reaches the LP optimum" $WORK/sx_deg$seed $WORK/deg$seed.h5 l1 0.5
done
pycheck "degenerate LAD: zero-length pivots happened, were counted, and never cycled" "
z = [h5py.File('$WORK/sx_deg%d/results.h5' % s)['/simplex/summary'][5] for s in (1, 2, 3)]
t = [h5py.File('$WORK/sx_deg%d/results.h5' % s)['/simplex/trajectory'][:, 14].sum() for s in (1, 2, 3)]
print('zero pivots', z, t); assert min(z) > 10 and z == t"

# ---- the study's setting: ReLU net 4-5-4-2-1, uniform data, layer 1 from U(-20, 20) ----
$PY -c "
import h5py, numpy as np
rng = np.random.default_rng(11)
with h5py.File('$WORK/sx_data.h5', 'w') as f:
    f['/train/X'] = rng.uniform(-3, 3, (200, 4)); f['/train/Y'] = rng.uniform(-3, 3, (200, 1))"
D="-data_file $WORK/sx_data.h5 -data_chunk_size 16 -net_hidden 5,4,2 -net_activation relu -net_init uniform -loss l1 -stages simplex -simplex_init_scale 20 -simplex_monitor 0 -seed 3"
for n in 1 2 3; do
  expect_ok "deep ReLU simplex, layer 1 at $n ranks" $n $D -output_dir $WORK/sx_deep$n
done
for n in 2 3; do
  same_datasets "vertex sequence bitwise equal at 1 and $n ranks" $WORK/sx_deep1/results.h5 $WORK/sx_deep$n/results.h5 /simplex/vertices /simplex/trajectory /theta
done
pycheck "deep simplex: the loss never rises from vertex to vertex and phase 1 ends after n0 = 25 steps" "
f = h5py.File('$WORK/sx_deep1/results.h5'); T = f['/simplex/trajectory'][...]
L = T[:, 2]; d = np.diff(L); print(len(L), 'vertices, largest rise', d.max())
assert d.max() <= 1e-12 * L[0]
assert (T[:, 1] == 1).sum() == 1 + 25 and f['/simplex'].attrs['verdict'] in ('local minimum', b'local minimum')
assert f['/simplex/summary'][4] > 50"
# the certificate, independently, in numpy: the loss at the final vertex, the constraints active
# there, and no small step in 4000 random directions of the trained layer lowers the loss
cat > $WORK/sx_check.py <<'EOF'
import h5py, numpy as np, sys
res, data, layer, widths = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(w) for w in sys.argv[4].split(',')]
slope = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
alpha = float(sys.argv[6]) if len(sys.argv) > 6 else None
th = h5py.File(res)['/theta'][...]; g = h5py.File(data); X = g['/train/X'][...]; Y = g['/train/Y'][...][:, 0]
def unpack(t):
    Ws, o = [], 0
    for a, b in zip(widths[:-1], widths[1:]):
        W = t[o:o + a * b].reshape(b, a); o += a * b; c = t[o:o + b]; o += b; Ws.append((W, c))
    return Ws
def loss(t, zs=None):
    h = X
    for i, (W, c) in enumerate(unpack(t)):
        z = h @ W.T + c
        if zs is not None: zs.append(z)
        h = z if i == len(widths) - 2 else np.where(z > 0, z, slope * z)
    r = h[:, 0] - Y
    return np.mean(np.abs(r)) if alpha is None else np.mean(np.where(r > 0, (1 - alpha) * r, -alpha * r))
zs = []; L0 = loss(th, zs); Lw = h5py.File(res)['/simplex/summary'][2]
o = sum(a * b + b for a, b in zip(widths[:layer - 1], widths[1:layer])); n0 = widths[layer] * (widths[layer - 1] + 1)
zs[-1] = zs[-1] - Y[:, None]
act = sum(int((np.abs(z) <= 1e-9 * (1 + np.abs(z).max())).sum()) for z in zs[layer - 1:])
print('loss numpy %.17g walk %.17g, active constraints %d of n0 = %d' % (L0, Lw, act, n0))
assert abs(L0 - Lw) <= 1e-12 * L0 and act >= n0
rng = np.random.default_rng(0); worst = np.inf
for k in range(4000):
    d = rng.standard_normal(n0); d /= np.linalg.norm(d); t = th.copy(); t[o:o + n0] += 1e-7 * d
    worst = min(worst, loss(t) - L0)
print('smallest change over 4000 directions', worst); assert worst >= -1e-13 * L0
EOF
pycheck "the final vertex in numpy: same loss, n0 active constraints, and a local minimum under 4000 random steps" "
import subprocess; r = subprocess.run([sys.executable, '$WORK/sx_check.py', '$WORK/sx_deep1/results.h5', '$WORK/sx_data.h5', '1', '4,5,4,2,1'], capture_output=True, text=True)
print(r.stdout, r.stderr); assert r.returncode == 0"

# long steps, leaky ReLU, another layer, the quantile loss: the same guarantees
expect_ok "deep simplex, long steps, 3 ranks" 3 $D -simplex_step long -output_dir $WORK/sx_deepl3
expect_ok "deep simplex, long steps, 1 rank" 1 $D -simplex_step long -output_dir $WORK/sx_deepl1
same_datasets "long steps: vertex sequence bitwise equal at 1 and 3 ranks" $WORK/sx_deepl1/results.h5 $WORK/sx_deepl3/results.h5 /simplex/vertices /simplex/trajectory
expect_ok "deep simplex on layer 2 with leaky ReLU and the quantile loss" 2 $D -simplex_layer 2 -net_activation leaky_relu -loss quantile -loss_quantile 0.3 -output_dir $WORK/sx_leaky
pycheck "leaky ReLU on layer 2: the final vertex in numpy is a local minimum" "
import subprocess; r = subprocess.run([sys.executable, '$WORK/sx_check.py', '$WORK/sx_leaky/results.h5', '$WORK/sx_data.h5', '2', '4,5,4,2,1', '0.01', '0.3'], capture_output=True, text=True)
print(r.stdout, r.stderr); assert r.returncode == 0"
pycheck "long steps cross kinks; every run ends certified with a falling loss" "
for d in ('sx_deepl1', 'sx_leaky'):
    f = h5py.File('$WORK/' + d + '/results.h5'); T = f['/simplex/trajectory'][...]
    assert np.diff(T[:, 2]).max() <= 1e-12 * T[0, 2] and f['/simplex'].attrs['verdict'] in ('local minimum', b'local minimum'), d
assert h5py.File('$WORK/sx_deepl1/results.h5')['/simplex/trajectory'][:, 17].sum() > 0
assert h5py.File('$WORK/sx_leaky/results.h5')['/simplex'].attrs['parameters'] == 4 * 6"

# ---- exact restart: SIGUSR1 in phase 2 at 2 ranks, resumed at 3 and at 1 ----
rm -rf $WORK/sx_rs $WORK/sx_rs1
land 2 $D -output_dir $WORK/sx_rs -checkpoint_signal_at 60 > $WORK/sx_rs.log 2>&1; rc=$?
[ $rc = 75 ] && ok "SIGUSR1 during the walk: checkpoint and exit 75" || not_ok "SIGUSR1 during the walk (exit $rc)" "$(cat $WORK/sx_rs.log)"
expect_ok "resume the walk at 3 ranks" 3 $D -output_dir $WORK/sx_rs -restart auto
same_datasets "resumed walk equals the uninterrupted one bitwise" $WORK/sx_deep1/results.h5 $WORK/sx_rs/results.h5 /simplex/vertices /simplex/trajectory /theta
land 1 $D -simplex_step long -output_dir $WORK/sx_rs1 -checkpoint_signal_at 5 > /dev/null 2>&1
expect_ok "resume a long-step walk interrupted in phase 1, at 2 ranks" 2 $D -simplex_step long -output_dir $WORK/sx_rs1 -restart auto
same_datasets "resumed long-step walk equals the uninterrupted one bitwise" $WORK/sx_deepl1/results.h5 $WORK/sx_rs1/results.h5 /simplex/vertices /simplex/trajectory

# ---- degenerate vertices: the symbolic perturbation (docs/simplex.md, "Degenerate vertices") ----
# A seeded sweep, one problem of each family (ReLU 3-6-4-1 and 4-5-4-2-1 on layers 1 and 2, uniform and
# integer data with every row three times, LAD and quantile regression with ties, leaky ReLU), at 1, 2
# and 3 ranks: no error exit, results written, the final loss and a local minimum checked in numpy,
# the convex ones against HiGHS. (The full sweep: bench/simplex.sh.)
if out=$($PY $ROOT/tests/simplex_sweep.py $WORK/sx_sweep --seeds 1 --probes 500 2>&1); then
  ok "degenerate sweep, one problem a family at 1, 2 and 3 ranks: no error exit, every verdict checked in numpy and HiGHS"
else not_ok "degenerate sweep" "$out"; fi
# the issue's case: a 3-6-4-1 ReLU net on layer 1 cycled (3401 zero-length pivots, no results); now it
# leaves its degenerate vertices along exact descent directions and ends certified, at 1, 2 and 3 ranks
U="-data_type uniform -data_n 130 -data_d 3 -net_hidden 6,4 -net_activation relu -loss l1 -stages simplex -simplex_init_scale 3 -seed 8 -data_chunk_size 16 -simplex_monitor 0"
for n in 1 2 3; do
  expect_ok "3-6-4-1 ReLU net, seed 8 (cycled before), at $n ranks" $n $U -output_dir $WORK/sx_cyc$n
done
for n in 2 3; do
  same_datasets "degenerate walk: vertices, trajectory and theta bitwise equal at 1 and $n ranks" $WORK/sx_cyc1/results.h5 $WORK/sx_cyc$n/results.h5 /simplex/vertices /simplex/trajectory /theta
done
pycheck "3-6-4-1 seed 8: zero-length pivots, ties decided by the perturbation, escapes from degenerate vertices, a certified end" "
g = h5py.File('$WORK/sx_cyc1/results.h5')['/simplex']; c = g.attrs['summary_columns']; c = (c.decode() if isinstance(c, bytes) else c).split(', ')
S = dict(zip(c, g['summary'][...].ravel())); T = g['trajectory'][...]; print({k: S[k] for k in ('zero_pivots', 'tie_groups', 'sides_set', 'escapes', 'loss_final')})
assert S['zero_pivots'] > 100 and S['tie_groups'] > 100 and S['escapes'] >= 1 and (T[:, 1] == 3).sum() >= 1
assert g.attrs['verdict'] in (b'local minimum', 'local minimum') and np.diff(T[:, 2]).max() <= 1e-12 * T[0, 2]"
# exact restart inside phase 3 (after an escape): SIGUSR1 at vertex 985 on 2 ranks, resumed at 3
rm -rf $WORK/sx_cycrs
land 2 $U -output_dir $WORK/sx_cycrs -checkpoint_signal_at 985 > $WORK/sx_cycrs.log 2>&1; rc=$?
[ $rc = 75 ] && ok "SIGUSR1 after an escape: checkpoint and exit 75" || not_ok "SIGUSR1 after an escape (exit $rc)" "$(cat $WORK/sx_cycrs.log)"
expect_ok "resume the degenerate walk at 3 ranks" 3 $U -output_dir $WORK/sx_cycrs -restart auto
same_datasets "resumed degenerate walk equals the uninterrupted one bitwise" $WORK/sx_cyc1/results.h5 $WORK/sx_cycrs/results.h5 /simplex/vertices /simplex/trajectory /theta

# ---- trajectory analysis against numpy / scipy ----
pycheck "L* estimators: Aitken and the regression match numpy, the exponential fit matches scipy's curve_fit" "
from scipy.optimize import curve_fit
f = h5py.File('$WORK/sx_deep1/results.h5'); T = f['/simplex/trajectory'][...]; E = f['/simplex/analysis/estimates'][...]
w = f['/simplex/analysis'].attrs['window']
keep = [0] + [k for k in range(1, len(T)) if T[k, 3] > 0]
L = T[keep, 2]; idx = np.array(keep)
for row in E[-5:]:
    e = int(np.where(idx == row[0])[0][0]); y = L[e - w + 1: e + 1]
    d1, d2 = L[e] - L[e - 1], L[e] - 2 * L[e - 1] + L[e - 2]
    assert abs(row[2] - (L[e] - d1 * d1 / d2)) <= 1e-9 * abs(row[2])
    b1, b0 = np.polyfit(y[:-1], np.diff(y), 1)
    assert abs(row[3] - (-b0 / b1)) <= 1e-6 * abs(row[3]), (row[3], -b0 / b1)
    t = np.arange(w, dtype=float)
    p, _ = curve_fit(lambda t, a, c, q: a + c * q ** t, t, y, p0=(row[4], y[0] - row[4], row[6]), maxfev=20000)
    rss = lambda a, c, q: ((a + c * q ** t - y) ** 2).sum()
    # ours must be at least as good a fit as scipy's (variable projection finds the global q)
    A = np.vstack([np.ones(w), row[6] ** t]).T; co = np.linalg.lstsq(A, y, rcond=None)[0]
    assert abs(co[0] - row[4]) <= 1e-9 * abs(row[4])
    assert rss(*co, row[6]) <= rss(*p) * (1 + 1e-6) + 1e-30, (rss(*co, row[6]), rss(*p))
D = f['/simplex/analysis/density'][...]; dist = f['/simplex/analysis/distance_to_final'][...]
assert dist[-1] == 0 and np.all(np.diff(D[:, 1]) >= 0) and D[-1, 1] == len(T)
print('final loss', L[-1], 'last estimates', E[-1, 2:5])"

# ---- two-class data: -data_classes and -data_binary_target ----
$PY -c "
import h5py, numpy as np
rng = np.random.default_rng(5); X = rng.standard_normal((600, 3)); lab = rng.integers(0, 4, 600)
Xt = rng.standard_normal((100, 3)); labt = rng.integers(0, 4, 100)
with h5py.File('$WORK/four.h5', 'w') as f:
    f['/train/X'] = X; d = f.create_dataset('/train/labels', data=lab); d.attrs['num_classes'] = 4
    f['/test/X'] = Xt; d = f.create_dataset('/test/labels', data=labt); d.attrs['num_classes'] = 4
with open('$WORK/four_test_n', 'w') as f: print(int(((labt == 3) | (labt == 1)).sum()), file=f)
sel = (lab == 3) | (lab == 1); y = np.where(lab[sel] == 1, 1.0, -1.0)
with h5py.File('$WORK/four_sub.h5', 'w') as f:
    f['/train/X'] = X[sel]; f['/train/Y'] = y[:, None]"
expect_ok "LAD on two classes of a labelled file (-data_classes 3,1 -data_binary_target)" 2 -data_file $WORK/four.h5 -data_classes 3,1 -data_binary_target \
  -net_hidden "" -loss l1 -stages simplex -simplex_monitor 0 -output_dir $WORK/sx_two
lpcmp "two-class LAD equals the LP on the rows of those classes with targets -1/+1" $WORK/sx_two $WORK/four_sub.h5 l1 0.5
pycheck "-data_classes keeps the training and test rows of those classes only" "
f = h5py.File('$WORK/sx_two/results.h5'); a = f['/data'].attrs
print(a['train_n'], a['test_n'], a['k'], a['num_classes']); assert a['train_n'] == h5py.File('$WORK/four_sub.h5')['/train/X'].shape[0] and a['k'] == 1 and a['num_classes'] == 0
assert a['test_n'] == int(open('$WORK/four_test_n').read())"

# ---- errors ----
E="-data_type uniform -data_n 100 -net_hidden 4 -net_activation relu -loss l1 -stages simplex"
expect_error "simplex with the mse loss" "piecewise affine" 1 $E -loss mse
expect_error "simplex with L2 regularisation" "reg_l2" 1 $E -reg_l2 0.1
expect_error "simplex with tanh after the trained layer" "tanh" 1 $E -net_activation tanh
expect_error "simplex layer out of range" "simplex_layer" 1 $E -simplex_layer 3
expect_error "unknown -simplex_step" "simplex_step" 1 $E -simplex_step huge
expect_error "unknown -simplex_rule" "simplex_rule" 1 $E -simplex_rule dantzig
expect_error "negative tolerance" "tolerances" 1 $E -simplex_opt_tol -1
expect_error "too few rows for a vertex" "no vertex" 1 -data_type uniform -data_n 3 -net_hidden 10 -net_activation relu -loss l1 -stages simplex
expect_error "-data_binary_target without -data_classes" "data_binary_target" 1 -data_file $WORK/four.h5 -data_binary_target -net_hidden "" -loss l1 -stages simplex
expect_error "-data_classes on a class that does not exist" "does not exist" 1 -data_file $WORK/four.h5 -data_classes 1,7 -net_hidden "" -loss l1 -stages simplex
expect_error "-data_classes on regression data" "no class labels" 1 -data_file $WORK/four_sub.h5 -data_classes 0,1 -net_hidden "" -loss l1 -stages simplex
expect_error "-loss_quantile outside (0, 1)" "loss_quantile" 1 $E -loss quantile -loss_quantile 1.5
