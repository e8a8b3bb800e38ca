#!/usr/bin/env bash
# Stops the port-forwards started by kind-up.sh and deletes the kind cluster.
#   --port-forwards-only   stop the port-forwards, keep the cluster
set -euo pipefail
cd "$(dirname "$0")/../.."
CLUSTER="${KIND_CLUSTER:-wikimonitor}"
PIDS=".stack/kind/port-forward.pids"
export PATH="$PWD/.stack/cache/tools/bin:$PATH"

if [ -f "$PIDS" ]; then
  while read -r pid; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done <"$PIDS"
  rm -f "$PIDS"
fi
[ "${1:-}" = "--port-forwards-only" ] && exit 0
if command -v kind >/dev/null && kind get clusters 2>/dev/null | grep -qxF "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
fi
