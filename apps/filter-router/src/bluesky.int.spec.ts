import { jetstreamEventOrThrow } from '@wikimonitor/domain';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BlueskyEvent, BlueskyEventSchema } from '@wikimonitor/contracts';
import { type BlueskyRoutingRules, blueskySubject, routeBlueskyEvent } from '@wikimonitor/domain';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, produceBlueskyEvents, readTopic, recordedBlueskyEvents, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createApp } from './app';
import blueskyRules from '../rules/bluesky-rules.json';
import { caughtUp, createOutputTopics, deleteTopicsWithPrefix, testAppConfig, waitForStableTopics, writeDefaultRulesWithPrefix } from '../testing/test-support';

const log = createLogger('test', 'silent');
// The real recordings (current and 2024 format; identity and account events; the early-format file
// repeats some events: a re-delivered event is routed again, it is the persister that dedups).
const events: BlueskyEvent[] = recordedBlueskyEvents(jetstreamEventOrThrow);

describe('filter-router STREAM=bluesky on the real broker', () => {
  const prefix = uniqueName('it.fr.bsky');
  afterAll(async () => {
    const env = await getTestEnv();
    await deleteTopicsWithPrefix(testConnection(env), prefix);
  });

  it('each Bluesky route should receive exactly the recorded events its rule selects, once, across a restart', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const routes = writeDefaultRulesWithPrefix(prefix, mkdtempSync(join(tmpdir(), 'fr-bsky-')), blueskyRules);
    const config = testAppConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix, rulesFile: routes.file, extra: { STREAM: 'bluesky', BATCH_SIZE: '20' } });
    await createOutputTopics(conn, routes, config.DLQ_TOPIC);
    const inputCodec = createAvroCodec<BlueskyEvent>({ client: createRegistryClient({ url: env.registryUrl }), topic: config.INPUT_TOPIC, schema: BlueskyEventSchema });
    await inputCodec.init();
    const half = Math.floor(events.length / 2);

    // Two incarnations (same transactional id), each routing one half: nothing lost, nothing twice.
    let rules: BlueskyRoutingRules | undefined;
    for (const part of [events.slice(0, half), events.slice(half)]) {
      const input = await produceBlueskyEvents({ connection: conn, codec: inputCodec, topic: config.INPUT_TOPIC, partitions: 3, events: part, log });
      const app = createApp<BlueskyRoutingRules>({ config, log, handleSignals: false });
      rules = app.rules;
      try {
        await waitFor(() => caughtUp(conn, config.GROUP_ID, config.INPUT_TOPIC, input.lastOffsets), 'the router to commit its input', 120_000, 250);
      } finally {
        expect(await app.service.close()).toBe(0);
      }
    }
    if (!rules) throw new Error('no app ran');

    await waitForStableTopics(conn, [...rules.routes.map((r) => r.topic), config.DLQ_TOPIC]);
    const expected: Record<string, string[]> = Object.fromEntries(rules.routes.map((r) => [r.name, [] as string[]]));
    for (const e of events) for (const t of routeBlueskyEvent(rules, e)) expected[t.route]?.push(e.id);
    const counts: Record<string, number> = {};
    for (const route of rules.routes) {
      const codec = createAvroCodec<BlueskyEvent>({ client: createRegistryClient({ url: env.registryUrl }), topic: route.topic, schema: BlueskyEventSchema });
      const routed = await Promise.all((await readTopic(conn, route.topic)).map(async (m) => ({ e: await codec.decode(m.value as Buffer), key: m.key?.toString() ?? null })));
      counts[route.name] = routed.length;
      expect(routed.map((r) => r.e.id).sort()).toEqual([...(expected[route.name] ?? [])].sort());
      for (const r of routed) expect(r.key).toBe(route.key === 'subject' ? blueskySubject(r.e) : r.e.did);
    }
    // 186 recorded lines; posts by language group; deletes; non-app.bsky commits; identity/account (no commit: no crash).
    expect(counts).toEqual({ all: 186, 'posts.en': 13, 'posts.ja': 1, 'posts.pt': 0, 'posts.other': 7, deletes: 8, 'other-collections': 3, 'identity-account': 10 });
    expect(await readTopic(conn, config.DLQ_TOPIC)).toEqual([]);
  });
});
