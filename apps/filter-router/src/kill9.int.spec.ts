import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { createAdmin, headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { freePort, getTestEnv, loadRecordedEvents, readTopic, startTsProcess, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { loadRoutingRules } from './rules';
import {
  caughtUp,
  committedOffsets,
  createOutputTopics,
  decodeRouted,
  deleteTopicsWithPrefix,
  expectedRoutes,
  produceChanges,
  testEnvVars,
  waitForStableTopics,
  writeDefaultRulesWithPrefix,
} from '../testing/test-support';

const log = createLogger('test', 'silent');
const KILLS = 5;
const changes: WikiChange[] = loadRecordedEvents().flatMap((e) => {
  const n = normalizeRecentChange(e.json, { receivedTime: 1_700_000_000_000, sseId: null });
  return n.kind === 'change' ? [n.change] : [];
});

describe('filter-router killed -9 during a replay', () => {
  const prefix = uniqueName('it.fr.kill9');
  afterAll(async () => {
    await deleteTopicsWithPrefix(testConnection(await getTestEnv()), prefix);
  });

  it(`filter-router killed -9 ${KILLS} times mid-stream should still write each input record exactly once to each routed topic (read_committed, by meta.id)`, async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const routes = writeDefaultRulesWithPrefix(prefix, mkdtempSync(join(tmpdir(), 'fr-kill9-')));
    const port = await freePort();
    const vars = testEnvVars({
      bootstrapServers: env.bootstrapServers,
      registryUrl: env.registryUrl,
      prefix,
      rulesFile: routes.file,
      // Small transactions so a kill lands mid-stream; static membership so a restart rejoins at once.
      extra: { HTTP_PORT: String(port), BATCH_SIZE: '20', GROUP_INSTANCE_ID: `${prefix}.member`, CONSUMER_SESSION_TIMEOUT_MS: '10000' },
    });
    const input = await produceChanges({ connection: conn, registryUrl: env.registryUrl, topic: vars['INPUT_TOPIC'] as string, partitions: 6, changes, withCorrupt: true, log });
    await createOutputTopics(conn, routes, vars['DLQ_TOPIC'] as string);
    const total = changes.length + input.corrupt.length;
    const committedSum = async () => [...(await committedOffsets(conn, vars['GROUP_ID'] as string, vars['INPUT_TOPIC'] as string)).values()].reduce((a, o) => a + Math.max(0, o), 0);

    const allTopic = routes.topics['all'] as string;
    const admin = await createAdmin(conn);
    /** True while a transaction has records in the log that are not committed (last stable offset < high watermark). */
    const openTransaction = async () => {
      const [stable, high] = await Promise.all([admin.fetchTopicOffsets(allTopic, { isolationLevel: 1 }), admin.fetchTopicOffsets(allTopic, { isolationLevel: 0 })]);
      return high.some((h) => Number(stable.find((s) => s.partition === h.partition)?.offset) < Number(h.offset));
    };
    const progressAtKill: number[] = [];
    const openAtKill: boolean[] = [];
    try {
      for (let i = 0; i < KILLS; i++) {
        const before = await committedSum();
        const proc = startTsProcess(`filter-router-kill9-${i}`, 'apps/filter-router/src/main.ts', vars);
        await proc.waitReady(`http://127.0.0.1:${port}/readyz`, 90_000);
        // This incarnation has committed (so its predecessor's open transaction is aborted), then it is
        // killed the moment one of its transactions has written records it has not committed yet.
        await waitFor(async () => (await committedSum()) > before, `incarnation ${i} to commit a transaction`, 60_000, 20);
        // Seen open, the process is frozen (SIGSTOP) and the transaction checked again after any request
        // already on the wire has had time to land: a commit racing the kill cannot then leave nothing
        // to abort. Not open any more: thawed, and the next transaction is waited for.
        const frozenInTransaction = async () => {
          if (!(await openTransaction())) return false;
          proc.kill('SIGSTOP');
          await new Promise((r) => setTimeout(r, 300));
          if (await openTransaction()) return true;
          proc.kill('SIGCONT');
          return false;
        };
        const open = await waitFor(frozenInTransaction, `incarnation ${i} to be frozen inside a transaction`, 20_000, 1).catch(() => false);
        proc.kill('SIGKILL');
        await proc.exited();
        openAtKill.push(open);
        progressAtKill.push(await committedSum());
      }
    } finally {
      await admin.disconnect();
    }
    // Every kill landed before the end of the input: the replay really was interrupted each time.
    expect(progressAtKill.every((p) => p > 0 && p < total)).toBe(true);

    const last = startTsProcess('filter-router-kill9-final', 'apps/filter-router/src/main.ts', vars);
    await last.waitReady(`http://127.0.0.1:${port}/readyz`, 90_000);
    await waitFor(() => caughtUp(conn, vars['GROUP_ID'] as string, vars['INPUT_TOPIC'] as string, input.lastOffsets), 'the last incarnation to commit the whole input', 120_000, 250);
    last.kill('SIGTERM');
    expect(await last.exited()).toBe(0);

    const { rules } = loadRoutingRules({ file: routes.file, inputTopic: vars['INPUT_TOPIC'] as string, dlqTopic: vars['DLQ_TOPIC'] as string });
    const expected = expectedRoutes(rules, changes);
    await waitForStableTopics(conn, [...rules.routes.map((r) => r.topic), vars['DLQ_TOPIC'] as string]);
    const report: Record<string, { committed: number; inLog: number }> = {};
    for (const route of rules.routes) {
      const ids = (await decodeRouted(env.registryUrl, route.topic, await readTopic(conn, route.topic))).map((r) => r.change.id);
      const inLog = (await readTopic(conn, route.topic, 'read_uncommitted')).length;
      report[route.name] = { committed: ids.length, inLog };
      expect(ids.length).toBe(new Set(ids).size); // no duplicates
      expect([...ids].sort()).toEqual([...(expected[route.name] ?? [])].sort()); // none missing, none extra
    }
    // The kills landed inside transactions: the log holds aborted copies that read_committed never showed.
    expect(openAtKill.filter(Boolean).length).toBeGreaterThan(0);
    expect(report['all']?.inLog).toBeGreaterThan(report['all']?.committed ?? Infinity);
    const dlq = (await readTopic(conn, vars['DLQ_TOPIC'] as string)).map((m) => parseDeadLetter(m.key, m.value, headersFromMessage(m.headers)));
    expect(dlq.map((d) => `${d.sourcePartition}/${d.sourceOffset}`).sort()).toEqual(input.corrupt.map((c) => `${c.partition}/${c.offset}`).sort());
    // The figures for the closing note: how far each kill got, and how many aborted (never visible) copies the log holds.
    console.log(JSON.stringify({ kills: KILLS, total, progressAtKill, openAtKill, routes: report, deadLetters: dlq.length }));
  });
});
