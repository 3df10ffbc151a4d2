#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for testing `delgrad sweep`'s
# Slurm backend (TestSlurmEndToEnd in ./sweep, run by .ci/run).
#
# Usage (as root):
#   scripts/slurm-local.sh start  [STATEDIR]   install, configure and start
#   scripts/slurm-local.sh status [STATEDIR]   exit 0 if the node is idle/up
#   scripts/slurm-local.sh stop   [STATEDIR]   stop what start started
# STATEDIR defaults to ${TMPDIR:-/tmp}/delgrad-slurm-local.
#
# start installs Debian's munge, slurmctld, slurmd and slurm-client with
# apt-get where they are missing (exit code 3, with a message, where they
# cannot be installed: not root, no apt-get, no archive; also 3 when start
# is not run as root), writes a munge key,
# STATEDIR/slurm.conf (one node with this machine's CPUs and a little less
# than its memory, one default partition, no accounting, no cgroups), and
# starts munged, slurmctld and slurmd directly (no systemd), each in the
# foreground of its own session with its pid in STATEDIR/pids/. It waits (at
# most 30 s) for the node to be idle and prints the line the clients need:
#   export SLURM_CONF=STATEDIR/slurm.conf
# Everything lives under STATEDIR (config, key, sockets, state, spool, logs);
# the daemons talk over 127.0.0.1 only. start is idempotent: with the cluster
# of STATEDIR already up it only prints the export line; after a failed or
# stale start it cleans up first. A failed start cleans up after itself too.
# stop cancels the cluster's jobs, kills the recorded daemons and whatever
# they started (slurmstepd: found by a marker in their environment), waits
# (bounded) for them to exit and removes STATEDIR.
#
# For real clusters none of this is needed: `delgrad sweep` only needs
# sbatch and squeue on the submitting machine (README.md, "Sweeps on a Slurm
# cluster").
set -uo pipefail

cmd="${1:-}"
state="${2:-${TMPDIR:-/tmp}/delgrad-slurm-local}"
pkgs=(munge slurmctld slurmd slurm-client)
node="$(hostname -s 2>/dev/null || echo localhost)"
[ -n "$node" ] || node=localhost
marker="DELGRAD_SLURM_LOCAL=$state"

say() { echo "slurm-local: $*" >&2; }

usage() {
  echo "usage: $0 start|stop|status [STATEDIR]" >&2
  exit 2
}

# install: the packages, where missing; exit 3 where impossible.
install() {
  local need=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "cannot install ${need[*]}: not root (skipping)"
    exit 3
  fi
  if ! command -v apt-get >/dev/null; then
    say "cannot install ${need[*]}: no apt-get (skipping)"
    exit 3
  fi
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' own services from starting (where an init is running).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  local ok=1
  if ! timeout 300 apt-get install -y -q --no-install-recommends "${need[@]}" >"${TMPDIR:-/tmp}/slurm-local-apt.log" 2>&1; then
    timeout 120 apt-get update -q >>"${TMPDIR:-/tmp}/slurm-local-apt.log" 2>&1 &&
      timeout 300 apt-get install -y -q --no-install-recommends "${need[@]}" >>"${TMPDIR:-/tmp}/slurm-local-apt.log" 2>&1 || ok=0
  fi
  [ "$made_policy" -eq 1 ] && rm -f "$policy"
  if [ "$ok" -eq 0 ]; then
    tail -5 "${TMPDIR:-/tmp}/slurm-local-apt.log" >&2
    say "cannot install ${need[*]} with apt-get (skipping; log: ${TMPDIR:-/tmp}/slurm-local-apt.log)"
    exit 3
  fi
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

pidof_daemon() { cat "$state/pids/$1.pid" 2>/dev/null; }

# running: all three recorded daemons alive.
running() {
  local d
  for d in munged slurmctld slurmd; do
    alive "$(pidof_daemon "$d")" || return 1
  done
}

# client: a Slurm client command on this cluster, bounded.
client() { SLURM_CONF="$state/slurm.conf" timeout 10 "$@"; }

node_state() { client sinfo --noheader --node "$node" --format '%T' 2>/dev/null | head -1; }

# marked_pids: processes whose environment carries this cluster's marker
# (the daemons and what they started).
marked_pids() {
  local f pid
  for f in /proc/[0-9]*/environ; do
    pid="${f#/proc/}"
    pid="${pid%/environ}"
    [ "$pid" = "$$" ] && continue
    if tr '\0' '\n' 2>/dev/null <"$f" | grep -qxF "$marker"; then
      echo "$pid"
    fi
  done
}

# wait_gone PID...: wait (at most 10 s) for the processes to exit.
wait_gone() {
  local i p left
  for i in $(seq 1 100); do
    left=0
    for p in "$@"; do alive "$p" && left=1; done
    [ "$left" -eq 0 ] && return 0
    sleep 0.1
  done
  return 1
}

do_stop() {
  if [ -f "$state/slurm.conf" ] && alive "$(pidof_daemon slurmctld)"; then
    client scancel --full --quiet --user="$(id -un)" >/dev/null 2>&1 || true
    client scancel --full --quiet --state=PENDING >/dev/null 2>&1 || true
  fi
  local pids=() d p
  for d in slurmd slurmctld munged; do
    p="$(pidof_daemon "$d")"
    if alive "$p"; then
      kill -TERM "$p" 2>/dev/null
      pids+=("$p")
    fi
  done
  [ ${#pids[@]} -gt 0 ] && { wait_gone "${pids[@]}" || { kill -KILL "${pids[@]}" 2>/dev/null; wait_gone "${pids[@]}"; }; }
  # slurmstepd and jobs the daemons left (marked by their environment).
  local rest
  rest=($(marked_pids))
  if [ ${#rest[@]} -gt 0 ]; then
    kill -TERM "${rest[@]}" 2>/dev/null
    wait_gone "${rest[@]}" || { kill -KILL "${rest[@]}" 2>/dev/null; wait_gone "${rest[@]}"; }
  fi
  rest=($(marked_pids))
  if [ ${#rest[@]} -gt 0 ]; then
    say "still running after stop: ${rest[*]}"
    return 1
  fi
  case "$state" in
    / | "") ;;
    *) rm -rf "$state" ;;
  esac
  return 0
}

# start_daemon NAME CMD...: runs CMD in its own session, in the foreground,
# output to STATEDIR/log/NAME.out, pid to STATEDIR/pids/NAME.pid.
start_daemon() {
  local name="$1"
  shift
  env "$marker" SLURM_CONF="$state/slurm.conf" setsid "$@" </dev/null >>"$state/log/$name.out" 2>&1 &
  echo $! >"$state/pids/$name.pid"
}

fail_start() {
  say "start failed: $*"
  local f
  for f in "$state"/log/*; do
    [ -s "$f" ] || continue
    echo "--- $f (last lines)" >&2
    tail -15 "$f" >&2
  done
  do_stop >/dev/null 2>&1
  exit 1
}

write_conf() {
  local cpus mem
  cpus="$(nproc)"
  mem="$(free -m | awk '/^Mem:/ {print $2}')"
  # A bit below what free reports, so that slurmd's own count is never lower.
  mem=$((mem - mem / 20 - 64))
  [ "$mem" -gt 100 ] || mem=100
  cat >"$state/slurm.conf" <<CONF
# Written by scripts/slurm-local.sh: a single-node test cluster.
ClusterName=delgrad
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=${SLURM_LOCAL_CTLD_PORT:-6817}
SlurmdPort=${SLURM_LOCAL_SLURMD_PORT:-6818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
# Bind to 127.0.0.1 (what the names above resolve to), not to every address.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
}

do_start() {
  if [ "$(id -u)" -ne 0 ]; then
    say "the test cluster runs its daemons as root: run start as root (skipping)"
    exit 3
  fi
  install
  for b in munged mungekey slurmctld slurmd sinfo setsid; do
    command -v "$b" >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
    command -v "$b" >/dev/null || { say "$b not found after installing ${pkgs[*]}"; exit 3; }
  done
  if running; then
    case "$(node_state)" in
      idle | mixed | allocated | completing)
        say "already running ($state)"
        echo "export SLURM_CONF=$state/slurm.conf"
        return 0
        ;;
    esac
  fi
  if [ -d "$state/pids" ]; then
    say "cleaning up an earlier start in $state"
    do_stop || exit 1
  fi
  local port
  for port in "${SLURM_LOCAL_CTLD_PORT:-6817}" "${SLURM_LOCAL_SLURMD_PORT:-6818}"; do
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
      say "port $port on 127.0.0.1 is in use (another Slurm? SLURM_LOCAL_CTLD_PORT and SLURM_LOCAL_SLURMD_PORT choose others)"
      exit 1
    fi
  done
  mkdir -p "$state"/{pids,run,log,ctld,slurmd,munge} || exit 1
  chmod 0755 "$state/munge"
  write_conf
  # munge: a key of our own, a socket, pid and seed files under STATEDIR.
  if [ ! -s "$state/munge/munge.key" ]; then
    mungekey --create --keyfile="$state/munge/munge.key" >/dev/null 2>&1 ||
      dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none || fail_start "no munge key"
  fi
  chmod 0600 "$state/munge/munge.key"
  start_daemon munged munged --foreground --force \
    --socket="$state/munge/munge.socket" --key-file="$state/munge/munge.key" \
    --pid-file="$state/munge/munged.pid" --seed-file="$state/munge/munged.seed" \
    --log-file="$state/log/munged.log"
  local i
  for i in $(seq 1 50); do
    [ -S "$state/munge/munge.socket" ] && break
    alive "$(pidof_daemon munged)" || fail_start "munged exited"
    sleep 0.1
  done
  [ -S "$state/munge/munge.socket" ] || fail_start "munged did not open its socket in 5 s"
  start_daemon slurmctld slurmctld -D -f "$state/slurm.conf"
  start_daemon slurmd slurmd -D -f "$state/slurm.conf" -N "$node"
  local st=""
  for i in $(seq 1 60); do
    running || fail_start "a daemon exited"
    st="$(node_state)"
    case "$st" in
      idle) break ;;
      down* | drain* | fail*) client scontrol update nodename="$node" state=resume >/dev/null 2>&1 ;;
    esac
    sleep 0.5
  done
  [ "$st" = idle ] || fail_start "node $node not idle after 30 s (state: ${st:-none})"
  say "up: node $node idle, state in $state"
  echo "export SLURM_CONF=$state/slurm.conf"
}

do_status() {
  local d p ok=0
  for d in munged slurmctld slurmd; do
    p="$(pidof_daemon "$d")"
    if alive "$p"; then
      echo "$d: running (pid $p)"
    else
      echo "$d: not running"
      ok=1
    fi
  done
  [ "$ok" -eq 0 ] || return 1
  client sinfo --node "$node" || return 1
  case "$(node_state)" in
    idle | mixed | allocated | completing) echo "export SLURM_CONF=$state/slurm.conf" ;;
    *) return 1 ;;
  esac
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) usage ;;
esac
