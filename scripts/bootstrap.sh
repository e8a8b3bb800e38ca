#!/usr/bin/env bash
# Installs what a fresh machine lacks for WikiMonitor: Debian packages (librdkafka build deps,
# PostgreSQL, Chromium for the dashboard test, Prometheus for promtool in the alert-rule tests) and node_modules (librdkafka built from source,
# dynamically linked). Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*" >&2; }

for tool in node npm java mvn; do
  command -v "$tool" >/dev/null || { say "missing '$tool' (need Node.js >= 20, Java 17+ and Maven)"; exit 1; }
done

APT_PACKAGES=(libssl-dev libsasl2-dev libzstd-dev liblz4-dev zlib1g-dev libcurl4-openssl-dev postgresql chromium prometheus)
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

# node_modules: (re)install when missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -f node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node ]; then
  say "npm ci (builds librdkafka from source, about a minute)"
  [ -d /usr/include/node ] && export npm_config_nodedir=/usr
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
fi
if [ "${WM_SKIP_DEPLOY_TOOLS:-0}" != 1 ]; then bash tools/deploy/install-tools.sh >/dev/null || say "deploy validation tools not installed (deploy tests will try again)"; fi
say "ready"
