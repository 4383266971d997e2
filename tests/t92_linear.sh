# Stochastic neurons (-net_noise) and the 'linear' stage: exact solutions of a deep linear network
# with weight decay and stochastic neurons (docs/deep-linear.md).

# ---- Sampled noise: derivatives of the noisy loss by finite differences, at 1 to 3 ranks ----
N="-data_type teacher -data_n 200 -data_d 5 -data_k 3 -data_chunk_size 16 -stages check"
for nz in dropout gaussian; do
  for act in tanh softplus linear; do
    expect_ok "derivatives with $nz noise, $act mse, bias+skip+L2" 1 $N -net_hidden 16,16 -net_skip -net_activation $act -loss mse -reg_l2 0.01 -net_noise $nz -net_noise_var 0.5 -output_dir $WORK/nz
  done
  expect_ok "derivatives with $nz noise, sigmoid ce, no bias" 1 $N -data_classify -net_hidden 16,12 -net_bias 0 -net_activation sigmoid -loss ce -net_noise $nz -net_noise_var 0.3 -output_dir $WORK/nz
done
for n in 2 3; do
  expect_ok "derivatives with gaussian noise, tanh ce at $n ranks" $n $N -data_classify -net_hidden 16,16 -net_skip -net_activation tanh -loss ce -net_noise gaussian -net_noise_var 0.5 -output_dir $WORK/nz
done
# The noisy loss is a fixed function of theta: bitwise equal at 1, 2 and 3 ranks, and it changes
# with the noise seed and variance.
E="-data_type teacher -data_n 500 -data_test_n 50 -data_d 5 -data_k 2 -data_chunk_size 16 -net_hidden 12,12 -net_activation tanh -loss mse -reg_l2 0.001 -stages eval"
for n in 1 2 3; do
  expect_ok "eval with dropout at $n ranks" $n $E -net_noise dropout -net_noise_var 0.25 -output_dir $WORK/nze$n
done
for n in 2 3; do
  same_datasets "dropout loss and gradient bitwise equal at 1 and $n ranks" $WORK/nze1/results.h5 $WORK/nze$n/results.h5 /eval/loss /eval/gradient /eval/test_loss
done
expect_ok "eval without noise" 1 $E -output_dir $WORK/nze0
expect_ok "eval with dropout, another noise seed" 1 $E -net_noise dropout -net_noise_var 0.25 -net_noise_seed 7 -output_dir $WORK/nzes
pycheck "noise changes the training loss, and the noise seed changes it, but not the test loss (no noise on test rows)" "
f = lambda d, p: h5py.File('$WORK/' + d + '/results.h5')[p][0]
a, b, c = f('nze0', '/eval/loss'), f('nze1', '/eval/loss'), f('nzes', '/eval/loss')
print(a, b, c); assert a != b and b != c and abs(b - a) < 0.5 * a
assert f('nze0', '/eval/test_loss') == f('nze1', '/eval/test_loss')"
expect_error "negative noise variance" "-net_noise_var" 1 $E -net_noise gaussian -net_noise_var -1
