import type { CliOptions, CliValues, CommandLineSpec } from '@wikimonitor/service-kit';
import { DEFAULT_DATA_DIR, DEFAULT_FAULT_EVERY, DEFAULT_MAX_DISORDER_MS, DEFAULT_PORT, DEFAULT_STALL_MS } from './config';

const FLAGS: ReadonlyArray<{ flag: string; env: string; arg: string; help: string }> = [
  { flag: 'port', env: 'JETSTREAM_SOURCE_PORT', arg: 'n', help: `listen port (default ${DEFAULT_PORT}, 0 = any free port)` },
  { flag: 'host', env: 'JETSTREAM_SOURCE_HOST', arg: 'addr', help: 'listen address (default 0.0.0.0)' },
  { flag: 'data', env: 'JETSTREAM_SOURCE_DATA', arg: 'paths', help: `comma-separated .jsonl files or directories (default ${DEFAULT_DATA_DIR})` },
  { flag: 'rate', env: 'JETSTREAM_SOURCE_RATE', arg: 'n', help: 'events per second, 0 = as fast as possible (default 0)' },
  { flag: 'burst-every-ms', env: 'JETSTREAM_SOURCE_BURST_EVERY_MS', arg: 'ms', help: 'a burst every this long (default 0 = none)' },
  { flag: 'burst-ms', env: 'JETSTREAM_SOURCE_BURST_MS', arg: 'ms', help: 'burst length (default 1000)' },
  { flag: 'burst-factor', env: 'JETSTREAM_SOURCE_BURST_FACTOR', arg: 'x', help: 'rate multiplier during a burst (default 10)' },
  { flag: 'loop-count', env: 'JETSTREAM_SOURCE_LOOP_COUNT', arg: 'n', help: 'passes over the recordings (later passes get fresh revs/seqs; default 1)' },
  { flag: 'max-disorder-ms', env: 'JETSTREAM_SOURCE_MAX_DISORDER_MS', arg: 'ms', help: `clip of the recorded time_us disorder kept (default ${DEFAULT_MAX_DISORDER_MS})` },
  { flag: 'fault', env: 'JETSTREAM_SOURCE_FAULT', arg: 'none|drop|stall', help: 'per connection, after every --fault-every events sent' },
  { flag: 'fault-every', env: 'JETSTREAM_SOURCE_FAULT_EVERY', arg: 'n', help: `(default ${DEFAULT_FAULT_EVERY})` },
  { flag: 'fault-ms', env: 'JETSTREAM_SOURCE_FAULT_MS', arg: 'ms', help: `stall length (default ${DEFAULT_STALL_MS})` },
  { flag: 'malformed-every', env: 'JETSTREAM_SOURCE_MALFORMED_EVERY', arg: 'n', help: 'a malformed frame (bad JSON, unknown kind) after every n events, in the log (default 0 = none)' },
  { flag: 'slow-max-lag', env: 'JETSTREAM_SOURCE_SLOW_MAX_LAG', arg: 'n', help: 'close a connection whose unsent backlog exceeds n events (default 0 = never)' },
  { flag: 'log-level', env: 'LOG_LEVEL', arg: 'level', help: 'fatal|error|warn|info|debug|trace|silent (default info)' },
];

export function cliSpec(): CommandLineSpec<CliOptions> {
  return { usage: helpText(), options: Object.fromEntries(FLAGS.map((f) => [f.flag, { type: 'string' }])) };
}

/** Environment keys set by the parsed flags (they win over the real environment). */
export function flagsToEnv(values: CliValues<CliOptions>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const f of FLAGS) if (typeof values[f.flag] === 'string') env[f.env] = values[f.flag] as string;
  return env;
}

export function helpText(): string {
  const flags = FLAGS.map((f) => `${`  --${f.flag} <${f.arg}>`.padEnd(32)} ${f.help}\n${''.padEnd(33)}env ${f.env}`).join('\n');
  return `jetstream-source: a local Bluesky Jetstream replaying recorded events (data/recordings/bluesky-jetstream).

Usage: node dist/apps/jetstream-source/main.js [flags]   (after: npx nx build jetstream-source)

Flags (each maps onto an environment variable; flags win):
${flags}
  -h, --help                       show this help

Endpoints:
  GET  /subscribe (WebSocket)      Jetstream: one JSON text message per event; ?cursor=<time_us> replays the
                                   log's events with time_us >= cursor (in log order) then goes live;
                                   wantedCollections (NSID or prefix.*) and wantedDids, repeatable; identity and
                                   account events pass wantedCollections. Per connection: fault=drop|stall every=n ms=
  GET  /stats  /log  /healthz  /metrics
  POST /control/drop               terminate every connection now
  POST /control/stall?ms=          stop sending to every connection for ms
  POST /control/fault?kind=&every=&ms=   the fault of new connections
Not supported: compress=true (zstd with Jetstream's dictionary): the stand-in answers uncompressed.
`;
}
