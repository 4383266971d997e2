# Morse counts (scripts/morse_count.py, docs/morse.md): the symmetries it divides out are real (bin/landscape's
# loss is unchanged on permuted and sign-flipped copies, and changed by the copies that are not symmetries),
# copies of one critical point are grouped into one point with the right orbit while distinct points stay
# apart, and on a small multi-start survey the indices and the grouping agree with numpy done independently
# (eigenvalue counts; brute force over all 48 signed permutations of a 4-3-1 tanh net).
MO=$WORK/morse
mkdir -p $MO/tanh_copies $MO/sigm_copies $MO/skip_copies
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data
MC="$PY $ROOT/scripts/morse_count.py"
"$LAND" import csv -file $SK/iris.csv -o $MO/iris.h5 > /dev/null 2>&1 || not_ok "import iris" "$("$LAND" import csv -file $SK/iris.csv -o $MO/iris.h5 2>&1)"
DATA="-data_file $MO/iris.h5 -data_classes 1,2 -data_binary_target -data_standardize -loss mse"
NEWTON="-spectrum_which none -stationary_monitor 0 -stationary_snes_linesearch_type l2 -stationary_ksp_rtol 1e-10 -stationary_max_it 200"
TANH="-net_hidden 3 -net_activation tanh -reg_l2 1e-4 -reg_l2_bias"
SIGM="-net_hidden 3 -net_activation sigmoid -reg_l2 1e-4"        # weights only: the sigmoid flip shifts the next bias
SKIP="-net_hidden 3,3 -net_skip -net_activation tanh -reg_l2 1e-4 -reg_l2_bias"
TRAIN="-stages train,stationary,spectrum -train_type tao -train_max_it 500 -train_monitor 0 $NEWTON"

# survey NAME DIR GRID NTASKS ARGS...: every task of a survey in DIR (run from DIR: net_theta values are file names)
survey() {
  local name=$1 dir=$2 grid=$3 n=$4 out="" i; shift 4
  mkdir -p $dir
  for i in $(seq 0 $((n - 1))); do
    out=$out$(cd $dir && land 1 $DATA "$@" -survey_grid "$grid" -survey_index $i -output_dir . 2>&1) || { not_ok "$name (task $i)" "$out"; return; }
  done
  ok "$name"
}

# ---- one trained critical point per architecture: TAO then Newton; tanh seeds 1 and 3 reach copies of one minimum ----
survey "tanh 4-3-1: three trained critical points (seeds 1, 2, 3)" $MO/tanh_train "seed=1|2|3" 3 $TANH $TRAIN
survey "sigmoid 4-3-1: one trained critical point" $MO/sigm_train "seed=1" 1 $SIGM $TRAIN
survey "tanh 4-3-3-1 with skip: one trained critical point" $MO/skip_train "seed=1" 1 $SKIP $TRAIN

# ---- copies in numpy: parameters theta = W1 (h x 4, row-major), b1, [W2 (3 x 3), b2,] W_out, b_out ----
$PY - "$MO" <<'EOF' || not_ok "numpy copies of the trained points"
import sys, h5py, numpy as np
M = sys.argv[1]
def save(name, t):   # into the directory of the survey that starts from it
    d = {"t": "tanh_copies/", "c": "tanh_copies/", "s": "sigm_copies/", "k": "skip_copies/"}[name[0]] if "bad" not in name else ""
    with h5py.File(M + "/" + d + name, "w") as f: f["/theta"] = t
def split(t, widths):
    out, o = [], 0
    for l in range(1, len(widths)):
        n, m = widths[l], widths[l - 1]
        out += [t[o:o + n * m].reshape(n, m).copy(), t[o + n * m:o + n * m + n].copy()]; o += n * m + n
    return out
join = lambda parts: np.concatenate([p.ravel() for p in parts])
p, s = np.array([2, 0, 1]), np.array([-1.0, 1.0, -1.0])
for name, task in (("t1", 0), ("t2", 1)):
    save(name + ".h5", h5py.File(M + "/tanh_train/task_%05d/results.h5" % task)["/theta"][:])
W1, b1, W2, b2 = split(h5py.File(M + "/tanh_copies/t1.h5")["/theta"][:], [4, 3, 1])
save("c1.h5", join([s[:, None] * W1[p], s * b1[p], W2[:, p] * s, b2]))                  # tanh: signed permutation
save("c2.h5", join([-W1[[1, 2, 0]], -b1[[1, 2, 0]], -W2[:, [1, 2, 0]], b2]))               # all units flipped, cycled
W1, b1, W2, b2 = split(h5py.File(M + "/sigm_train/task_00000/results.h5")["/theta"][:], [4, 3, 1])
save("s0.h5", join([W1, b1, W2, b2]))
F = np.array([1.0, -1.0, 1.0])                                                             # flip unit 1, then permute
W1f, b1f, W2f, b2f = F[:, None] * W1, F * b1, W2 * F, b2 + W2[:, 1]
save("s1.h5", join([W1f[p], b1f[p], W2f[:, p], b2f]))                                      # sigma(-z) = 1 - sigma(z)
save("sbad.h5", join([W1f, b1f, W2f, b2]))                                                 # the same flip without the bias
W1, b1, W2, b2, W3, b3 = split(h5py.File(M + "/skip_train/task_00000/results.h5")["/theta"][:], [4, 3, 3, 1])
save("k0.h5", join([W1, b1, W2, b2, W3, b3]))
S = np.diag(s)[p]                                                                          # S P: one signed permutation of the stream
save("k1.h5", join([S @ W1, S @ b1, S @ W2 @ S.T, S @ b2, W3 @ S.T, b3]))
P1 = np.eye(3)[p]                                                                          # layer 1 alone, as if there were no skip
save("kbad.h5", join([P1 @ W1, P1 @ b1, W2 @ P1.T, b2, W3, b3]))
EOF

# ---- the symmetries are real: the loss of bin/landscape (eval before Newton) on the copies ----
survey "tanh: eval, Newton and spectrum on theta_1, two signed permutations of it, theta_2" $MO/tanh_copies "net_theta=t1.h5|c1.h5|c2.h5|t2.h5" 4 \
  $TANH -stages eval,stationary,spectrum $NEWTON
survey "sigmoid: eval, Newton and spectrum on theta and a flipped, permuted copy" $MO/sigm_copies "net_theta=s0.h5|s1.h5" 2 $SIGM -stages eval,stationary,spectrum $NEWTON
survey "skip: eval, Newton and spectrum on theta and a copy with one signed permutation of the residual stream" $MO/skip_copies "net_theta=k0.h5|k1.h5" 2 \
  $SKIP -stages eval,stationary,spectrum $NEWTON
expect_ok "sigmoid: eval of the flip without the bias adjustment" 1 $DATA $SIGM -net_theta $MO/sbad.h5 -stages eval -output_dir $MO/sbad
expect_ok "skip: eval of a permutation of hidden layer 1 alone" 1 $DATA $SKIP -net_theta $MO/kbad.h5 -stages eval -output_dir $MO/kbad
pycheck "the loss is invariant under the symmetries (1e-13 relative) and changes without them" "
L = lambda d: h5py.File('$MO/' + d + '/results.h5')['/eval/loss'][0]
for d, n in (('tanh_copies', 3), ('sigm_copies', 2), ('skip_copies', 2)):
  ls = [L(d + '/task_%05d' % i) for i in range(n)]; print(d, ['%.15g' % x for x in ls])
  assert max(abs(x - ls[0]) for x in ls) <= 1e-13 * ls[0]
  th = [h5py.File('$MO/' + d + '/task_%05d/results.h5' % i)['/theta_initial'][:] for i in range(n)]
  assert min(np.linalg.norm(t - th[0]) for t in th[1:]) > 1.0   # the copies are far apart in parameter space
for bad, good in (('sbad', 'sigm_copies/task_00000'), ('kbad', 'skip_copies/task_00000')):
  print(bad, L(bad), L(good)); assert abs(L(bad) - L(good)) > 1e-3 * L(good)"

# ---- grouping: copies are one point with the full orbit, distinct points stay apart ----
for d in tanh_train tanh_copies sigm_copies skip_copies; do
  if out=$($MC $MO/$d 2>&1); then ok "morse_count $d"; else not_ok "morse_count $d" "$out"; fi
done
pycheck "copies of one critical point are one point with orbit 3! 2^3 = 48; theta_2 and the other seed stay distinct" "
def pts(d):
  g = h5py.File('$MO/' + d + '/morse.h5')['config_00']; return g, g['point_of_task'][:], g['orbit'][:], g['loss'][:], g['index'][:]
g, pot, orb, loss, idx = pts('tanh_copies'); print('tanh copies', pot, orb, loss, idx)
assert pot[0] == pot[1] == pot[2] != pot[3] and len(orb) == 2 and (orb == 48).all() and g.attrs['distinct'] == 2
assert abs(loss[0] - loss[1]) > 1e-4 and (idx == 0).all()
g, pot, orb, loss, idx = pts('tanh_train'); print('tanh seeds 1, 2, 3', pot, loss)
assert pot[0] == pot[2] != pot[1] and len(orb) == 2
for d in ('sigm_copies', 'skip_copies'):
  g, pot, orb, loss, idx = pts(d); print(d, pot, orb, g.attrs['group_order'])
  assert (pot == 0).all() and orb.tolist() == [48] and g.attrs['group_order'] == 48"

# ---- refusals and one-line errors ----
mkdir -p $MO/sk_sig
(cd $MO/sk_sig && land 1 $DATA -net_hidden 3,3 -net_skip -net_activation sigmoid -stages eval -survey_grid "seed=1" -survey_index 0 -output_dir . > /dev/null 2>&1)
for spec in "sigmoid with skip connections is refused|$MO/sk_sig|skip connections" "a missing survey directory|$MO/nothing|not a directory" \
            "a directory without tasks|$MO|no task_"; do
  IFS='|' read -r name dir pat <<< "$spec"
  capture $MC $dir
  if one_error_line morse_count "$pat" && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]; then ok "morse_count: $name"
  else not_ok "morse_count: $name (rc=$rc, error lines=$nerr)" "$(streams)"; fi
done

# ---- a small multi-start survey, checked against numpy ----
survey "multi-start survey: 6 starts (sgd/adam x 3 seeds, 300 steps) of a 4-3-1 tanh net" $MO/multi "train_type=sgd|adam seed=1|2|3" 6 \
  $TANH $NEWTON -stages train,stationary,spectrum -train_batch_size 0 -train_epochs 1000000 -train_lr 0.05 -train_max_it 300 -train_monitor 0
if out=$($MC $MO/multi 2>&1); then ok "morse_count on the multi-start survey"; else not_ok "morse_count on the multi-start survey" "$out"; fi
pycheck "multi-start: indices = negative dense eigenvalues (numpy), grouping = brute force over the 48 signed permutations" "
import itertools, csv
g = h5py.File('$MO/multi/morse.h5')['config_00']; pot = g['point_of_task'][:]; idx = g['index'][:]
th, ev, L, cert = [], [], [], []
for i in range(6):
  f = h5py.File('$MO/multi/task_%05d/results.h5' % i)
  cert.append(f['/stationary'].attrs['verdict'] in ('reached', b'reached')); th.append(f['/theta'][:]); ev.append(f['/spectrum/dense/eigenvalues'][:]); L.append(f['/spectrum/loss'][0])
print('certified', cert, 'point of task', pot.tolist(), 'indices', idx.tolist(), 'losses', np.round(L, 8))
assert sum(cert) >= 3 and ((pot >= 0) == np.array(cert)).all()
for i in np.flatnonzero(cert):
  e = ev[i]; k = int((e < -1e-6 * abs(e).max()).sum()); assert k == idx[pot[i]], (i, k, idx[pot[i]])
def parts(t): return t[:12].reshape(3, 4), t[12:15], t[15:18], t[18]
def gact(t, p, s):
  W, b, v, c = parts(t); p = list(p); return np.concatenate([(s[:, None] * W[p]).ravel(), s * b[p], v[p] * s, [c]])
def odist(a, b):   # min over all 48 signed permutations g of the hidden units of |a - g b|
  return min(np.linalg.norm(a - gact(b, p, np.array(s))) for p in itertools.permutations(range(3)) for s in itertools.product((1.0, -1.0), repeat=3))
C = list(np.flatnonzero(cert)); same = {(i, j): odist(th[i], th[j]) <= 1e-4 * max(1, np.linalg.norm(th[i]), np.linalg.norm(th[j])) for i in C for j in C}
for i in C:
  for j in C: assert same[i, j] == (pot[i] == pot[j]), (i, j, same[i, j], pot[i], pot[j])
nd = g['nzero'][:] == 0; c = np.bincount(idx[nd], minlength=len(g['c'])); print('c_k', c[:6], 'distinct', g.attrs['distinct'])
assert (g['c'][:len(c)] == c).all() and g.attrs['distinct'] == nd.sum() and g['found'][:].sum() == sum(cert)
r = list(csv.DictReader(open('$MO/multi/morse.csv')))[0]; assert int(r['distinct']) == nd.sum() and int(r['certified']) == sum(cert)"
