# Against a real SLURM (Debian's slurmctld, slurmd and munge, one node, configured by
# tests/slurm/cluster.sh). If SLURM cannot start, these tests fail; they do not skip.
#  1. A job with a 1-minute limit gets USR1 from SLURM before the limit (--signal=B:USR1@50),
#     checkpoints, exits 75, requeues itself, resumes (with a longer limit set by the test), and
#     ends with the same theta, bit for bit, as an uninterrupted run.
#  2. A survey job array of 6 tasks completes and is aggregated.
SL=$WORK/slurm
mkdir -p $SL
if out=$(bash "$ROOT/tests/slurm/cluster.sh" start 2>&1); then ok "SLURM one-node cluster is up (slurmctld, slurmd, munge)"; else not_ok "SLURM one-node cluster is up" "$out"; fi

# about 60 s of work at 2 ranks (more while the reference run shares the cores): SLURM's limit check runs every 30 s, so the first signal comes 10-40 s in
JOB="-skip_petscrc -data_type teacher -data_classify -data_n 20000 -data_test_n 500 -data_d 32 -data_k 4 -data_chunk_size 32 -net_hidden 128,128 -net_activation tanh -loss ce -stages train,eval -train_type adam -train_epochs 80 -train_batch_size 64 -train_lr 0.001 -train_monitor_interval 10"
# wait_job JOBID LIMIT T0 [ON_RESTART...]: poll SLURM's state of the job (all tasks of an array)
# every 3 s until every task is COMPLETED (return 0). Fails fast (return 1) on a terminal failure
# state (FAILED, TIMEOUT, CANCELLED, NODE_FAIL, ...), on a hold that nothing here would release
# (REQUEUE_HOLD, SPECIAL_EXIT, Reason=JobHeld* or launch_failed_requeued_held), on 60 s without an
# answer from slurmctld, and LIMIT seconds after T0 (bash's SECONDS when the job was submitted).
# Polling adds no wait when the job is quick; LIMIT only bounds a slow one. ON_RESTART runs once,
# when SLURM first reports a restart (requeue) of the job.
# WAIT_HISTORY has each change of state with the seconds since T0; WAIT_VERDICT the outcome.
job_states() { # JOBID: TASK:STATE(Reason)+rRESTARTS per job record; scontrol knows finished jobs for MinJobAge=600 s
  scontrol show job -o "$1" 2>/dev/null | awk '{
    id = ""; st = ""; re = ""; rs = 0
    for (i = 1; i <= NF; i++) { k = substr($i, 1, index($i, "=") - 1); v = substr($i, index($i, "=") + 1)
      if (k == "ArrayTaskId") id = v ":"; else if (k == "JobState") st = v; else if (k == "Reason") re = v; else if (k == "Restarts") rs = v }
    if (st != "") printf "%s%s%s%s ", id, st, (re == "None" || re == "" ? "" : "(" re ")"), (rs > 0 ? "+r" rs : "") }'
}
wait_job() {
  local jid=$1 limit=$2 t0=$3 t s last=x quiet=0 hook; shift 3
  WAIT_HISTORY=""; WAIT_VERDICT=""
  while :; do
    s=$(job_states "$jid"); t=$((SECONDS - t0))
    if [ "$s" != "$last" ]; then WAIT_HISTORY+="$(printf '%5d s  %s' $t "${s:-(no answer from slurmctld)}")"$'\n'; last=$s; fi
    if [ $# -gt 0 ] && [[ "$s" == *+r* ]]; then
      hook=$("$@" 2>&1) && hook="done" || hook="failed: $hook"
      WAIT_HISTORY+="$(printf '%5d s  (%s: %s)' $t "$*" "$hook")"$'\n'; set --
    fi
    if [ -z "$s" ]; then
      quiet=$((quiet + 3)); [ $quiet -ge 60 ] && { WAIT_VERDICT="slurmctld did not answer for 60 s"; return 1; }
    else
      quiet=0
      case " $s" in
        *FAILED*|*TIMEOUT*|*CANCELLED*|*NODE_FAIL*|*OUT_OF_MEMORY*|*BOOT_FAIL*|*DEADLINE*|*PREEMPTED*)
          WAIT_VERDICT="a failure state after $t s"; return 1 ;;
        *REQUEUE_HOLD*|*SPECIAL_EXIT*|*JobHeld*|*_held*)
          WAIT_VERDICT="the job is held after $t s (nothing in this test releases it)"; return 1 ;;
      esac
      [ -z "$(printf '%s\n' $s | sed 's/^[0-9-]*://; s/[(+].*$//' | grep -vx COMPLETED)" ] && { WAIT_VERDICT="completed after $t s"; return 0; }
    fi
    [ $t -ge "$limit" ] && { WAIT_VERDICT="not finished after $t s (limit $limit s)"; return 1; }
    sleep 3
  done
}
# slurm_report JOBID LOG...: what SLURM said, as TAP comments after a failed wait.
slurm_report() {
  local jid=$1; shift
  { echo "$WAIT_VERDICT; state history (seconds since sbatch, TASK:STATE(Reason)+rRESTARTS):"; printf '%s' "$WAIT_HISTORY"
    echo "scontrol show job $jid:"; scontrol show job "$jid" 2>&1
    echo "slurmctld.log (last 10 lines):"; tail -n 10 /var/log/slurm/slurmctld.log 2>&1
    for f in "$@"; do echo "$f (last 10 lines):"; tail -n 10 "$f" 2>&1; done; } | sed 's/^/#   /'
}
t0=$SECONDS
jid=$(cd $SL && sbatch --parsable --ntasks=2 --time=1 --signal=B:USR1@50 --output=$SL/job-%j.out \
      --export=ALL,LANDSCAPE=$LAND "$ROOT/jobs/landscape.sbatch" $JOB -output_dir $SL/run 2>&1)
if [[ "$jid" =~ ^[0-9]+$ ]]; then ok "sbatch jobs/landscape.sbatch (job $jid)"; else not_ok "sbatch jobs/landscape.sbatch" "$jid"; fi
# the uninterrupted reference runs meanwhile, in the background while the job is watched (it shares
# the 2 cores: the job only gets slower)
land 2 $JOB -output_dir $SL/ref > $SL/ref.out 2> $SL/ref.err & ref=$!
# The job runs about a minute of work in pieces of 10-40 s (it is signalled again after each
# requeue, --time=1 holds for every run), and each requeue waits in PENDING (Reason=BeginTime) for
# SLURM's requeue delay: AuthInfo's cred_expire + 1 s, 121 s by default in Debian 12's SLURM 22.05
# (slurm.conf(5), cred_expire: "This also controls how long a requeued job must wait before starting
# again"), plus up to a scheduler pass; 149 s from the requeue to the restart on an idle machine.
# A resumed run would get the same 1-minute limit, so the number of requeues, each costing that
# delay, would grow with the load (6 requeues, 17 minutes, with two other suites running); once
# SLURM reports the first restart, the test raises the limit to 30 minutes, so there is exactly one
# signal, checkpoint, requeue and resume. Idle: about 4 minutes. Loaded: allow 45 minutes.
if wait_job "$jid" 2700 $t0 scontrol update JobId="$jid" TimeLimit=30; then ok "job $jid finished ($WAIT_VERDICT)"; printf '%s' "$WAIT_HISTORY" | sed 's/^/#   /'
else not_ok "job $jid: $WAIT_VERDICT"; slurm_report "$jid" $SL/job-$jid.out; scancel "$jid" 2>/dev/null; fi
if wait $ref; then ok "uninterrupted reference run"; else not_ok "uninterrupted reference run" "$(tail -n 7 $SL/ref.out $SL/ref.err)"; fi
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
assert r >= 1 and same_bits(a, b)"

# 2. survey array
SV="-skip_petscrc -data_type teacher -data_n 2000 -data_test_n 200 -data_d 8 -stages train -train_epochs 3 -train_batch_size 128 -train_monitor 0"
t0=$SECONDS
aid=$(cd $SL && sbatch --parsable --array=0-5 --ntasks=1 --time=5 --output=$SL/survey-%A_%a.out --export=ALL,LANDSCAPE=$LAND \
      "$ROOT/jobs/survey.sbatch" $SV -survey_grid "net_hidden=8|16,16 net_activation=tanh|sigmoid|relu" -output_dir $SL/survey 2>&1)
if [[ "$aid" =~ ^[0-9]+$ ]]; then ok "sbatch --array=0-5 jobs/survey.sbatch (job $aid)"; else not_ok "sbatch survey array" "$aid"; fi
# 6 tasks of a few seconds each, 4 at a time on the oversubscribed node: well under a minute idle.
if wait_job "$aid" 1200 $t0; then ok "survey array $aid finished ($WAIT_VERDICT)"
else not_ok "survey array $aid: $WAIT_VERDICT"; slurm_report "$aid" $SL/survey-${aid}_*.out; scancel "$aid" 2>/dev/null; fi
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
