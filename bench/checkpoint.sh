#!/usr/bin/env bash
# Checkpoint I/O benchmark: write and read bandwidth of landscape's collective HDF5 checkpoints for
# P ~ 1e6 and 1e7 parameters at 1 and 2 ranks, next to plain sequential writes and reads of the same
# bytes in the same run (dd and h5py, with and without fsync), and the overhead of checkpointing.
#   Write: one landscape run writes NGEN generations (one per SGD step, -checkpoint_keep 2, so older
#     generations are unlinked as in a real run); the baselines write NGEN files of the same size in
#     the same rotation (file i written, file i-2 removed). The first WARM generations touch memory
#     the virtual machine has not backed yet (it returns freed guest pages to the host), which is
#     slow for every writer alike; bandwidths use generations WARM+1..NGEN, the first ones are
#     reported apart.
#   Read: landscape -restart of the newest generation, with the file in the page cache (warm) and
#     after 'echo 3 > /proc/sys/vm/drop_caches' (cold, when permitted); dd reads of the same bytes.
#   Overhead: one checkpoint of the P ~ 1e7 net at 2 ranks against the default interval (15 min),
#     and a real training run (P ~ 1e6, 200 SGD steps, 2 ranks) with and without -checkpoint_interval 20.
# Runs everything sequentially (never two measurements at once), waiting a bounded time for the machine
# to be idle first. Raw logs go to bench/out/checkpoint_*, the report to bench/out/checkpoint.md.
# Environment: LANDSCAPE (binary, default bin/landscape), PYTHON (default /usr/bin/python3),
#   CKPT_WORK (scratch directory, default bench/out/ckpt_io; removed at the end),
#   IDLE_WAIT_TOTAL (seconds the whole run may wait for other load to go away, default 60).
# 'bash bench/checkpoint.sh --report' only rewrites the report from the records of the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out
BIN=${LANDSCAPE:-bin/landscape}
PY=${PYTHON:-/usr/bin/python3}
WORK=${CKPT_WORK:-$OUT/ckpt_io}
REC=$OUT/checkpoint_records.txt
META=$OUT/checkpoint_meta.txt
NGEN=8 # generations (files) written per measurement
WARM=3 # of which the first WARM are reported apart (fresh memory)
OV_IT=200 OV_INTERVAL=20 OV_REPS=3 # overhead runs: every OV_INTERVAL steps and every step, against none
IDLE_WAIT_TOTAL=${IDLE_WAIT_TOTAL:-60}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

report_only=0
[ "${1:-}" != --report ] || report_only=1
mkdir -p "$OUT"

if [ $report_only = 0 ]; then
  [ -x "$BIN" ] || {
    echo "checkpoint: $BIN not found: run 'make' first" >&2
    exit 1
  }
  "$PY" -c 'import h5py, numpy' 2>/dev/null || {
    echo "checkpoint: $PY cannot import h5py and numpy" >&2
    exit 1
  }
  rm -rf "${WORK:?}"
  mkdir -p "$WORK"
  trap 'rm -rf "${WORK:?}"' EXIT
  : >"$REC"
  : >"$OUT/checkpoint_load.txt"
  rm -f "$OUT"/checkpoint_*.log

  BENCH_NAME=checkpoint LOAD_FILE=$OUT/checkpoint_load.txt
  source bench/lib.sh

  # Can the page cache be dropped (root in a VM usually can; in a container usually not)?
  drop=no
  sync
  if (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then drop=yes; fi
  # After a drop, read the binary and its libraries back, so that a cold landscape read waits only
  # for the checkpoint file and not for pages of its own code.
  LIBS=$(ldd "$BIN" | awk '/=> \//{print $3}')
  drop_caches() {
    sync
    [ $drop = no ] || echo 3 >/proc/sys/vm/drop_caches
    # shellcheck disable=SC2086
    cat "$BIN" $LIBS >/dev/null
  }
  {
    echo "model $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cores $(nproc --all)"
    echo "mem_gib $(awk '/MemTotal/{printf "%.1f", $2/1048576}' /proc/meminfo)"
    echo "fstype $(stat -f -c %T "$WORK")"
    echo "fsmount $(findmnt -n -o FSTYPE,SOURCE -T "$WORK" 2>/dev/null | tr -s ' ' || true)"
    echo "df $(df -h "$WORK" | tail -1 | tr -s ' ')"
    echo "workdir $WORK"
    echo "drop $drop"
    echo "dirty $(cat /proc/sys/vm/dirty_background_ratio) $(cat /proc/sys/vm/dirty_ratio) $(cat /proc/sys/vm/dirty_expire_centisecs)"
    echo "hdf5 $("$PY" -c 'import h5py; print(h5py.version.hdf5_version, "h5py", h5py.__version__)')"
    echo "dd $(dd --version | head -1)"
  } >"$META"

  rec() { echo "$*" >>"$REC"; }
  dd_time() { sed -n 's/.* copied, \([0-9.e+-]*\) s,.*/\1/p' | tail -1; }
  now() { echo "$EPOCHREALTIME"; }
  since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.6f", b - a}'; }

  opts() { # $1 = hidden width, $2 = output dir, $3 = max iterations
    echo -skip_petscrc -data_type teacher -data_n 64 -data_d 1000 -data_k 1 -net_hidden "$1" \
      -stages train -train_type sgd -train_momentum 0.9 -train_batch_size 0 -train_max_it "$3" \
      -checkpoint_interval 1 -checkpoint_keep 2 -train_monitor 0 -output_dir "$2"
  }

  # h5py: NGEN files, each one float64 dataset of n values, in the same rotation as landscape.
  h5py_write() { # $1 = directory, $2 = number of float64, $3 = 1: flush + fsync before close
    "$PY" - "$1" "$2" "$3" "$NGEN" <<'EOF'
import os, sys, time
import h5py, numpy as np
d, n, do_sync, ngen = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
a = np.random.default_rng(1).standard_normal(n)
for g in range(1, ngen + 1):
    path = os.path.join(d, f"h5_{g}.h5")
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=a)
        if do_sync:
            f.flush()
            os.fsync(f.id.get_vfd_handle())
    t = time.perf_counter() - t0
    print(g, f"{t:.6f}", os.path.getsize(path))
    if g > 2:
        os.unlink(os.path.join(d, f"h5_{g - 2}.h5"))
for g in range(max(1, ngen - 1), ngen + 1):
    os.unlink(os.path.join(d, f"h5_{g}.h5"))
EOF
  }

  block() { # $1 = P label, $2 = hidden width, $3 = ranks
    local P=$1 H=$2 r=$3 dir=$WORK/ls_$1_$3 ck log t g bytes f
    ck=$dir/checkpoints
    wait_idle "block_${P}_$r"
    echo "checkpoint: P=$P, $r rank(s)"
    # landscape write
    sync
    log=$OUT/checkpoint_write_${P}_$r.log
    # shellcheck disable=SC2046
    mpiexec -n "$r" "$BIN" $(opts "$H" "$dir" "$NGEN") -info :sys >"$log" 2>&1 || {
      tail -20 "$log" >&2
      exit 1
    }
    grep -E '^\[0\] <sys> LandCheckpointWrite\(\)' "$log" |
      sed -n 's/.*ckpt_0*\([0-9]*\)\.h5 written in \([0-9.e+-]*\) s.*/\1 \2/p' |
      while read -r g t; do rec lw "$P" "$r" "$g" "$t"; done
    t=$(sed -n 's/^checkpoint: \([0-9]*\) written in \([0-9.]*\) s.*/\1 \2/p' "$log")
    rec lsum "$P" "$r" $t
    f=$ck/$(printf 'ckpt_%06d.h5' "$NGEN")
    bytes=$(stat -c %s "$f")
    rec bytes "$P" "$r" 0 "$bytes"
    grep -E '^(MLP|checkpoint:)' "$log"
    # what durability would add: fsync of the two generations that remain
    t=$(now)
    sync "$ck/$(printf 'ckpt_%06d.h5' $((NGEN - 1)))" "$f"
    rec lfsync "$P" "$r" 2 "$(since "$t")"
    # landscape read: warm (the file is in the page cache), then cold
    for mode in warm cold; do
      [ $mode = warm ] || drop_caches
      log=$OUT/checkpoint_read_${mode}_${P}_$r.log
      # shellcheck disable=SC2046
      mpiexec -n "$r" "$BIN" $(opts "$H" "$dir" "$NGEN") -restart "$f" >"$log" 2>&1 || {
        tail -20 "$log" >&2
        exit 1
      }
      t=$(sed -n 's/^restart: resumed from .* in \([0-9.]*\) s$/\1/p' "$log")
      [ -n "$t" ] || {
        echo "checkpoint: no 'restart: resumed' line in $log" >&2
        exit 1
      }
      rec lr_$mode "$P" "$r" 0 "$t"
      grep '^restart:' "$log"
    done
    # dd writes of the same bytes, without and with conv=fsync, same rotation
    for mode in nosync fsync; do
      sync
      for g in $(seq 1 "$NGEN"); do
        t=$(dd if=/dev/zero of="$WORK/dd_$g" bs=1M count="$bytes" iflag=count_bytes $([ $mode = nosync ] || echo conv=fsync) 2>&1 | dd_time)
        rec dd_$mode "$P" "$r" "$g" "$t"
        [ "$g" -le 2 ] || rm -f "$WORK/dd_$((g - 2))"
      done
      [ $mode = fsync ] || rm -f "$WORK"/dd_*
    done
    # dd reads: the last dd file and the checkpoint file, warm then cold
    for mode in warm cold; do
      [ $mode = warm ] || drop_caches
      rec ddr_$mode "$P" "$r" 0 "$(dd if="$WORK/dd_$NGEN" of=/dev/null bs=1M 2>&1 | dd_time)"
      rec ddrck_$mode "$P" "$r" 0 "$(dd if="$f" of=/dev/null bs=1M 2>&1 | dd_time)"
    done
    rm -f "$WORK"/dd_*
    rm -rf "$dir"
    # h5py writes of the same number of float64 (bytes / 8), without and with flush + fsync
    for mode in nosync fsync; do
      sync
      h5py_write "$WORK" $((bytes / 8)) "$([ $mode = nosync ] && echo 0 || echo 1)" |
        while read -r g t b; do rec h5_$mode "$P" "$r" "$g" "$t" "$b"; done
    done
    echo "checkpoint: P=$P, $r rank(s): done"
  }

  start=$(now)
  for PH in 1e6:1000 1e7:10000; do
    for r in 1 2; do
      block "${PH%%:*}" "${PH##*:}" "$r"
    done
  done

  # Where landscape's time goes (P ~ 1e7, 1 rank): the same write and warm read under strace, which
  # times the system calls on the checkpoint files (data pwrite/pread, the unlink, the fsync of 'latest').
  wait_idle diag
  echo "checkpoint: diagnostic runs under strace (P=1e7, 1 rank)"
  dir=$WORK/diag
  sync
  # shellcheck disable=SC2046
  strace -f -ttt -y -T -e trace=pwrite64,pwritev,pread64,preadv,fsync,fdatasync,unlink,rename -o "$OUT/checkpoint_strace_write.txt" \
    mpiexec -n 1 "$BIN" $(opts 10000 "$dir" "$NGEN") -info :sys >"$OUT/checkpoint_diag_write.log" 2>&1
  f=$dir/checkpoints/$(printf 'ckpt_%06d.h5' "$NGEN")
  # shellcheck disable=SC2046
  strace -f -ttt -y -T -e trace=pread64,preadv -o "$OUT/checkpoint_strace_read.txt" \
    mpiexec -n 1 "$BIN" $(opts 10000 "$dir" "$NGEN") -restart "$f" >"$OUT/checkpoint_diag_read.log" 2>&1
  grep -h '^restart:' "$OUT/checkpoint_diag_read.log"
  rm -rf "$dir"

  # Overhead in a real run: P ~ 1e6, OV_IT full-batch SGD steps at 2 ranks, without checkpoints, with one
  # every OV_INTERVAL steps and with one every step (enough of them to stand out of the noise),
  # interleaved; -log_view gives the time of the stage 'train'.
  for rep in $(seq 1 $OV_REPS); do
    for c in none $OV_INTERVAL 1; do
      wait_idle "overhead_${c}_$rep"
      dir=$WORK/ov_$c
      rm -rf "$dir"
      log=$OUT/checkpoint_overhead_${c}_$rep.log
      if [ "$c" = none ]; then extra="-checkpoint_interval 0 -checkpoint_minutes 0"; else extra="-checkpoint_interval $c"; fi
      sync
      t=$(now)
      # shellcheck disable=SC2046,SC2086
      mpiexec -n 2 "$BIN" $(opts 1000 "$dir" $OV_IT) $extra -log_view >"$log" 2>&1 || {
        tail -20 "$log" >&2
        exit 1
      }
      wall=$(since "$t")
      train=$(sed -n 's/^ *1: *train: *\([0-9.e+-]*\) .*/\1/p' "$log")
      ck=$(sed -n 's/^checkpoint: \([0-9]*\) written in \([0-9.]*\) s.*/\1 \2/p' "$log")
      rec ov_$c "$rep" 2 "$train" "$wall" ${ck:-0 0}
      echo "checkpoint: overhead run $rep, checkpoint interval $c: train $train s, wall $wall s ${ck:+(checkpoints: $ck s)}"
      rm -rf "$dir"
    done
  done
  echo "elapsed $(since "$start")" >>"$META"
fi

# The report.
echo
"$PY" - "$OUT" "$NGEN" "$WARM" "$OV_IT" "$OV_INTERVAL" <<'EOF'
import os, statistics as st, sys

out, NGEN, WARM, OV_IT, OV_INT = sys.argv[1], *map(int, sys.argv[2:])
meta = {}
for line in open(os.path.join(out, "checkpoint_meta.txt")):
    k, _, v = line.rstrip("\n").partition(" ")
    meta[k] = v
R = [l.split() for l in open(os.path.join(out, "checkpoint_records.txt")) if l.strip()]


def vals(kind, P, r):
    return {int(x[3]): float(x[4]) for x in R if x[0] == kind and x[1] == P and x[2] == str(r)}


def one(kind, P, r):
    return [float(x[4]) for x in R if x[0] == kind and x[1] == P and x[2] == str(r)][0]


MB = 1e6
PS = [("1e6", 1000), ("1e7", 10000)]
params = {p: 1000 * h + h + h + 1 for p, h in PS}
steady = range(WARM + 1, NGEN + 1)
first = range(1, WARM + 1)
dropped = meta.get("drop") == "yes"
verdict = lambda x: "PASS" if x >= 0.5 else "MISS"


def med(d):
    return st.median([d[g] for g in steady])


def ssum(d, gens):
    return sum(d[g] for g in gens)


o = []
w = o.append
w("## Checkpoint I/O")
w("")
w(f"Machine: {meta['model']}, {meta['cores']} cores, {meta['mem_gib']} GiB of memory (a virtual machine).")
dfv = meta["df"].split()
w(f"Directory used: `{meta['workdir']}` on `{dfv[0]}` (size {dfv[1]}, used {dfv[2]}, available {dfv[3]}, {dfv[4]} full, mounted on `{dfv[5]}`), "
  f"file system type `{meta['fstype']}` by `stat -f -c %T` ({meta['fsmount'].split()[0] if meta['fsmount'] else 'unknown'} by `findmnt`).")
import re
ver = re.search(r"^landscape (\S+) on", open(os.path.join(out, "checkpoint_write_1e6_1.log")).read(), re.M)
w(f"Software: landscape {ver.group(1) if ver else '?'}; HDF5 {meta['hdf5']} for the h5py baseline; {meta['dd']}.")
w("Command: `bash bench/checkpoint.sh` (raw logs and the records in `bench/out/checkpoint_*`; `--report` rewrites this section from them).")
if "elapsed" in meta:
    w(f"The whole run took {float(meta['elapsed']):.0f} s; every measurement ran alone, one after the other.")
w("")
w("### Method")
w("")
w(f"Each landscape run is `-data_type teacher -data_n 64 -data_d 1000 -data_k 1 -net_hidden H -stages train -train_type sgd -train_momentum 0.9 "
  f"-train_batch_size 0 -train_max_it {NGEN} -checkpoint_interval 1 -checkpoint_keep 2`, with H = 1000 (P = {params['1e6']}) or H = 10000 (P = {params['1e7']}).")
w(f"It writes {NGEN} generations, one per step, each holding /theta, /theta_initial and the SGD momentum (3 P float64) plus metadata; "
  "as in any run with `-checkpoint_keep 2`, writing generation g unlinks generation g-2.")
w("The write time of each generation is landscape's own (`-info :sys`, rank 0): create, the three collective dataset writes, attributes, close, rename, "
  "the fsynced `latest` pointer, the unlink of the old generation and a barrier.")
w("landscape does not fsync a checkpoint file: when its write returns, the data is in the page cache, not necessarily on the disk.")
w("The baselines write the same bytes in the same rotation (file g written, file g-2 removed, the removal not timed): "
  "`dd if=/dev/zero bs=1M iflag=count_bytes count=BYTES` without and with `conv=fsync` (time as reported by dd), "
  "and `/usr/bin/python3` h5py writing one dataset of BYTES/8 float64 from memory (time of open, write, close; "
  "with fsync: `f.flush()` and `os.fsync` before the close).")
w(f"Bandwidth = bytes of one checkpoint file x generations / their total write time, with 1 MB = 10^6 bytes.")
w(f"The tables use generations {WARM + 1} to {NGEN} ({NGEN - WARM} files) of every writer.")
w(f"Generations 1 to {WARM} are shown apart: this virtual machine hands memory that was freed back to the host, "
  "so the first files a writer puts into the page cache fault in fresh memory and are several times slower, for dd as for landscape; "
  f"from generation {WARM + 1} on, a file can reuse the pages that the unlink of generation g-3 has just freed.")
w("Reads: landscape `-restart ckpt_%06d.h5` of the newest generation with `-train_max_it %d` (nothing is left to do); " % (NGEN, NGEN)
  + "the time is the one it prints (`restart: resumed ... in T s`: find, check, read theta, theta_initial and the momentum, verify the norm).")
if dropped:
    w("Warm reads find the file in the page cache (it was just written); cold reads follow `sync; echo 3 > /proc/sys/vm/drop_caches` "
      "(permitted here: caches were dropped), after which the binary and its libraries were read back so that only the checkpoint is cold.")
else:
    w("`echo 3 > /proc/sys/vm/drop_caches` was not permitted, so the caches were NOT dropped: the 'cold' reads below are warm reads too.")
w("The dd read baselines are `dd of=/dev/null bs=1M` of the last file dd wrote and of the checkpoint file itself, in the same cache state.")
w("")

# --- write tables
rows_ns, rows_fs, rows_first = [], [], []
res = {}
for P, H in PS:
    for r in (1, 2):
        B = one("bytes", P, r)
        lw = vals("lw", P, r)
        if len(lw) != NGEN:
            raise SystemExit(f"P={P} r={r}: {len(lw)} landscape generations recorded, expected {NGEN}")
        dn, df_, hn, hf = (vals(k, P, r) for k in ("dd_nosync", "dd_fsync", "h5_nosync", "h5_fsync"))
        n = len(steady)
        t_l, t_dn, t_df, t_hn, t_hf = (ssum(d, steady) for d in (lw, dn, df_, hn, hf))
        bw = lambda t: B * n / t / MB
        fs = one("lfsync", P, r) / 2  # per file
        t_lf = t_l + n * fs
        res[(P, r)] = dict(B=B, t_l=t_l / n, tmax=max(lw.values()), tmean_all=ssum(lw, range(1, NGEN + 1)) / NGEN,
                           bw_l=bw(t_l), bw_dn=bw(t_dn), bw_hn=bw(t_hn), bw_lf=bw(t_lf), bw_df=bw(t_df), bw_hf=bw(t_hf))
        x = res[(P, r)]
        rows_ns.append(f"| {P} | {r} | {int(B)} | {t_l / n * 1e3:.1f} ({1e3 * min(lw[g] for g in steady):.0f}-{1e3 * max(lw[g] for g in steady):.0f}) | {x['bw_l']:.0f} | {x['bw_dn']:.0f} | {x['bw_hn']:.0f} | "
                       f"{x['bw_l'] / x['bw_dn']:.2f} {verdict(x['bw_l'] / x['bw_dn'])} | {x['bw_l'] / x['bw_hn']:.2f} {verdict(x['bw_l'] / x['bw_hn'])} | "
                       f"{med(dn) / med(lw):.2f}; {med(hn) / med(lw):.2f} |")
        x["med_l"] = med(lw)
        rows_fs.append(f"| {P} | {r} | {t_l / n * 1e3:.1f} + {fs * 1e3:.1f} | {x['bw_lf']:.0f} | {x['bw_df']:.0f} | {x['bw_hf']:.0f} | "
                       f"{x['bw_lf'] / x['bw_df']:.2f} {verdict(x['bw_lf'] / x['bw_df'])} | {x['bw_lf'] / x['bw_hf']:.2f} {verdict(x['bw_lf'] / x['bw_hf'])} |")
        f1 = lambda d: ", ".join(f"{d[g] * 1e3:.0f}" for g in first)
        rows_first.append(f"| {P} | {r} | {f1(lw)} | {f1(dn)} | {f1(hn)} | {f1(df_)} | {f1(hf)} | "
                          f"{B * NGEN / ssum(lw, range(1, NGEN + 1)) / MB:.0f} | {B * NGEN / ssum(dn, range(1, NGEN + 1)) / MB:.0f} |")

w(f"### Write, like with like: no fsync (data left in the page cache), generations {WARM + 1}-{NGEN}")
w("")
w("| P | ranks | bytes per file | landscape ms per checkpoint (min-max) | landscape MB/s | dd MB/s (no fsync) | h5py MB/s (no fsync) | landscape / dd | landscape / h5py | same ratios from the median file times |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
o.extend(rows_ns)
w("")
w(f"### Write with fsync, generations {WARM + 1}-{NGEN}")
w("")
w("landscape does not fsync; its column is an estimate of what durability would cost: its write time plus the time of `sync FILE` "
  "(an fsync) of the two generations that remain after the run, per file.")
w("")
w("| P | ranks | landscape ms write + fsync per file | landscape + fsync MB/s (estimate) | dd conv=fsync MB/s | h5py + fsync MB/s | landscape+fsync / dd | landscape+fsync / h5py |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
o.extend(rows_fs)
w("")
w(f"### First generations (fresh memory of the virtual machine), ms per file, and bandwidth over all {NGEN}")
w("")
w(f"| P | ranks | landscape gen 1-{WARM} | dd no fsync | h5py no fsync | dd fsync | h5py fsync | landscape MB/s all {NGEN} | dd no fsync MB/s all {NGEN} |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
o.extend(rows_first)
w("")

# --- read table
w("### Read")
w("")
cold = "cold" if dropped else "'cold' (caches NOT dropped)"
w(f"| P | ranks | bytes | landscape warm ms | landscape warm MB/s | dd warm MB/s (dd's file; checkpoint file) | landscape / dd warm (checkpoint file) | "
  f"landscape {cold} ms | landscape {cold} MB/s | dd {cold} MB/s (dd's file; checkpoint file) | landscape / dd {cold} (checkpoint file) |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for P, H in PS:
    for r in (1, 2):
        x = res[(P, r)]
        B = x["B"]
        lw_, lc = one("lr_warm", P, r), one("lr_cold", P, r)
        dw, dc, dwc, dcc = (one(k, P, r) for k in ("ddr_warm", "ddr_cold", "ddrck_warm", "ddrck_cold"))
        bw = lambda t: B / t / MB
        x.update(rw=bw(lw_) / bw(dwc), rc=bw(lc) / bw(dcc))
        w(f"| {P} | {r} | {int(B)} | {lw_ * 1e3:.0f} | {bw(lw_):.0f} | {bw(dw):.0f}; {bw(dwc):.0f} | {x['rw']:.2f} {verdict(x['rw'])} | "
          f"{lc * 1e3:.0f} | {bw(lc):.0f} | {bw(dc):.0f}; {bw(dcc):.0f} | {x['rc']:.2f} {verdict(x['rc'])} |")
w("")
w("landscape's read time is printed with 3 decimals (1 ms), which limits the precision of the smallest reads.")
w("")

# --- diagnostic: system calls on the checkpoint files (P ~ 1e7, 1 rank, under strace)
import re


def strace_calls(path):
    """(name, args, return value, start time, duration) of each complete call; joins unfinished/resumed pairs."""
    pend, calls = {}, []
    for line in open(path):
        m = re.match(r"(\d+)\s+([\d.]+)\s+(.*)$", line.rstrip("\n"))
        if not m:
            continue
        pid, ts, rest = m.group(1), float(m.group(2)), m.group(3)
        if rest.endswith("<unfinished ...>"):
            pend[pid] = (ts, rest[: -len("<unfinished ...>")])
            continue
        r = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
        if r:
            ts, head = pend.pop(pid, (ts, r.group(1) + "("))
            rest = head + r.group(2)
        c = re.match(r"(\w+)\((.*)\)\s*=\s*(-?\d+).*<([\d.]+)>$", rest)
        if c:
            calls.append((c.group(1), c.group(2), int(c.group(3)), ts, float(c.group(4))))
    return calls


diag = None
try:
    info = {int(g): float(t) for g, t in re.findall(r"^\[0\] <sys> LandCheckpointWrite\(\): checkpoint \S*ckpt_0*(\d+)\.h5 written in ([\d.e+-]+) s",
                                                   open(os.path.join(out, "checkpoint_diag_write.log")).read(), re.M)}
    gens, big = {}, []
    cur = None
    for name, args, ret, ts, dt in strace_calls(os.path.join(out, "checkpoint_strace_write.txt")):
        if name in ("pwrite64", "pwritev") and "ckpt_" in args and ret >= 1 << 20:
            big.append((ts, dt, ret))
        elif name == "rename" and re.search(r'ckpt_0*\d+\.h5\.tmp"', args):
            cur = int(re.search(r'ckpt_0*(\d+)\.h5\.tmp"', args).group(1))
            gap = big[2][0] - (big[1][0] + big[1][1]) if len(big) >= 3 else float("nan")
            gens[cur] = dict(t=sum(x[1] for x in big), b=sum(x[2] for x in big), n=len(big), gap=gap, unlink=0.0, fsync=0.0)
            big = []
        elif name == "unlink" and cur and re.search(r'ckpt_\d+\.h5"', args):
            gens[cur]["unlink"] += dt
        elif name in ("fsync", "fdatasync") and cur and "latest" in args:
            gens[cur]["fsync"] += dt
    sel = [g for g in steady if g in gens and g in info]
    mean = lambda k: sum(gens[g][k] for g in sel) / len(sel)
    rd = [c for c in strace_calls(os.path.join(out, "checkpoint_strace_read.txt")) if c[0] in ("pread64", "preadv") and "ckpt_" in c[1] and c[2] >= 1 << 20]
    rgaps = [rd[i + 1][3] - (rd[i][3] + rd[i][4]) for i in range(len(rd) - 1)]
    rT = float(re.search(r"^restart: resumed from .* in ([\d.]+) s$", open(os.path.join(out, "checkpoint_diag_read.log")).read(), re.M).group(1))
    diag = dict(total=sum(info[g] for g in sel) / len(sel), data=mean("t"), bytes=mean("b"), n=mean("n"), gap=mean("gap"),
                unlink=mean("unlink"), fsync=mean("fsync"), rT=rT, rdata=sum(c[4] for c in rd), rbytes=sum(c[2] for c in rd), rn=len(rd), rgaps=rgaps)
    diag["rest"] = diag["total"] - diag["data"] - diag["unlink"] - diag["fsync"]
except (OSError, AttributeError, IndexError, ZeroDivisionError, KeyError) as e:
    print(f"checkpoint: no diagnostic ({e})", file=sys.stderr)

if diag:
    D = diag
    w("### Where landscape's time goes (P = 1e7, 1 rank, under strace)")
    w("")
    w(f"The same write and warm read ran once more under `strace -f -T`, which times the system calls on the checkpoint files (generations {WARM + 1}-{NGEN}, means per checkpoint).")
    w("")
    w("| part of one checkpoint write | ms | share |")
    w("| --- | ---: | ---: |")
    w(f"| pwrite of the data ({D['n']:.0f} calls, {D['bytes'] / MB:.0f} MB, {D['bytes'] / D['data'] / MB:.0f} MB/s while writing) | {1e3 * D['data']:.1f} | {100 * D['data'] / D['total']:.0f}% |")
    w(f"| unlink of generation g-2 | {1e3 * D['unlink']:.1f} | {100 * D['unlink'] / D['total']:.0f}% |")
    w(f"| fsync of `latest` | {1e3 * D['fsync']:.1f} | {100 * D['fsync'] / D['total']:.0f}% |")
    w(f"| everything else (CPU: the double-double theta norm, MPI-IO and HDF5 open/close and metadata, barrier) | {1e3 * D['rest']:.1f} | {100 * D['rest'] / D['total']:.0f}% |")
    w(f"| total (landscape's timer, under strace) | {1e3 * D['total']:.1f} | 100% |")
    w("")
    w(f"Of the rest, {1e3 * D['gap']:.1f} ms fall between the write of /theta_initial and that of the momentum, where landscape computes the double-double norm of theta (`LandVecNorm2`) that it stores as a checksum.")
    w(f"Warm read under strace: landscape reported {1e3 * D['rT']:.0f} ms, of which {1e3 * D['rdata']:.0f} ms are the {D['rn']} pread calls of the data ({D['rbytes'] / MB:.0f} MB, "
      f"{D['rbytes'] / D['rdata'] / MB:.0f} MB/s); the rest is CPU work: the finiteness check of every entry, the theta norm compared with its record, the identity checks and the MPI-IO open.")
    if len(D["rgaps"]) == 2:
        w(f"Between the reads of /theta and /theta_initial {1e3 * D['rgaps'][0]:.0f} ms pass (the finiteness check of theta), and between /theta_initial and the momentum {1e3 * D['rgaps'][1]:.0f} ms "
          "(the finiteness check of theta_initial, the double-double norm of theta and the attributes).")
    w("")

# --- overhead
ovr = lambda c: [x for x in R if x[0] == f"ov_{c}"]
trn = lambda c: [float(x[3]) for x in ovr(c)]
wal = lambda c: [float(x[4]) for x in ovr(c)]
tn = trn("none")
mn = st.median(tn)
X = res[("1e7", 2)]
tw_s, tw_max = X["t_l"], X["tmax"]
w("### Overhead of checkpointing")
w("")
w(f"One checkpoint of the P = {params['1e7']} net at 2 ranks ({X['B'] / MB:.0f} MB) took {tw_s:.3f} s in steady state "
  f"and {tw_max:.3f} s at worst (a generation in fresh memory) in the write runs above.")
w(f"At the default `-checkpoint_minutes 15` (interval 0) a run writes one checkpoint every 900 s of wall time, "
  f"so the overhead is T_w / 900 s = {100 * tw_s / 900:.3f}% (worst generation: {100 * tw_max / 900:.3f}%).")
w(f"Real run: P = {params['1e6']}, {OV_IT} full-batch SGD steps at 2 ranks, {len(tn)} runs of each kind, interleaved; "
  "time of the `train` stage from `-log_view` (wall time of the whole `mpiexec` in its own column).")
w("")
w("| checkpoints | train stage s (each run) | median s | wall s (each run) | written | landscape's write time s (each run) | cost per checkpoint from the medians | landscape's timer per checkpoint |")
w("| --- | --- | ---: | --- | ---: | --- | ---: | ---: |")
w(f"| none (`-checkpoint_interval 0 -checkpoint_minutes 0`) | {', '.join(f'{t:.3f}' for t in tn)} | {mn:.3f} | {', '.join(f'{t:.2f}' for t in wal('none'))} | 0 | | | |")
per_cost = {}
for c in (OV_INT, 1):
    te = trn(c)
    if not te:
        continue
    me = st.median(te)
    nck = int(ovr(c)[0][5])
    cki = [float(x[6]) for x in ovr(c)]
    per_cost[c] = ((me - mn) / nck, st.median(cki) / nck, me, nck)
    w(f"| every {c} step{'s' if c > 1 else ''} (`-checkpoint_interval {c}`) | {', '.join(f'{t:.3f}' for t in te)} | {me:.3f} | {', '.join(f'{t:.2f}' for t in wal(c))} | {nck} | "
      f"{', '.join(f'{t:.2f}' for t in cki)} | {1e3 * (me - mn) / nck:.1f} ms | {1e3 * st.median(cki) / nck:.1f} ms |")
w("")
spread = max(tn) - min(tn)
if OV_INT in per_cost:
    d, i, me, nck = per_cost[OV_INT]
    w(f"Every {OV_INT} steps ({nck} checkpoints) the train stage took {me - mn:+.3f} s ({100 * (me - mn) / mn:+.1f}%) by the medians, "
      f"while the runs without checkpoints differ by up to {spread:.3f} s among themselves"
      + (f": the cost of {nck} checkpoints ({nck} x {1e3 * i:.0f} ms by landscape's timer) is within that noise." if abs(me - mn) <= spread else
         f"; landscape's timer gives {nck} x {1e3 * i:.0f} ms = {nck * i:.2f} s."))
if 1 in per_cost:
    d, i, me, nck = per_cost[1]
    w(f"Every step ({nck} checkpoints) it took {me - mn:+.3f} s ({100 * (me - mn) / mn:+.0f}%), {1e3 * d:.1f} ms per checkpoint, against {1e3 * i:.1f} ms by landscape's own timer.")
per = max([per_cost[c][1] for c in per_cost] + ([max(per_cost[1][0], 0.0)] if 1 in per_cost else []) or [0.0])  # the noisy difference of the interval-20 runs is left out
w(f"At the default interval that cost ({1e3 * per:.0f} ms, the largest of the timers and the every-step difference) is {100 * per / 900:.4f}% of 900 s; "
  f"for a P ~ 1e7 net the worst single checkpoint above ({tw_max:.2f} s) is {100 * tw_max / 900:.3f}%.")
w("The kernel writes the dirty pages back later, in the background (here after about "
  f"{int(meta['dirty'].split()[2]) / 100:.0f} s, `vm.dirty_expire_centisecs`); that disk traffic is not in these times, and with a 15-minute interval it does not overlap the next checkpoint.")
w("")

# --- targets
w("### Targets")
w("")
w("| target | measured (landscape / baseline) | result |")
w("| --- | --- | --- |")
allw = list(res.items())


def lst(f):
    return "; ".join(f"{P} {r}r {f(v):.2f}" for (P, r), v in allw)


def tgt(name, f):
    okk = all(f(v) >= 0.5 for _, v in allw)
    w(f"| {name} | {lst(f)} | {'PASS' if okk else 'MISS'} |")
    return okk


ok_dd = tgt("write >= 50% of dd, like with like (both without fsync)", lambda v: v["bw_l"] / v["bw_dn"])
ok_h5 = tgt("write >= 50% of h5py, like with like (both without fsync)", lambda v: v["bw_l"] / v["bw_hn"])
ok_ddf = tgt("write + fsync (estimate) >= 50% of dd conv=fsync", lambda v: v["bw_lf"] / v["bw_df"])
ok_h5f = tgt("write + fsync (estimate) >= 50% of h5py + fsync", lambda v: v["bw_lf"] / v["bw_hf"])
ok_rw = tgt("read >= 50% of dd, warm (page cache)", lambda v: v["rw"])
ok_rc = tgt(f"read >= 50% of dd, {cold}", lambda v: v["rc"])
w(f"| overhead at the default interval <= 2% (worst checkpoint of P = 1e7 at 2 ranks / 900 s) | {100 * tw_max / 900:.3f}% | {'PASS' if tw_max / 900 <= 0.02 else 'MISS'} |")
w(f"| overhead at the default interval <= 2% (cost per checkpoint in the real run / 900 s) | {100 * per / 900:.4f}% | {'PASS' if per / 900 <= 0.02 else 'MISS'} |")
w("")
w("'1e7 2r' means P ~ 1e7 at 2 ranks; a row passes only if all four configurations reach 0.50.")
w("")

# --- explanation
w("### Explanation")
w("")
rng = lambda k: f"{min(v[k] for _, v in allw):.0f} to {max(v[k] for _, v in allw):.0f} MB/s"
w(f"Without fsync landscape wrote {rng('bw_l')} into the page cache, against {rng('bw_dn')} for dd and {rng('bw_hn')} for h5py.")
if diag:
    d1 = res[("1e7", 1)]
    q = diag["bytes"] / diag["data"] / MB / d1["bw_dn"]
    w(f"Its data system calls alone ran at {100 * q:.0f}% of dd's speed under strace ({diag['bytes'] / diag['data'] / MB:.0f} against {d1['bw_dn']:.0f} MB/s at P = 1e7), "
      + ("so most of the gap lies in the work around them." if q >= 0.7 else "so the data path itself is part of the gap."))
    w(f"Around them per checkpoint: the double-double norm of theta ({1e3 * diag['gap']:.0f} ms at P = 1e7 on one rank, "
      f"{diag['gap'] / diag['data']:.1f} times the time of the data writes), the unlink of generation g-2 ({1e3 * diag['unlink']:.0f} ms; the baselines' removals are not timed) "
      f"and MPI-IO and HDF5 open, close and metadata.")
w("dd copies one cached 1 MiB buffer of zeros and h5py one contiguous array, each from one process; landscape writes three datasets plus metadata through collective MPI-IO.")
for P in ("1e6", "1e7"):
    a1, a2 = res[(P, 1)]["med_l"], res[(P, 2)]["med_l"]
    w(f"At P = {P} the median checkpoint took {1e3 * a1:.0f} ms at 1 rank and {1e3 * a2:.0f} ms at 2 ranks ({res[(P, 1)]['B'] / MB:.0f} MB).")
w("A second rank cannot speed up the copy itself, since ext4 serialises buffered writes to one file under its inode lock; only the CPU work around it, such as the norm, is split between the ranks.")
gm = lambda f: (lambda xs: __import__("math").exp(sum(__import__("math").log(x) for x in xs) / len(xs)))([f(v) for _, v in allw])
r_ns, r_fs = gm(lambda v: v["bw_l"] / v["bw_dn"]), gm(lambda v: v["bw_lf"] / v["bw_df"])
w(f"Against writes that reach the disk the ratio is {'higher' if r_fs > r_ns else 'not higher'} (geometric mean {r_fs:.2f} with fsync against {r_ns:.2f} without), "
  f"as the virtual disk ({min(v['bw_df'] for _, v in allw):.0f} to {max(v['bw_df'] for _, v in allw):.0f} MB/s for dd with fsync) then sets much of the pace; "
  "landscape's figure there is its write plus a separate fsync, an estimate of a durable checkpoint rather than a measurement of one.")
if diag:
    w(f"A restart spends most of its time checking rather than reading: at P = 1e7 on one rank {1e3 * diag['rdata']:.0f} of {1e3 * diag['rT']:.0f} ms were pread calls, "
      "so warm, when dd only copies cached pages, landscape stays far below it.")
rc, rw = gm(lambda v: v["rc"]), gm(lambda v: v["rw"])
w(f"Cold, the ratio is {rc:.2f} (geometric mean) against {rw:.2f} warm" + (", closer because reading the disk then takes part of both times." if rc > rw else "."))
fr = []
for (P, r), v in allw:
    for k in ("lw", "dd_nosync", "h5_nosync"):
        d = vals(k, P, r)
        s_ = st.median([d[g] for g in steady])
        fr.append(max(d[g] for g in first) / s_)
w(f"The first generations, which land in memory the virtual machine has to fetch from its host, were up to {max(fr):.0f} times slower than the steady ones, "
  "for dd and h5py as for landscape (third table); a checkpoint written every 15 minutes will usually pay this, so the overhead above uses the worst generation.")
w("The numbers vary from run to run by tens of percent (the dd and h5py columns of the two rank counts repeat the same measurement), so ratios near 0.5 are borderline.")
w(f"Whatever the bandwidth, checkpointing at the default interval stays far below the 2% budget: the worst checkpoint of the P ~ 1e7 net is {100 * tw_max / 900:.2f}% of 15 minutes.")
w("")

load = [l.split() for l in open(os.path.join(out, "checkpoint_load.txt")) if l.strip()]
busy = [f"{a} ({b}%)" for a, b in load if int(b) >= 10]
if busy:
    w("Warning: other processes used the CPUs before " + ", ".join(busy) + "; those numbers may be off.")

text = "\n".join(o) + "\n"
with open(os.path.join(out, "checkpoint.md"), "w") as f:
    f.write(text)
print(text)
print(f"checkpoint: wrote {out}/checkpoint.md")
EOF
