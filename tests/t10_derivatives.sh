# Finite-difference checks of the gradient and the Hessian-vector product, Hessian symmetry and
# J^T r = gradient (mse), for every activation and loss, with and without bias, skip and L2.
# The check stage fails (non-zero exit) when a relative error exceeds -check_tol.
D="-data_type teacher -data_classify -data_n 200 -data_d 5 -data_k 3 -data_chunk_size 16 -stages check"
for act in relu leaky_relu sigmoid tanh linear softplus; do
  # piecewise-linear nets are checked at a generic point (after a few steps), away from exact kinks
  pre=""; case $act in relu|leaky_relu) pre="-stages train,check -train_max_it 3 -train_lr 0.01 -train_monitor 0";; esac
  for loss in mse l1 ce; do
    expect_ok "derivatives $act $loss, bias+skip+L2" 1 $D -net_hidden 16,16,16 -net_skip -net_activation $act -loss $loss -reg_l2 0.01 $pre -output_dir $WORK/d
    expect_ok "derivatives $act $loss, no bias, no skip, no L2" 1 $D -net_hidden 16,12 -net_bias 0 -net_activation $act -loss $loss $pre -output_dir $WORK/d
  done
done
expect_ok "derivatives with L2 on biases" 1 $D -net_hidden 8 -net_activation tanh -loss mse -reg_l2 0.1 -reg_l2_bias -output_dir $WORK/d
expect_ok "derivatives, no hidden layer (linear model)" 1 $D -net_hidden "" -loss mse -reg_l2 0.1 -output_dir $WORK/d
for n in 2 3; do
  expect_ok "derivatives tanh ce at $n ranks" $n $D -net_hidden 16,16 -net_skip -net_activation tanh -loss ce -reg_l2 0.01 -output_dir $WORK/d
  expect_ok "derivatives softplus mse + Jacobian at $n ranks" $n $D -net_hidden 8 -net_activation softplus -loss mse -output_dir $WORK/d
done
# The check must be able to fail: a finite-difference step far too large breaks it.
expect_error "check stage fails on a wrong derivative (h = 1)" "derivative check" 1 $D -net_hidden 8 -net_activation tanh -loss mse -check_h 1
