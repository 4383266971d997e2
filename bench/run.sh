#!/usr/bin/env bash
# make bench: every benchmark, one after the other (the machine has few cores: never two at once).
# Each benchmark script writes its raw logs and a Markdown section under bench/out/;
# docs/performance.md is the edited copy of those sections with the measured numbers.
set -euo pipefail
cd "$(dirname "$0")/.."

bash bench/core.sh
bash bench/checkpoint.sh
bash bench/spectrum.sh
bash bench/levelset.sh
bash bench/simplex.sh
bash bench/simplex_sweep.sh
bash bench/slice.sh

echo
echo "bench: done; reports in bench/out/*.md (copy the numbers into docs/performance.md)"
