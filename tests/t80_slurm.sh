# Against a real SLURM (Debian's slurmctld, slurmd and munge, one node, configured by
# tests/slurm/cluster.sh). If SLURM cannot start, these tests fail; they do not skip.
#  1. A job with a 1-minute limit gets USR1 from SLURM before the limit (--signal=B:USR1@50),
#     checkpoints, exits 75, requeues itself, resumes, and ends with the same theta, bit for bit,
#     as an uninterrupted run.
#  2. A survey job array of 6 tasks completes and is aggregated.
SL=$WORK/slurm
mkdir -p $SL
if out=$(bash "$ROOT/tests/slurm/cluster.sh" start 2>&1); then ok "SLURM one-node cluster is up (slurmctld, slurmd, munge)"; else not_ok "SLURM one-node cluster is up" "$out"; fi

# about 60 s of work at 2 ranks (more while the reference run shares the cores): SLURM's limit check runs every 30 s, so the first signal comes 10-40 s in
JOB="-skip_petscrc -data_type teacher -data_classify -data_n 20000 -data_test_n 500 -data_d 32 -data_k 4 -data_chunk_size 32 -net_hidden 128,128 -net_activation tanh -loss ce -stages train,eval -train_type adam -train_epochs 80 -train_batch_size 64 -train_lr 0.001 -train_monitor_interval 10"
wait_job() { # JOBID TIMEOUT: until no task of the job is pending or running
  local t=0
  while [ $t -lt $2 ]; do
    squeue -h -j "$1" 2>/dev/null | grep -q . || return 0
    sleep 3; t=$((t + 3))
  done
  return 1
}
jid=$(cd $SL && sbatch --parsable --ntasks=2 --time=1 --signal=B:USR1@50 --output=$SL/job-%j.out \
      --export=ALL,LANDSCAPE=$LAND "$ROOT/jobs/landscape.sbatch" $JOB -output_dir $SL/run 2>&1)
if [[ "$jid" =~ ^[0-9]+$ ]]; then ok "sbatch jobs/landscape.sbatch (job $jid)"; else not_ok "sbatch jobs/landscape.sbatch" "$jid"; fi
# the uninterrupted reference runs meanwhile (it shares the 2 cores: the job only gets slower)
expect_ok "uninterrupted reference run" 2 $JOB -output_dir $SL/ref
if wait_job "$jid" 600; then ok "job $jid finished"; else not_ok "job $jid did not finish in 10 minutes" "$(cat $SL/job-$jid.out 2>/dev/null | tail -20)"; scancel "$jid" 2>/dev/null; fi
log=$(cat $SL/job-$jid.out 2>/dev/null)
nsig=$(printf '%s\n' "$log" | grep -c 'signal received; checkpoint')
nreq=$(printf '%s\n' "$log" | grep -c 'requeued job')
if [ "$nsig" -ge 1 ] && [ "$nreq" -ge 1 ] && printf '%s\n' "$log" | grep -q 'restart: resumed from'; then
  ok "the job was signalled by SLURM, checkpointed, requeued and resumed ($nsig signal(s), $nreq requeue(s))"
else not_ok "signal, checkpoint, requeue and resume in the job log" "$log"; fi
same_datasets "the requeued job ends with the uninterrupted run's theta and results" $SL/ref/results.h5 $SL/run/results.h5 /theta /eval/loss /eval/gradient
pycheck "the requeued job's training history equals the uninterrupted one's" "
a = h5py.File('$SL/ref/results.h5')['/train/history'][:, :6]; b = h5py.File('$SL/run/results.h5')['/train/history'][:, :6]
r = h5py.File('$SL/run/results.h5')['/run'].attrs['resumed']; print('resumed', r)
assert r >= 1 and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)"

# 2. survey array
SV="-skip_petscrc -data_type teacher -data_n 2000 -data_test_n 200 -data_d 8 -stages train -train_epochs 3 -train_batch_size 128 -train_monitor 0"
aid=$(cd $SL && sbatch --parsable --array=0-5 --ntasks=1 --time=5 --output=$SL/survey-%A_%a.out --export=ALL,LANDSCAPE=$LAND \
      "$ROOT/jobs/survey.sbatch" $SV -survey_grid "net_hidden=8|16,16 net_activation=tanh|sigmoid|relu" -output_dir $SL/survey 2>&1)
if [[ "$aid" =~ ^[0-9]+$ ]]; then ok "sbatch --array=0-5 jobs/survey.sbatch (job $aid)"; else not_ok "sbatch survey array" "$aid"; fi
if wait_job "$aid" 300; then ok "survey array $aid finished"; else not_ok "survey array $aid did not finish" "$(tail -5 $SL/survey-*.out)"; scancel "$aid" 2>/dev/null; fi
if out=$($PY "$ROOT/scripts/survey_report.py" $SL/survey 2>&1) && printf '%s' "$out" | grep -q "6 finished of 6"; then
  ok "survey report gathers all 6 tasks"; else not_ok "survey report" "$out"; fi
pycheck "survey table: 6 rows, distinct configurations, finite losses" "
f = h5py.File('$SL/survey/survey.h5'); assert len(f['index']) == 6 and f.attrs['size'] == 6
assert len(set(f['config'][:])) == 6 and np.isfinite(f['train_loss'][:]).all() and len(f['missing'][:]) == 0"
# a rerun of a finished task is skipped; a missing task is reported by index
rm -rf $SL/survey/task_00004
if out=$($PY "$ROOT/scripts/survey_report.py" $SL/survey 2>&1); then not_ok "report flags a missing task" "$out"; else
  printf '%s' "$out" | grep -q "missing (never started): 4" && ok "report names missing task 4 and exits 1" || not_ok "report names missing task 4" "$out"; fi
out=$(land 1 $SV -survey_grid "net_hidden=8|16,16 net_activation=tanh|sigmoid|relu" -survey_index 2 -output_dir $SL/survey 2>&1)
printf '%s' "$out" | grep -q "finished before: skipped" && ok "a finished survey task is skipped on rerun" || not_ok "finished task skipped" "$out"
bash "$ROOT/tests/slurm/cluster.sh" stop
