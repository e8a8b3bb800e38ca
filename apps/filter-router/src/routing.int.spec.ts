import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents, readTopic, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createApp } from './app';
import { caughtUp, createOutputTopics, decodeRouted, deleteTopicsWithPrefix, expectedRoutes, produceChanges, testAppConfig, waitForStableTopics, writeDefaultRulesWithPrefix } from '../testing/test-support';

const log = createLogger('test', 'silent');
const changes: WikiChange[] = loadRecordedEvents().flatMap((e) => {
  const n = normalizeRecentChange(e.json, { receivedTime: 1_700_000_000_000, sseId: null });
  return n.kind === 'change' ? [n.change] : [];
});

describe('filter-router on the real broker', () => {
  const prefix = uniqueName('it.fr.routing');
  afterAll(async () => {
    const env = await getTestEnv();
    await deleteTopicsWithPrefix(testConnection(env), prefix);
  });

  it('each default route should receive exactly the records the rules select from the recorded data, undecodable ones the DLQ', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const routes = writeDefaultRulesWithPrefix(prefix, mkdtempSync(join(tmpdir(), 'fr-routing-')));
    const config = testAppConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix, rulesFile: routes.file });
    const input = await produceChanges({ connection: conn, registryUrl: env.registryUrl, topic: config.INPUT_TOPIC, partitions: 6, changes, withCorrupt: true, log });
    await createOutputTopics(conn, routes, config.DLQ_TOPIC);

    const app = createApp({ config, log, handleSignals: false });
    try {
      await waitFor(() => caughtUp(conn, config.GROUP_ID, config.INPUT_TOPIC, input.lastOffsets), 'the router to commit the whole input', 120_000, 250);
      const base = `http://127.0.0.1:${app.port()}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('filter_router_records_routed_total{route="all",service="filter-router"} 4053');
      expect(metrics).toContain('filter_router_records_dead_lettered_total{code="DESERIALIZE_FAILED",service="filter-router"} 2');
    } finally {
      expect(await app.service.close()).toBe(0);
    }

    await waitForStableTopics(conn, [...app.rules.routes.map((r) => r.topic), config.DLQ_TOPIC]);
    const expected = expectedRoutes(app.rules, changes);
    const byId = new Map(changes.map((c) => [c.id, c]));
    const counts: Record<string, number> = {};
    for (const route of app.rules.routes) {
      const routed = await decodeRouted(env.registryUrl, route.topic, await readTopic(conn, route.topic));
      counts[route.name] = routed.length;
      // Exactly the selected ids, each once (order across partitions is not defined, so compare sorted).
      expect(routed.map((r) => r.change.id).sort()).toEqual([...(expected[route.name] ?? [])].sort());
      for (const r of routed) {
        expect(r.change).toEqual(byId.get(r.change.id));
        expect(r.key).toBe(route.key === 'wiki' ? r.change.wiki : `${r.change.wiki}:${r.change.title}`);
        expect(r.headers['traceparent']).toBeDefined();
      }
    }
    expect(counts).toEqual({ all: 4053, 'human-content': 956, 'new-pages': 52, log: 25, bot: 3025 });

    const dlq = await readTopic(conn, config.DLQ_TOPIC);
    const letters = dlq.map((m) => parseDeadLetter(m.key, m.value, headersFromMessage(m.headers)));
    expect(letters.map((l) => `${l.sourcePartition}/${l.sourceOffset}`).sort()).toEqual(input.corrupt.map((c) => `${c.partition}/${c.offset}`).sort());
    for (const l of letters) {
      const name = l.originalHeaders['test.corrupt']?.toString() ?? '';
      expect(l).toMatchObject({ sourceTopic: config.INPUT_TOPIC, app: 'filter-router', attempts: 1 });
      expect(l.key?.toString()).toBe(`corrupt:${name}`);
      expect(l.error.code).toBe(name === 'unknown-schema-id' ? 'SCHEMA_REGISTRY_FAILED' : 'DESERIALIZE_FAILED');
    }
    // The dead letter carries the original bytes: a replay is a plain re-produce.
    expect(letters.find((l) => l.originalHeaders['test.corrupt']?.toString() === 'json-not-avro')?.value?.toString()).toBe('{"meta":{"id":"not-avro"}}');
  });
});
