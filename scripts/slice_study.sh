#!/usr/bin/env bash
# Sublevel-set topology on slices across architectures (docs/slice.md), on the data of the Morse-count
# survey (docs/morse.md): Iris versicolor/virginica, standardised, target -1/+1, mse, L2 1e-4 on all
# parameters unless the configuration says otherwise. For each configuration, SEEDS networks are
# trained (full-batch Adam); around each, a 101 x 101 slice on two filter-normalised random directions;
# through each consecutive triple of them, the plane of the three (-slice_points). Then
# scripts/slice_study.py tabulates the persistence of every slice.
#   bash scripts/slice_study.sh             (OUT=out, SEEDS=6, N=101, LANDSCAPE=bin/landscape, PAR=2)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LANDSCAPE:-bin/landscape}
OUT=${OUT:-out}/slice_study
SEEDS=${SEEDS:-6}
N=${N:-101}
PAR=${PAR:-2}
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export PMIX_MCA_psec=${PMIX_MCA_psec:-native}
[ -x "$BIN" ] || { echo "slice_study: error: $BIN is not built (run make)" >&2; exit 1; }
mkdir -p "$OUT"
[ -s "$OUT/iris_all.h5" ] || $BIN import csv -file $SK/iris.csv -o "$OUT/iris_all.h5" > /dev/null
BASE="-data_file $OUT/iris_all.h5 -data_classes 1,2 -data_binary_target -data_standardize -loss mse -reg_l2 1e-4 -reg_l2_bias"
TRAIN="-train_type adam -train_batch_size 0 -train_epochs 3000 -train_lr 0.02 -train_monitor 0"
# name|options (the same names as docs/morse.md)
CONFIGS="shallow-tanh|-net_hidden 5 -net_activation tanh
deep-tanh|-net_hidden 3,3 -net_activation tanh
deep-tanh-skip|-net_hidden 3,3 -net_activation tanh -net_skip
shallow-sigmoid|-net_hidden 5 -net_activation sigmoid
deep-sigmoid|-net_hidden 3,3 -net_activation sigmoid
shallow-tanh-L2-0|-net_hidden 5 -net_activation tanh -reg_l2 0
shallow-tanh-L2-1e-3|-net_hidden 5 -net_activation tanh -reg_l2 1e-3
deep-tanh-L2-0|-net_hidden 3,3 -net_activation tanh -reg_l2 0
deep-tanh-L2-1e-3|-net_hidden 3,3 -net_activation tanh -reg_l2 1e-3
width-2|-net_hidden 2 -net_activation tanh
width-3|-net_hidden 3 -net_activation tanh
width-8|-net_hidden 8 -net_activation tanh"
jobs=$OUT/jobs.txt
: > "$jobs"
while IFS='|' read -r name opts; do
  for s in $(seq 1 "$SEEDS"); do
    d=$OUT/$name/random_$s
    [ -s "$d/results.h5" ] || echo "$BIN $BASE $opts $TRAIN -seed $s -stages train,slice -slice_n $N -slice_levels 201 -output_dir $d > $OUT/$name.random_$s.log 2>&1 || echo 'failed: $d'" >> "$jobs"
  done
done <<< "$CONFIGS"
echo "slice_study: $(wc -l < "$jobs") training runs with a random-plane slice ($PAR at once)"
xargs -P "$PAR" -d "\n" -I{} bash -c "{}" < "$jobs"
: > "$jobs"
while IFS='|' read -r name opts; do
  for t in $(seq 1 3 $((SEEDS - 2))); do
    d=$OUT/$name/plane_$t
    pts=$OUT/$name/random_$t/results.h5,$OUT/$name/random_$((t + 1))/results.h5,$OUT/$name/random_$((t + 2))/results.h5
    [ -s "$d/results.h5" ] || echo "$BIN $BASE $opts -stages slice -slice_points $pts -slice_n $N -slice_levels 201 -output_dir $d > $OUT/$name.plane_$t.log 2>&1 || echo 'failed: $d'" >> "$jobs"
  done
done <<< "$CONFIGS"
echo "slice_study: $(wc -l < "$jobs") planes through three trained networks"
xargs -P "$PAR" -d "\n" -I{} bash -c "{}" < "$jobs"
/usr/bin/python3 scripts/slice_study.py "$OUT"
