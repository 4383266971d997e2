#!/usr/bin/env bash
# A real one-node SLURM on this machine for the tests: munge, slurmctld and slurmd, with a
# configuration written here. Needs root and Debian's slurm-wlm and munge packages.
#   tests/slurm/cluster.sh start   -> prints nothing on success; fails if the node is not idle in 180 s
#   tests/slurm/cluster.sh stop
set -euo pipefail
cmd=${1:-start}
host=$(hostname -s)
cpus=$(nproc --all)   # not plain nproc: it honours OMP_NUM_THREADS
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
state=/var/lib/landscape-slurm

stop() {
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  sleep 1
}

if [ "$cmd" = stop ]; then stop; exit 0; fi

stop
mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge "$state"/{ctld,d} /var/log/slurm
chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
pgrep -x munged >/dev/null || su -s /bin/sh munge -c "/usr/sbin/munged --force" || /usr/sbin/munged --force
mkdir -p /etc/slurm
cat > /etc/slurm/slurm.conf <<CONF
# written by landscape's tests/slurm/cluster.sh
ClusterName=landscape
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=600
SchedulerType=sched/backfill
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
/usr/sbin/slurmctld
/usr/sbin/slurmd
for i in $(seq 180); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)'; then exit 0; fi
  sleep 1
done
echo "SLURM did not come up: $(sinfo 2>&1 | tail -2)" >&2
tail -5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
