// The producer's two sources side by side in one run: EventStreams (SSE from apps/sse-source, WikiChange into
// wiki.raw.changes) and Bluesky Jetstream (WebSocket from apps/jetstream-source, BlueskyEvent into a
// bsky.raw.events topic), both exactly once, both stand-ins looping their real recordings with fresh ids at full
// speed, interleaved rounds; events/s published, peak RSS, mean batch write.
//   node --import tsx bench/jetstream/jetstream-bench.ts [--events 100000] [--rounds 2] [--short]
import { provisionTopics } from '@wikimonitor/kafka';
import { freePort, loadRecordedEvents, uniqueName } from '@wikimonitor/testing';
import { awaitPublished, benchArgs, buildApps, machine, progress, stackEnv, startApp, table, waitHttp, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: node --import tsx bench/jetstream/jetstream-bench.ts [--events N] [--rounds N] [--short]
The producer's Jetstream path beside its EventStreams path, same run, exactly once, events/s and peak RSS.
  --events N   events per run and source (default 100000)
  --rounds N   alternating rounds (default 2)
  --short      5,000 events, 1 round: only that it runs (CI); writes jetstream-short.md`,
  { events: { type: 'string', int: { min: 1 }, default: '100000' }, rounds: { type: 'string', int: { min: 1 }, default: '2' }, short: { type: 'boolean' } },
);
const EVENTS = ARGS.short ? 5_000 : ARGS.events;
const ROUNDS = ARGS.short ? 1 : ARGS.rounds;
const recorded = loadRecordedEvents();
/** Distinct events in the 186 recorded Jetstream lines (4 repeat another line's event in the 2024 format: the same id). */
const JETSTREAM_DISTINCT = 182;

type Path = 'eventstreams' | 'jetstream';

async function createTopic(env: Record<string, string>, topic: string): Promise<void> {
  await provisionTopics({ bootstrapServers: env['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092', clientId: 'bench', securityProtocol: 'plaintext', connectAttempts: 3 }, [{ topic, partitions: 6, replicationFactor: 1 }]);
}

async function run(env: Record<string, string>, path: Path) {
  const sourcePort = await freePort();
  const topic = uniqueName(path === 'jetstream' ? 'bench.bsky' : 'bench.raw');
  await createTopic(env, topic);
  let expected: number;
  let source;
  let sourceEnv: Record<string, string>;
  if (path === 'eventstreams') {
    const loops = Math.ceil(EVENTS / recorded.length);
    expected = EVENTS;
    source = startApp('sse-source', sourcePort, { LOG_LEVEL: 'warn' }, ['--port', String(sourcePort), '--host', '127.0.0.1', '--rate', '0', '--loop-count', String(loops)]);
    sourceEnv = { SSE_URL: `http://127.0.0.1:${sourcePort}/v2/stream/recentchange`, OUTPUT_TOPIC: topic };
  } else {
    const loops = Math.ceil(EVENTS / JETSTREAM_DISTINCT);
    expected = Math.min(EVENTS, loops * JETSTREAM_DISTINCT);
    source = startApp('jetstream-source', sourcePort, { LOG_LEVEL: 'warn' }, ['--port', String(sourcePort), '--host', '127.0.0.1', '--rate', '0', '--loop-count', String(loops)]);
    sourceEnv = { SOURCE: 'jetstream', JETSTREAM_URL: `ws://127.0.0.1:${sourcePort}/subscribe`, BSKY_OUTPUT_TOPIC: topic };
  }
  await waitHttp(`http://127.0.0.1:${sourcePort}/healthz`);
  const port = await freePort();
  const producer = startApp('producer', port, {
    ...env,
    NODE_OPTIONS: '--max-old-space-size=192',
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    PRODUCER_EXACTLY_ONCE: 'true',
    DLQ_TOPIC: uniqueName('bench.dlq'),
    CHECKPOINT_TOPIC: uniqueName('bench.cp'),
    ...sourceEnv,
  });
  await waitHttp(`http://127.0.0.1:${port}/healthz`);
  const result = { events: expected, ...(await awaitPublished(producer, expected, path)), keptIds: await producer.metric('producer_position_ids'), sourcePeakRssMb: Math.round(source.peakRssMb()) };
  await producer.stop();
  await source.stop();
  progress(`${path}: ${result.eventsPerSec} events/s, peak RSS ${result.peakRssMb} MB`);
  return result;
}

async function main(): Promise<void> {
  const env = stackEnv();
  buildApps('producer', 'sse-source', 'jetstream-source');
  type Run = Awaited<ReturnType<typeof run>>;
  const runs: Record<Path, Run[]> = { eventstreams: [], jetstream: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order: Path[] = round % 2 ? ['jetstream', 'eventstreams'] : ['eventstreams', 'jetstream'];
    for (const p of order) runs[p].push(await run(env, p));
  }
  const avg = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10;
  const summary = (p: Path) => ({
    eventsPerSec: Math.round(avg(runs[p].map((r) => r.eventsPerSec))),
    peakRssMb: Math.max(...runs[p].map((r) => r.peakRssMb)),
    meanCommitMs: avg(runs[p].map((r) => r.meanCommitMs)),
    meanPublishLatencyMs: avg(runs[p].map((r) => r.meanPublishLatencyMs)),
    sourcePeakRssMb: Math.max(...runs[p].map((r) => r.sourcePeakRssMb)),
  });
  const es = summary('eventstreams');
  const js = summary('jetstream');
  const rows: Array<Array<string | number>> = [['path', 'events', 'events/s', 'ratio to EventStreams', 'mean batch write (ms)', 'mean receipt-to-commit (ms)', 'producer peak RSS (MB)', 'stand-in peak RSS (MB)']];
  rows.push(['EventStreams (SSE, WikiChange, wiki.raw.changes)', runs.eventstreams[0]?.events ?? EVENTS, es.eventsPerSec, '1.00', es.meanCommitMs, es.meanPublishLatencyMs, es.peakRssMb, es.sourcePeakRssMb]);
  rows.push(['Jetstream (WebSocket, BlueskyEvent, bsky.raw.events)', runs.jetstream[0]?.events ?? EVENTS, js.eventsPerSec, (js.eventsPerSec / es.eventsPerSec).toFixed(2), js.meanCommitMs, js.meanPublishLatencyMs, js.peakRssMb, js.sourcePeakRssMb]);
  const md = `# Producer: Jetstream path beside the EventStreams path${ARGS.short ? ' (short form, only that it runs)' : ''}

One producer process per path (\`SOURCE=eventstreams\` / \`SOURCE=jetstream\`), exactly once (records + position in one
transaction), Avro, acks=all, same broker, same run; each stand-in loops its real recordings with fresh ids at full
speed (sse-source: 4,053 Wikimedia events; jetstream-source: 186 Jetstream lines, 182 distinct events a pass); mean of
${ROUNDS} interleaved round(s).

${table(rows)}

- Jetstream / EventStreams throughput: **${(js.eventsPerSec / es.eventsPerSec).toFixed(2)}**.
- Both paths keep the ids of the last RESUME_MARGIN_MS (10 s) in every position record for their overlap filter
  (EventStreams: meta.ids; Jetstream: 16-character digests), both bounded by POSITION_MAX_IDS (default 10,000),
  which full speed reaches. Kept keys at the end of the Jetstream runs: ${runs.jetstream.map((r) => r.keptIds).join(', ')}.

Command: \`TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/jetstream/jetstream-bench.ts${ARGS.short ? ' --short' : ` --events ${EVENTS} --rounds ${ROUNDS}`}\`

Machine: ${JSON.stringify(machine())}

Both stand-ins run on the same 2 shared cores as the producer; compare the ratio of one run.
`;
  console.log(md);
  writeReport(ARGS.short ? 'jetstream-short' : 'jetstream', { events: EVENTS, rounds: runs, eventstreams: es, jetstream: js, ratio: js.eventsPerSec / es.eventsPerSec, machine: machine() }, md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
