# scripts/report.py: figures and report.md of real runs (train, check, spectrum, eval; simplex; levelset;
# slice, repeated and through points; the standalone topology command; escape with plateaus; the linear
# stage) and of a 3-task survey. Each report must hold its PNGs (valid, not blank, linked from report.md)
# and the key numbers, read here independently with h5py; bad input gives one error line and no report.
RP=$WORK/report
mkdir -p $RP
REPORT="$PY $ROOT/scripts/report.py"

# report NAME ARGS...: report.py must succeed with nothing on stderr (no warnings either)
report() {
  local name=$1 out err rc; shift
  out=$($REPORT "$@" 2>$RP/stderr); rc=$?
  err=$(cat $RP/stderr)
  if [ $rc -eq 0 ] && [ -z "$err" ] && printf '%s' "$out" | grep -q '^report: wrote .*report.md'; then ok "$name"; else not_ok "$name (rc=$rc)" "$out
$err"; fi
}
# report_error NAME PATTERN ARGS...: exit status 1, exactly one stderr line 'report: error: ...PATTERN...'
report_error() {
  local name=$1 pat=$2 out rc n; shift 2
  out=$($REPORT "$@" 2>&1 >/dev/null); rc=$?
  n=$(printf '%s\n' "$out" | grep -c .)
  if [ $rc -eq 1 ] && [ "$n" -eq 1 ] && printf '%s' "$out" | grep -q "^report: error: .*$pat"; then ok "$name"; else not_ok "$name (rc=$rc, $n lines, expected /$pat/)" "$out"; fi
}
# Python prelude of the checks: png(dir, name) asserts a valid, non-trivial, non-blank PNG linked from report.md;
# has(text, value) asserts that the 6-significant-digit value appears in report.md.
CHK="
import os, re
import matplotlib; matplotlib.use('Agg'); import matplotlib.image as mpimg
def png(d, name):
    p = os.path.join(d, name); b = open(p, 'rb').read()
    assert b[:8] == b'\x89PNG\r\n\x1a\n' and len(b) > 8000, (name, len(b))
    im = mpimg.imread(p); assert im.shape[0] >= 300 and im.shape[1] >= 400 and im[..., :3].std() > 0.05, (name, im.shape)
    assert '](%s)' % name in open(os.path.join(d, 'report.md')).read(), name + ' not linked'
def has(d, *vals):
    t = open(os.path.join(d, 'report.md')).read()
    for v in vals:
        s = v if isinstance(v, str) else '%.6g' % v
        assert s in t, s + ' not in report.md'
def pngs(d):
    return sorted(f for f in os.listdir(d) if f.endswith('.png'))
s = lambda v: v.decode() if isinstance(v, bytes) else v
"

# ---- train, check, spectrum, eval, and a 1-D slice along the lowest Hessian eigenvector, on 2 ranks ----
T="-data_type teacher -data_n 400 -data_test_n 100 -data_d 5 -data_classify 1 -data_k 3 -net_hidden 8 -net_activation tanh -loss ce
 -train_type adam -train_epochs 20 -train_batch_size 50 -data_chunk_size 50 -train_monitor 0"
expect_ok "run: train, check, spectrum (dense, SLQ, trace), eval, 1-D slice" 2 $T -stages train,check,spectrum,eval,slice -spectrum_eps_nev 4 \
  -spectrum_slq_probes 4 -spectrum_slq_steps 20 -spectrum_trace_probes 10 -slice_dim 1 -slice_directions smallest:0 -slice_n 61 -slice_range -3,3 \
  -slice_test -output_dir $RP/tse
report "report of train, check, spectrum, eval, slice" $RP/tse/results.h5
pycheck "train/spectrum/1-D slice report: loss curves, spectrum, line and persistence figures, run facts, key numbers as in results.h5" "$CHK
d = '$RP/tse/report'; assert pngs(d) == ['slice_line.png', 'slice_topology.png', 'spectrum_spectrum.png', 'train_loss.png'], pngs(d)
for p in pngs(d): png(d, p)
f = h5py.File('$RP/tse/results.h5'); tr = f['/train'].attrs; sp = f['/spectrum'].attrs
has(d, '| ranks | 2 |', '| resumed | no |', '| stages | train, check, spectrum, eval, slice |', '| parameters P | 75 |', 'widths 5-8-3, tanh',
    '400 training rows, 100 test rows', '## check', '| optimiser | adam |')
has(d, tr['loss'], tr['test_loss'], tr['grad_norm'], float(f['/train/history'][0, 2]), sp['lambda_min'], sp['lambda_max'], s(sp['verdict']),
    float(f['/eval/loss'][0]), float(f['/eval/test_accuracy'][0]), float(f['/spectrum/trace'][0]), sp['slq_negative_mass'])
has(d, ', '.join('%.6g' % v for v in f['/spectrum/smallest/values'][:]))
for k in f['/check']: has(d, '| %s | %.6g |' % (k, f['/check'][k][0]))
g = f['/slice']; x = np.ravel(g['x'][:]); L = np.ravel(g['loss'][:]); assert len(x) == len(L) == 61
has(d, '| dimension | 1 |', '| directions | smallest:0 |', L.min(), L.max(), '| loss at the origin θ0 | %.6g |' % L[np.argmin(abs(x))],
    np.nanmin(g['test_loss'][:]), g['topology'].attrs['total_persistence_h0'], '| H1 pairs | 0 |')"

# ---- the Deep ReLU Simplex on tiny uniform data ----
$PY -c "
import h5py, numpy as np
rng = np.random.default_rng(11)
with h5py.File('$RP/sx_data.h5', 'w') as f:
    f['/train/X'] = rng.uniform(-3, 3, (120, 3)); f['/train/Y'] = rng.uniform(-3, 3, (120, 1))"
expect_ok "run: simplex on uniform data (ReLU 3-4-2-1, layer 1)" 1 -data_file $RP/sx_data.h5 -data_chunk_size 8 -net_hidden 4,2 -net_activation relu \
  -net_init uniform -loss l1 -stages simplex -simplex_init_scale 20 -simplex_monitor 0 -seed 3 -output_dir $RP/sx
report "report of the simplex run, into --out" $RP/sx/results.h5 --out $RP/sx_rep
pycheck "simplex report: the walk figure of plot_simplex and the summary" "$CHK
d = '$RP/sx_rep'; assert pngs(d) == ['simplex_walk.png'], pngs(d); png(d, 'simplex_walk.png')
f = h5py.File('$RP/sx/results.h5'); g = f['/simplex']; sm = g['summary'][:]
has(d, s(g.attrs['verdict']), '| loss final | %.6g |' % sm[2], '| pivots | %d |' % sm[4], '| vertices visited | %d |' % len(g['trajectory']),
    'L_final = %.10g' % g['trajectory'][-1, 2])"

# ---- level-set continuation (a linear mse model, tests/t94_levelset.sh's setting, shorter) ----
$PY -c "
import h5py, numpy as np
r = np.random.default_rng(0)
X = np.c_[r.normal(size=(64, 4)) * [1.0, 0.7, 0.5, 0.3]]; w = np.array([1.0, -0.5, 0.8, 0.3]); y = X @ w + 0.4 + 0.3 * r.normal(size=64)
Xt = r.normal(size=(32, 4))
with h5py.File('$RP/lin.h5', 'w') as f:
  f['/train/X'] = X; f['/train/Y'] = y[:, None]; f['/test/X'] = Xt; f['/test/Y'] = (Xt @ w + 0.4)[:, None]
with h5py.File('$RP/start.h5', 'w') as f:
  f['/theta'] = np.array([0.3, 0.2, -0.4, 0.1, 0.0])"
expect_ok "run: train then levelset with PCA" 1 -data_file $RP/lin.h5 -data_chunk_size 16 -net_hidden 0 -loss mse -net_theta $RP/start.h5 -stages train,levelset \
  -train_type sgd -train_lr 0.05 -train_batch_size 0 -train_max_it 30 -train_monitor 0 -levelset_steps 600 -levelset_h_max 0.01 -levelset_monitor 0 \
  -levelset_snapshot_interval 20 -output_dir $RP/lv
report "report of the levelset run (a run directory as PATH)" $RP/lv
pycheck "levelset report: path and PCA figures of plot_levelset, L0, R, explained variance" "$CHK
d = '$RP/lv/report'; assert pngs(d) == ['levelset_path.png', 'levelset_pca.png', 'train_loss.png'], pngs(d)
for p in pngs(d): png(d, p)
f = h5py.File('$RP/lv/results.h5'); g = f['/levelset']
has(d, g.attrs['L0'], g.attrs['final_R'], float(g['history'][0, 2]), float(g['pca/explained_variance_ratio'][0]), s(g.attrs['stop_reason']))
assert not os.path.exists(d + '/levelset_table.md')"

# ---- slices: a plane with a loss maximum at the origin (an H1 class), twice (/slice_2), with the test loss ----
# f(0) = tanh(1 + s) - tanh(s - 1) + tanh(1 + t) - tanh(t - 1) for targets 0: the directions shift pairs of hidden biases.
$PY -c "
import h5py, numpy as np
with h5py.File('$RP/bump.h5', 'w') as f:
    f['/train/X'] = np.zeros((8, 1)); f['/train/Y'] = np.zeros((8, 1)); f['/test/X'] = np.zeros((4, 1)); f['/test/Y'] = np.full((4, 1), 0.5)
th = np.r_[np.zeros(4), [1, -1, 1, -1], [1, -1, 1, -1], 0.0]; d1 = np.zeros(13); d1[4:6] = 3; d2 = np.zeros(13); d2[6:8] = 3
with h5py.File('$RP/bump_theta.h5', 'w') as f:
    f['/theta'] = th; f['/d1'] = d1; f['/d2'] = d2
for n, t in (('p1', th + d1), ('p2', th + d2)):
    with h5py.File('$RP/bump_%s.h5' % n, 'w') as f: f['/theta'] = t"
B="-data_file $RP/bump.h5 -data_chunk_size 4 -net_hidden 4 -net_activation tanh -loss mse -net_theta $RP/bump_theta.h5"
expect_ok "run: slice, eval, slice (2-D, stored directions, test loss) on 2 ranks" 2 $B -stages slice,eval,slice -slice_directions h5:/d1,h5:/d2 \
  -slice_source $RP/bump_theta.h5 -slice_normalize none -slice_n 31,25 -slice_test -output_dir $RP/sl
report "report of the repeated slice stage" $RP/sl/results.h5
pycheck "slice report: contour (training and test loss), persistence and Betti figures for /slice and /slice_2; grid numbers and topology" "$CHK
d = '$RP/sl/report'
assert pngs(d) == ['slice_2_contour.png', 'slice_2_topology.png', 'slice_contour.png', 'slice_topology.png'], pngs(d)
for p in pngs(d): png(d, p)
f = h5py.File('$RP/sl/results.h5')
for gname in ('slice', 'slice_2'):
    g = f[gname]; L = g['loss'][:]; x = g['x'][:]; y = g['y'][:]; t = g['topology']; cr = t['critical'][:]
    assert L.shape == (len(y), len(x)) == (25, 31)
    has(d, '## ' + gname, L.min(), L.max(), '| loss at the origin θ0 | %.6g |' % L[12, 15], g['test_loss'][:].min(), t.attrs['total_persistence_h0'],
        t.attrs['total_persistence_h1'], '| H1 pairs | %d |' % np.atleast_2d(t['h1'][:]).shape[0],
        '| grid critical points: minima / saddles / maxima | %d / %d / %d |' % tuple(cr))
has(d, '## slice_2 (stage slice, instance 2)', '| stages | slice, eval, slice_2 |', '| loss scale of the figures | log |')"
expect_ok "run: slice through three points (-slice_points)" 1 $B -stages slice -slice_points $RP/bump_theta.h5,$RP/bump_p1.h5,$RP/bump_p2.h5 \
  -slice_n 21,21 -output_dir $RP/slp
report "report of the slice through points, linear colour scale (--log off)" $RP/slp/results.h5 --log off
pycheck "points slice: marked points, the points in the table, no log scale" "$CHK
d = '$RP/slp/report'; assert pngs(d) == ['slice_contour.png', 'slice_topology.png'], pngs(d)
for p in pngs(d): png(d, p)
g = h5py.File('$RP/slp/results.h5')['/slice']; L = g['loss'][:]
has(d, s(g.attrs['points']), L.min(), '| directions | points |', '| loss scale of the figures | linear |')"
if out=$(mpiexec -n 1 "$LAND" topology -topology_input $RP/sl/results.h5:/slice/loss -output_dir $RP/topo 2>&1); then
  ok "run: the standalone topology command on the stored slice"; else not_ok "run: the topology command" "$out"; fi
report "report of the topology command's results" $RP/topo/results.h5
pycheck "topology report: the grid, persistence and Betti figures; the same persistence as the slice stage" "$CHK
d = '$RP/topo/report'; assert pngs(d) == ['topology_topology.png', 'topology_values.png'], pngs(d)
for p in pngs(d): png(d, p)
t = h5py.File('$RP/topo/results.h5')['/topology']
has(d, t.attrs['total_persistence_h0'], t['values'][:].max(), '| dataset | /slice/loss |')"

# ---- escape with plateaus (plot_escape), embed, and the linear stage (plot_linear) ----
expect_ok "run: plateau monitor, escape, embed (five-point data)" 1 -data_type five_point -data_chunk_size 1 -net_bias 0 -net_activation relu -loss mse \
  -net_hidden 50 -net_init normal -net_init_scale 8e-6 -stages train,escape,embed -embed_add 1 -train_type sgd -train_batch_size 0 -train_momentum 0 \
  -train_lr 2e-3 -train_monitor 0 -train_max_it 20000 -train_plateau -output_dir $RP/esc
$PY -c "
import h5py, numpy as np
s = np.sqrt(2)
with h5py.File('$RP/lin_iso.h5', 'w') as f:
  f['/train/X'] = np.array([[s, 0], [-s, 0], [0, s], [0, -s]] * 16, float); f['/train/Y'] = np.array([s, -s, s, s] * 16, float)[:, None]"
expect_ok "run: the linear stage with a phase table" 1 -data_file $RP/lin_iso.h5 -data_chunk_size 5 -net_activation linear -net_bias 0 -loss mse \
  -stages linear -net_hidden 2,2 -reg_l2 0.05 -linear_phase_depths 1,2,3 -linear_phase_reg_l2 0.05,0.1,0.2,0.3 -output_dir $RP/lin
report "report of the escape run" $RP/esc/results.h5
report "report of the linear run" $RP/lin/results.h5
pycheck "escape and linear reports: tables with the verdicts, plot_escape and plot_linear figures" "$CHK
d = '$RP/esc/report'; assert pngs(d) == ['train_loss.png', 'train_plateaus_loss.png', 'train_plateaus_norms.png'], pngs(d)
for p in pngs(d): png(d, p)
f = h5py.File('$RP/esc/results.h5'); has(d, '## escape', '## embed', s(f['/escape'].attrs['verdict']), s(f['/embed'].attrs['verdict']),
  f['/escape'].attrs['loss'], 'Plateaus of')
d = '$RP/lin/report'; assert pngs(d) == ['linear_phase.png'], pngs(d); png(d, 'linear_phase.png')
g = h5py.File('$RP/lin/results.h5')['/linear']; has(d, '## linear', float(np.ravel(g['loss_closed'][()])[0]))"

# ---- a survey of 3 tasks (-survey_index without SLURM), with a Markdown table of another tool ----
SV="-data_type teacher -data_n 300 -data_test_n 100 -data_d 4 -data_chunk_size 50 -stages train,spectrum -train_epochs 5 -train_batch_size 50
 -train_monitor 0 -spectrum_eps_nev 2 -survey_grid net_hidden=4|8|6,6"
for i in 0 1 2; do expect_ok "survey task $i" 1 $SV -survey_index $i -output_dir $RP/survey; done
printf '# Morse counts\n\n| task | minima |\n| --- | --- |\n| 0 | 17 |\n' > $RP/survey/morse.md
report "report of the survey directory, with a report per task (--tasks)" $RP/survey --tasks
pycheck "survey report: survey_report's tables and bar plot, every task's numbers and stages, the morse.md table, task reports" "$CHK
d = '$RP/survey/report'; assert pngs(d) == ['survey.png'], pngs(d); png(d, 'survey.png')
assert os.path.exists(d + '/survey.csv') and len(h5py.File(d + '/survey.h5')['index']) == 3
has(d, '| tasks | 3 |', '| finished | 3 |', '| minima |', '| 0 | 17 |', '## From morse.md', '### Morse counts')
for i in range(3):
    f = h5py.File('$RP/survey/task_%05d/results.h5' % i)
    has(d, s(f['/survey'].attrs['config']), f['/train'].attrs['loss'], f['/train'].attrs['test_loss'], 'spectrum: ' + s(f['/spectrum'].attrs['verdict']),
        '[%d](task_%05d/report.md)' % (i, i))
    t = d + '/task_%05d' % i; assert pngs(t) == ['spectrum_spectrum.png', 'train_loss.png'], pngs(t)
    for p in pngs(t): png(t, p)
    has(t, f['/train'].attrs['loss'], s(f['/survey'].attrs['config']))"
rm -rf $RP/survey/task_00001/results.h5
report "survey report with a failed task" $RP/survey --out $RP/survey_rep2
pycheck "the failed task is named, the others are tabled" "$CHK
has('$RP/survey_rep2', '| finished | 2 |', '1: no results.h5')"

# ---- bad input: one line on stderr, exit 1, no report left behind, an earlier report kept ----
report_error "missing path" "no such file or directory" $RP/nothing.h5
echo "not hdf5" > $RP/text.h5
report_error "not an HDF5 file" "not an HDF5 file" $RP/text.h5
$PY -c "
import h5py, numpy as np, shutil
with h5py.File('$RP/other.h5', 'w') as f: f['/x'] = np.zeros(3)
shutil.copy('$RP/sl/results.h5', '$RP/bad_slice.h5')
with h5py.File('$RP/bad_slice.h5', 'a') as f:
    del f['/slice_2/loss']; f['/slice_2/loss'] = np.zeros((3, 3))
shutil.copy('$RP/tse/results.h5', '$RP/bad_train.h5')
with h5py.File('$RP/bad_train.h5', 'a') as f: del f['/train/history']"
report_error "an HDF5 file that is no results file" "not a landscape results file" $RP/other.h5
report_error "a slice whose loss does not match its grid" "/slice_2/loss has shape \[3, 3\], expected \[25, 31\]" $RP/bad_slice.h5 --out $RP/sx_rep
report_error "a train group without its history" "/train/history is missing" $RP/bad_train.h5
report_error "a directory without results" "without results.h5" $RP/sx_rep
mkdir -p $RP/notareport && echo keep > $RP/notareport/keep.txt
report_error "an output directory that is not a report" "not a report directory" $RP/sx/results.h5 --out $RP/notareport
pycheck "failed reports left nothing: no partial report, no temporary directory, the earlier report in --out unchanged" "$CHK
assert not os.path.exists('$RP/bad_slice_report') and not os.path.exists('$RP/bad_train_report') and not os.path.exists('$RP/text_report')
left = [f for f in os.listdir('$RP') if f.startswith('.')]; assert not left, left
assert pngs('$RP/sx_rep') == ['simplex_walk.png'] and 'simplex' in open('$RP/sx_rep/report.md').read()
assert os.listdir('$RP/notareport') == ['keep.txt']"
