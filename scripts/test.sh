#!/usr/bin/env bash
# Runs every test of every project (unit + integration on the real local stack), plus lint and
# type checks. Installs what is missing and starts the stack first; stops the stack again if it
# started it (WM_KEEP_STACK=1 keeps it).
set -uo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false FORCE_COLOR=0

bash scripts/bootstrap.sh || exit 1
# shellcheck source=scripts/node-env.sh
source scripts/node-env.sh  # Node 22 first on PATH (bootstrap installs it where the machine's node is older)
echo "test: node $(node --version) ($(command -v node))"

started_stack=0
if ! node tools/stack/stack.mjs status >/dev/null 2>&1; then
  node tools/stack/stack.mjs up >/dev/null || { node tools/stack/stack.mjs status; exit 1; }
  started_stack=1
fi
eval "$(node tools/stack/stack.mjs env)"
export KAFKA_BOOTSTRAP_SERVERS SCHEMA_REGISTRY_URL DATABASE_URL

rc=0
node tools/codegen/avro-types.mjs --check || rc=1
npx nx run-many -t lint typecheck --parallel=2 --outputStyle=static || rc=1
rm -rf tmp/jest
npx nx run-many -t test --parallel=2 --outputStyle=static || rc=1
node scripts/test-summary.mjs || rc=1
# What developers run: npx nx run-many -t serve, every app ready on its port (then stopped).
node tools/pipeline/serve-check.mjs || rc=1
# The analytics range benchmark in its short mode: only that it runs (figures: bench/results/analytics.md).
TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/analytics/range-bench.ts --short >/dev/null || rc=1
# The producer's Jetstream path beside its EventStreams path, short form (figures: bench/results/jetstream.md).
TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/jetstream/jetstream-bench.ts --short >/dev/null || rc=1

if [ "$started_stack" = 1 ] && [ "${WM_KEEP_STACK:-0}" != 1 ]; then
  node tools/stack/stack.mjs down >/dev/null || true
fi
exit $rc
