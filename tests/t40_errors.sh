# Bad input: one line 'landscape: error: <cause>', a non-zero exit, and no results file written or
# overwritten (expect_error puts a sentinel results.h5 in the output directory and checks it).
T="-data_type teacher -data_n 50 -net_hidden 4"
pycheck "write broken data files" "
rng = np.random.default_rng(1)
X = rng.standard_normal((20, 3)); Y = rng.standard_normal((20, 1))
def w(name, **ds):
    with h5py.File('$WORK/' + name, 'w') as f:
        for k, v in ds.items(): f[k.replace('__', '/')] = v
w('noY.h5', train__X=X)
w('rows.h5', train__X=X, train__Y=Y[:15])
Xn = X.copy(); Xn[7, 1] = np.nan; w('nan.h5', train__X=Xn, train__Y=Y)
Yi = Y.copy(); Yi[3, 0] = np.inf; w('inf.h5', train__X=X, train__Y=Yi)
with h5py.File('$WORK/labels.h5', 'w') as f:
    f['/train/X'] = X; f['/train/labels'] = np.r_[np.zeros(19, np.int32), [5]].astype(np.int32); f['/train/labels'].attrs['num_classes'] = 3
with h5py.File('$WORK/nocls.h5', 'w') as f:
    f['/train/X'] = X; f['/train/labels'] = np.zeros(20, np.int32)
w('x3d.h5', train__X=X.reshape(20, 3, 1), train__Y=Y)
w('testcols.h5', train__X=X, train__Y=Y, test__X=X[:, :2], test__Y=Y)
open('$WORK/notanh5.h5', 'w').write('not hdf5')
"
expect_error "missing data file" "no such file" 1 -data_file $WORK/nonexistent.h5
expect_error "file that is not HDF5" "not an HDF5 file" 1 -data_file $WORK/notanh5.h5
expect_error "missing dataset /train/Y" "neither /train/Y nor /train/labels" 1 -data_file $WORK/noY.h5
expect_error "X and Y row counts differ" "has 15 rows" 2 -data_file $WORK/rows.h5
expect_error "3-D X" "3 dimensions" 1 -data_file $WORK/x3d.h5
expect_error "test set with other columns" "columns" 1 -data_file $WORK/testcols.h5
expect_error "NaN in X (found at 2 ranks)" "NaN or Inf in row 7" 2 -data_file $WORK/nan.h5 -data_chunk_size 4
expect_error "Inf in Y (found at 3 ranks)" "NaN or Inf in row 3" 3 -data_file $WORK/inf.h5 -data_chunk_size 4
expect_error "label out of range" "outside \[0, 3)" 2 -data_file $WORK/labels.h5 -data_chunk_size 4
expect_error "labels without num_classes" "num_classes" 1 -data_file $WORK/nocls.h5
expect_error "no data given" "No data" 1
expect_error "unknown activation" "net_activation" 1 $T -net_activation swish
expect_error "unknown loss" "loss" 1 $T -loss hinge
expect_error "negative learning rate" "train_lr" 2 $T -train_lr -1
expect_error "zero chunk size" "data_chunk_size" 1 $T -data_chunk_size 0
expect_error "batch not a multiple of the chunk" "multiple of -data_chunk_size" 1 $T -train_batch_size 50 -data_chunk_size 16
expect_error "cross-entropy on real-valued targets" "needs class labels" 1 $T -loss ce
expect_error "unknown stage" "unknown stage 'sprectrum'" 1 $T -stages train,sprectrum
expect_error "unused (misspelt) option" "unused option -net_hiden" 1 $T -net_hiden 5
expect_error "unused TAO option of a non-TAO run" "unused option -train_tao_type" 2 $T -train_type adam -train_tao_type nls
expect_error "unknown TAO type" "Tao type nosuchtao" 1 $T -train_type tao -train_tao_type nosuchtao
expect_error "parameter file of the wrong length" "expects 21 parameters" 1 $T -data_d 3 -net_theta $WORK/io_f64/results.h5
expect_error "parameter file without /theta" "no dataset /theta" 1 $T -net_theta $WORK/noY.h5
expect_error "missing Hessian direction file" "no such file" 1 $T -stages eval -eval_hvp_direction $WORK/none.h5
expect_error "diverging training (NaN loss)" "lower -train_lr" 1 $T -train_type sgd -train_lr 1e200 -train_epochs 3
# Importer errors: one stderr line 'landscape: error:', non-zero exit, no output file.
printf '\x00\x00\x08\x05\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01junk' | gzip > $WORK/bad-idx.gz
for c in "idx -images $WORK/bad-idx.gz -labels $WORK/bad-idx.gz -o $WORK/imp_bad.h5|magic" \
         "idx -images $WORK/none.gz -labels $WORK/none.gz -o $WORK/imp_bad.h5|none.gz" \
         "csv -file $WORK/none.csv -o $WORK/imp_bad.h5|none.csv"; do
  args=${c%|*}; pat=${c#*|}
  capture "$LAND" import $args
  if one_error_line landscape "$pat" && [ ! -e $WORK/imp_bad.h5 ]; then
    ok "import error: $pat"; else not_ok "import error: $pat (rc=$rc, error lines=$nerr)" "$(streams)"; fi
done
