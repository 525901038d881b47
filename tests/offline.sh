#!/usr/bin/env bash
# Run a command with the network cut (a fresh network namespace with only loopback), proving that
# nothing in the test suite reaches out. Needs root (or user namespaces); falls back to running
# the command as is, saying so, where namespaces are unavailable.
set -euo pipefail
if unshare -n true 2>/dev/null; then
    echo "offline.sh: running with the network cut (unshare -n)" >&2
    exec unshare -n -- bash -c 'ip link set lo up 2>/dev/null || true; exec "$@"' offline "$@"
fi
echo "offline.sh: cannot create a network namespace here; running with the network" >&2
exec "$@"
