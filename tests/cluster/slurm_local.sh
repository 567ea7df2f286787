#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, for CI and for developers.
#   source tests/cluster/slurm_local.sh; slurm_start <state-dir>; ...; slurm_stop <state-dir>
# Installs Debian's slurm-wlm and munge when missing. Accounting: Debian's slurmdbd needs a MySQL
# server, so this cluster runs without a database: jobs are recorded by jobcomp/filetxt
# (<state>/jobcomp.log) and the snakemake SLURM plugin queries status with squeue
# (--slurm-status-command squeue), which MinJobAge=3600 keeps reliable.
set -euo pipefail

slurm_install() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm_local: installing slurm-wlm and munge with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
}

slurm_write_conf() {
  local state=$1 node cpus mem
  node=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  cat > "$state/slurm.conf" <<CONF
ClusterName=medrobust-ci
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${SLURM_CTLD_PORT:-16817}
SlurmdPort=${SLURM_D_PORT:-16818}
AuthType=auth/munge
AuthInfo=socket=$state/munge.socket
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.log
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
}

slurm_start() {
  local state
  state=$(mkdir -p "$1" && cd "$1" && pwd)
  slurm_install
  mkdir -p "$state/ctld" "$state/d"
  dd if=/dev/urandom of="$state/munge.key" bs=1024 count=1 status=none
  chmod 400 "$state/munge.key"
  munged --force --key-file="$state/munge.key" --socket="$state/munge.socket" \
    --pid-file="$state/munged.pid" --log-file="$state/munged.log" --seed-file="$state/munge.seed"
  slurm_write_conf "$state"
  export SLURM_CONF="$state/slurm.conf"
  # srun inside a job step reads the default config path (slurmd does not pass -f on to jobs), so
  # link it there unless the machine has a SLURM config of its own; slurm_stop removes our link only.
  if [ ! -e /etc/slurm/slurm.conf ]; then
    mkdir -p /etc/slurm
    ln -s "$SLURM_CONF" /etc/slurm/slurm.conf
    echo "$SLURM_CONF" > "$state/linked-default-conf"
  fi
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)'; then
      echo "slurm_local: cluster up ($SLURM_CONF)" >&2
      return 0
    fi
    sleep 1
  done
  echo "slurm_local: the node did not become idle; logs in $state" >&2
  tail -n 20 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
  return 1
}

slurm_stop() {
  local state=$1 pidfile
  # Stop only the daemons this script started, by their PID files.
  for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid" "$state/munged.pid"; do
    if [ -s "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  sleep 1
  if [ -f "$state/linked-default-conf" ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$state/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
  fi
}
