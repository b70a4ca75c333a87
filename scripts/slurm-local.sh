#!/usr/bin/env bash
# A real one-node Slurm on localhost (Debian's slurm-wlm + munge) for the cluster tests.
#   scripts/slurm-local.sh start   install when missing (apt-get), configure, start munged/slurmctld/slurmd
#   scripts/slurm-local.sh stop    stop only the daemons this script started, by their pid
#   scripts/slurm-local.sh status
# Steps measured in ../shared/reference/slurm-local.md. Needs root (CI runs as root). A slurm.conf that
# this script did not write is never overwritten.
set -euo pipefail

STATE=/run/vaultlab-slurm-local  # pids of the daemons started here, one file each
MARK="# written by vaultlab scripts/slurm-local.sh"

say() { echo "slurm-local: $*" >&2; }

install() {
    if command -v sbatch >/dev/null && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/munged ]; then return; fi
    say "installing slurm-wlm and munge (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm >/dev/null
}

configure() {
    local host cpus mem
    host=$(hostname)
    if [ -f /etc/slurm/slurm.conf ] && ! grep -qF "$MARK" /etc/slurm/slurm.conf; then
        say "keeping the existing /etc/slurm/slurm.conf"; return
    fi
    cpus=$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' | head -1)
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
    mem=$(( mem * 8 / 10 ))
    mkdir -p /etc/slurm
    cat > /etc/slurm/slurm.conf <<CONF
$MARK
ClusterName=local
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=/var/run/slurmctld.pid
SlurmdPidFile=/var/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SchedulerParameters=sched_interval=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    [ -f /etc/slurm/cgroup.conf ] || printf 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\n' > /etc/slurm/cgroup.conf
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

start_daemon() {  # name pidfile command...
    local name=$1 pidfile=$2; shift 2
    if [ -f "$pidfile" ] && alive "$(cat "$pidfile")"; then say "$name already running (pid $(cat "$pidfile")), left alone"; return; fi
    "$@"
    for _ in $(seq 50); do [ -s "$pidfile" ] && alive "$(cat "$pidfile")" && break; sleep 0.1; done
    alive "$(cat "$pidfile" 2>/dev/null)" || { say "$name did not start"; exit 1; }
    cat "$pidfile" > "$STATE/$name.pid"
    say "started $name (pid $(cat "$pidfile"))"
}

start() {
    install
    configure
    mkdir -p "$STATE" /var/spool/slurmctld /var/spool/slurmd /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    [ -f /etc/munge/munge.key ] || { say "no /etc/munge/munge.key (the munge package creates it)"; exit 1; }
    start_daemon munged /run/munge/munged.pid su -s /bin/sh munge -c /usr/sbin/munged
    munge -n | unmunge >/dev/null
    start_daemon slurmctld /var/run/slurmctld.pid /usr/sbin/slurmctld
    start_daemon slurmd /var/run/slurmd.pid /usr/sbin/slurmd
    for _ in $(seq 60); do
        if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then say "node $(hostname) is up"; return; fi
        sleep 0.5
    done
    scontrol update nodename="$(hostname)" state=resume 2>/dev/null || true
    sinfo -h -o %t | grep -qE '^(idle|mix|alloc)' || { say "node did not come up: $(sinfo -h 2>&1)"; exit 1; }
}

stop() {
    local name pid
    for name in slurmd slurmctld munged; do
        [ -f "$STATE/$name.pid" ] || continue
        pid=$(cat "$STATE/$name.pid")
        if alive "$pid"; then
            kill "$pid"
            for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
            say "stopped $name (pid $pid)"
        fi
        rm -f "$STATE/$name.pid"
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) sinfo; squeue ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
