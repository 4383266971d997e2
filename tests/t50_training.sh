# Training against closed-form oracles, and the TAO Newton path through the Hessian shell.
# A linear model (no hidden layer) with mse and L2 has the minimiser of ridge regression:
#   min (1/N) sum 1/2 ||W x_i + b - y_i||^2 + gamma ||W||^2  <=>  (X1' X1 / N + 2 gamma D) [W b]' = X1' Y / N
# with X1 = [X 1] and D = diag(1,...,1,0) (the bias is not regularised).
LG="-data_type linear_gaussian -data_n 500 -data_d 6 -data_k 2 -data_rho 0.6 -data_noise 0.3 -net_hidden \"\" -loss mse -reg_l2 0.05 -data_chunk_size 32"
for tao in nls ntr lmvm; do
  eval expect_ok "\"ridge regression with TAO $tao at 2 ranks\"" 2 $LG -stages train,eval -train_type tao -train_tao_type $tao -train_tao_gatol 1e-12 -train_tao_grtol 0 -train_max_it 500 -train_monitor 0 -output_dir $WORK/ridge_$tao
  pycheck "TAO $tao reaches a stationary point of the convex ridge problem (|g| < 1e-10)" "
g = h5py.File('$WORK/ridge_$tao/results.h5')['/eval/gradient'][:]; print('|g| =', np.linalg.norm(g)); assert np.linalg.norm(g) < 1e-10
"
done
# Independent oracle: the same data written to a file by Python, solved by numpy.
pycheck "write a ridge regression problem" "
rng = np.random.default_rng(3)
X = rng.standard_normal((400, 5)); W = rng.standard_normal((2, 5)); Y = X @ W.T + 0.5 + 0.2 * rng.standard_normal((400, 2))
with h5py.File('$WORK/ridge.h5', 'w') as f: f['/train/X'] = X; f['/train/Y'] = Y
"
expect_ok "ridge regression from a file, TAO nls with the Hessian shell, 3 ranks" 3 -data_file $WORK/ridge.h5 -net_hidden "" -loss mse -reg_l2 0.05 -stages train,eval -train_type tao -train_tao_type nls -train_tao_gatol 1e-13 -train_tao_grtol 0 -train_monitor 0 -data_chunk_size 16 -output_dir $WORK/ridge_file
pycheck "TAO nls equals numpy's solution of the normal equations" "
f = h5py.File('$WORK/ridge_file/results.h5'); d = h5py.File('$WORK/ridge.h5')
X = d['/train/X'][:]; Y = d['/train/Y'][:]; N, p = X.shape; k = Y.shape[1]; gamma = 0.05
X1 = np.c_[X, np.ones(N)]; D = np.diag([1.0] * p + [0.0])
B = np.linalg.solve(X1.T @ X1 / N + 2 * gamma * D, X1.T @ Y / N)   # (p+1) x k
theta = np.r_[B[:p].T.ravel(), B[p]]                               # W row-major, then b
L = 0.5 * np.sum((X1 @ B - Y) ** 2) / N + gamma * np.sum(B[:p] ** 2)
t = f['/theta'][:]; l = f['/eval/loss'][0]
print('theta err', np.abs(t - theta).max(), 'loss', l, L)
assert np.abs(t - theta).max() < 1e-8 and abs(l - L) < 1e-12 * L
"
# Full-batch gradient descent (sgd, batch = all rows, no momentum) decreases the loss monotonically
# on a smooth (tanh) problem with a small step, and -train_loss_target stops it.
expect_ok "full-batch gradient descent on the five-point data" 1 -data_type five_point -net_hidden 20 -net_bias 0 -net_activation tanh -net_init normal -net_init_scale 0.5 -loss mse -stages train -train_type sgd -train_momentum 0 -train_lr 0.05 -train_max_it 3000 -train_monitor 0 -output_dir $WORK/gd
pycheck "gradient descent: the loss never increases" "
h = h5py.File('$WORK/gd/results.h5')['/train/history'][:]
assert h.shape[0] == 3001 and (h[:, 0] == np.arange(3001)).all(), h.shape
d = np.diff(h[:, 2]); print(h[0, 2], h[-1, 2], d.max()); assert (d <= 0).all() and h[-1, 2] < 0.5 * h[0, 2]
"
expect_ok "stop at a loss target" 1 -data_type five_point -net_hidden 20 -net_bias 0 -net_activation relu -net_init normal -net_init_scale 0.1 -loss mse -stages train -train_type sgd -train_momentum 0 -train_lr 0.05 -train_max_it 3000 -train_loss_target 0.01 -train_monitor 0 -output_dir $WORK/gd_target
pycheck "loss target reached and the run stopped early" "
f = h5py.File('$WORK/gd_target/results.h5')['/train']; print(f.attrs['steps'], f.attrs['loss'])
assert f.attrs['loss'] <= 0.01 and f.attrs['steps'] < 3000
"
