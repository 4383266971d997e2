# Escape neurons of shallow ReLU nets (docs/shallow-relu.md): hand-built stationary points, the
# five-point local minimum of Wu, Simsek and Ged, embeddings, plateaus, rank independence, errors.
FP="-data_type five_point -data_chunk_size 1 -net_bias 0 -net_activation relu -loss mse"
GD="-train_type sgd -train_batch_size 0 -train_momentum 0 -train_lr 2e-3 -train_monitor 0"
# h5py returns fixed-length string attributes as bytes
ATTR="def attr(g, name):
    v = g.attrs[name]
    return v.decode() if isinstance(v, bytes) else v
def certified(g):
    c = g['certificate'].attrs
    p, m = c['predicted_change'], c['measured_change']
    print('certificate: eps', c['eps'], 'predicted', p, 'measured', m)
    return c['verified'] == 1 and m < 0 and abs(m - p) <= 0.25 * abs(p)"

# ---- hand-built points (theta = W1 row-major, then h; no biases) ----
pycheck "write hand-built parameter files" "
def put(name, *parts):
    with h5py.File('$WORK/esc_' + name + '.h5', 'w') as f: f['/theta'] = np.concatenate([np.ravel(p) for p in parts]).astype(float)
put('dead', [[1, -2], [-1, -3]], [0.5, 0])              # z = x - 2 and -x - 3 < 0 on x in [-1, 0.7]
put('deadzero', [[1, -2], [-1, -3], [0, 0]], [0.5, 0, 0]) # plus a zero neuron (w = 0, h = 0)
put('zero', np.zeros((3, 2)), np.zeros(3))
put('bias0', np.zeros((2, 2)), np.zeros(2), np.zeros(2), [0.0])           # with biases: W1, b1, W2, b2
put('biasmean', np.zeros((2, 2)), np.zeros(2), np.zeros(2), [0.044])      # b2 = mean(y)
put('vector', np.zeros((2, 3)), np.zeros((2, 2)))
"
expect_ok "escape: two dead ReLU neurons (h = 0.5 and h = 0)" 1 $FP -net_hidden 2 -net_theta $WORK/esc_dead.h5 -stages escape -output_dir $WORK/esc_dead
pycheck "a dead ReLU neuron is not an escape neuron: local min" "$ATTR
g = h5py.File('$WORK/esc_dead/results.h5')['/escape']; t = g['neurons'][:]
print(attr(g, 'verdict'), t[:, [5, 6]])
assert attr(g, 'verdict') == 'local min' and t[:, 5].all() and not t[:, 6].any()
"
expect_ok "escape: dead neurons and a zero neuron at w = 0" 1 $FP -net_hidden 3 -net_theta $WORK/esc_deadzero.h5 -stages escape -output_dir $WORK/esc_deadzero
pycheck "a zero neuron at w = 0 with a non-zero residual is an escape neuron: saddle, loss falls as -(1/N) eps^1.5 |g|" "$ATTR
g = h5py.File('$WORK/esc_deadzero/results.h5')['/escape']; t = g['neurons'][:]
print(attr(g, 'summary'))
assert attr(g, 'verdict') == 'saddle' and list(t[:, 6]) == [0, 0, 1] and g['certificate'].attrs['neuron'] == 2 and certified(g)
"
for n in 1 2 3; do
  expect_ok "escape: theta = 0 at $n ranks" $n $FP -net_hidden 3 -net_theta $WORK/esc_zero.h5 -stages escape -output_dir $WORK/esc_zero_$n
done
pycheck "theta = 0: every neuron is an escape neuron, saddle with a measured decrease" "$ATTR
g = h5py.File('$WORK/esc_zero_1/results.h5')['/escape']
assert attr(g, 'verdict') == 'saddle' and g['neurons'][:, 6].all() and certified(g)
"
same_datasets "theta = 0: table and certificate identical at 1, 2 ranks" $WORK/esc_zero_1/results.h5 $WORK/esc_zero_2/results.h5 /escape/neurons /escape/certificate
same_datasets "theta = 0: table and certificate identical at 1, 3 ranks" $WORK/esc_zero_1/results.h5 $WORK/esc_zero_3/results.h5 /escape/neurons /escape/certificate
expect_ok "escape: leaky_relu at theta = 0" 1 $FP -net_activation leaky_relu -net_leaky_slope 0.1 -net_hidden 3 -net_theta $WORK/esc_zero.h5 -stages escape -output_dir $WORK/esc_leaky
pycheck "leaky_relu, theta = 0: saddle with a measured decrease" "$ATTR
g = h5py.File('$WORK/esc_leaky/results.h5')['/escape']; assert attr(g, 'verdict') == 'saddle' and certified(g)
"
expect_ok "escape: biases, theta = 0" 1 $FP -net_bias 1 -net_hidden 2 -net_theta $WORK/esc_bias0.h5 -stages escape -output_dir $WORK/esc_bias0
expect_ok "escape: biases, output bias = mean(y)" 1 $FP -net_bias 1 -net_hidden 2 -net_theta $WORK/esc_biasmean.h5 -stages escape -output_dir $WORK/esc_biasmean
pycheck "the output-bias gradient must vanish: not stationary at b = 0, saddle at b = mean(y)" "$ATTR
a = h5py.File('$WORK/esc_bias0/results.h5')['/escape']; b = h5py.File('$WORK/esc_biasmean/results.h5')['/escape']
print(attr(a, 'summary')); print(attr(b, 'summary'))
assert attr(a, 'verdict') == 'not stationary' and 'output-bias' in attr(a, 'summary') and a.attrs['output_bias_residual'] > 0.1
assert attr(b, 'verdict') == 'saddle' and b.attrs['output_bias_residual'] < 1e-12 and certified(b)
"
expect_ok "escape: vector output at theta = 0" 1 -data_type linear_gaussian -data_n 20 -data_d 3 -data_k 2 -data_chunk_size 4 -net_bias 0 -net_activation relu -loss mse -net_hidden 2 -net_theta $WORK/esc_vector.h5 -stages escape -output_dir $WORK/esc_vector
pycheck "vector output with escape neurons: stationary, undetermined (no certificate)" "$ATTR
g = h5py.File('$WORK/esc_vector/results.h5')['/escape']; print(attr(g, 'summary'))
assert attr(g, 'verdict') == 'undetermined' and g.attrs['escape_neurons'] == 2 and 'certificate' not in g
"

# ---- the five-point spurious local minimum (study Fig. 3: loss 0.027886 in the study's convention) ----
expect_ok "five-point GD, width 50, init std 8e-6, 6e5 steps of lr 2e-3" 1 $FP -net_hidden 50 -net_init normal -net_init_scale 8e-6 -stages train,escape $GD -train_max_it 600000 -output_dir $WORK/esc_min
pycheck "GD ends at a local min with loss 0.013943 (study convention 0.027886)" "$ATTR
f = h5py.File('$WORK/esc_min/results.h5'); g = f['/escape']; print(attr(g, 'summary'), g.attrs['loss_study'])
assert attr(g, 'verdict') == 'local min' and abs(g.attrs['loss_study'] - 0.027886) < 2e-6 and g.attrs['escape_neurons'] == 0
t = g['neurons'][:]; assert (t[:, 2] > 0).sum() >= 1   # a neuron sits on a kink: a non-differentiable point
"
for n in 1 2 3; do
  expect_ok "escape of the five-point minimum at $n ranks" $n $FP -net_hidden 50 -net_theta $WORK/esc_min/results.h5 -stages escape -output_dir $WORK/esc_min_$n
done
same_datasets "five-point minimum: verdict table identical at 1 and 2 ranks" $WORK/esc_min_1/results.h5 $WORK/esc_min_2/results.h5 /escape/neurons
same_datasets "five-point minimum: verdict table identical at 1 and 3 ranks" $WORK/esc_min_1/results.h5 $WORK/esc_min_3/results.h5 /escape/neurons
J=$($PY -c "import h5py, numpy as np; t = h5py.File('$WORK/esc_min/results.h5')['/escape/neurons'][:]; print(int(np.flatnonzero((t[:, 2] > 0) & (t[:, 1] > 1e-3))[0]))" 2>/dev/null || echo 0)
expect_ok "embed (E2): split kinked neuron $J with beta = 0.5, 0.5" 2 $FP -net_hidden 50 -net_theta $WORK/esc_min/results.h5 -stages embed -embed_split $J -embed_split_beta 0.5,0.5 -embed_split_c 1,1 -output_dir $WORK/esc_split
expect_ok "embed (E2): split kinked neuron $J with beta = 0, 0.5 and c = 1, 2" 2 $FP -net_hidden 50 -net_theta $WORK/esc_min/results.h5 -stages embed -embed_split $J -embed_split_beta 0,0.5 -embed_split_c 1,2 -output_dir $WORK/esc_split0
expect_ok "embed (E1): add a zero neuron at w = 0, 3 ranks" 3 $FP -net_hidden 50 -net_theta $WORK/esc_min/results.h5 -stages embed -embed_add 1 -output_dir $WORK/esc_add
pycheck "embedding keeps the function; beta > 0 stays a local min, beta = 0 and an added zero neuron give a certified saddle" "$ATTR
for d in ('split', 'split0', 'add'):
    g = h5py.File('$WORK/esc_' + d + '/results.h5')['/embed']
    print(d, attr(g, 'summary'))
    assert abs(g.attrs['loss_after'] - g.attrs['loss_before']) <= 1e-12 * g.attrs['loss_before'] and g.attrs['hidden_width'] == 51
    assert g['theta'].shape == (153,)
s, s0, a = (h5py.File('$WORK/esc_' + d + '/results.h5')['/embed'] for d in ('split', 'split0', 'add'))
assert attr(s, 'verdict') == 'local min'
assert attr(s0, 'verdict') == 'saddle' and s0['certificate'].attrs['neuron'] == $J and certified(s0)
assert attr(a, 'verdict') == 'saddle' and a['certificate'].attrs['neuron'] == 50 and certified(a)
"
expect_ok "continue from /embed/theta with -net_theta_dataset" 1 $FP -net_hidden 51 -net_theta $WORK/esc_add/results.h5 -net_theta_dataset embed/theta -stages escape -output_dir $WORK/esc_cont
pycheck "the continued run classifies the widened point as the embed stage did" "
a = h5py.File('$WORK/esc_add/results.h5')['/embed/neurons'][:]; b = h5py.File('$WORK/esc_cont/results.h5')['/escape/neurons'][:]
assert np.array_equal(a, b)
"

# ---- plateaus of GD from small initialisation (a shortened run; the full one is input/fig3_escape.yaml) ----
expect_ok "plateau monitor on 60000 steps" 1 $FP -net_hidden 50 -net_init normal -net_init_scale 8e-6 -stages train $GD -train_max_it 60000 -train_plateau -output_dir $WORK/esc_plateau
pycheck "the first plateau (loss 0.01906) is a saddle with a measured decrease; |w_j| ~ |h_j| is recorded" "$ATTR
f = h5py.File('$WORK/esc_plateau/results.h5'); p = np.atleast_2d(f['/train/plateaus'][:]); print(p)  # 1-D when there is one plateau
assert p.shape[0] >= 1 and p[0, 0] == 0 and abs(p[0, 3] - 0.01906) < 1e-5 and p[0, 6] == 2 and p[0, 8] < 0 and p[0, 9] == 1
assert attr(f['/train/plateau_1'], 'verdict') == 'saddle' and certified(f['/train/plateau_1'])
s = f['/train/neuron_norms'][:]; assert s.shape[1] == 2 + 2 * 50 and s.shape[0] >= 60
assert np.allclose(s[-1, 2:52], s[-1, 52:], rtol=0.5, atol=1e-4)   # |w_j| and |h_j| move together (balanced init aside)
"

# ---- errors: one line, naming the cause ----
expect_error "escape on a net with two hidden layers" "one hidden layer" 1 $FP -net_hidden 4,4 -stages escape
expect_error "escape on sigmoid" "not ReLU-like" 1 $FP -net_activation sigmoid -net_hidden 4 -stages escape
expect_error "escape on cross-entropy" "needs -loss mse" 1 -data_type teacher -data_classify -data_n 50 -data_d 3 -data_k 3 -data_chunk_size 10 -net_hidden 4 -net_activation relu -loss ce -stages escape
expect_error "escape with an L2 regulariser" "unregularised" 1 $FP -net_hidden 4 -reg_l2 0.1 -stages escape
expect_error "embed with sum beta c != 1" "must be 1" 1 $FP -net_hidden 4 -stages embed -embed_split 0 -embed_split_beta 0.5,0.6 -embed_split_c 1,1
expect_error "embed with c <= 0" "must be > 0" 1 $FP -net_hidden 4 -stages embed -embed_split 0 -embed_split_beta 1,1 -embed_split_c 2,-1
expect_error "embed with -embed_add_w of the wrong length" "embed_add_w has 3" 1 $FP -net_hidden 4 -stages embed -embed_add 1 -embed_add_w 1,2,3
expect_error "embed with nothing to do" "nothing to do" 1 $FP -net_hidden 4 -stages embed
expect_error "plateau monitor with adam" "train_plateau needs" 1 $FP -net_hidden 4 -stages train -train_type adam -train_plateau
