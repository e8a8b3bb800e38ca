import type { CliOptions, CliValues, CommandLineSpec } from '@wikimonitor/service-kit';
import { DEFAULT_DATA_DIR, DEFAULT_MAXLAG_LAG_S, DEFAULT_MAXLAG_RETRY_AFTER_S, DEFAULT_PORT, DEFAULT_SEED, DEFAULT_STALL_MS } from './config';

interface FlagDef {
  flag: string;
  env: string;
  arg: string;
  help: string;
}

export const CLI_FLAGS: readonly FlagDef[] = [
  { flag: 'port', env: 'ACTION_API_SOURCE_PORT', arg: 'n', help: `listen port (default ${DEFAULT_PORT}, 0 = any free port)` },
  { flag: 'host', env: 'ACTION_API_SOURCE_HOST', arg: 'addr', help: 'listen address (default 0.0.0.0)' },
  { flag: 'data', env: 'ACTION_API_SOURCE_DATA', arg: 'dir', help: `directory of recentchange recordings whose revisions are served (default ${DEFAULT_DATA_DIR} under the repo root)` },
  { flag: 'fail', env: 'ACTION_API_SOURCE_FAIL', arg: 'spec', help: 'per revid: <revid>=<fault>[*<times>],... (default: every request naming it)' },
  { flag: 'fail-rate', env: 'ACTION_API_SOURCE_FAIL_RATE', arg: 'spec', help: 'per request: <fault>=<probability>,... (badrevids: per revid), e.g. maxlag=0.1,503=0.02' },
  { flag: 'seed', env: 'ACTION_API_SOURCE_SEED', arg: 'n', help: `seed of the --fail-rate draws (default ${DEFAULT_SEED})` },
  { flag: 'maxlag-retry-after', env: 'ACTION_API_SOURCE_MAXLAG_RETRY_AFTER_S', arg: 's', help: `Retry-After of a maxlag answer (default ${DEFAULT_MAXLAG_RETRY_AFTER_S}, as MediaWiki)` },
  { flag: 'maxlag-lag', env: 'ACTION_API_SOURCE_MAXLAG_LAG_S', arg: 's', help: `replica lag a maxlag answer reports (X-Database-Lag; default ${DEFAULT_MAXLAG_LAG_S})` },
  { flag: 'stall-ms', env: 'ACTION_API_SOURCE_STALL_MS', arg: 'ms', help: `an injected read timeout holds the request this long, then closes it unanswered (default ${DEFAULT_STALL_MS})` },
  { flag: 'delay-ms', env: 'ACTION_API_SOURCE_DELAY_MS', arg: 'ms', help: 'added before every answer (default 0)' },
  { flag: 'log-level', env: 'LOG_LEVEL', arg: 'level', help: 'fatal|error|warn|info|debug|trace|silent (default info)' },
];

/** The command line (strict: an unknown flag or a stray argument exits 2 with the help). */
export function cliSpec(): CommandLineSpec<CliOptions> {
  return { usage: helpText(), options: Object.fromEntries(CLI_FLAGS.map((f) => [f.flag, { type: 'string' }])) };
}

/** Environment keys set by the parsed flags; they override the real environment. */
export function flagsToEnv(values: CliValues<CliOptions>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const f of CLI_FLAGS) {
    const v = values[f.flag];
    if (typeof v === 'string') env[f.env] = v;
  }
  return env;
}

export function helpText(): string {
  const flags = CLI_FLAGS.map((f) => `${`  --${f.flag} <${f.arg}>`.padEnd(30)} ${f.help}\n${''.padEnd(31)}env ${f.env}`).join('\n');
  return `action-api-source: a local MediaWiki Action API (api.php) stand-in answering revision lookups for the
revisions of the recorded recentchange events, with every failure of the enricher's failure table on demand.

Usage: node dist/apps/action-api-source/main.js [flags]   (after: npx nx build action-api-source)
   or: npx tsx --tsconfig apps/action-api-source/tsconfig.json apps/action-api-source/src/main.ts [flags]

Flags (each maps onto an environment variable; flags win; an unknown flag exits with code 2):
${flags}
  -h, --help                     show this help

Faults: 408, 204, a status 300-599 (3xx with Location, 4xx, 5xx), read-timeout (no answer), badrevids
  (the revision reported missing in a 200 answer), maxlag (200 with the maxlag error, Retry-After, X-Database-Lag).
  e.g. --fail 1101648129=503*2,1101648210=maxlag --fail-rate maxlag=0.1

Endpoints:
  GET /<domain>/w/api.php?action=query&prop=revisions&revids=1|2&rvprop=ids|size|sha1|contentmodel|timestamp&rvslots=main&formatversion=2
  GET /w/api.php?...             the same, the wiki taken from the Host header (e.g. en.wikipedia.org)
  GET|PUT /control/faults        the injections now / replace them: {"fail": "<spec>", "failRate": "<spec>"}
  GET /stats  /healthz  /readyz  /metrics
A request without a User-Agent is refused with 403, as Wikimedia does.
`;
}
