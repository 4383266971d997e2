#!/usr/bin/env bash
# make run: import Fashion-MNIST (once), train an MLP on 2 ranks, print a summary, write out/quickstart/results.h5.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
F=/usr/share/datasets/fashion-mnist
mkdir -p out
if [ ! -f out/fashion-mnist.h5 ]; then
  bin/landscape import idx -images $F/train-images-idx3-ubyte.gz -labels $F/train-labels-idx1-ubyte.gz \
    -test_images $F/t10k-images-idx3-ubyte.gz -test_labels $F/t10k-labels-idx1-ubyte.gz -o out/fashion-mnist.h5
fi
mpiexec --oversubscribe -n 2 bin/landscape -options_file input/quickstart.yaml "$@"
