import type { CliOptions, CliValues, CommandLineSpec } from '@wikimonitor/service-kit';
import {
  DEFAULT_DATA_DIR,
  DEFAULT_FAULT_EVERY,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_LIFETIME_MS,
  DEFAULT_PORT,
  DEFAULT_STALL_MS,
  DEFAULT_TOPIC,
} from './config';

interface FlagDef {
  flag: string;
  env: string;
  /** `bool` flags stand alone (meaning true; the variable can say false). */
  kind: 'value' | 'bool';
  arg?: string;
  help: string;
}

export const CLI_FLAGS: readonly FlagDef[] = [
  { flag: 'port', env: 'SSE_SOURCE_PORT', kind: 'value', arg: 'n', help: `listen port (also HTTP_PORT; default ${DEFAULT_PORT}, 0 = any free port)` },
  { flag: 'host', env: 'SSE_SOURCE_HOST', kind: 'value', arg: 'addr', help: 'listen address (default 0.0.0.0)' },
  { flag: 'data', env: 'SSE_SOURCE_DATA', kind: 'value', arg: 'paths', help: `comma-separated recording files and/or directories (.jsonl, .ndjson, .sse); default ${DEFAULT_DATA_DIR} under the repo root` },
  { flag: 'streams', env: 'SSE_SOURCE_STREAMS', kind: 'value', arg: 'names', help: 'stream names served under /v2/stream/<name> (default recentchange)' },
  { flag: 'topic', env: 'SSE_SOURCE_TOPIC', kind: 'value', arg: 'name', help: `upstream topic of events without meta.topic (default ${DEFAULT_TOPIC})` },
  { flag: 'rate', env: 'SSE_SOURCE_RATE', kind: 'value', arg: 'n', help: 'events per second, 0 = as fast as possible (default 0)' },
  { flag: 'burst', env: 'SSE_SOURCE_BURST', kind: 'value', arg: 'spec', help: 'rate bursts: every=10s,duration=2s,factor=10[,start=0s]' },
  { flag: 'inject', env: 'SSE_SOURCE_INJECT', kind: 'value', arg: 'spec', help: 'wiki spike: wiki=dewiki,at=5s,count=300[,rate=0][,domain=...]; several joined by ";"' },
  { flag: 'loop', env: 'SSE_SOURCE_LOOP', kind: 'bool', help: 'replay the recordings forever (later passes get fresh meta.ids; events dated when sent unless --time original)' },
  { flag: 'loop-count', env: 'SSE_SOURCE_LOOP_COUNT', kind: 'value', arg: 'n', help: 'replay the recordings n times in all (n > 1: dated when sent unless --time original)' },
  { flag: 'end', env: 'SSE_SOURCE_END', kind: 'value', arg: 'hold|close', help: 'after the last event keep the connection open (":" comment every keep-alive) or close it (default hold)' },
  { flag: 'keepalive-ms', env: 'SSE_SOURCE_KEEPALIVE_MS', kind: 'value', arg: 'ms', help: `keep-alive comment interval on an idle stream (default ${DEFAULT_KEEPALIVE_MS})` },
  { flag: 'fault', env: 'SSE_SOURCE_FAULT', kind: 'value', arg: 'kind', help: 'none|drop|stall|malformed, applied after every --fault-every real events' },
  { flag: 'fault-every', env: 'SSE_SOURCE_FAULT_EVERY', kind: 'value', arg: 'n', help: `events between faults (default ${DEFAULT_FAULT_EVERY})` },
  { flag: 'fault-ms', env: 'SSE_SOURCE_FAULT_MS', kind: 'value', arg: 'ms', help: `stall length (default ${DEFAULT_STALL_MS})` },
  { flag: 'status', env: 'SSE_SOURCE_STATUS', kind: 'value', arg: '429|503', help: 'refuse the first --status-times connection attempts with this status' },
  { flag: 'status-times', env: 'SSE_SOURCE_STATUS_TIMES', kind: 'value', arg: 'n', help: 'how many attempts to refuse (default 1)' },
  { flag: 'canary-every', env: 'SSE_SOURCE_CANARY_EVERY', kind: 'value', arg: 'n', help: 'insert a canary event (meta.domain "canary") after every n-th event (default 0 = none)' },
  { flag: 'time', env: 'SSE_SOURCE_TIME', kind: 'value', arg: 'original|now', help: 'event times: recorded (original) or send time (now); default auto = now when looping, else original' },
  { flag: 'id-mode', env: 'SSE_SOURCE_ID_MODE', kind: 'value', arg: 'timestamp|offset', help: 'event ids: per-partition upstream timestamps + 1 ms, as EventStreams (default), or this source\'s log offset (the old mode)' },
  { flag: 'lifetime-ms', env: 'SSE_SOURCE_LIFETIME_MS', kind: 'value', arg: 'ms', help: `end each connection after this long, the client reconnects (default ${DEFAULT_LIFETIME_MS} = 15 min, 0 = never)` },
  { flag: 'datacenter', env: 'SSE_SOURCE_DATACENTER', kind: 'value', arg: 'eqiad|codfw|alternate', help: 'serving datacenter (meta.offset differs); alternate: each reconnect of a client is served by the other one (default eqiad)' },
  { flag: 'max-connections', env: 'SSE_SOURCE_MAX_CONNECTIONS', kind: 'value', arg: 'n', help: 'concurrent connections per client (remote address + User-Agent), beyond: 429 with Retry-After (default 0 = unlimited)' },
  { flag: 'retention', env: 'SSE_SOURCE_RETENTION', kind: 'value', arg: 'n', help: 'log offsets whose upstream times are kept in time mode now with timestamp ids (default 1000000)' },
  { flag: 'log-level', env: 'LOG_LEVEL', kind: 'value', arg: 'level', help: 'fatal|error|warn|info|debug|trace|silent (default info)' },
];

/** The command line (strict: an unknown flag or a stray argument exits 2 with the help). */
export function cliSpec(): CommandLineSpec<CliOptions> {
  return { usage: helpText(), options: Object.fromEntries(CLI_FLAGS.map((f) => [f.flag, { type: f.kind === 'bool' ? 'boolean' : 'string' }])) };
}

/** Environment keys set by the parsed flags; they override the real environment. A bool flag given means true. */
export function flagsToEnv(values: CliValues<CliOptions>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const f of CLI_FLAGS) {
    const v = values[f.flag];
    if (v === true) env[f.env] = 'true';
    else if (typeof v === 'string') env[f.env] = v;
  }
  return env;
}

export function helpText(): string {
  const flags = CLI_FLAGS.map((f) => {
    const left = `  --${f.flag}${f.kind === 'value' ? ` <${f.arg}>` : ''}`;
    return `${left.padEnd(30)} ${f.help}\n${''.padEnd(31)}env ${f.env}`;
  }).join('\n');
  return `sse-source: a local Wikimedia EventStreams (SSE) source replaying recorded recentchange events.

Usage: node dist/apps/sse-source/main.js [flags]   (after: npx nx build sse-source)
   or: npx tsx --tsconfig apps/sse-source/tsconfig.json apps/sse-source/src/main.ts [flags]

Flags (each maps onto an environment variable; flags win; an unknown flag exits with code 2):
${flags}
  -h, --help                     show this help

Endpoints:
  GET /v2/stream/recentchange    the stream (EventStreams framing: ":ok", then event/id/data frames)
  GET /healthz  /readyz  /metrics  /stats

Resume: Last-Event-ID header (the id JSON array) or ?since=<ISO-8601|epoch ms>. Id mode timestamp: each
  partition resumes at its first event with upstream timestamp >= the entry's (ids carry timestamp + 1 ms).
  Id mode offset with time=now: a timestamp or since starts at the beginning of the log.

Per-request query parameters (override the flags for one connection):
  rate=<n>  burst=<spec>|none  inject=<spec>|none  loop=true|false|<passes>  end=hold|close  keepalive=<ms>
  fault=none|drop|stall|malformed  every=<n>  ms=<stall ms>  status=429|503  times=<k>  key=<attempt counter>
  canary=<n>  time=original|now|auto  idmode=timestamp|offset  lifetime=<duration>  dc=eqiad|codfw|alternate
  e.g. /v2/stream/recentchange?fault=drop&every=100   /v2/stream/recentchange?status=429&times=2&key=t1

Durations: 500ms, 5s, 2m (a bare number is milliseconds).
`;
}
