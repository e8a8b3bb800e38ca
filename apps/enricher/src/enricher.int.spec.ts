import { type WikiChange, type WikiChangeEnriched, WikiChangeEnrichedSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { type EnrichReason, normalizeRecentChange } from '@wikimonitor/domain';
import { type ParsedDeadLetter, headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { type ServiceProcess, freePort, getTestEnv, loadRecordedEvents, readTopic, recordingsDir, startTsProcess, testConnection, uniqueName, waitFor, waitForStableTopics } from '@wikimonitor/testing';
import { createApp } from './app';
import { createOutputTopics, deleteTopicsWithPrefix, pageOf, produceChanges, testConfig } from '../testing/test-support';

const log = createLogger('test', 'silent');
const MAX_ATTEMPTS = 4;

/** The recorded events that carry a revision (edit, new): what the human-content route gives the enricher, bots included. */
const changes: WikiChange[] = loadRecordedEvents().flatMap((e) => {
  const n = normalizeRecentChange(e.json, { receivedTime: 1_700_000_000_000, sseId: null });
  return n.kind === 'change' && n.change.revision_new !== null && (n.change.type === 'edit' || n.change.type === 'new') ? [n.change] : [];
});

/**
 * Every failure of the table injected on one revision each, always (it must end in the error topic
 * with the row's reason) and, for the rows that retry, once more on another revision once (its
 * retry must enrich it). Injected revisions are the first records of the pages with the most
 * records, so the records held behind them show the per-page order. A row the table does not retry
 * ends at its own first answer; that can be its second or third call when an earlier call was a
 * batch that failed as a whole for a neighbour's retried fault, so its attempts are at most the bound.
 */
const ROWS: Array<{ fault: string; reason: EnrichReason; status: number | null; retried: boolean }> = [
  { fault: '408', reason: 'connection-timeout', status: 408, retried: true },
  { fault: 'read-timeout', reason: 'read-timeout', status: null, retried: true },
  { fault: '204', reason: 'no-content', status: 204, retried: false },
  { fault: '301', reason: 'further-action', status: 301, retried: false },
  { fault: '302', reason: 'further-action', status: 302, retried: false },
  { fault: '400', reason: 'request-error', status: 400, retried: false },
  { fault: '404', reason: 'request-error', status: 404, retried: false },
  { fault: '429', reason: 'request-error', status: 429, retried: false },
  { fault: '500', reason: 'internal-error', status: 500, retried: true },
  { fault: '501', reason: 'internal-error', status: 501, retried: false },
  { fault: '502', reason: 'internal-error', status: 502, retried: true },
  { fault: '503', reason: 'internal-error', status: 503, retried: true },
  { fault: '504', reason: 'internal-error', status: 504, retried: true },
  { fault: '505', reason: 'internal-error', status: 505, retried: false },
  { fault: '511', reason: 'internal-error', status: 511, retried: false },
  { fault: 'badrevids', reason: 'badrevids', status: 200, retried: true },
  { fault: 'maxlag', reason: 'maxlag', status: 200, retried: true },
];

interface Injection {
  change: WikiChange;
  fault: string;
  times: number | 'always';
  expected: { kind: 'enriched' } | { kind: 'error'; reason: EnrichReason; status: number | null; attempts: number };
}

function planInjections(): Injection[] {
  const byPage = new Map<string, WikiChange[]>();
  for (const c of changes) {
    const l = byPage.get(pageOf(c)) ?? [];
    l.push(c);
    byPage.set(pageOf(c), l);
  }
  // First records of pages with later records first (several wikis), then single ones.
  const firsts = [...byPage.values()].sort((a, b) => b.length - a.length).map((l) => l[0] as WikiChange);
  const pick = (() => {
    let i = 0;
    const seen = new Set<number>();
    return () => {
      for (;;) {
        const c = firsts[i++] as WikiChange;
        if (!seen.has(c.revision_new as number)) {
          seen.add(c.revision_new as number);
          return c;
        }
      }
    };
  })();
  const out: Injection[] = [];
  for (const row of ROWS) {
    out.push({ change: pick(), fault: row.fault, times: 'always', expected: { kind: 'error', reason: row.reason, status: row.status, attempts: row.retried ? MAX_ATTEMPTS : 1 } });
    if (row.retried) out.push({ change: pick(), fault: row.fault, times: 1, expected: { kind: 'enriched' } });
  }
  return out;
}



describe('enricher on the real broker against the Action API stand-in', () => {
  const prefix = uniqueName('it.enricher');
  let api: ServiceProcess | undefined;
  afterAll(async () => {
    api?.kill('SIGKILL');
    const env = await getTestEnv();
    await deleteTopicsWithPrefix(testConnection(env), prefix);
  });

  it('each recorded event should end enriched or in the error topic with the reason the failure table gives, none lost, none twice, per-page order kept', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const injections = planInjections();
    const fail = injections.map((i) => `${i.change.revision_new}=${i.fault}${i.times === 'always' ? '' : `*${i.times}`}`).join(',');
    const port = await freePort();
    api = startTsProcess('action-api-source-it', 'apps/action-api-source/src/main.ts', { LOG_LEVEL: 'warn' }, [
      '--port', String(port), '--host', '127.0.0.1', '--data', recordingsDir(), '--fail', fail, '--maxlag-retry-after', '1', '--stall-ms', '60000',
    ]);
    await api.waitReady(`http://127.0.0.1:${port}/readyz`, 60_000);

    const config = testConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix, apiPort: port, maxAttempts: MAX_ATTEMPTS });
    const input = config.INPUT_TOPIC;
    const positions = await produceChanges(conn, env.registryUrl, input, changes, log);
    await createOutputTopics(conn, config);
    const app = createApp({ config, log, handleSignals: false });
    let metrics: string;
    try {
      const lastOffsets = new Map<number, number>();
      for (const p of positions.values()) lastOffsets.set(p.partition, Math.max(lastOffsets.get(p.partition) ?? -1, p.offset));
      await waitFor(
        () => {
          const snap = app.loop.snapshot();
          return snap.size > 0 && [...lastOffsets].every(([p, last]) => (snap.get(p)?.next ?? -1) >= last + 1) && [...snap.values()].every((s) => s.state.size === 0);
        },
        'the enricher to commit the whole input with nothing parked',
        180_000,
        250,
      );
      metrics = await (await fetch(`http://127.0.0.1:${app.port()}/metrics`)).text();
    } finally {
      expect(await app.service.close()).toBe(0);
    }

    // What came out, read_committed (once the last commit's markers are on every partition).
    await waitForStableTopics(conn, [config.OUTPUT_TOPIC, config.ERROR_TOPIC, config.DLQ_TOPIC]);
    const codec = createAvroCodec<WikiChangeEnriched>({ client: createRegistryClient({ url: env.registryUrl }), topic: config.OUTPUT_TOPIC, schema: WikiChangeEnrichedSchema });
    const enrichedMessages = await readTopic(conn, config.OUTPUT_TOPIC);
    const enriched = await Promise.all(enrichedMessages.map(async (m) => ({ m, e: await codec.decode(m.value as Buffer) })));
    const errors = (await readTopic(conn, config.ERROR_TOPIC)).map((m) => ({ m, l: parseDeadLetter(m.key, m.value, headersFromMessage(m.headers)) }));
    expect(await readTopic(conn, config.DLQ_TOPIC)).toHaveLength(0);

    const inputCodec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic: input, schema: WikiChangeSchema });
    const errorChanges = await Promise.all(errors.map(async ({ l }) => ({ l, change: await inputCodec.decode(l.value as Buffer) })));

    // None lost, none twice.
    const outIds = [...enriched.map(({ e }) => e.change.id), ...errorChanges.map(({ change }) => change.id)];
    expect(outIds).toHaveLength(changes.length);
    expect(new Set(outIds).size).toBe(changes.length);
    expect([...outIds].sort()).toEqual(changes.map((c) => c.id).sort());

    // Each injected revision ends as the table says; every other one is enriched with the stand-in's facts.
    const byId = new Map(changes.map((c) => [c.id, c]));
    const errorById = new Map(errorChanges.map(({ l, change }) => [change.id, l]));
    const injectedRevids = new Map(injections.map((i) => [i.change.revision_new as number, i]));
    const outcomes: Record<string, number> = {};
    for (const inj of injections) {
      const l = errorById.get(inj.change.id);
      if (inj.expected.kind === 'enriched') {
        expect({ fault: inj.fault, times: inj.times, error: l?.error.code }).toEqual({ fault: inj.fault, times: inj.times, error: undefined });
      } else {
        expect({ fault: inj.fault, reason: l?.headers?.['dlq.enrich.reason']?.toString(), status: l?.headers?.['dlq.http.status']?.toString() ?? null, attempts: l?.attempts }).toEqual({
          fault: inj.fault,
          reason: inj.expected.reason,
          status: inj.expected.status === null ? null : String(inj.expected.status),
          attempts: inj.expected.attempts === 1 ? l?.attempts : inj.expected.attempts,
        });
        if (inj.expected.attempts === 1) expect(l?.attempts).toBeLessThan(MAX_ATTEMPTS);
        expect(l).toMatchObject({ sourceTopic: input, app: 'enricher', sourcePartition: positions.get(inj.change.id)?.partition, sourceOffset: positions.get(inj.change.id)?.offset });
      }
    }
    for (const { change, l } of errorChanges) {
      expect(injectedRevids.get(change.revision_new as number)?.times).toBe('always');
      expect(change).toEqual(byId.get(change.id));
      const key = `error ${l.headers?.['dlq.enrich.reason']?.toString()}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    for (const { e, m } of enriched) {
      expect(e.change).toEqual(byId.get(e.change.id));
      expect(m.key?.toString()).toBe(pageOf(e.change));
      expect(e.revision).toMatchObject({ rev_id: e.change.revision_new, size: e.change.length_new ?? 0, parent_id: e.change.revision_old ?? 0, content_model: expect.any(String), content_prefix: null });
      expect(e.revision.sha1).toMatch(/^[0-9a-f]{40}$/);
      const inj = injectedRevids.get(e.change.revision_new as number);
      if (inj) expect(e.attempts).toBeGreaterThanOrEqual(2);
      const key = inj ? 'enriched after a retry' : 'enriched';
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }

    // Per-page order: in input order, each record's outcome is written no earlier than the one before it
    // (the transaction's processing time), and within each output topic in input offset order.
    const when = new Map<string, { time: number; topic: string; partition: number; offset: number }>();
    for (const { e, m } of enriched) when.set(e.change.id, { time: e.enriched_time, topic: 'enriched', partition: m.partition, offset: m.offset });
    for (const { change, l } of errorChanges) {
      const m = errors.find((x) => x.l === l)?.m;
      when.set(change.id, { time: (l as ParsedDeadLetter).failedAt?.getTime() ?? 0, topic: 'error', partition: m?.partition ?? -1, offset: m?.offset ?? -1 });
    }
    let pagesWithHeld = 0;
    const pages = new Map<string, WikiChange[]>();
    for (const c of changes) pages.set(pageOf(c), [...(pages.get(pageOf(c)) ?? []), c]);
    for (const [page, list] of pages) {
      const sorted = [...list].sort((a, b) => (positions.get(a.id)?.offset ?? 0) - (positions.get(b.id)?.offset ?? 0));
      for (let i = 1; i < sorted.length; i++) {
        const prev = when.get((sorted[i - 1] as WikiChange).id);
        const cur = when.get((sorted[i] as WikiChange).id);
        expect({ page, i, ok: (cur?.time ?? 0) >= (prev?.time ?? Infinity) }).toEqual({ page, i, ok: true });
        if (prev?.topic === cur?.topic && prev?.partition === cur?.partition) expect({ page, i, ok: (cur?.offset ?? 0) > (prev?.offset ?? 0) }).toEqual({ page, i, ok: true });
      }
      if (injectedRevids.has(sorted[0]?.revision_new as number) && sorted.length > 1) pagesWithHeld++;
    }
    expect(pagesWithHeld).toBeGreaterThanOrEqual(10);

    // Metrics: calls, retries and error-topic counts by reason.
    for (const row of ROWS) {
      const n = injections.filter((i) => i.expected.kind === 'error' && i.expected.reason === row.reason).length;
      expect(metrics).toContain(`enricher_error_topic_records_total{reason="${row.reason}",service="enricher"} ${n}`);
    }
    expect(metrics).toMatch(/enricher_retries_total\{reason="maxlag",service="enricher"\} [1-9]/);
    expect(metrics).toMatch(/enricher_api_calls_total\{outcome="ok",service="enricher"\} [1-9]/);
    console.log(`enricher integration: ${changes.length} events, ${injections.length} injections, pages with held records ${pagesWithHeld}; outcomes ${JSON.stringify(outcomes)}; stand-in ${JSON.stringify(await (await fetch(`http://127.0.0.1:${port}/stats`)).json())}`);
  }, 300_000);
});
