#!/usr/bin/env bash
# The level-set reproductions of docs/levelset.md without SLURM, at a size that fits a workstation:
#   bash scripts/levelset_repro.sh fmnist|iris|diabetes|all
# fmnist: the weight-decay baseline (14 lambda x WD_SEEDS seeds, input/levelset_baseline.yaml, WD_PAR
#   tasks at once on one rank each), then RUNS continuation runs (input/levelset_fmnist.yaml) on NP ranks
#   that project the lambda = 1e-3 endpoint of their own seed into their PCA, then the plots.
# iris, diabetes: the same baseline (input/levelset_<name>_baseline.yaml, 500 epochs), RUNS continuation
#   runs of input/levelset_<name>.yaml and the plots.
# Environment: RUNS (3), WD_SEEDS (3), WD_PAR (2), NP (2), STEPS (predictor steps; default: the deck's),
#   OUT (out), LANDSCAPE (bin/landscape). On a cluster use the sbatch lines of the decks instead.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LANDSCAPE:-bin/landscape}
OUT=${OUT:-out}
RUNS=${RUNS:-3}
WD_SEEDS=${WD_SEEDS:-3}
WD_PAR=${WD_PAR:-2}
NP=${NP:-2}
PY=/usr/bin/python3
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data
FM=/usr/share/datasets/fashion-mnist
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
steps=()
[ -z "${STEPS:-}" ] || steps=(-levelset_steps "$STEPS")
mkdir -p "$OUT"

data() {
  [ -s $OUT/fashion-mnist.h5 ] || $BIN import idx -images $FM/train-images-idx3-ubyte.gz -labels $FM/train-labels-idx1-ubyte.gz \
    -test_images $FM/t10k-images-idx3-ubyte.gz -test_labels $FM/t10k-labels-idx1-ubyte.gz -o $OUT/fashion-mnist.h5
  [ -s $OUT/iris.h5 ] || $BIN import csv -file $SK/iris.csv -test_fraction 0.2 -seed 0 -o $OUT/iris.h5
  if [ ! -s $OUT/diabetes_std.h5 ]; then
    $BIN import csv -file $SK/diabetes_data_raw.csv.gz -target_file $SK/diabetes_target.csv.gz -test_fraction 0.2 -seed 0 -o $OUT/diabetes.h5
    # z-score the targets with the training statistics (the importer keeps them raw; -data_standardize does the inputs)
    $PY -c "
import h5py, shutil
shutil.copy('$OUT/diabetes.h5', '$OUT/diabetes_std.h5')
with h5py.File('$OUT/diabetes_std.h5', 'r+') as f:
  y = f['/train/Y'][:]; m, s = y.mean(0), y.std(0)
  for g in ('train', 'test'): f['/' + g + '/Y'][...] = (f['/' + g + '/Y'][:] - m) / s
  f.attrs['target_mean'] = m; f.attrs['target_std'] = s"
  fi
}

fmnist() {
  local wd=$OUT/levelset_wd
  baseline input/levelset_baseline.yaml $wd
  for s in $(seq 1 "$RUNS"); do
    mpiexec -n "$NP" $BIN -options_file input/levelset_fmnist.yaml -seed "$s" "${steps[@]}" \
      -levelset_pca_points "$wd/task_$(printf %05d $((4 * 15 + s - 1)))/results.h5" -output_dir $OUT/levelset_fm/run$s -restart auto \
      > $OUT/levelset_fm.run$s.log 2>&1
    grep -E '^(train|levelset): done|PCA' $OUT/levelset_fm.run$s.log
  done
  $PY scripts/plot_levelset.py $OUT/levelset_fm --baseline $wd --title "Fashion-MNIST, tanh 784-100-100-100-10"
}

baseline() { # DECK DIR: WD_SEEDS seeds of every lambda of the deck's 14 x 15 grid, WD_PAR tasks at once
  local tasks=()
  for l in $(seq 0 13); do for s in $(seq 1 "$WD_SEEDS"); do tasks+=($((l * 15 + s - 1))); done; done
  mkdir -p "$2"
  printf '%s\n' "${tasks[@]}" | xargs -P "$WD_PAR" -I{} sh -c \
    "$BIN -options_file $1 -survey_index {} -output_dir $2 > $2.task{}.log 2>&1 || echo 'task {} failed'"
}

small() { # iris | diabetes
  baseline input/levelset_${1}_baseline.yaml $OUT/levelset_${1}_wd
  for s in $(seq 1 "$RUNS"); do
    mpiexec -n "$NP" $BIN -options_file input/levelset_$1.yaml -seed "$s" "${steps[@]}" -output_dir $OUT/levelset_$1/run$s -restart auto \
      > $OUT/levelset_$1.run$s.log 2>&1
    grep -E '^(train|levelset): done|PCA' $OUT/levelset_$1.run$s.log
  done
  $PY scripts/plot_levelset.py $OUT/levelset_$1 --baseline $OUT/levelset_${1}_wd --title "$2"
}

data
case ${1:-all} in
  fmnist) fmnist ;;
  iris) small iris "Iris, tanh 4-100x4-3" ;;
  diabetes) small diabetes "diabetes (regression), tanh 10-100x4-1" ;;
  all) fmnist; small iris "Iris, tanh 4-100x4-3"; small diabetes "diabetes (regression), tanh 10-100x4-1" ;;
  *) echo "usage: $0 fmnist|iris|diabetes|all" >&2; exit 1 ;;
esac
