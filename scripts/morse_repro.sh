#!/usr/bin/env bash
# The Morse-count survey of docs/morse.md without SLURM: every task of the decks input/morse_<name>.yaml,
# PAR at once on one rank each (a local loop over -survey_index), then scripts/morse_count.py on each
# survey, one summary table over all of them (out/morse/summary.{md,csv}) and the figures.
#   bash scripts/morse_repro.sh depth|width|l2|skip|all     (default all)
# Environment: PAR (2), OUT (out), LANDSCAPE (bin/landscape), SEEDS (restrict the decks' seeds, e.g. "1|2"
# for a quick look; the tables of docs/morse.md use the decks' 8).
# Tasks whose results exist are skipped, so an interrupted run continues where it stopped.
# On a cluster: sbatch --array=0-<N-1> jobs/survey.sbatch -options_file input/morse_<name>.yaml -output_dir out/morse/<name>
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LANDSCAPE:-bin/landscape}
OUT=${OUT:-out}
PAR=${PAR:-2}
PY=/usr/bin/python3
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Each task is a separate singleton MPI start. Without a munge daemon, Open MPI's PMIx spends about 2 s
# per start looking for one; its native security module avoids that (results do not depend on it).
export PMIX_MCA_psec=${PMIX_MCA_psec:-native}
[ -x "$BIN" ] || { echo "morse_repro: error: $BIN is not built (run make)" >&2; exit 1; }
mkdir -p "$OUT/morse"
# all 150 Iris rows, no test split; the decks keep versicolor and virginica (-data_classes 1,2)
[ -s "$OUT/iris_all.h5" ] || $BIN import csv -file $SK/iris.csv -o "$OUT/iris_all.h5"

survey() { # NAME: all tasks of input/morse_NAME.yaml into $OUT/morse/NAME
  local deck=input/morse_$1.yaml dir=$OUT/morse/$1 grid n
  grid=$(sed -n 's/^survey_grid: *"\(.*\)"/\1/p' "$deck")
  [ -z "${SEEDS:-}" ] || grid=$(echo "$grid" | sed -E "s/seed=[0-9|]+/seed=$SEEDS/")
  n=1
  for f in $grid; do n=$((n * $(echo "${f#*=}" | tr '|' '\n' | wc -l))); done
  mkdir -p "$dir/logs"
  echo "morse_repro: $1: $n tasks into $dir ($PAR at once)"
  local t0=$(date +%s)
  seq 0 $((n - 1)) | xargs -P "$PAR" -I{} sh -c \
    "$BIN -options_file $deck -data_file $OUT/iris_all.h5 -survey_grid '$grid' -survey_index {} -output_dir $dir > $dir/logs/{}.log 2>&1 || echo 'task {} failed'"
  echo "morse_repro: $1: $(( $(date +%s) - t0 )) s"
  $PY scripts/morse_count.py "$dir" > /dev/null
}

case ${1:-all} in
  depth | width | l2 | skip) survey "$1" ;;
  all) for s in depth width l2 skip; do survey $s; done ;;
  *) echo "usage: $0 depth|width|l2|skip|all" >&2; exit 1 ;;
esac
dirs=()
for s in depth width l2 skip; do [ -d "$OUT/morse/$s" ] && dirs+=("$OUT/morse/$s"); done
$PY scripts/morse_count.py "${dirs[@]}" --summary "$OUT/morse/summary" > /dev/null
cat "$OUT/morse/summary.md"
$PY scripts/plot_morse.py "${dirs[@]}" --out "$OUT/morse"
