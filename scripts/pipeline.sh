#!/usr/bin/env bash
# Quickstart: installs what is missing, starts the local stack (Kafka, Apicurio Registry,
# PostgreSQL, Jaeger) and runs the whole pipeline on it. Arguments go to tools/pipeline/pipeline.mjs
# (default `up`; also `down`, `status`, `logs <app>`, `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ] || [ "$1" = up ]; then bash scripts/bootstrap.sh; fi
# shellcheck source=scripts/node-env.sh
source scripts/node-env.sh  # Node 22 first on PATH (bootstrap installs it where the machine's node is older)
exec node tools/pipeline/pipeline.mjs "${@:-up}"
