#!/usr/bin/env node
// WikiMonitor local stack: PostgreSQL 15, Apache Kafka 4.1.1 (KRaft) and Apicurio Registry 3.3.3,
// Jaeger, and on request Prometheus (Debian's package), run as plain local processes (no Docker).
// Zero dependencies: node: builtins only.
//
//   node tools/stack/stack.mjs up [--with prometheus] | down [--purge] | status | env | logs [service] [--follow]
//                              start|stop|restart <service> | --help
//
// All state lives in one directory (default <repo>/.stack, override with WM_STACK_DIR):
//   cache/  downloaded Kafka jars and the Apicurio distribution, keyed by version
//   data/   PostgreSQL cluster, Kafka log dirs + cluster id, kafka-tls/ (WM_STACK_KAFKA_SECURITY)
//           (down --purge deletes it)
//   run/    pid files, generated configs, PostgreSQL unix socket
//   logs/   one log per service
//
// Every service is a row in SERVICES (below) that says how to prepare, launch and health-check
// it; the generic start/stop/status code does the rest. Use the same WM_* env vars for every
// command, since ports are read from the environment, not from the running stack.

import { spawn, spawnSync, execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync,
  readdirSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, fstatSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseCommandLine, usageError } from '../lib/cli.mjs';
import { APPS } from '../pipeline/ports.mjs';
import { prometheusConfig, ruleFileNames } from './prometheus-config.mjs';

/** @typedef {(msg: string) => void} Log */
/**
 * One row of SERVICES (see "Services" below).
 * @typedef {object} Service
 * @property {string} name
 * @property {string[]} aliases
 * @property {() => Array<{ port: number, env: string }>} ports
 * @property {string[]} deps
 * @property {NodeJS.Signals} stopSignal
 * @property {(argv: string[]) => boolean | undefined} owns
 * @property {(log: Log) => unknown} prepare
 * @property {(logFd: number) => Promise<import('node:child_process').ChildProcess>} launch
 * @property {() => Promise<boolean>} healthy
 * @property {(log: Log) => Promise<void>} [ready]
 * @property {() => number[]} [leftovers]
 * @property {boolean} [optional] started by `up` only when asked for (--with, WM_STACK_PROMETHEUS=1)
 */

const execFileP = promisify(execFile);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

// Jaeger: the Go module has no /v2 path, so v2 releases are published under v1 tags: module tag
// v1.76.0 is Jaeger v2.13.0 (the newest the Go module proxy serves here); cmd/jaeger is the v2 binary.
const VERSIONS = { postgres: '15', kafka: '4.1.1', apicurio: '3.3.3', jaeger: 'v1.76.0' };
const JAEGER_MODULE = 'github.com/jaegertracing/jaeger';
const KAFKA_MIN_JAVA = 17;
const APICURIO_MIN_JAVA = 21; // Apicurio 3.3.x is compiled for Java 21 (class file 65)
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

const SCRIPT_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(SCRIPT_DIR, '..', '..');
const STACK_DIR = resolve(process.env.WM_STACK_DIR || join(REPO_ROOT, '.stack'));
const DIRS = {
  cache: join(STACK_DIR, 'cache'),
  data: join(STACK_DIR, 'data'),
  run: join(STACK_DIR, 'run'),
  logs: join(STACK_DIR, 'logs'),
};
const IS_ROOT = process.getuid?.() === 0;

/**
 * @param {string} name
 * @param {number} fallback
 */
function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) fail(`${name}=${raw} is not a valid port number`);
  return n;
}

const CFG = {
  pgPort: envInt('WM_PG_PORT', 55432),
  pgBin: process.env.WM_PG_BIN || `/usr/lib/postgresql/${VERSIONS.postgres}/bin`,
  pgUser: 'wikimonitor',
  pgPassword: 'wikimonitor',
  pgDatabases: ['wikimonitor', 'apicurio'],
  // TLS on PostgreSQL's TCP port (server certificate for 127.0.0.1 and localhost from a CA the stack
  // makes); clients verify it with DATABASE_SSL_MODE=verify-full and DATABASE_SSL_CA. Off by default.
  pgTls: process.env.WM_PG_TLS === 'on',
  kafkaPort: envInt('WM_KAFKA_PORT', 9092),
  kafkaControllerPort: envInt('WM_KAFKA_CONTROLLER_PORT', 9093),
  kafkaHeap: process.env.WM_KAFKA_HEAP || '512m',
  // Client listener security: plaintext (default), sasl_ssl (SCRAM-SHA-512 over TLS with the stack's
  // own CA) or mtls (sasl_ssl that also requires a client certificate signed by that CA). The broker's
  // own traffic (inter-broker, controller) stays PLAINTEXT on 127.0.0.1, on WM_KAFKA_INTERNAL_PORT.
  kafkaSecurity: kafkaSecurityMode(process.env.WM_STACK_KAFKA_SECURITY),
  kafkaInternalPort: envInt('WM_KAFKA_INTERNAL_PORT', 9094),
  kafkaUser: 'wikimonitor',
  // Optional second listener for clients behind a fault-injecting proxy (chaos tests): the broker
  // listens on WM_KAFKA_EXTERNAL_PORT and advertises WM_KAFKA_PROXY_PORT, where the proxy listens.
  kafkaExternalPort: process.env.WM_KAFKA_EXTERNAL_PORT ? envInt('WM_KAFKA_EXTERNAL_PORT', 0) : undefined,
  kafkaProxyPort: process.env.WM_KAFKA_PROXY_PORT ? envInt('WM_KAFKA_PROXY_PORT', 0) : undefined,
  registryPort: envInt('WM_REGISTRY_PORT', 8081),
  // Quarkus serves health/metrics on a separate "management" port (default 9000); pin it too.
  registryManagementPort: envInt('WM_REGISTRY_MANAGEMENT_PORT', 9081),
  registryHeap: process.env.WM_REGISTRY_HEAP || '512m',
  jaegerOtlpGrpcPort: envInt('WM_JAEGER_OTLP_GRPC_PORT', 4317),
  jaegerOtlpHttpPort: envInt('WM_JAEGER_OTLP_HTTP_PORT', 4318),
  jaegerUiPort: envInt('WM_JAEGER_UI_PORT', 16686),
  jaegerHealthPort: envInt('WM_JAEGER_HEALTH_PORT', 13133),
  jaegerEnabled: process.env.WM_JAEGER !== 'off',
  prometheusPort: envInt('WM_PROMETHEUS_PORT', 9090),
  prometheusBin: process.env.WM_PROMETHEUS_BIN || '',
  startTimeoutMs: (Number(process.env.WM_STACK_TIMEOUT) || 120) * 1000,
  stopTimeoutMs: 20_000,
};

/**
 * @param {string | undefined} raw
 * @returns {'plaintext' | 'sasl_ssl' | 'mtls'}
 */
function kafkaSecurityMode(raw) {
  const mode = (raw || 'plaintext').toLowerCase();
  if (mode === 'plaintext' || mode === 'sasl_ssl' || mode === 'mtls') return mode;
  return fail(`WM_STACK_KAFKA_SECURITY=${raw} is not one of plaintext, sasl_ssl, mtls`);
}
const KAFKA_SECURE = CFG.kafkaSecurity !== 'plaintext';

const PATHS = {
  pgData: join(DIRS.data, 'pg'),
  pgSocketDir: join(DIRS.run, 'pg'),
  pgTls: join(DIRS.data, 'pg-tls'),
  kafkaLibs: join(DIRS.cache, `kafka-${VERSIONS.kafka}`, 'libs'),
  kafkaRun: join(DIRS.run, 'kafka'),
  kafkaData: join(DIRS.data, 'kafka'),
  kafkaClusterId: join(DIRS.data, 'kafka-cluster-id'),
  // The stack's CA, the broker's and a client's certificate, and the passwords (mode 0600), made once.
  kafkaTls: join(DIRS.data, 'kafka-tls'),
  apicurioCache: join(DIRS.cache, `apicurio-${VERSIONS.apicurio}`),
  apicurioRun: join(DIRS.run, 'apicurio'),
  jaegerBin: join(DIRS.cache, `jaeger-${VERSIONS.jaeger}`, 'jaeger'),
  jaegerRun: join(DIRS.run, 'jaeger'),
  // Debian's prometheus package unpacked (apt-get download + dpkg -x): no root, no system service.
  prometheusDeb: join(DIRS.cache, 'prometheus-deb'),
  prometheusRun: join(DIRS.run, 'prometheus'),
  prometheusData: join(DIRS.data, 'prometheus'),
};

// ---------------------------------------------------------------------------------------------
// Services. Order = start order; `down` stops them in reverse.
//   ports:    [{ port, env }] that must be free before launch (env = variable to change it)
//   deps:     services that must be healthy first
//   owns:     does this argv (from /proc/<pid>/cmdline) belong to this service of this stack?
//   prepare:  one-off setup before launch (downloads, init, config files); may log progress
//   launch:   start the process detached and return its ChildProcess
//   healthy:  resolves true once the service is usable
//   ready:    optional step after the service is healthy (idempotent), e.g. create databases
//   leftovers: optional; pids of the service's child processes that outlived it (killed on stop)
// ---------------------------------------------------------------------------------------------

/** @param {string} name */
const javaMarker = (name) => `-Dwm.stack.service=${name}@${STACK_DIR}`;

const SERVICES = /** @type {Service[]} */ ([
  {
    name: 'postgres',
    aliases: ['pg', 'postgresql'],
    ports: () => [{ port: CFG.pgPort, env: 'WM_PG_PORT' }],
    deps: [],
    stopSignal: 'SIGINT', // "fast" shutdown; SIGTERM ("smart") would wait for clients to leave
    owns: (argv) => argv[0]?.endsWith('/postgres') && argv.includes(PATHS.pgData),
    prepare: preparePostgres,
    launch: launchPostgres,
    healthy: () => commandSucceeds(pgTool('pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(CFG.pgPort)]),
    ready: ensurePgDatabases,
    leftovers: pgLeftovers,
  },
  {
    name: 'kafka',
    aliases: [],
    ports: () => [
      { port: CFG.kafkaPort, env: 'WM_KAFKA_PORT' },
      { port: CFG.kafkaControllerPort, env: 'WM_KAFKA_CONTROLLER_PORT' },
      ...(KAFKA_SECURE ? [{ port: CFG.kafkaInternalPort, env: 'WM_KAFKA_INTERNAL_PORT' }] : []),
    ],
    deps: [],
    stopSignal: 'SIGTERM',
    owns: (argv) => argv.includes(javaMarker('kafka')),
    prepare: prepareKafka,
    launch: launchKafka,
    healthy: kafkaHealthy,
    ready: ensureKafkaUsers,
  },
  {
    name: 'apicurio',
    aliases: ['registry', 'schema-registry'],
    ports: () => [
      { port: CFG.registryPort, env: 'WM_REGISTRY_PORT' },
      { port: CFG.registryManagementPort, env: 'WM_REGISTRY_MANAGEMENT_PORT' },
    ],
    deps: ['postgres'],
    stopSignal: 'SIGTERM',
    owns: (argv) => argv.includes(javaMarker('apicurio')),
    prepare: prepareApicurio,
    launch: launchApicurio,
    healthy: () => httpOk(`http://127.0.0.1:${CFG.registryPort}/apis/ccompat/v7/subjects`),
  },
  {
    name: 'jaeger',
    aliases: ['tracing'],
    ports: () => [
      { port: CFG.jaegerOtlpGrpcPort, env: 'WM_JAEGER_OTLP_GRPC_PORT' },
      { port: CFG.jaegerOtlpHttpPort, env: 'WM_JAEGER_OTLP_HTTP_PORT' },
      { port: CFG.jaegerUiPort, env: 'WM_JAEGER_UI_PORT' },
      { port: CFG.jaegerHealthPort, env: 'WM_JAEGER_HEALTH_PORT' },
    ],
    deps: [],
    stopSignal: 'SIGTERM',
    owns: (argv) => argv[0] === PATHS.jaegerBin && argv.includes(join(PATHS.jaegerRun, 'config.yaml')),
    prepare: prepareJaeger,
    launch: launchJaeger,
    healthy: () => httpOk(`http://127.0.0.1:${CFG.jaegerUiPort}/api/services`),
  },
  {
    name: 'prometheus',
    aliases: ['prom'],
    optional: true,
    ports: () => [{ port: CFG.prometheusPort, env: 'WM_PROMETHEUS_PORT' }],
    deps: [],
    stopSignal: 'SIGTERM',
    owns: (argv) => argv.includes(`--config.file=${join(PATHS.prometheusRun, 'prometheus.yml')}`) && Boolean(argv[0]?.endsWith('/prometheus')),
    prepare: preparePrometheus,
    launch: launchPrometheus,
    healthy: () => httpOk(`http://127.0.0.1:${CFG.prometheusPort}/-/ready`),
  },
]).filter((svc) => svc.name !== 'jaeger' || CFG.jaegerEnabled);

/** Optional services `up` starts: --with <name> (repeatable) or WM_STACK_PROMETHEUS=1. */
const OPTIONAL = SERVICES.filter((s) => s.optional).map((s) => s.name);
/** @type {Set<string>} */
const WANTED = new Set(process.env.WM_STACK_PROMETHEUS === '1' ? ['prometheus'] : []);

const ENV_EXPORTS = () => ({
  KAFKA_BOOTSTRAP_SERVERS: `127.0.0.1:${CFG.kafkaPort}`,
  ...kafkaClientEnv(),
  SCHEMA_REGISTRY_URL: `http://127.0.0.1:${CFG.registryPort}/apis/ccompat/v7`,
  DATABASE_URL: `postgres://${CFG.pgUser}:${CFG.pgPassword}@127.0.0.1:${CFG.pgPort}/wikimonitor`,
  ...(CFG.pgTls ? { DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA: join(PATHS.pgTls, 'ca.crt') } : {}),
  ...(CFG.jaegerEnabled ? { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${CFG.jaegerOtlpHttpPort}`, JAEGER_QUERY_URL: `http://127.0.0.1:${CFG.jaegerUiPort}` } : {}),
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

/** @param {string} tool */
const pgTool = (tool) => join(CFG.pgBin, tool);

/** PostgreSQL refuses to run as root: as root, run its server-side tools as the postgres user. */
/** @returns {{ uid?: number, gid?: number }} */
function pgRunAs() {
  if (!IS_ROOT) return {};
  const user = systemUser('postgres');
  if (!user) fail('running as root but there is no "postgres" system user (it comes with the Debian "postgresql" package)');
  return user;
}

/** @param {Log} log */
async function preparePostgres(log) {
  if (!existsSync(pgTool('postgres'))) installPostgres(log);
  const { uid, gid } = pgRunAs();
  for (const dir of [PATHS.pgData, PATHS.pgSocketDir]) {
    mkdirSync(dir, { recursive: true });
    if (IS_ROOT) chownSync(dir, /** @type {number} */ (uid), /** @type {number} */ (gid));
    chmodSync(dir, 0o700);
  }
  if (IS_ROOT && spawnSync('test', ['-w', PATHS.pgData, '-a', '-w', PATHS.pgSocketDir], { uid, gid }).status !== 0) {
    fail(`the postgres user cannot reach ${PATHS.pgData}; set WM_STACK_DIR to a directory whose parents are world-traversable`);
  }
  if (CFG.pgTls) preparePgTls(log, uid, gid);
  if (existsSync(join(PATHS.pgData, 'PG_VERSION'))) return clearCrashedPostmaster(log);

  log('initialising data directory…');
  const pwFile = join(PATHS.pgSocketDir, 'initdb.pw');
  writeFileSync(pwFile, `${CFG.pgPassword}\n`, { mode: 0o600 });
  if (IS_ROOT) chownSync(pwFile, /** @type {number} */ (uid), /** @type {number} */ (gid));
  try {
    run(pgTool('initdb'), [
      '-D', PATHS.pgData, '-U', CFG.pgUser, `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C.UTF-8',
      '--auth-local=trust', '--auth-host=scram-sha-256', '--no-instructions',
    ], { uid, gid, cwd: PATHS.pgData, what: 'initdb' });
  } finally {
    rmSync(pwFile, { force: true });
  }
}

/**
 * A CA and a server certificate for 127.0.0.1 and localhost (made once, kept in the data directory):
 * ca.crt is what clients trust; server.key belongs to the postgres user, mode 0600, as PostgreSQL demands.
 * @param {Log} log
 * @param {number | undefined} uid
 * @param {number | undefined} gid
 */
function preparePgTls(log, uid, gid) {
  const dir = PATHS.pgTls;
  const file = (/** @type {string} */ name) => join(dir, name);
  if (!existsSync(file('server.crt'))) {
    log('making a CA and a server certificate for TLS…');
    mkdirSync(dir, { recursive: true });
    const ssl = (/** @type {string[]} */ args) => run('openssl', args, { what: 'openssl' });
    ssl(['req', '-x509', '-new', '-nodes', '-newkey', 'rsa:2048', '-sha256', '-days', '3650', '-subj', '/CN=WikiMonitor local stack CA',
      '-keyout', file('ca.key'), '-out', file('ca.crt')]);
    ssl(['req', '-new', '-nodes', '-newkey', 'rsa:2048', '-sha256', '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr')]);
    writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
    ssl(['x509', '-req', '-sha256', '-days', '825', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-extfile', file('server.ext'), '-out', file('server.crt')]);
    rmSync(file('server.csr'), { force: true });
  }
  chmodSync(dir, 0o755);
  chmodSync(file('ca.crt'), 0o644);
  chmodSync(file('server.crt'), 0o644);
  chmodSync(file('server.key'), 0o600);
  chmodSync(file('ca.key'), 0o600);
  if (IS_ROOT) chownSync(file('server.key'), /** @type {number} */ (uid), /** @type {number} */ (gid));
}

/** @param {Log} log */
function installPostgres(log) {
  const pkg = 'postgresql';
  if (!IS_ROOT) {
    fail(`PostgreSQL ${VERSIONS.postgres} not found in ${CFG.pgBin}. Install it with: sudo apt-get install -y ${pkg}` +
      ' (or point WM_PG_BIN at its bin directory)');
  }
  log(`installing Debian package "${pkg}"…`);
  /** @param {string[]} args */
  const apt = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (apt(['install', '-y', pkg]).status !== 0) {
    apt(['update']);
    if (apt(['install', '-y', pkg]).status !== 0) fail(`apt-get install -y ${pkg} failed`);
  }
  if (!existsSync(pgTool('postgres'))) fail(`installed "${pkg}" but ${pgTool('postgres')} is still missing (set WM_PG_BIN?)`);
}

/**
 * Server processes of this cluster other than a live postmaster: backends and auxiliary processes
 * (their working directory is the data directory). After a hard crash of the postmaster (SIGKILL
 * in a chaos test) such orphans can outlive it for a moment and keep its shared memory in use.
 */
function pgLeftovers() {
  return allPids().filter((pid) => procArgv(pid)?.[0]?.startsWith('postgres:') && procCwd(pid) === PATHS.pgData);
}

/**
 * Only called when no postmaster of this stack runs. Its lock files may name a pid that is still a
 * zombie (PostgreSQL would count it as running and refuse to start): drop them, after the orphans.
 */
/** @param {Log} log */
async function clearCrashedPostmaster(log) {
  await killAll(pgLeftovers, log);
  const lockFile = join(PATHS.pgData, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  log(`removing stale lock files of postmaster ${readFileSync(lockFile, 'utf8').split('\n')[0]}`);
  rmSync(lockFile, { force: true });
  rmSync(join(PATHS.pgSocketDir, `.s.PGSQL.${CFG.pgPort}.lock`), { force: true });
}

/** @param {number} logFd */
function launchPostgres(logFd) {
  const { uid, gid } = pgRunAs();
  return spawnDetached(pgTool('postgres'), [
    '-D', PATHS.pgData,
    '-p', String(CFG.pgPort),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', `unix_socket_directories=${PATHS.pgSocketDir}`,
    '-c', 'max_connections=200',
    ...(CFG.pgTls ? ['-c', 'ssl=on', '-c', `ssl_cert_file=${join(PATHS.pgTls, 'server.crt')}`, '-c', `ssl_key_file=${join(PATHS.pgTls, 'server.key')}`] : []),
  ], { logFd, uid, gid, cwd: PATHS.pgData });
}

/** @param {Log} log */
async function ensurePgDatabases(log) {
  /** @param {string} sql */
  const psql = (sql) => run(pgTool('psql'), [
    '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', PATHS.pgSocketDir, '-p', String(CFG.pgPort),
    '-U', CFG.pgUser, '-d', 'postgres', '-c', sql,
  ], { what: 'psql' });
  const existing = new Set(psql('SELECT datname FROM pg_database').split('\n').map((s) => s.trim()));
  for (const db of CFG.pgDatabases.filter((d) => !existing.has(d))) {
    log(`creating database ${db}`);
    psql(`CREATE DATABASE "${db}" OWNER "${CFG.pgUser}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// Kafka (single KRaft node: broker + controller)
// ---------------------------------------------------------------------------------------------

/** @param {Log} log */
function prepareKafka(log) {
  requireJava(KAFKA_MIN_JAVA, `Kafka ${VERSIONS.kafka}`);
  if (!existsSync(PATHS.kafkaLibs)) {
    log(`downloading jars for Kafka ${VERSIONS.kafka} (Maven Central)…`);
    const tmp = `${PATHS.kafkaLibs}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mvn([
      '-f', join(SCRIPT_DIR, 'pom.xml'), `${DEPENDENCY_PLUGIN}:copy-dependencies`,
      `-DoutputDirectory=${tmp}`, '-DincludeScope=runtime', `-Dkafka.version=${VERSIONS.kafka}`,
    ]);
    renameSync(tmp, PATHS.kafkaLibs);
  }

  mkdirSync(PATHS.kafkaRun, { recursive: true });
  mkdirSync(PATHS.kafkaData, { recursive: true });
  if (KAFKA_SECURE) ensureKafkaTls(log);
  writeFileSync(join(PATHS.kafkaRun, 'server.properties'), kafkaServerProperties(), { mode: 0o600 });
  writeFileSync(join(PATHS.kafkaRun, 'log4j2.properties'), KAFKA_LOG4J2);

  if (!existsSync(join(PATHS.kafkaData, 'meta.properties'))) {
    const clusterId = kafkaClusterId();
    log(`formatting storage (cluster id ${clusterId})…`);
    // The SCRAM user is written into the metadata log at format time, so it exists before the first client.
    const scram = KAFKA_SECURE ? ['--add-scram', `SCRAM-SHA-512=[name=${CFG.kafkaUser},password=${kafkaTlsFile('password')}]`] : [];
    run(requireJava(KAFKA_MIN_JAVA, 'Kafka'), [...kafkaJvmBase(), 'kafka.tools.StorageTool', 'format',
      '--cluster-id', clusterId, '--config', join(PATHS.kafkaRun, 'server.properties'), ...scram],
    { what: 'kafka-storage format' });
    if (KAFKA_SECURE) writeFileSync(kafkaUsersMarker(), `${CFG.kafkaUser}\n`);
  }
}

// --- Kafka security (WM_STACK_KAFKA_SECURITY=sasl_ssl|mtls) ----------------------------------

/**
 * A password of kafka-tls/ (the SCRAM user's, the client key's, the broker key's).
 * @param {'password' | 'key-password' | 'broker-key-password'} name
 */
function kafkaTlsFile(name) {
  return readFileSync(join(PATHS.kafkaTls, `${name}.txt`), 'utf8').trim();
}

/** @param {string} name */
const kafkaTlsPath = (name) => join(PATHS.kafkaTls, name);
const kafkaUsersMarker = () => join(PATHS.kafkaTls, 'scram-users');

/**
 * A CA of the stack's own, the broker's certificate (127.0.0.1 and localhost) signed by it, and a
 * client certificate (CN = the SCRAM user) with an encrypted key for mutual TLS; random passwords.
 * Made once per state directory (`down --purge` removes them). PEM only: Kafka and librdkafka read it.
 * @param {Log} log
 */
function ensureKafkaTls(log) {
  if (existsSync(kafkaTlsPath('client.pem'))) return;
  log('generating the stack CA, broker and client certificates (openssl)…');
  const tmp = `${PATHS.kafkaTls}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  /** @param {string[]} args */
  const openssl = (args) => run('openssl', args, { what: `openssl ${args[0]}`, cwd: tmp });
  /** @param {string} name */
  const secret = (name) => writeFileSync(join(tmp, `${name}.txt`), `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  for (const name of ['password', 'key-password', 'broker-key-password']) secret(name);
  const days = '825';
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', days,
    '-subj', '/CN=WikiMonitor local stack CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  /**
   * @param {string} name
   * @param {string} cn
   * @param {string} ext
   * @param {string} passwordFile
   */
  const issue = (name, cn, ext, passwordFile) => {
    writeFileSync(join(tmp, `${name}.ext`), ext);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.plain.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', days, '-extfile', `${name}.ext`]);
    // Encrypted PKCS#8. The broker's with a PBES1 scheme: Java's key factory has no PBES2 (AES) one,
    // and Kafka's PEM keystore reads the key through it; librdkafka (OpenSSL) reads either.
    const scheme = name === 'broker' ? ['-v1', 'PBE-SHA1-3DES'] : ['-v2', 'aes-256-cbc'];
    openssl(['pkcs8', '-topk8', ...scheme, '-in', `${name}.plain.key`, '-out', `${name}.key`, '-passout', `file:${passwordFile}`]);
    rmSync(join(tmp, `${name}.plain.key`));
    rmSync(join(tmp, `${name}.csr`));
  };
  issue('broker', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n', 'broker-key-password.txt');
  issue('client', CFG.kafkaUser, 'extendedKeyUsage=clientAuth\n', 'key-password.txt');
  // Kafka's PEM keystore: the encrypted key and the certificate chain in one file.
  writeFileSync(join(tmp, 'broker-keystore.pem'), readFileSync(join(tmp, 'broker.key'), 'utf8') + readFileSync(join(tmp, 'broker.pem'), 'utf8') + readFileSync(join(tmp, 'ca.pem'), 'utf8'), { mode: 0o600 });
  for (const f of readdirSync(tmp)) if (f.endsWith('.key')) chmodSync(join(tmp, f), 0o600);
  renameSync(tmp, PATHS.kafkaTls);
}

/** The client settings of every app (libs/kafka config) for this stack's broker; secrets as *_FILE paths. */
function kafkaClientEnv() {
  if (!KAFKA_SECURE) return {};
  return {
    KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: CFG.kafkaUser,
    KAFKA_SASL_PASSWORD_FILE: kafkaTlsPath('password.txt'),
    KAFKA_SSL_CA_LOCATION: kafkaTlsPath('ca.pem'),
    ...(CFG.kafkaSecurity === 'mtls' ? {
      KAFKA_SSL_CERTIFICATE_LOCATION: kafkaTlsPath('client.pem'),
      KAFKA_SSL_KEY_LOCATION: kafkaTlsPath('client.key'),
      KAFKA_SSL_KEY_PASSWORD_FILE: kafkaTlsPath('key-password.txt'),
    } : {}),
  };
}

/**
 * A data directory formatted before security was turned on has no SCRAM user: add it once through
 * the PLAINTEXT internal listener (kafka-configs), then remember that it is there.
 * @param {Log} log
 */
async function ensureKafkaUsers(log) {
  if (!KAFKA_SECURE || existsSync(kafkaUsersMarker())) return;
  log(`adding SCRAM-SHA-512 user ${CFG.kafkaUser} (kafka-configs)…`);
  run(requireJava(KAFKA_MIN_JAVA, 'Kafka'), [...kafkaJvmBase(), 'kafka.admin.ConfigCommand', '--bootstrap-server', `127.0.0.1:${CFG.kafkaInternalPort}`,
    '--alter', '--entity-type', 'users', '--entity-name', CFG.kafkaUser, '--add-config', `SCRAM-SHA-512=[password=${kafkaTlsFile('password')}]`],
  { what: 'kafka-configs --add-config SCRAM-SHA-512' });
  writeFileSync(kafkaUsersMarker(), `${CFG.kafkaUser}\n`);
}

function kafkaServerProperties() {
  const proxied = CFG.kafkaExternalPort !== undefined && CFG.kafkaProxyPort !== undefined;
  const p = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${CFG.kafkaControllerPort}`,
    ...(KAFKA_SECURE ? kafkaSecureListeners(proxied) : {
      'listeners': `PLAINTEXT://127.0.0.1:${CFG.kafkaPort},CONTROLLER://127.0.0.1:${CFG.kafkaControllerPort}${proxied ? `,EXTERNAL://127.0.0.1:${CFG.kafkaExternalPort}` : ''}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${CFG.kafkaPort}${proxied ? `,EXTERNAL://127.0.0.1:${CFG.kafkaProxyPort}` : ''}`,
      'listener.security.protocol.map': `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${proxied ? ',EXTERNAL:PLAINTEXT' : ''}`,
      'inter.broker.listener.name': 'PLAINTEXT',
    }),
    'controller.listener.names': 'CONTROLLER',
    'log.dirs': PATHS.kafkaData,
    'num.partitions': 3,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 10,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    // Time-based retention applied within seconds, not the default 5 minutes: a test (or a replay)
    // writing records stamped with old event times onto a topic with the default 7-day retention
    // loses them at once, every run, instead of in the odd run where the broker's check falls inside it.
    'log.retention.check.interval.ms': 10_000,
    'auto.create.topics.enable': false,
    'min.insync.replicas': 1,
  };
  return `# Generated by tools/stack/stack.mjs on every start; edits are overwritten.\n${
    Object.entries(p).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

/**
 * Client listeners (CLIENT, and EXTERNAL behind the chaos proxy) require SASL_SSL with SCRAM-SHA-512
 * (and in mtls mode a client certificate); the broker's own INTERNAL and CONTROLLER listeners stay
 * PLAINTEXT on 127.0.0.1 (the stack's health check and kafka-configs use INTERNAL).
 * @param {boolean} proxied
 */
function kafkaSecureListeners(proxied) {
  const client = ['CLIENT', ...(proxied ? ['EXTERNAL'] : [])];
  /** @type {Record<string, string | number>} */
  const perListener = {};
  for (const name of client.map((n) => n.toLowerCase())) {
    perListener[`listener.name.${name}.sasl.enabled.mechanisms`] = 'SCRAM-SHA-512';
    perListener[`listener.name.${name}.scram-sha-512.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    perListener[`listener.name.${name}.ssl.client.auth`] = CFG.kafkaSecurity === 'mtls' ? 'required' : 'none';
  }
  return {
    'listeners': [`CLIENT://127.0.0.1:${CFG.kafkaPort}`, `INTERNAL://127.0.0.1:${CFG.kafkaInternalPort}`, `CONTROLLER://127.0.0.1:${CFG.kafkaControllerPort}`,
      ...(proxied ? [`EXTERNAL://127.0.0.1:${CFG.kafkaExternalPort}`] : [])].join(','),
    'advertised.listeners': [`CLIENT://127.0.0.1:${CFG.kafkaPort}`, `INTERNAL://127.0.0.1:${CFG.kafkaInternalPort}`,
      ...(proxied ? [`EXTERNAL://127.0.0.1:${CFG.kafkaProxyPort}`] : [])].join(','),
    'listener.security.protocol.map': `CLIENT:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT${proxied ? ',EXTERNAL:SASL_SSL' : ''}`,
    'inter.broker.listener.name': 'INTERNAL',
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': kafkaTlsPath('broker-keystore.pem'),
    'ssl.key.password': kafkaTlsFile('broker-key-password'),
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': kafkaTlsPath('ca.pem'),
    'ssl.endpoint.identification.algorithm': 'https',
    ...perListener,
  };
}

// Console only: the process's stdout/stderr are appended to logs/kafka.log (so JVM crashes land there too).
const KAFKA_LOG4J2 = `# Generated by tools/stack/stack.mjs. Output goes to stdout, which is appended to logs/kafka.log.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
`;

function kafkaJvmBase() {
  return [
    `-Dlog4j2.configurationFile=${join(PATHS.kafkaRun, 'log4j2.properties')}`,
    '-cp', join(PATHS.kafkaLibs, '*'),
  ];
}

/** Random 16-byte id in Kafka's base64url form (22 chars), created once per data dir. */
function kafkaClusterId() {
  if (existsSync(PATHS.kafkaClusterId)) return readFileSync(PATHS.kafkaClusterId, 'utf8').trim();
  let id;
  do id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
  while (id.startsWith('-')); // Kafka's own generator avoids these (they look like CLI flags)
  writeFileSync(PATHS.kafkaClusterId, `${id}\n`);
  return id;
}

/** @param {number} logFd */
function launchKafka(logFd) {
  const heapMiB = toMiB(CFG.kafkaHeap);
  return spawnDetached(requireJava(KAFKA_MIN_JAVA, 'Kafka'), [
    `-Xms${Math.min(256, heapMiB)}m`, `-Xmx${heapMiB}m`, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true', javaMarker('kafka'),
    ...kafkaJvmBase(), 'kafka.Kafka', join(PATHS.kafkaRun, 'server.properties'),
  ], { logFd, cwd: PATHS.kafkaRun });
}

/**
 * Healthy = the broker answers a Metadata request over the Kafka protocol and lists itself as
 * a live broker. KRaft only lists a broker once it is registered and unfenced, i.e. ready for
 * producers and consumers (a bare TCP connect succeeds much earlier).
 */
async function kafkaHealthy() {
  try {
    // Metadata v4 (the oldest version Kafka 4 still accepts): topics = [] , allow_auto_topic_creation = false
    const body = Buffer.from([0, 0, 0, 0, 0]);
    const r = await kafkaRequest(KAFKA_SECURE ? CFG.kafkaInternalPort : CFG.kafkaPort, 3, 4, body);
    r.int32(); // throttle_time_ms
    const brokers = r.int32();
    return brokers > 0;
  } catch {
    return false;
  }
}

/**
 * One request/response round trip (non-flexible header v1 / response header v0).
 * @param {number} port
 * @param {number} apiKey
 * @param {number} apiVersion
 * @param {Buffer} body
 * @returns {Promise<{ int32: () => number }>}
 */
function kafkaRequest(port, apiKey, apiVersion, body, timeoutMs = 2000) {
  const clientId = Buffer.from('wm-stack');
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(1, 4); // correlation id
  header.writeInt16BE(clientId.length, 8);
  const payload = Buffer.concat([header, clientId, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);

  return new Promise((resolvePromise, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    /** @type {(err: Error | null, value?: { int32: () => number }) => void} */
    const done = (err, value) => { socket.destroy(); if (err) reject(err); else resolvePromise(/** @type {{ int32: () => number }} */ (value)); };
    socket.setTimeout(timeoutMs, () => done(new Error('timeout')));
    socket.on('error', done);
    socket.on('connect', () => socket.write(Buffer.concat([size, payload])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      let offset = 8; // skip size + correlation id
      done(null, { int32: () => { const v = received.readInt32BE(offset); offset += 4; return v; } });
    });
    socket.on('end', () => done(new Error('connection closed')));
  });
}

// ---------------------------------------------------------------------------------------------
// Apicurio Registry (Quarkus), SQL storage in the stack's PostgreSQL
// ---------------------------------------------------------------------------------------------

function apicurioAppDir() { return join(PATHS.apicurioCache, 'app'); }

/** @param {Log} log */
function prepareApicurio(log) {
  log(`using ${requireJava(APICURIO_MIN_JAVA, `Apicurio Registry ${VERSIONS.apicurio}`)}`);
  const appDir = apicurioAppDir();
  if (!existsSync(appDir)) {
    const downloadDir = join(PATHS.apicurioCache, 'download');
    const tarball = join(downloadDir, `apicurio-registry-app-${VERSIONS.apicurio}-all.tar.gz`);
    if (!existsSync(tarball)) {
      log(`downloading Apicurio Registry ${VERSIONS.apicurio} (Maven Central, ~160 MB)…`);
      mvn([
        '-f', join(SCRIPT_DIR, 'pom.xml'), `${DEPENDENCY_PLUGIN}:copy`,
        `-Dartifact=io.apicurio:apicurio-registry-app:${VERSIONS.apicurio}:tar.gz:all`,
        `-DoutputDirectory=${downloadDir}`,
      ]);
    }
    log('extracting…');
    const tmp = `${appDir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    run('tar', ['-xzf', tarball, '-C', tmp], { what: 'tar' });
    renameSync(tmp, appDir);
    rmSync(downloadDir, { recursive: true, force: true }); // ~/.m2 keeps a copy
  }
  if (!findFile(appDir, 'quarkus-run.jar')) fail(`quarkus-run.jar not found under ${appDir}; delete that directory and retry`);

  // Quarkus reads config/application.properties from its working directory (ordinal 260).
  mkdirSync(join(PATHS.apicurioRun, 'config'), { recursive: true });
  writeFileSync(join(PATHS.apicurioRun, 'config', 'application.properties'), apicurioProperties());
}

function apicurioProperties() {
  const p = {
    'quarkus.http.host': '127.0.0.1',
    'quarkus.http.port': CFG.registryPort,
    'quarkus.management.host': '127.0.0.1',
    'quarkus.management.port': CFG.registryManagementPort,
    // SQL storage in the stack's PostgreSQL, so schemas and their ids survive restarts.
    'apicurio.storage.kind': 'sql',
    'apicurio.storage.sql.kind': 'postgresql',
    'apicurio.datasource.url': `jdbc:postgresql://127.0.0.1:${CFG.pgPort}/apicurio`,
    'apicurio.datasource.username': CFG.pgUser,
    'apicurio.datasource.password': CFG.pgPassword,
    'apicurio.datasource.jdbc.initial-size': 2, // default 20/20/100 is sized for production
    'apicurio.datasource.jdbc.min-size': 2,
    'apicurio.datasource.jdbc.max-size': 20,
    // Allow deleting subjects/schemas (ccompat DELETE) and artifacts/groups (v3 API), for tests.
    'apicurio.rest.deletion.group.enabled': true,
    'apicurio.rest.deletion.artifact.enabled': true,
    'apicurio.rest.deletion.artifact-version.enabled': true,
    'apicurio.storage.snapshot.location': PATHS.apicurioRun,
  };
  return `# Generated by tools/stack/stack.mjs on every start; edits are overwritten.\n${
    Object.entries(p).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

/** @param {number} logFd */
function launchApicurio(logFd) {
  return spawnDetached(requireJava(APICURIO_MIN_JAVA, 'Apicurio Registry'), [
    `-Xmx${toMiB(CFG.registryHeap)}m`, javaMarker('apicurio'),
    '-jar', /** @type {string} */ (findFile(apicurioAppDir(), 'quarkus-run.jar')),
  ], { logFd, cwd: PATHS.apicurioRun });
}

// ---------------------------------------------------------------------------------------------
// Jaeger v2 (all-in-one, in-memory storage), built from the Go module proxy
// ---------------------------------------------------------------------------------------------

/** @param {Log} log */
function prepareJaeger(log) {
  if (!existsSync(PATHS.jaegerBin)) {
    const go = spawnSync('go', ['version'], { encoding: 'utf8' });
    if (go.status !== 0) fail('jaeger: Go is needed to build Jaeger from the Go module proxy (install golang, or set WM_JAEGER=off)');
    log(`building Jaeger ${VERSIONS.jaeger} (= v2.13) from the Go module proxy (first time only, a few minutes)…`);
    const dl = spawnSync('go', ['mod', 'download', '-json', `${JAEGER_MODULE}@${VERSIONS.jaeger}`], { encoding: 'utf8', cwd: tmpdir() });
    if (dl.status !== 0) fail(`jaeger: go mod download failed: ${dl.stderr || dl.stdout}`);
    const dir = JSON.parse(dl.stdout).Dir;
    mkdirSync(dirname(PATHS.jaegerBin), { recursive: true });
    // `go install pkg@version` refuses modules with replace directives: build inside the module instead.
    run('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', `${PATHS.jaegerBin}.tmp`, './cmd/jaeger'], { what: 'go build jaeger', cwd: dir });
    renameSync(`${PATHS.jaegerBin}.tmp`, PATHS.jaegerBin);
  }
  mkdirSync(PATHS.jaegerRun, { recursive: true });
  writeFileSync(join(PATHS.jaegerRun, 'config.yaml'), jaegerConfig());
}

function jaegerConfig() {
  return `# Generated by tools/stack/stack.mjs on every start; edits are overwritten.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: info
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${CFG.jaegerHealthPort}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${CFG.jaegerUiPort}
    grpc:
      endpoint: 127.0.0.1:0
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${CFG.jaegerOtlpGrpcPort}
      http:
        endpoint: 127.0.0.1:${CFG.jaegerOtlpHttpPort}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** @param {number} logFd */
function launchJaeger(logFd) {
  return spawnDetached(PATHS.jaegerBin, ['--config', join(PATHS.jaegerRun, 'config.yaml')], { logFd, cwd: PATHS.jaegerRun });
}

// ---------------------------------------------------------------------------------------------
// Prometheus (optional): Debian's package, unpacked into the cache; scrapes every app of the local
// pipeline on its port and evaluates deploy/prometheus's alert rules
// ---------------------------------------------------------------------------------------------

/** WM_PROMETHEUS_BIN, else Debian's package unpacked into the cache (downloaded the first time). @param {Log} log */
function prometheusBin(log) {
  if (CFG.prometheusBin) {
    if (!existsSync(CFG.prometheusBin)) fail(`WM_PROMETHEUS_BIN=${CFG.prometheusBin} does not exist`);
    return CFG.prometheusBin;
  }
  const bin = join(PATHS.prometheusDeb, 'usr', 'bin', 'prometheus');
  if (existsSync(bin)) return bin;
  log('downloading Debian\'s prometheus package (apt-get download, unpacked with dpkg -x; first time only)…');
  const tmp = `${PATHS.prometheusDeb}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'deb'), { recursive: true });
  const dl = spawnSync('apt-get', ['download', 'prometheus'], { cwd: join(tmp, 'deb'), encoding: 'utf8' });
  if (dl.error || dl.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    fail(`prometheus: apt-get download prometheus failed (${dl.error?.message ?? dl.stderr.trim()}); on Debian run apt-get update first, or point WM_PROMETHEUS_BIN at a prometheus binary`);
  }
  const deb = readdirSync(join(tmp, 'deb')).find((f) => f.endsWith('.deb'));
  if (!deb) fail('prometheus: apt-get download left no .deb');
  run('dpkg', ['-x', join(tmp, 'deb', deb), join(tmp, 'root')], { what: 'dpkg -x prometheus' });
  renameSync(join(tmp, 'root'), PATHS.prometheusDeb);
  rmSync(tmp, { recursive: true, force: true });
  log(`unpacked ${deb} into ${PATHS.prometheusDeb}`);
  return bin;
}

/** The alert rule files of deploy/prometheus, as absolute paths. */
function prometheusRuleFiles() {
  const dir = join(REPO_ROOT, 'deploy', 'prometheus');
  return existsSync(dir) ? ruleFileNames(readdirSync(dir)).map((f) => join(dir, f)) : [];
}

/** @param {Log} log */
function preparePrometheus(log) {
  prometheusBin(log);
  mkdirSync(PATHS.prometheusRun, { recursive: true });
  mkdirSync(PATHS.prometheusData, { recursive: true });
  const ruleFiles = prometheusRuleFiles();
  writeFileSync(join(PATHS.prometheusRun, 'prometheus.yml'), prometheusConfig({ apps: APPS, ruleFiles, port: CFG.prometheusPort }));
  log(`scraping ${APPS.map((a) => `${a.name}:${a.port}`).join(', ')}; rules: ${ruleFiles.map((f) => f.slice(REPO_ROOT.length + 1)).join(', ') || 'none'}`);
}

/** @param {number} logFd */
function launchPrometheus(logFd) {
  return spawnDetached(prometheusBin(() => undefined), [
    `--config.file=${join(PATHS.prometheusRun, 'prometheus.yml')}`,
    `--web.listen-address=127.0.0.1:${CFG.prometheusPort}`,
    `--storage.tsdb.path=${PATHS.prometheusData}`,
    '--storage.tsdb.retention.time=2d',
  ], { logFd, cwd: PATHS.prometheusRun });
}

// ---------------------------------------------------------------------------------------------
// Generic service lifecycle
// ---------------------------------------------------------------------------------------------

/** @param {Service} svc */
const pidFile = (svc) => join(DIRS.run, `${svc.name}.pid`);
/** @param {Service} svc */
const logFile = (svc) => join(DIRS.logs, `${svc.name}.log`);
// Progress goes to stderr so that stdout of `up` is just the exports: eval "$(node stack.mjs up)".
/** @type {(svc: Service, msg: string) => void} */
const say = (svc, msg) => console.error(`${svc.name}: ${msg}`);

/**
 * State letter and process group of a process, or null if there is no such process.
 * @param {number} pid
 */
function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp …
    return { state: fields[0], pgrp: Number(fields[2]) };
  } catch {
    return null;
  }
}

/**
 * argv of a live (non-zombie) process, or null.
 * @param {number} pid
 */
function procArgv(pid) {
  const stat = procStat(pid);
  if (!stat || stat.state === 'Z') return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** @param {number} pid */
function procCwd(pid) {
  try { return readlinkSync(`/proc/${pid}/cwd`); } catch { return null; }
}

const allPids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);

/**
 * @param {Service} svc
 * @param {number | null} pid
 */
function isOurs(svc, pid) {
  const argv = pid ? procArgv(pid) : null;
  return Boolean(argv && svc.owns(argv));
}

/**
 * Live processes of this service (normally one), found by scanning /proc.
 * @param {Service} svc
 */
function scanProcesses(svc) {
  return allPids().filter((pid) => pid !== process.pid && isOurs(svc, pid));
}

/**
 * The service's pid if it is running. Cleans a stale pid file; adopts a matching process that has
 * lost its pid file (so it is neither started twice nor leaked by `down`).
 * @param {Service} svc
 */
function runningPid(svc) {
  const file = pidFile(svc);
  const recorded = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : null;
  if (recorded && isOurs(svc, recorded)) return recorded;
  if (recorded) rmSync(file, { force: true });
  const [found] = scanProcesses(svc);
  if (found) writeFileSync(file, `${found}\n`);
  return found ?? null;
}

/**
 * @param {Service} svc
 * @param {Set<string>} [seen]
 */
async function startService(svc, seen = new Set()) {
  if (seen.has(svc.name)) return;
  seen.add(svc.name);
  for (const dep of svc.deps) await startService(serviceByName(dep), seen);

  /** @type {Log} */
  const log = (msg) => say(svc, msg);
  const pid = runningPid(svc);
  if (pid) {
    if (!(await svc.healthy())) {
      log(`running (pid ${pid}) but not healthy yet, waiting…`);
      await waitHealthy(svc, pid, null, Date.now());
    } else {
      log(`already running (pid ${pid})`);
    }
    await svc.ready?.(log);
    return;
  }

  for (const { port, env } of svc.ports()) {
    if (!(await portFree(port))) {
      fail(`${svc.name}: port ${port} is already in use by another process; stop it or pick another port with ${env}=<port>`);
    }
  }
  await svc.prepare(log);

  const fd = openLog(svc);
  const t0 = Date.now();
  let child;
  try {
    child = await svc.launch(fd);
  } finally {
    closeSync(fd);
  }
  writeFileSync(pidFile(svc), `${child.pid}\n`);
  log(`launched pid ${child.pid}, waiting for it to become healthy…`);
  await waitHealthy(svc, /** @type {number} */ (child.pid), child, t0);
  log(`started pid ${child.pid} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  await svc.ready?.(log);
}

/**
 * @param {Service} svc
 * @param {number} pid
 * @param {import('node:child_process').ChildProcess | null} child
 * @param {number} t0
 */
async function waitHealthy(svc, pid, child, t0) {
  /** @type {string | null} */
  let exited = null;
  child?.once('exit', (code, signal) => { exited = signal ?? `code ${code}`; });
  const deadline = t0 + CFG.startTimeoutMs;
  while (Date.now() < deadline) {
    if (await svc.healthy()) return;
    if (exited || !isOurs(svc, pid)) {
      rmSync(pidFile(svc), { force: true });
      failWithLog(svc, `process ${pid} exited${exited ? ` (${exited})` : ''} before becoming healthy`);
    }
    await sleep(500);
  }
  failWithLog(svc, `not healthy after ${CFG.startTimeoutMs / 1000} s (pid ${pid} left running; see \`stack.mjs logs ${svc.name}\`)`);
}

/** @param {Service} svc */
async function stopService(svc) {
  const pids = /** @type {number[]} */ ([...new Set([runningPid(svc), ...scanProcesses(svc)].filter(Boolean))]);
  for (const pid of pids) {
    const t0 = Date.now();
    signal(pid, svc.stopSignal);
    while (isOurs(svc, pid) && Date.now() - t0 < CFG.stopTimeoutMs) await sleep(200);
    if (isOurs(svc, pid)) {
      say(svc, `pid ${pid} still running after ${CFG.stopTimeoutMs / 1000} s, sending SIGKILL`);
      signal(-pid, 'SIGKILL'); // services run as process-group leaders: take any children along
      while (isOurs(svc, pid)) await sleep(100);
    }
    say(svc, `stopped pid ${pid} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  if (svc.leftovers) await killAll(svc.leftovers, (msg) => say(svc, msg));
  if (pids.length === 0) say(svc, 'not running');
  rmSync(pidFile(svc), { force: true });
}

/**
 * SIGKILL whatever `list()` returns until it returns nothing (or 10 s pass).
 * @param {() => number[]} list
 * @param {Log} log
 */
async function killAll(list, log) {
  const pids = list();
  if (pids.length === 0) return;
  log(`killing ${pids.length} leftover process(es): ${pids.join(' ')}`);
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const left = list();
    if (left.length === 0) return;
    for (const pid of left) signal(pid, 'SIGKILL');
    await sleep(100);
  }
}

/**
 * @param {number} pid
 * @param {NodeJS.Signals} sig
 */
function signal(pid, sig) {
  try { process.kill(pid, sig); } catch (e) { if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'ESRCH') throw e; }
}

/**
 * @param {Service} svc
 * @param {string} message
 * @returns {never}
 */
function failWithLog(svc, message) {
  console.error(`${svc.name}: ${message}`);
  console.error(`----- last 30 lines of ${logFile(svc)} -----`);
  console.error(tailLines(logFile(svc), 30));
  process.exit(1);
}

/** @param {Service} svc */
function openLog(svc) {
  mkdirSync(DIRS.logs, { recursive: true });
  const file = logFile(svc);
  // Keep one previous generation once a log passes 50 MB.
  if (existsSync(file) && statSync(file).size > 50 * 1024 * 1024) renameSync(file, `${file}.1`);
  const fd = openSync(file, 'a');
  writeFileSync(fd, `\n===== stack.mjs: starting ${svc.name} at ${new Date().toISOString()} =====\n`);
  return fd;
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/** Started by `up` and counted by `status`: the default services and the optional ones asked for. @param {Service} svc */
const wanted = (svc) => !svc.optional || WANTED.has(svc.name);

async function cmdUp() {
  const t0 = Date.now();
  const seen = new Set();
  for (const svc of SERVICES.filter(wanted)) await startService(svc, seen);
  console.error(`stack: all services healthy (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (WANTED.has('prometheus')) console.error(`stack: Prometheus on http://127.0.0.1:${CFG.prometheusPort} (targets: /api/v1/targets)`);
  printEnv();
}

/** @param {boolean} purge */
async function cmdDown(purge) {
  // Optional services too, when they run (started by an earlier `up --with`).
  for (const svc of [...SERVICES].reverse()) if (wanted(svc) || runningPid(svc)) await stopService(svc);
  if (purge) {
    rmSync(DIRS.data, { recursive: true, force: true });
    console.log(`stack: deleted ${DIRS.data}`);
  }
}

async function cmdStatus() {
  const rows = [['SERVICE', 'PID', 'PORT', 'HEALTH']];
  let allHealthy = true;
  for (const svc of SERVICES) {
    const pid = runningPid(svc);
    if (!wanted(svc) && !pid) continue;
    const healthy = pid ? await svc.healthy() : false;
    allHealthy &&= healthy;
    rows.push([svc.name, String(pid ?? '-'), svc.ports().map((p) => p.port).join(','),
      pid ? (healthy ? 'healthy' : 'UNHEALTHY') : 'stopped']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd());
  return allHealthy ? 0 : 1;
}

function printEnv() {
  for (const [k, v] of Object.entries(ENV_EXPORTS())) console.log(`export ${k}=${v}`);
}

/**
 * @param {string | undefined} name
 * @param {boolean} follow
 */
function cmdLogs(name, follow) {
  const services = name ? [serviceByName(name)] : SERVICES;
  const files = services.map(logFile).filter(existsSync);
  if (files.length === 0) fail(`no logs yet in ${DIRS.logs}`);
  if (follow) {
    const tail = spawn('tail', ['-n', '200', '-F', ...files], { stdio: 'inherit' });
    tail.on('exit', (code) => process.exit(code ?? 0));
    for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) process.on(sig, () => tail.kill(sig));
    return;
  }
  for (const file of files) {
    if (files.length > 1) console.log(`==> ${file} <==`);
    console.log(tailLines(file, 200));
  }
}

const HELP = `Usage: node tools/stack/stack.mjs <command>

Runs PostgreSQL ${VERSIONS.postgres}, Kafka ${VERSIONS.kafka} (KRaft) and Apicurio Registry ${VERSIONS.apicurio} as local
processes, without Docker. State: ${STACK_DIR}

Commands:
  up [--with prometheus]  start everything (idempotent); returns once all services are healthy.
                       --with prometheus (or WM_STACK_PROMETHEUS=1) also starts Prometheus ${'(Debian\'s package,'}
                       unpacked into cache/ the first time): it scrapes every app of the local pipeline on
                       its port (${APPS.map((a) => a.port).join(', ')}) and loads deploy/prometheus's alert rules
  down [--purge]       stop everything; --purge also deletes the data directory
  status               table of services; exit code 0 only if all are healthy
  env                  print shell exports, e.g. eval "$(node tools/stack/stack.mjs env)"
  check                are the tools the stack needs here? (Java ${APICURIO_MIN_JAVA}+, Maven, Go, PostgreSQL ${VERSIONS.postgres}); exit 1 lists what is missing
  logs [svc] [--follow|-f]  last 200 log lines (of one service or all); --follow keeps tailing
  start <svc>          start one service (and what it depends on)
  stop <svc>           stop one service
  restart <svc>        stop + start one service
Services: ${SERVICES.map((s) => [s.name, ...s.aliases].join('|') + (s.optional ? ' (optional)' : '')).join(', ')}

Environment (defaults):
  WM_STACK_DIR                 state directory (<repo>/.stack)
  WM_PG_PORT                   PostgreSQL port (55432); user/password/db ${CFG.pgUser}/${CFG.pgPassword}/wikimonitor
  WM_PG_BIN                    PostgreSQL binaries (/usr/lib/postgresql/${VERSIONS.postgres}/bin)
  WM_PG_TLS=on                 TLS on PostgreSQL's port: a CA and a certificate for 127.0.0.1/localhost
                               (data/pg-tls); env then exports DATABASE_SSL_MODE=verify-full, DATABASE_SSL_CA
  WM_KAFKA_PORT                Kafka client port (9092)
  WM_KAFKA_CONTROLLER_PORT     Kafka KRaft controller port (9093)
  WM_KAFKA_HEAP                Kafka max heap (512m)
  WM_KAFKA_EXTERNAL_PORT + WM_KAFKA_PROXY_PORT  optional extra listener (on the first) advertised
                               as the second, for clients that go through a fault-injecting proxy
  WM_STACK_KAFKA_SECURITY      plaintext (default) | sasl_ssl | mtls: the client listeners (and the
                               proxied one) require SASL_SSL, SCRAM-SHA-512 user ${CFG.kafkaUser}, with a CA,
                               broker and client certificates the stack generates (openssl) in
                               data/kafka-tls/; mtls also requires the client certificate. \`env\` prints
                               the clients' KAFKA_* settings (secrets as *_FILE paths). Takes effect
                               when Kafka starts (\`restart kafka\` switches a running stack)
  WM_KAFKA_INTERNAL_PORT       with sasl_ssl|mtls: the broker's PLAINTEXT inter-broker listener on
                               127.0.0.1 (9094), also used by the stack's health check
  WM_REGISTRY_PORT             Apicurio Registry HTTP port (8081)
  WM_REGISTRY_MANAGEMENT_PORT  Apicurio health/metrics port (9081)
  WM_REGISTRY_HEAP             Apicurio max heap (512m)
  WM_JAVA_HOME                 preferred JDK (else JAVA_HOME, PATH, /usr/lib/jvm/*: lowest version that fits)
  WM_STACK_TIMEOUT             seconds to wait for each service to become healthy (120)
  WM_STACK_PROMETHEUS=1        \`up\` starts Prometheus too (as --with prometheus)
  WM_PROMETHEUS_PORT           Prometheus HTTP port (9090)
  WM_PROMETHEUS_BIN            a prometheus binary to use instead of Debian's package
  WM_*_PORT                    the apps' ports Prometheus scrapes (node tools/pipeline/pipeline.mjs --help)

Exit codes: 0 done (status: all healthy), 1 failed, 2 usage error (unknown command, flag or service).
`;

/**
 * @param {string[]} argv
 * @returns {Promise<number | null>}
 */
async function main(argv) {
  const { values, positionals } = parseCommandLine(
    {
      name: 'stack',
      usage: HELP.trimEnd(),
      options: { purge: { type: 'boolean' }, follow: { type: 'boolean', short: 'f' }, with: { type: 'string', multiple: true } },
      choices: { with: OPTIONAL },
      allowPositionals: true,
      maxPositionals: 2,
    },
    argv,
  );
  const [command, arg] = positionals;
  if (!command || command === 'help') {
    process.stdout.write(HELP);
    return command ? 0 : 2;
  }
  const known = (/** @type {string} */ name) => SERVICES.some((s) => s.name === name || s.aliases.includes(name));
  const needService = () => {
    if (!arg) usageError('stack', HELP.trimEnd(), `"${command}" needs a service name: ${SERVICES.map((s) => s.name).join(', ')}`);
    if (!known(arg)) usageError('stack', HELP.trimEnd(), `unknown service "${arg}"; known: ${SERVICES.map((s) => s.name).join(', ')}`);
    return serviceByName(arg);
  };
  if (arg !== undefined && !['start', 'stop', 'restart', 'logs'].includes(command)) usageError('stack', HELP.trimEnd(), `unexpected argument "${arg}"`);
  if (command === 'logs' && arg !== undefined) needService();
  const flags = { purge: values.purge === true, follow: values.follow === true };
  if (values.with?.length && command !== 'up') usageError('stack', HELP.trimEnd(), '--with only goes with "up" (start <service> starts an optional one)');
  for (const name of values.with ?? []) WANTED.add(name);

  switch (command) {
    case 'up': return withLock(cmdUp).then(() => 0);
    case 'down': return withLock(() => cmdDown(flags.purge)).then(() => 0);
    case 'start': { const svc = needService(); return withLock(() => startService(svc)).then(() => 0); }
    case 'stop': { const svc = needService(); return withLock(() => stopService(svc)).then(() => 0); }
    case 'restart': {
      const svc = needService();
      return withLock(async () => { await stopService(svc); await startService(svc); }).then(() => 0);
    }
    case 'status': return cmdStatus();
    case 'env': printEnv(); return 0;
    case 'check': return cmdCheck();
    case 'logs': cmdLogs(arg, flags.follow); return null;
    default: usageError('stack', HELP.trimEnd(), `unknown command "${command}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`stack: ${message}`);
  process.exit(1);
}

/**
 * @param {string} name
 * @returns {Service}
 */
function serviceByName(name) {
  const svc = SERVICES.find((s) => s.name === name || s.aliases.includes(name));
  return svc ?? fail(`unknown service "${name}"; known: ${SERVICES.map((s) => s.name).join(', ')}`);
}

/**
 * Serialise mutating commands (parallel `up`s from test runners must not race).
 * @template T
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withLock(fn) {
  mkdirSync(DIRS.run, { recursive: true });
  const lock = join(DIRS.run, 'stack.lock');
  const deadline = Date.now() + 10 * 60 * 1000;
  let announced = false;
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(lock, 'utf8').trim() || 0);
      if (!holder || !procArgv(holder)) { rmSync(lock, { force: true }); continue; }
      if (Date.now() > deadline) fail(`timed out waiting for ${lock} (held by pid ${holder})`);
      if (!announced) console.error(`stack: waiting for another stack.mjs (pid ${holder}) to finish…`);
      announced = true;
      await sleep(500);
    }
  }
  const release = () => { try { if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock); } catch { /* gone */ } };
  process.on('exit', release);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
  try { return await fn(); } finally { release(); }
}

/**
 * Start a long-running process in its own process group, output appended to logFd.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ logFd: number, cwd?: string, uid?: number, gid?: number }} opts
 * @returns {Promise<import('node:child_process').ChildProcess>}
 */
function spawnDetached(cmd, args, { logFd, cwd, uid, gid }) {
  const child = spawn(cmd, args, {
    cwd, detached: true, stdio: ['ignore', logFd, logFd],
    ...(uid !== undefined ? { uid, gid } : {}),
  });
  child.unref();
  return new Promise((res, rej) => {
    child.once('spawn', () => res(child));
    child.once('error', (e) => rej(new Error(`cannot start ${cmd}: ${e.message}`)));
  });
}

/**
 * Run a command to completion; return stdout; exit with its output on failure.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ what?: string, uid?: number, gid?: number, cwd?: string }} [opts]
 */
function run(cmd, args, { what = cmd, uid, gid, cwd } = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', ...(uid !== undefined ? { uid, gid } : {}) });
  if (r.error) fail(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * @param {string} cmd
 * @param {string[]} args
 */
async function commandSucceeds(cmd, args) {
  try { await execFileP(cmd, args, { timeout: 5000 }); return true; } catch { return false; }
}

/** @param {string} url */
async function httpOk(url) {
  try { return (await fetch(url, { signal: AbortSignal.timeout(3000) })).status === 200; } catch { return false; }
}

/**
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function portFree(port) {
  return new Promise((res) => {
    const server = net.createServer();
    server.once('error', () => res(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => res(true)));
  });
}

/**
 * A java binary of at least `minMajor` (Kafka 4.1 needs 17, Apicurio 3.3 needs 21). Looks at
 * WM_JAVA_HOME, JAVA_HOME, PATH, then /usr/lib/jvm/*; prefers the lowest version that qualifies.
 */
/** @type {Map<number, string>} */
const javaCache = new Map();
/**
 * @param {number} minMajor
 * @returns {{ java: string } | { problem: string }}
 */
function findJava(minMajor) {
  const cached = javaCache.get(minMajor);
  if (cached !== undefined) return { java: cached };
  const jvmDir = '/usr/lib/jvm';
  const candidates = [
    ...[process.env.WM_JAVA_HOME, process.env.JAVA_HOME].filter((h) => h !== undefined && h !== '').map((h) => join(String(h), 'bin', 'java')),
    'java',
    ...(existsSync(jvmDir) ? readdirSync(jvmDir).sort().map((d) => join(jvmDir, d, 'bin', 'java')) : []),
  ];
  /** @type {Array<{ java: string, major: number }>} */
  const found = [];
  for (const java of new Set(candidates)) {
    const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
    if (r.error) continue;
    const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr);
    if (m) found.push({ java, major: m[1] === '1' ? Number(m[2]) : Number(m[1]) });
  }
  const best = found.filter((j) => j.major >= minMajor).sort((a, b) => a.major - b.major)[0];
  if (!best) {
    const seen = found.length ? `found only ${found.map((j) => `${j.java} (${j.major})`).join(', ')}` : 'no java found';
    return { problem: `Java ${minMajor}+ is needed, ${seen}. Install a JDK ${minMajor}+ (Debian 12: apt-get install -y ` +
      `openjdk-17-jre-headless covers Java 17 only; for 21+ use a Temurin JDK) or point WM_JAVA_HOME at one` };
  }
  javaCache.set(minMajor, best.java);
  return { java: best.java };
}

/**
 * @param {number} minMajor
 * @param {string} who
 * @returns {string}
 */
function requireJava(minMajor, who) {
  const r = findJava(minMajor);
  return 'java' in r ? r.java : fail(`${who}: ${r.problem}`);
}

/**
 * `check`: every tool the stack needs on this machine, all problems at once. Maven and Go are only
 * needed until the jars are downloaded and Jaeger is built (then they are in .stack/cache).
 * @returns {number}
 */
function cmdCheck() {
  /** @type {string[]} */
  const problems = [];
  const java = findJava(APICURIO_MIN_JAVA); // Kafka's 17 is covered by Apicurio's 21
  if ('problem' in java) problems.push(`Apicurio Registry ${VERSIONS.apicurio} (and Kafka ${VERSIONS.kafka}): ${java.problem}`);
  if ((!existsSync(PATHS.kafkaLibs) || !existsSync(apicurioAppDir())) && spawnSync('mvn', ['-v'], { stdio: 'ignore' }).error) {
    problems.push('Maven downloads Kafka and Apicurio from Maven Central: install Apache Maven (Debian: apt-get install -y maven)');
  }
  if (CFG.jaegerEnabled && !existsSync(PATHS.jaegerBin) && spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) {
    problems.push('Go builds Jaeger from the Go module proxy: install Go (Debian: apt-get install -y golang), or set WM_JAEGER=off');
  }
  if (!existsSync(join(CFG.pgBin, 'pg_ctl'))) {
    problems.push(`PostgreSQL ${VERSIONS.postgres} binaries not found in ${CFG.pgBin} (Debian 12: apt-get install -y postgresql; or set WM_PG_BIN)`);
  }
  if (KAFKA_SECURE && spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) {
    problems.push(`WM_STACK_KAFKA_SECURITY=${CFG.kafkaSecurity}: openssl makes the stack's certificates (Debian: apt-get install -y openssl)`);
  }
  for (const p of problems) console.error(`stack: ${p}`);
  return problems.length ? 1 : 0;
}

/** @param {string[]} args */
function mvn(args) {
  if (spawnSync('mvn', ['-v'], { stdio: 'ignore' }).error) {
    fail('mvn not found on PATH: install Apache Maven to download Kafka/Apicurio (Debian: apt-get install -y maven)');
  }
  // Output is only shown on failure (Debian's mvn prints stray ANSI resets even with -q -B).
  const r = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    fail(`mvn ${args.join(' ')} failed (exit ${r.status}); is Maven Central reachable?\n${r.stdout}${r.stderr}`);
  }
}

/** @param {string} name */
function systemUser(name) {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * @param {string} dir
 * @param {string} name
 * @returns {string | null}
 */
function findFile(dir, name) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return p;
    if (entry.isDirectory()) { const hit = findFile(p, name); if (hit) return hit; }
  }
  return null;
}

/**
 * @param {string} size
 * @returns {number}
 */
function toMiB(size) {
  const m = /^(\d+)([kmg]?)$/i.exec(String(size).trim());
  if (!m) fail(`invalid heap size "${size}" (use e.g. 512m or 1g)`);
  const n = Number(m[1]);
  return /** @type {Record<string, number>} */ ({ k: Math.ceil(n / 1024), m: n, g: n * 1024, '': Math.ceil(n / 1048576) })[String(m[2]).toLowerCase()];
}

/**
 * Last n lines of a file (reads at most the final 1 MB).
 * @param {string} file
 * @param {number} n
 */
function tailLines(file, n) {
  if (!existsSync(file)) return `(no log file ${file})`;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 1024 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8').replace(/\n$/, '').split('\n').slice(-n).join('\n');
  } finally {
    closeSync(fd);
  }
}

process.exitCode = (await main(process.argv.slice(2))) ?? process.exitCode;
