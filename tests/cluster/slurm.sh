#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on localhost for the cluster tests.
#
# Usage: tests/cluster/slurm.sh start|stop|status|env|smoke
#   start   write the config, start munged, slurmctld and slurmd (from the state folder), wait
#           until the node is idle (daemons this script already runs are left alone)
#   stop    cancel the cluster's jobs, stop the daemons this script started (by PID file only)
#   status  daemons, sinfo, squeue
#   env     print `export SLURM_CONF=...` for clients (eval "$(tests/cluster/slurm.sh env)")
#   smoke   submit one tiny job (and one GPU job when GPUs are advertised) and wait for it
#
# The munge key and socket, spool, logs and PID files live in the state folder; the system's own
# munge (if any) is not touched. slurm.conf and gres.conf go to /etc/slurm, the packages' default
# path, because Snakemake's job step strips SLURM_CONF before its inner `srun`: the files carry a
# marker line, an unmarked (real) config there is never overwritten, and `stop` removes them.
# Needs root (slurmd) and the Debian packages munge + slurm-wlm (.ci/slurm.sh installs them).
#
# Environment (optional):
#   VANISH_SLURM_STATE   state folder                          [/tmp/vanish-slurm]
#   VANISH_SLURM_CPUS    CPUs advertised by the node           [nproc, at least 6]
#   VANISH_SLURM_MEM_MB  memory advertised (MB)                [75 % of MemTotal, at least 32768]
#   VANISH_SLURM_GPUS    fake GPUs (gres/gpu) advertised       [1; 0 = none]
#   VANISH_SLURM_PORT    slurmctld port; slurmd uses PORT+1    [16817]
#   VANISH_SLURM_ETC     folder of slurm.conf and gres.conf    [/etc/slurm]
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${VANISH_SLURM_STATE:-/tmp/vanish-slurm}
# The node advertises at least 6 CPUs and 32 GB, more than a small CI machine has
# (SlurmdParameters=config_overrides): the demo's three one-video jobs (each asks for 2 CPUs and
# 8 GB, sized for real clips, and uses a fraction) then run side by side instead of in turn.
CPUS=${VANISH_SLURM_CPUS:-$(($(nproc) > 6 ? $(nproc) : 6))}
MEM_MB=${VANISH_SLURM_MEM_MB:-$(awk '/^MemTotal:/ {m = $2 / 1024 * 0.75; printf "%d", (m > 32768 ? m : 32768)}' /proc/meminfo)}
GPUS=${VANISH_SLURM_GPUS:-1}
PORT=${VANISH_SLURM_PORT:-16817}
ETC=${VANISH_SLURM_ETC:-/etc/slurm}
CONF=$ETC/slurm.conf
MARKER="# managed-by: vanish tests/cluster/slurm.sh"
SOCKET=$STATE/munge/munge.socket
export SLURM_CONF=$CONF

log() { printf '[slurm.sh] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

pidfile() {
  case $1 in
    munged) echo "$STATE/munge/munged.pid" ;;
    *) echo "$STATE/run/$1.pid" ;;
  esac
}

# running NAME: the PID in our PID file is alive and is NAME (never a PID someone else reused)
running() {
  local pf pid
  pf=$(pidfile "$1")
  [[ -s $pf ]] || return 1
  pid=$(<"$pf")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm ]] || return 1
  [[ $(<"/proc/$pid/comm") == "$1" ]]
}

wait_for() { # wait_for SECONDS CMD...: poll every 0.5 s
  local tries=$(($1 * 2))
  shift
  while ((tries-- > 0)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

fill() { # fill TEMPLATE OUT: replace @NAME@ placeholders; never overwrite an unmarked file
  if [[ -e $2 ]] && ! grep -qxF "$MARKER" "$2"; then
    die "$2 exists and is not ours (no '$MARKER' line): refusing to overwrite a real Slurm config"
  fi
  {
    echo "$MARKER"
    sed -e "s|@STATE@|$STATE|g" -e "s|@CPUS@|$CPUS|g" -e "s|@MEM_MB@|$MEM_MB|g" \
      -e "s|@CTLD_PORT@|$PORT|g" -e "s|@SLURMD_PORT@|$((PORT + 1))|g" -e "s|@USER@|$(id -un)|g" \
      -e "s|@GRES@|$GRES|g" -e "s|@GRES_LINE@|$GRES_LINE|g" "$1"
  } >"$2.tmp"
  mv -f "$2.tmp" "$2"
}

write_config() {
  mkdir -p "$STATE"/{run,log,ctld,slurmd,dev} "$ETC"
  GRES="" GRES_LINE=""
  if ((GPUS > 0)); then
    local i
    for ((i = 0; i < GPUS; i++)); do
      [[ -c $STATE/dev/gpu$i ]] || mknod "$STATE/dev/gpu$i" c 1 3 2>/dev/null || {
        log "mknod not permitted: no fake GPUs"
        GPUS=0
        break
      }
    done
  fi
  if ((GPUS > 0)); then
    GRES="Gres=gpu:$GPUS"
    GRES_LINE="NodeName=localhost Name=gpu File=$STATE/dev/gpu[0-$((GPUS - 1))]"
  fi
  fill "$HERE/slurm.conf.in" "$CONF"
  fill "$HERE/gres.conf.in" "$ETC/gres.conf"
}

munge_ok() { munge -n -S "$SOCKET" | unmunge -S "$SOCKET"; }

start_munge() {
  running munged && return 0
  mkdir -p "$STATE/munge"
  chmod 0700 "$STATE/munge"
  if [[ ! -s $STATE/munge/munge.key ]]; then
    dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
  fi
  chmod 0400 "$STATE/munge/munge.key"
  munged --force --key-file="$STATE/munge/munge.key" --socket="$SOCKET" \
    --pid-file="$(pidfile munged)" --log-file="$STATE/munge/munged.log" \
    --seed-file="$STATE/munge/munged.seed"
  wait_for 10 munge_ok || die "munged did not come up (see $STATE/munge/munged.log)"
}

node_state() { sinfo -h -n localhost -o %T 2>/dev/null | head -n1; }

wait_node_idle() {
  local i state=""
  for ((i = 0; i < 120; i++)); do
    state=$(node_state)
    case $state in
      idle | mixed | allocated) return 0 ;;
      drain* | down* | inval* | fail*) scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  die "node not ready (state '${state:-unknown}'); see $STATE/log/slurmd.log"
}

cmd_start() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (slurmd starts jobs)"
  local tool
  for tool in munged munge slurmctld slurmd sbatch squeue scontrol; do
    command -v "$tool" >/dev/null || die "$tool not found: install the Debian packages munge and slurm-wlm"
  done
  write_config
  start_munge
  if ! running slurmctld; then
    slurmctld -f "$CONF" -c # -c: clean job state, a fresh cluster every time
    wait_for 30 scontrol ping || die "slurmctld not answering (see $STATE/log/slurmctld.log)"
  fi
  running slurmd || slurmd -f "$CONF" -N localhost
  wait_node_idle
  log "up: $(sinfo -h -o '%P %a %D %T %c cpus %m MB %G') (config: $CONF)"
}

stop_one() { # TERM, wait up to 20 s, then KILL; only the PID in our PID file
  local name=$1 pf pid i
  pf=$(pidfile "$name")
  if ! running "$name"; then
    rm -f "$pf"
    return 0
  fi
  pid=$(<"$pf")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    [[ -d /proc/$pid ]] || break
    sleep 0.5
  done
  if [[ -d /proc/$pid ]]; then
    log "$name ($pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pf"
  log "stopped $name ($pid)"
}

cmd_stop() {
  if running slurmctld; then
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ') || jobs=""
    if [[ -n ${jobs// /} ]]; then
      log "cancelling jobs: $jobs"
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      # shellcheck disable=SC2016
      wait_for 30 bash -c '[ -z "$(squeue -h -t PD,R,CG,S -o %A)" ]' || log "jobs still completing"
    fi
  fi
  stop_one slurmd
  stop_one slurmctld
  stop_one munged
  local file
  for file in "$CONF" "$ETC/gres.conf"; do
    if [[ -e $file ]] && grep -qxF "$MARKER" "$file"; then rm -f "$file"; fi
  done
}

cmd_status() {
  local name
  for name in munged slurmctld slurmd; do
    if running "$name"; then
      echo "$name: running (pid $(<"$(pidfile "$name")"))"
    else
      echo "$name: not running"
    fi
  done
  sinfo 2>/dev/null || true
  squeue 2>/dev/null || true
}

cmd_smoke() {
  local dir
  dir=$(mktemp -d)
  (cd "$dir" && sbatch --parsable --wait --mem=100 -o out --wrap 'echo ok') >/dev/null || die "smoke job failed"
  grep -qx ok "$dir/out" || die "smoke job wrote no output"
  if grep -q '^Gres=' <(scontrol show node localhost | tr ' ' '\n' | sed 's/^ *//'); then
    # shellcheck disable=SC2016
    (cd "$dir" && sbatch --parsable --wait --mem=100 --gpus=1 -o gpu --wrap 'echo "$CUDA_VISIBLE_DEVICES"') >/dev/null ||
      die "GPU smoke job failed"
    log "GPU job saw CUDA_VISIBLE_DEVICES=$(cat "$dir/gpu")"
  fi
  rm -rf "$dir"
  log "smoke ok"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  smoke) cmd_smoke ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
