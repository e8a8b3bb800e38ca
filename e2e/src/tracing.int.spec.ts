import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createAdmin, ensureTopics } from '@wikimonitor/kafka';
import { type ServiceProcess, REPO_ROOT, freePort, getTestEnv, loadRecordedEvents, startBuiltApp, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  processID: string;
  references: Array<{ refType: 'CHILD_OF' | 'FOLLOWS_FROM'; spanID: string; traceID: string }>;
  tags: Array<{ key: string; value: unknown }>;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const JAEGER = process.env['JAEGER_QUERY_URL'] ?? 'http://127.0.0.1:16686';
const OTLP = process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? 'http://127.0.0.1:4318';

describe('one change traced across the pipeline in Jaeger', () => {
  const procs: ServiceProcess[] = [];
  afterAll(() => procs.forEach((p) => p.kill('SIGKILL')));

  it('producer, filter-router, aggregator and dedup-persister spans of one event should form one trace', async () => {
    const env = await getTestEnv();
    if (!(await fetch(`${JAEGER}/api/services`).then((r) => r.ok).catch(() => false))) throw new Error(`Jaeger query API not reachable at ${JAEGER} (node tools/stack/stack.mjs up starts it)`);

    // One real recorded event: a human edit on enwiki from the 2026 slice.
    const event = loadRecordedEvents().find((r) => r.file.includes('2026') && r.json['type'] === 'edit' && r.json['bot'] === false && r.json['wiki'] === 'enwiki');
    if (!event) throw new Error('fixture event not found');
    const eventId = event.json.meta.id;
    const dir = mkdtempSync(join(tmpdir(), 'wm-trace-'));
    writeFileSync(join(dir, 'one.jsonl'), `${event.text}\n`);

    const p = uniqueName('trace');
    const rules = JSON.parse(readFileSync(join(REPO_ROOT, 'apps/filter-router/rules/default-rules.json'), 'utf8'));
    for (const r of rules.routes) r.topic = `${p}.${r.topic}`;
    const routesFile = join(dir, 'routes.json');
    writeFileSync(routesFile, JSON.stringify(rules));
    const t = (name: string) => `${p}.${name}`;
    // Topics exist before the services start, as the deployment's provisioning job makes sure.
    const kafkaAdmin = await createAdmin(testConnection(env));
    const names = [...rules.routes.map((r: { topic: string }) => r.topic), t('wiki.raw.changes'), t('wiki.aggregates'), t('wiki.alerts'), t('wiki.dlq'), t('wiki.changes.late')];
    await ensureTopics(kafkaAdmin, names.map((topic: string) => ({ topic, partitions: 6, replicationFactor: 1 })));
    await kafkaAdmin.disconnect();
    const database = p.replace(/[^a-z0-9]/g, '_');
    const admin = new Client({ connectionString: env.databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const databaseUrl = env.databaseUrl.replace(/\/[^/]+$/, `/${database}`);

    const common = {
      KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
      SCHEMA_REGISTRY_URL: env.registryUrl,
      OTEL_EXPORTER_OTLP_ENDPOINT: OTLP,
      OTEL_TRACES_SAMPLER_ARG: '1',
      LOG_LEVEL: 'debug',
    };
    const start = async (app: string, extra: Record<string, string>, args: string[] = []) => {
      const port = await freePort();
      const proc = startBuiltApp(app, { ...common, HTTP_PORT: String(port), ...extra }, args);
      procs.push(proc);
      await proc.waitReady(`http://127.0.0.1:${port}/healthz`);
      return proc;
    };
    const sourcePort = await freePort();
    const source = startBuiltApp('sse-source', { LOG_LEVEL: 'warn' }, ['--port', String(sourcePort), '--host', '127.0.0.1', '--data', join(dir, 'one.jsonl'), '--time', 'now']);
    procs.push(source);
    await source.waitReady(`http://127.0.0.1:${sourcePort}/healthz`);

    const persister = await start('dedup-persister', {
      DATABASE_URL: databaseUrl,
      CHANGES_TOPICS: t('wiki.changes.all'),
      AGGREGATES_TOPICS: t('wiki.aggregates'),
      ALERTS_TOPICS: t('wiki.alerts'),
      DLQ_TOPIC: t('wiki.dlq'),
      CONSUMER_GROUP: `${p}-persister`,
    });
    await start('aggregator', {
      INPUT_TOPIC: t('wiki.changes.all'),
      AGGREGATES_TOPIC: t('wiki.aggregates'),
      ALERTS_TOPIC: t('wiki.alerts'),
      LATE_TOPIC: t('wiki.changes.late'),
      DLQ_TOPIC: t('wiki.dlq'),
      CHANGELOG_TOPIC: t('wiki.aggregator.changelog'),
      GROUP_ID: `${p}-aggregator`,
      TRANSACTIONAL_ID: `${p}-aggregator`,
      IDLE_CLOSE_MS: '2000',
    });
    await start('filter-router', { INPUT_TOPIC: t('wiki.raw.changes'), DLQ_TOPIC: t('wiki.dlq'), ROUTES_FILE: routesFile, GROUP_ID: `${p}-router`, TRANSACTIONAL_ID: `${p}-router` });
    await start('producer', {
      SSE_URL: `http://127.0.0.1:${sourcePort}/v2/stream/recentchange`,
      OUTPUT_TOPIC: t('wiki.raw.changes'),
      DLQ_TOPIC: t('wiki.dlq'),
      CHECKPOINT_TOPIC: t('wiki.producer.checkpoints'),
    });

    // The change reaches PostgreSQL, and its window's aggregate too (closed as idle).
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await waitFor(async () => (await db.query('SELECT 1 FROM wiki_changes WHERE id = $1', [eventId])).rowCount === 1, 'the change in PostgreSQL', 90_000, 500);
      await waitFor(async () => ((await db.query("SELECT count(*)::int AS n FROM wiki_aggregates WHERE wiki = 'enwiki'")).rows[0] as { n: number }).n >= 1, 'the aggregate in PostgreSQL', 90_000, 500);
    } finally {
      await db.end();
    }

    // Jaeger: one trace for the event id, with spans of all four services, correctly related.
    const services = ['producer', 'filter-router', 'aggregator', 'dedup-persister'];
    let trace: JaegerTrace | undefined;
    await waitFor(
      async () => {
        const tags = encodeURIComponent(JSON.stringify({ 'messaging.message.id': eventId }));
        const found = (await (await fetch(`${JAEGER}/api/traces?service=producer&tags=${tags}&lookback=1h&limit=50`)).json()) as { data: JaegerTrace[] };
        // Other runs may have published the same recorded event: keep the traces of this run's topic.
        const ours = found.data.filter((tr) => tr.spans.some((s) => s.operationName === `publish ${t('wiki.raw.changes')}`));
        if (ours.length !== 1) return false;
        const full = (await (await fetch(`${JAEGER}/api/traces/${ours[0]?.traceID}`)).json()) as { data: JaegerTrace[] };
        trace = full.data[0];
        const seen = new Set(trace?.spans.map((s) => trace?.processes[s.processID]?.serviceName));
        return services.every((s) => seen.has(s));
      },
      'one trace with spans of all four services',
      90_000,
      1000,
    );
    if (!trace) throw new Error('no trace');
    const tr = trace;
    const service = (s: JaegerSpan) => tr.processes[s.processID]?.serviceName;
    const byId = new Map(tr.spans.map((s) => [s.spanID, s]));
    const parentOf = (s: JaegerSpan) => byId.get(s.references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? '');
    const tag = (s: JaegerSpan, k: string) => s.tags.find((x) => x.key === k)?.value;

    const publish = tr.spans.find((s) => service(s) === 'producer' && s.operationName === `publish ${t('wiki.raw.changes')}`);
    expect(publish).toBeDefined();
    expect(tag(publish as JaegerSpan, 'messaging.message.id')).toBe(eventId);
    expect(tag(publish as JaegerSpan, 'span.kind')).toBe('producer');

    const route = tr.spans.find((s) => service(s) === 'filter-router' && s.operationName === `process ${t('wiki.raw.changes')}`);
    expect(route).toBeDefined();
    expect(parentOf(route as JaegerSpan)?.spanID).toBe(publish?.spanID);
    expect(tag(route as JaegerSpan, 'messaging.message.id')).toBe(eventId);
    expect(tag(route as JaegerSpan, 'span.kind')).toBe('consumer');

    for (const downstream of ['aggregator', 'dedup-persister']) {
      const span = tr.spans.find((s) => service(s) === downstream && s.operationName === `process ${t('wiki.changes.all')}`);
      expect(span).toBeDefined();
      // Parent is the router's span (its context travelled in the routed record's headers).
      expect(service(parentOf(span as JaegerSpan) as JaegerSpan)).toBe('filter-router');
    }

    // The dedup-persister's log line for this event carries the same trace id.
    await waitFor(() => persister.output().split('\n').some((l) => l.includes(eventId) && l.includes(`"trace_id":"${tr.traceID}"`)), 'persister log line with the trace id', 10_000);
    console.log(`trace ${tr.traceID}: ${tr.spans.length} spans from ${[...new Set(tr.spans.map(service))].join(', ')} for meta.id ${eventId}`);
  }, 300_000);
});
