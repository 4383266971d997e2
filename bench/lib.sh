# Shared helpers of the benchmark scripts (sourced). The caller sets:
#   BENCH_NAME  prefix of messages (core, checkpoint, spectrum)
#   LOAD_FILE   where the load seen around each measurement is recorded
#   IDLE_WAIT_TOTAL  seconds the whole run may wait for other load to go away
#   BENCH_LOADAVG=1  to add the 1-minute load average to each record

# Percent of all CPUs busy over one second, from /proc/stat (steal counts as busy).
cpu_busy() {
  local a b
  read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
  sleep 1
  read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ </proc/stat
  a=$(((u2 + n2 + s2 + q2 + sq2 + st2) - (u1 + n1 + s1 + q1 + sq1 + st1)))
  b=$((a + (i2 + w2) - (i1 + w1)))
  echo $((b > 0 ? 100 * a / b : 0))
}

load_record() { # WHAT BUSY
  if [ "${BENCH_LOADAVG:-0}" = 1 ]; then echo "$1 $2 $(cut -d' ' -f1 /proc/loadavg)"; else echo "$1 $2"; fi >>"$LOAD_FILE"
}

# Wait until other processes leave the CPUs alone (< 10% busy), within the run's waiting budget,
# and record the load seen just before the measurement.
waited=0
wait_idle() {
  local what=$1 busy
  busy=$(cpu_busy)
  while [ "$busy" -ge 10 ] && [ "$waited" -lt "$IDLE_WAIT_TOTAL" ]; do
    [ $((waited % 30)) -ne 0 ] || echo "$BENCH_NAME: waiting for the machine to be idle ($busy% busy)"
    sleep 4
    waited=$((waited + 5))
    busy=$(cpu_busy)
  done
  [ "$busy" -lt 10 ] || echo "$BENCH_NAME: warning: machine $busy% busy before '$what'; timings may be off" >&2
  load_record "$what" "$busy"
}

# And right after it (other work that started during the measurement is often still running).
check_after() {
  local busy
  busy=$(cpu_busy)
  [ "$busy" -lt 10 ] || echo "$BENCH_NAME: warning: machine $busy% busy right after '$1'; timings may be off" >&2
  load_record "$1(after)" "$busy"
}

# Fashion-MNIST from Debian's dataset-fashion-mnist, imported once into $1.
import_fmnist() {
  local fm=/usr/share/datasets/fashion-mnist
  [ ! -s "$1" ] || return 0
  echo "$BENCH_NAME: importing Fashion-MNIST into $1"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BIN" import idx \
    -images "$fm/train-images-idx3-ubyte.gz" -labels "$fm/train-labels-idx1-ubyte.gz" \
    -test_images "$fm/t10k-images-idx3-ubyte.gz" -test_labels "$fm/t10k-labels-idx1-ubyte.gz" -o "$1"
}

# train_point DIR: the benchmark point of the spectrum and slice benches, 3 Adam epochs (batch 128,
# lr 1e-3) from the seeded initialisation of the options in the array COMMON, on 2 ranks.
train_point() {
  local dir=$1 log=$OUT/${BENCH_NAME}_point.log
  echo "$BENCH_NAME: the point (3 Adam epochs, batch 128, lr 1e-3)"
  rm -rf "${dir:?}"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 mpiexec -n 2 "$BIN" "${COMMON[@]}" -stages train -train_type adam -train_epochs 3 \
    -train_batch_size 128 -train_lr 1e-3 -output_dir "$dir" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
  grep '^train: done' "$log"
}
