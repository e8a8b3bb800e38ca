#!/usr/bin/env node
// Removes a crash in @confluentinc/kafka-javascript's native addon (1.10.1 and earlier) and rebuilds it.
//
// The bug: src/common.cc FromConsumerGroupDescription() passes
// rd_kafka_ConsumerGroupDescription_partition_assignor(desc) straight to Nan::New<v8::String>().
// librdkafka returns NULL there for every group description that carries an error (coordinator not
// reachable, broker down, an invalid group id), and Nan::New(NULL) dereferences it: the whole process
// dies with SIGSEGV instead of getting an error. lag-monitor calls describeGroups every cycle, so a
// Kafka outage killed it (chaos scenario broker-outage-long, 3 of 3 runs; upstream
// confluentinc/confluent-kafka-javascript#531). The smallest reproduction is
// tools/build/describe-groups-repro.cjs (describeGroups against an address nobody listens on).
//
// The fix: a NULL-safe string for the two fields. The addon is built from source here (there is no
// prebuilt binary for this platform, and scripts/bootstrap.sh and deploy/docker/Dockerfile build it
// with CKJS_LINKING=dynamic), so this patches the source and recompiles the addon (librdkafka itself
// is not rebuilt: a few seconds). Idempotent: a patched tree is left as it is. With --check it only
// reports (exit 1 when the source is unpatched).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const HELP = `usage: node tools/build/patch-kafka-addon.mjs [--check] [--no-build]
Patches @confluentinc/kafka-javascript's src/common.cc so describeGroups returns an error instead of
crashing the process (SIGSEGV) when a group description carries an error, and rebuilds the addon.
  --check     report only; exit 1 if the source is not patched
  --no-build  patch the source but do not rebuild
Run by scripts/bootstrap.sh after npm ci and by deploy/docker/Dockerfile.`;

const MARKER = 'wikimonitor-patch: null-safe partition_assignor';
const CALL = 'rd_kafka_ConsumerGroupDescription_partition_assignor(desc)';
const ANCHOR = 'v8::Local<v8::Object> FromConsumerGroupDescription(';
const HELPER = `// ${MARKER} (confluentinc/confluent-kafka-javascript#531):
// librdkafka returns NULL for an errored group description; Nan::New(NULL) crashed the process.
static inline const char* WmNonNullString(const char* s) { return s ? s : ""; }

`;

/**
 * The patched text of common.cc, or null when it is already patched. Throws when the code is not the expected one.
 * @param {string} text
 * @returns {string | null}
 */
export function patchCommonCc(text) {
  if (text.includes(MARKER)) return null;
  const anchorAt = text.indexOf(ANCHOR);
  const calls = text.split(CALL).length - 1;
  if (anchorAt < 0 || calls < 1) throw new Error(`src/common.cc does not contain ${ANCHOR} and ${CALL}: another version of the addon? Check whether it still needs this patch`);
  const patched = text.slice(0, anchorAt) + HELPER + text.slice(anchorAt);
  return patched.split(CALL).join(`WmNonNullString(${CALL})`);
}

/** @param {string[]} argv */
function main(argv) {
  if (argv.includes('--help') || argv.includes('-h')) { console.log(HELP); return 0; }
  const check = argv.includes('--check');
  const require = createRequire(join(process.cwd(), 'package.json'));
  const pkgDir = dirname(require.resolve('@confluentinc/kafka-javascript/package.json'));
  const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  const source = join(pkgDir, 'src', 'common.cc');
  const patched = patchCommonCc(readFileSync(source, 'utf8'));
  if (patched === null) { console.log(`kafka addon ${version}: already patched (${MARKER})`); return 0; }
  if (check) { console.error(`kafka addon ${version}: NOT patched: describeGroups can crash the process (run node tools/build/patch-kafka-addon.mjs)`); return 1; }
  writeFileSync(source, patched);
  console.log(`kafka addon ${version}: patched src/common.cc (${MARKER})`);
  if (argv.includes('--no-build')) return 0;
  // An existing build tree (npm ci built from source): recompile only what changed. Otherwise a full build.
  const incremental = existsSync(join(pkgDir, 'build', 'Makefile'));
  // npm run puts npm's own node-gyp on PATH; npm rebuild runs the package's install (node-pre-gyp) again.
  const gyp = incremental
    ? spawnSync('npm', ['run', 'build', '--silent'], { cwd: pkgDir, stdio: 'inherit', env: { CKJS_LINKING: 'dynamic', ...process.env } })
    : spawnSync('npm', ['rebuild', '@confluentinc/kafka-javascript', '--build-from-source'], { stdio: 'inherit', env: { CKJS_LINKING: 'dynamic', ...process.env } });
  if (gyp.status !== 0) { console.error(`kafka addon: the ${incremental ? 'incremental' : 'full'} build failed (exit ${gyp.status})`); return 1; }
  console.log(`kafka addon ${version}: rebuilt (${incremental ? 'incremental' : 'full'})`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main(process.argv.slice(2)));
