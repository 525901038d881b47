#!/usr/bin/env bash
# Cluster tests: a throw-away single-node Slurm cluster on localhost, the demo through
# `snakemake --profile slurm`, resume after a kill, the report. Called by .ci/run after `make test`
# (needs root: it installs Debian's munge + slurm-wlm when missing and starts their daemons).
# Extra arguments go to pytest. The cluster is stopped on exit, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

missing=()
for tool in munged slurmctld slurmd sbatch; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "slurm.sh: installing munge and slurm-wlm (missing: ${missing[*]})" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends munge slurm-wlm >/dev/null
fi

make --quiet install
trap 'tests/cluster/slurm.sh stop' EXIT
tests/cluster/slurm.sh start
tests/cluster/slurm.sh smoke
# not under tests/offline.sh: the cluster's daemons listen on this network namespace's loopback
VANISH_SLURM=1 .venv/bin/python -m pytest tests/test_cluster.py "$@"
