#!/usr/bin/env bash
# A real single-node Slurm on this machine for the tests (Debian's slurm-wlm and munge): localhost, all its
# CPUs, state and logs under DIR. `start DIR` prints the SLURM_CONF to use once the node is idle; `stop DIR`
# cancels what runs and stops the daemons. Exit 2 (and a line saying why) where Slurm is absent or won't start.
set -euo pipefail
cmd=${1:?usage: slurm.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: slurm.sh start|stop DIR}" && cd "$2" && pwd)
conf="$dir/slurm.conf"
if [ "$cmd" = stop ]; then
  SLURM_CONF="$conf" scancel --quiet --user "$(id -un)" 2>/dev/null || true
  pids=()
  for p in slurmd slurmctld; do [ -f "$dir/$p.pid" ] && pids+=("$(cat "$dir/$p.pid")"); done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 40); do   # until they are gone (they write their state on the way out)
    alive=0
    for p in "${pids[@]}"; do [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.25
  done
  exit 0
fi
for b in slurmctld slurmd munged sbatch; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || { echo "slurm.sh: $b is not installed (Debian: apt-get install slurm-wlm munge)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "slurm.sh: starting slurmd needs root" >&2; exit 2; }
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 3 / 4 ))
port=$(( 20000 + RANDOM % 20000 ))
mkdir -p "$dir/spool" "$dir/state" "$dir/log"
cat > "$conf" <<CONF
ClusterName=puzzle
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
SchedulerType=sched/backfill
SchedulerParameters=defer_batch,sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
MaxArraySize=1001
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=puzzle Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
if ! pgrep -x munged >/dev/null; then
  [ -f /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
  su -s /bin/sh munge -c /usr/sbin/munged || { echo "slurm.sh: munged would not start" >&2; exit 2; }
fi
/usr/sbin/slurmctld -f "$conf" || { echo "slurm.sh: slurmctld would not start; see $dir/log/slurmctld.log" >&2; exit 2; }
/usr/sbin/slurmd -f "$conf" || { echo "slurm.sh: slurmd would not start; see $dir/log/slurmd.log" >&2; exit 2; }
for _ in $(seq 1 60); do
  if SLURM_CONF="$conf" sinfo -h -o %t 2>/dev/null | grep -qx idle; then echo "$conf"; exit 0; fi
  sleep 0.5
done
echo "slurm.sh: the node never became idle; see $dir/log" >&2
exit 2
