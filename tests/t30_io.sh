# HDF5: data files in float32 and float64, the results layout, theta round trip, and the importers
# on the real Fashion-MNIST (Debian's dataset-fashion-mnist) and scikit-learn CSV files.
FM=/usr/share/datasets/fashion-mnist
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data

# A regression file written with h5py, X in float64 and the same X in float32.
pycheck "write regression datasets (X float64 and float32)" "
rng = np.random.default_rng(0)
X = rng.standard_normal((300, 4)).astype(np.float32).astype(np.float64)  # exactly representable in float32
Y = np.c_[np.sin(X[:, 0]), X[:, 1] * X[:, 2]]
for name, dt in (('f64', np.float64), ('f32', np.float32)):
    with h5py.File('$WORK/reg_%s.h5' % name, 'w') as f:
        f['/train/X'] = X[:240].astype(dt); f['/train/Y'] = Y[:240]
        f['/test/X'] = X[240:].astype(dt); f['/test/Y'] = Y[240:]
with h5py.File('$WORK/reg_notest.h5', 'w') as f:
    f['/train/X'] = X; f['/train/Y'] = Y
"
for p in f64 f32; do
  expect_ok "train on $p data at 2 ranks" 2 -data_file $WORK/reg_$p.h5 -net_hidden 10 -net_activation tanh -loss mse -stages train,eval -train_type adam -train_epochs 20 -train_batch_size 48 -data_chunk_size 16 -train_monitor 0 -output_dir $WORK/io_$p
done
same_datasets "float32 and float64 files give the same results" $WORK/io_f64/results.h5 $WORK/io_f32/results.h5 /theta /eval/loss /eval/gradient
pycheck "results.h5 layout: /run metadata, /theta, /theta_initial, /net, /data, /train/history, /eval" "
f = h5py.File('$WORK/io_f64/results.h5')
P = 4*10 + 10 + 10*2 + 2
assert f['/theta'].shape == (P,) and f['/theta_initial'].shape == (P,), f['/theta'].shape
for a in ('version', 'options', 'ranks', 'start_time', 'end_time', 'seed'): assert a in f['/run'].attrs, a
assert f['/run'].attrs['ranks'] == 2
assert list(f['/net/widths'][:]) == [4, 10, 2] and f['/net'].attrs['num_params'] == P
assert f['/data'].attrs['train_n'] == 240 and f['/data'].attrs['test_n'] == 60
h = f['/train/history']; assert h.shape == (21, 7), h.shape
assert h[-1, 2] < h[0, 2], 'loss did not decrease'
assert f['/eval/gradient'].shape == (P,)
"
# Round trip: start from the saved theta, evaluate, get the same loss and gradient bitwise, at another rank count.
expect_ok "restart from /theta of a results file (-net_theta) at 3 ranks" 3 -data_file $WORK/reg_f64.h5 -net_hidden 10 -net_activation tanh -loss mse -stages eval -data_chunk_size 16 -net_theta $WORK/io_f64/results.h5 -output_dir $WORK/io_rt
same_datasets "theta round trip through HDF5 reproduces the loss and gradient" $WORK/io_f64/results.h5 $WORK/io_rt/results.h5 /eval/loss /eval/gradient /theta

# Standardisation: training statistics recorded, training inputs then have mean 0 and std 1.
expect_ok "standardised data" 2 -data_file $WORK/reg_f64.h5 -data_standardize -net_hidden 4 -loss mse -stages eval -output_dir $WORK/io_std
pycheck "standardisation statistics equal the training mean and std" "
f = h5py.File('$WORK/io_std/results.h5'); X = h5py.File('$WORK/reg_f64.h5')['/train/X'][:]
assert np.allclose(f['/data/mean'][:], X.mean(0), rtol=1e-14, atol=1e-15)
assert np.allclose(f['/data/std'][:], X.std(0), rtol=1e-13)
"
# Subsets and splits are seeded and independent of the rank count.
for n in 1 3; do
  expect_ok "random subset and test split at $n ranks" $n -data_file $WORK/reg_notest.h5 -data_train_n 100 -data_test_fraction 0.25 -net_hidden 4 -loss mse -stages eval -output_dir $WORK/io_sub$n
done
same_datasets "subset and split do not depend on the rank count" $WORK/io_sub1/results.h5 $WORK/io_sub3/results.h5 /eval/loss /eval/gradient /eval/test_loss

# Importers on the real files.
if out=$("$LAND" import idx -images $FM/train-images-idx3-ubyte.gz -labels $FM/train-labels-idx1-ubyte.gz \
    -test_images $FM/t10k-images-idx3-ubyte.gz -test_labels $FM/t10k-labels-idx1-ubyte.gz -n 5000 -o $WORK/fm.h5 2>&1); then
  ok "import Fashion-MNIST (gzip'd IDX) from dataset-fashion-mnist"; else not_ok "import Fashion-MNIST" "$out"; fi
pycheck "Fashion-MNIST import matches a direct decode of the IDX files" "
import gzip
raw = gzip.open('$FM/train-images-idx3-ubyte.gz').read(); lab = gzip.open('$FM/train-labels-idx1-ubyte.gz').read()
X = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784)[:5000].astype(np.float32) / 255
y = np.frombuffer(lab, np.uint8, offset=8)[:5000]
f = h5py.File('$WORK/fm.h5')
assert f['/train/X'].dtype == np.float32 and f['/train/X'].shape == (5000, 784)
assert np.array_equal(f['/train/X'][:], X) and np.array_equal(f['/train/labels'][:], y)
assert f['/train/labels'].attrs['num_classes'] == 10 and f['/test/X'].shape == (10000, 784)
"
expect_ok "train on imported Fashion-MNIST at 2 ranks" 2 -data_file $WORK/fm.h5 -data_test_n 1000 -net_hidden 32 -net_activation relu -loss ce -stages train -train_epochs 2 -train_batch_size 100 -data_chunk_size 50 -train_monitor 0 -output_dir $WORK/fmrun
pycheck "Fashion-MNIST test accuracy after 2 epochs above 0.7" "
a = h5py.File('$WORK/fmrun/results.h5')['/train'].attrs['test_accuracy']; print(a); assert a > 0.7"

if out=$("$LAND" import csv -file $SK/iris.csv -test_fraction 0.2 -seed 1 -o $WORK/iris.h5 2>&1); then
  ok "import Iris CSV from python3-sklearn"; else not_ok "import Iris CSV" "$out"; fi
pycheck "Iris import matches scikit-learn's loader" "
from sklearn.datasets import load_iris
d = load_iris(); f = h5py.File('$WORK/iris.h5')
X = np.r_[f['/train/X'][:], f['/test/X'][:]]; y = np.r_[f['/train/labels'][:], f['/test/labels'][:]]
assert X.shape == (150, 4) and f['/test/X'].shape == (30, 4)
order = np.lexsort(np.c_[X, y].T); ref = np.lexsort(np.c_[d.data, d.target].T)
assert np.array_equal(X[order], d.data[ref]) and np.array_equal(y[order], d.target[ref])
"
expect_ok "Iris: TAO BFGS on a tanh net at 2 ranks" 2 -data_file $WORK/iris.h5 -data_standardize -net_hidden 8 -net_activation tanh -loss ce -reg_l2 1e-3 -stages train -train_type tao -train_tao_type lmvm -train_max_it 200 -train_monitor 0 -output_dir $WORK/iris_run
pycheck "Iris test accuracy at least 0.9" "
a = h5py.File('$WORK/iris_run/results.h5')['/train'].attrs['test_accuracy']; print(a); assert a >= 0.9"
for csv in "wine_data.csv" "breast_cancer.csv" "digits.csv.gz"; do
  if out=$("$LAND" import csv -file $SK/$csv -o $WORK/imp.h5 2>&1); then ok "import $csv"; else not_ok "import $csv" "$out"; fi
done
if out=$("$LAND" import csv -file $SK/diabetes_data_raw.csv.gz -target_file $SK/diabetes_target.csv.gz -o $WORK/diabetes.h5 2>&1); then
  ok "import the diabetes regression CSVs"; else not_ok "import diabetes" "$out"; fi
expect_ok "train on diabetes (regression, standardised) at 3 ranks" 3 -data_file $WORK/diabetes.h5 -data_standardize -net_hidden 8 -loss mse -stages train -train_epochs 5 -train_batch_size 32 -data_chunk_size 16 -train_monitor 0 -output_dir $WORK/diab
