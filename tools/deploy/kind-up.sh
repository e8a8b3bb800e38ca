#!/usr/bin/env bash
# WikiMonitor on a local kind cluster, end to end:
#   1. create the cluster (deploy/k8s/kind-config.yaml) unless it exists
#   2. build the app images (tools/deploy/build-images.sh, tag "dev")
#   3. kind load them into the cluster's node
#   4. kubectl apply -k deploy/k8s/overlays/kind
#   5. wait for Kafka, PostgreSQL, the topic Job and every rollout
#   6. port-forward Jaeger (http://127.0.0.1:16686) and the lag-monitor dashboard (http://127.0.0.1:8088)
# Options: --no-build (reuse images), --no-port-forward. Needs docker, kind and kubectl; kind is installed
# from the Go module proxy into .stack/cache/tools/bin when missing and Go is there.
# tools/deploy/kind-down.sh stops the port-forwards and deletes the cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER="${KIND_CLUSTER:-wikimonitor}"
NS=wikimonitor
KIND_VERSION=v0.29.0
TOOLS_BIN="$PWD/.stack/cache/tools/bin"
STATE="$PWD/.stack/kind"
JAEGER_PORT="${JAEGER_PORT:-16686}"
DASHBOARD_PORT="${DASHBOARD_PORT:-8088}"
APPS=(producer filter-router aggregator dedup-persister lag-monitor)
build=1
forward=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --no-port-forward) forward=0 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "kind-up: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1mkind-up:\033[0m %s\n' "$*" >&2; }
export PATH="$TOOLS_BIN:$PATH"

for tool in docker kubectl; do
  command -v "$tool" >/dev/null || { say "missing '$tool'"; exit 1; }
done
if ! command -v kind >/dev/null; then
  command -v go >/dev/null || { say "missing 'kind' (https://kind.sigs.k8s.io) and Go to build it"; exit 1; }
  say "installing kind $KIND_VERSION (go install) into $TOOLS_BIN"
  GOBIN="$TOOLS_BIN" go install "sigs.k8s.io/kind@$KIND_VERSION"
fi

# 1. cluster
if kind get clusters 2>/dev/null | grep -qxF "$CLUSTER"; then
  say "cluster $CLUSTER exists"
else
  say "creating cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config deploy/k8s/kind-config.yaml --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

# 2. images
if [ "$build" = 1 ]; then
  say "building images"
  TAG=dev bash tools/deploy/build-images.sh "${APPS[@]}"
fi

# 3. kind load
images=()
for app in "${APPS[@]}"; do images+=("wikimonitor/$app:dev"); done
say "kind load docker-image ${images[*]}"
kind load docker-image --name "$CLUSTER" "${images[@]}"

# 4. apply (a finished topic Job is immutable: delete it so the current topic list is applied again)
kubectl -n "$NS" delete job kafka-topics --ignore-not-found >/dev/null 2>&1 || true
# The apps ran as Deployments (with HPAs) before they were StatefulSets, and apply does not delete them: an old
# producer with another transactional id would not be fenced by the new one. Gone (pods too) before the apply.
kubectl -n "$NS" delete deployment,hpa "${APPS[@]}" --ignore-not-found --cascade=foreground --timeout=120s
say "kubectl apply -k deploy/k8s/overlays/kind"
kubectl apply -k deploy/k8s/overlays/kind

# 5. wait
say "waiting for Kafka and PostgreSQL"
kubectl -n "$NS" rollout status statefulset/kafka --timeout=300s
kubectl -n "$NS" rollout status statefulset/postgres --timeout=300s
say "waiting for the topics"
kubectl -n "$NS" wait --for=condition=complete job/kafka-topics --timeout=300s
for d in registry jaeger; do
  say "waiting for deployment/$d"
  kubectl -n "$NS" rollout status "deployment/$d" --timeout=300s
done
for app in "${APPS[@]}"; do
  say "waiting for statefulset/$app"
  kubectl -n "$NS" rollout status "statefulset/$app" --timeout=300s
done
kubectl -n "$NS" get pods -o wide

# 6. port-forward
if [ "$forward" = 1 ]; then
  mkdir -p "$STATE"
  bash tools/deploy/kind-down.sh --port-forwards-only
  kubectl -n "$NS" port-forward service/jaeger "$JAEGER_PORT:16686" >"$STATE/port-forward-jaeger.log" 2>&1 &
  echo $! >>"$STATE/port-forward.pids"
  kubectl -n "$NS" port-forward service/lag-monitor "$DASHBOARD_PORT:8080" >"$STATE/port-forward-lag-monitor.log" 2>&1 &
  echo $! >>"$STATE/port-forward.pids"
  sleep 2
  say "Jaeger UI:         http://127.0.0.1:$JAEGER_PORT"
  say "lag-monitor dashboard: http://127.0.0.1:$DASHBOARD_PORT (API: /api/groups, metrics: /metrics)"
  say "port-forwards run in the background (pids in $STATE/port-forward.pids); tools/deploy/kind-down.sh stops them"
fi
say "done"
