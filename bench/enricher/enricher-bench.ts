// enricher throughput against the Action API stand-in, beside the stand-in's own capacity measured in
// the same run: the recorded events with a revision (copies with distinct ids) through the enricher
// (its exactly-once loop, batched calls, parking) on the local stack's broker; then, per round, the
// stand-in alone answering the same 50-revid calls as fast as it can with as many calls in flight.
//   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/enricher/enricher-bench.ts [--copies 3] [--rounds 2] [--fail-rate maxlag=0.05]
import type { WikiChange } from '@wikimonitor/contracts';
import { MAX_REVIDS_PER_CALL, normalizeRecentChange, revisionsQuery } from '@wikimonitor/domain';
import { type KafkaConnection, kafkaConnectionFromEnv } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { freePort, loadRecordedEvents, recordingsDir, startBuiltApp, uniqueName, waitFor } from '@wikimonitor/testing';
import { createApp } from '../../apps/enricher/src/app';
import { createOutputTopics, deleteTopicsWithPrefix, produceChanges, testConfig } from '../../apps/enricher/testing/test-support';
import { benchArgs, buildApps, machine, progress, stackEnv, table, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/enricher/enricher-bench.ts [options]
Enriched records/s through the enricher against the local Action API stand-in, and the stand-in's own
capacity (revisions/s answered) with the same calls in flight, in the same run.
  --copies N          copies of the recorded events with a revision, each with its own ids (default 3)
  --rounds N          rounds (default 2)
  --in-flight N       calls in flight: the enricher's per-wiki concurrency, and the capacity probe's (default 4)
  --fail-rate spec    the stand-in's injected failures, e.g. maxlag=0.05 (default none)`,
  {
    copies: { type: 'string', int: { min: 1 }, default: '3' },
    rounds: { type: 'string', int: { min: 1 }, default: '2' },
    'in-flight': { type: 'string', int: { min: 1, max: 64 }, default: '4' },
    'fail-rate': { type: 'string', default: 'none' },
  },
);
const log = createLogger('bench', 'warn');
const USER_AGENT = 'WikiMonitor-enricher-bench/1.0 (https://example.org/wikimonitor; bench@example.org)';

function input(): WikiChange[] {
  const base = loadRecordedEvents().flatMap((e) => {
    const n = normalizeRecentChange(e.json, { receivedTime: Date.now(), sseId: null });
    return n.kind === 'change' && n.change.revision_new !== null && (n.change.type === 'edit' || n.change.type === 'new') ? [n.change] : [];
  });
  return Array.from({ length: ARGS.copies }, (_, k) => base.map((c) => ({ ...c, id: `${c.id}#${k}` }))).flat();
}

/** The stand-in alone: `inFlight` workers sending 50-revid calls of the recorded Wikidata revisions for `seconds`. */
async function capacity(port: number, changes: WikiChange[], inFlight: number, seconds: number): Promise<{ calls: number; revisions: number; perSec: number }> {
  const revids = [...new Set(changes.filter((c) => c.domain === 'www.wikidata.org').map((c) => c.revision_new as number))];
  const url = (i: number) => {
    const u = new URL(`http://127.0.0.1:${port}/www.wikidata.org/w/api.php`);
    const start = (i * MAX_REVIDS_PER_CALL) % Math.max(1, revids.length - MAX_REVIDS_PER_CALL);
    for (const [k, v] of Object.entries(revisionsQuery(revids.slice(start, start + MAX_REVIDS_PER_CALL)))) u.searchParams.set(k, v);
    return u;
  };
  let calls = 0;
  let revisions = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const res = await fetch(url(calls++), { headers: { 'User-Agent': USER_AGENT } });
        // Injected failures (HTML error pages, maxlag errors) answer no revisions.
        const text = await res.text();
        const body = (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {}) as { query?: { pages?: Array<{ revisions: unknown[] }> } };
        revisions += (body.query?.pages ?? []).reduce((n, p) => n + p.revisions.length, 0);
      }
    }),
  );
  const took = (performance.now() - started) / 1000;
  return { calls, revisions, perSec: Math.round(revisions / took) };
}

async function enrichRound(conn: KafkaConnection, env: Record<string, string>, port: number, changes: WikiChange[], round: number) {
  const prefix = uniqueName(`bench.enricher.r${round}`);
  try {
    const config = testConfig({
      bootstrapServers: env['KAFKA_BOOTSTRAP_SERVERS'] as string,
      registryUrl: env['SCHEMA_REGISTRY_URL'] as string,
      prefix,
      apiPort: port,
      maxAttempts: 5,
      extra: { API_RATE_LIMIT: '100000', API_CONCURRENCY_PER_WIKI: String(ARGS['in-flight']), BATCH_SIZE: '500', LOG_LEVEL: 'error', RETRY_AFTER_MAX_MS: '1000' },
    });
    const positions = await produceChanges(conn, config.SCHEMA_REGISTRY_URL, config.INPUT_TOPIC, changes, log);
    await createOutputTopics(conn, config);
    const last = new Map<number, number>();
    for (const p of positions.values()) last.set(p.partition, Math.max(last.get(p.partition) ?? -1, p.offset));
    const started = performance.now();
    const app = createApp({ config, log, handleSignals: false });
    try {
      await waitFor(
        () => {
          const snap = app.loop.snapshot();
          return snap.size > 0 && [...last].every(([p, o]) => (snap.get(p)?.next ?? -1) >= o + 1) && [...snap.values()].every((s) => s.state.size === 0);
        },
        'the enricher to finish the input',
        600_000,
        50,
      );
      const seconds = (performance.now() - started) / 1000;
      const metrics = await (await fetch(`http://127.0.0.1:${app.port()}/metrics`)).text();
      const metric = (name: string) => metrics.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
      return { records: changes.length, seconds: Number(seconds.toFixed(2)), recordsPerSec: Math.round(changes.length / seconds), calls: metric('enricher_api_calls_total'), enriched: metric('enricher_records_enriched_total'), errorTopic: metric('enricher_error_topic_records_total'), retries: metric('enricher_retries_total') };
    } finally {
      await app.service.close();
    }
  } finally {
    await deleteTopicsWithPrefix(conn, prefix);
  }
}

async function main(): Promise<void> {
  buildApps('action-api-source');
  const env = stackEnv();
  const conn = kafkaConnectionFromEnv({ KAFKA_BOOTSTRAP_SERVERS: env['KAFKA_BOOTSTRAP_SERVERS'] as string, KAFKA_SECURITY_PROTOCOL: 'plaintext' } as never, 'bench-enricher');
  const changes = input();
  const port = await freePort();
  const args = ['--port', String(port), '--host', '127.0.0.1', '--data', recordingsDir(), '--log-level', 'warn'];
  if (ARGS['fail-rate'] !== 'none') args.push('--fail-rate', ARGS['fail-rate']);
  const api = startBuiltApp('action-api-source', {}, args);
  try {
    await api.waitReady(`http://127.0.0.1:${port}/readyz`, 60_000);
    const results: Array<Record<string, number | string>> = [];
    for (let round = 1; round <= ARGS.rounds; round++) {
      progress(`round ${round}: ${changes.length} records through the enricher`);
      const e = await enrichRound(conn, env, port, changes, round);
      progress(`round ${round}: ${e.recordsPerSec} enriched records/s; the stand-in alone for 10 s`);
      const c = await capacity(port, changes, ARGS['in-flight'], 10);
      results.push({ round, ...e, standInRevisionsPerSec: c.perSec, standInCalls: c.calls, share: Number((e.recordsPerSec / c.perSec).toFixed(3)) });
    }
    const md = `# enricher against the Action API stand-in

${new Date().toISOString()}, ${JSON.stringify(machine())}. \`bench/enricher/enricher-bench.ts --copies ${ARGS.copies} --rounds ${ARGS.rounds} --in-flight ${ARGS['in-flight']} --fail-rate ${ARGS['fail-rate']}\`

The recorded events with a revision (${changes.length / ARGS.copies}, ${ARGS.copies} copies with their own ids) through the
enricher (exactly-once loop, 50 revids a call per wiki, ${ARGS['in-flight']} calls in flight per wiki, no rate limit) from
start to the whole input committed with nothing parked; then the stand-in alone, 10 s of the same 50-revid calls with
${ARGS['in-flight']} in flight (its capacity in revisions answered per second). Both on this machine at once with the broker.

${table([['round', 'records', 'seconds', 'enriched records/s', 'API calls', 'retries', 'error topic', 'stand-in revisions/s', 'enricher / stand-in'], ...results.map((r) => [r['round'] as number, r['records'] as number, r['seconds'] as number, r['recordsPerSec'] as number, r['calls'] as number, r['retries'] as number, r['errorTopic'] as number, r['standInRevisionsPerSec'] as number, r['share'] as number])])}
`;
    writeReport(ARGS['fail-rate'] === 'none' ? 'enricher' : 'enricher-faults', { machine: machine(), args: ARGS, records: changes.length, results }, md);
  } finally {
    api.kill('SIGTERM');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
