import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headersFromMessage, headerString, DLQ_HEADERS } from '@wikimonitor/kafka';
import { REPO_ROOT, type ServiceProcess, freePort, getTestEnv, loadRecordedEvents, readTopic, startTsProcess, testConnection, waitFor } from '@wikimonitor/testing';
import { idsIn, newTopics, startProducer } from '../testing/producer-process';

const recordedIds = new Set(loadRecordedEvents().map((r) => r.json.meta.id));

async function startSource(args: string[]): Promise<{ proc: ServiceProcess; url: string; stats: () => Promise<{ sent: Record<string, number> }> }> {
  const port = await freePort();
  const proc = startTsProcess('sse-source', 'apps/sse-source/src/main.ts', { LOG_LEVEL: 'warn' }, ['--port', String(port), '--host', '127.0.0.1', ...args]);
  await proc.waitReady(`http://127.0.0.1:${port}/healthz`);
  return {
    proc,
    url: `http://127.0.0.1:${port}/v2/stream/recentchange`,
    stats: async () => (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { sent: Record<string, number> },
  };
}

function compare(ids: string[]) {
  const got = new Set(ids);
  const missing = [...recordedIds].filter((id) => !got.has(id));
  const unexpected = [...got].filter((id) => !recordedIds.has(id));
  return { total: ids.length, distinct: got.size, duplicates: ids.length - got.size, missing, unexpected };
}

describe('producer on the real broker with the local SSE source', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  it('producer should publish every non-canary recorded event, drop canaries, and dead-letter malformed lines with their reason', async () => {
    const env = await getTestEnv();
    const source = await startSource(['--canary-every', '300', '--fault', 'malformed', '--fault-every', '700']);
    cleanup.push(() => source.proc.kill('SIGKILL'));
    const topics = newTopics();
    const producer = await startProducer(env, source.url, topics);
    cleanup.push(() => producer.proc.kill('SIGKILL'));

    await waitFor(async () => (await producer.metric('producer_events_published_total')) >= recordedIds.size, 'all events published', 120_000, 500);
    const stats = await source.stats();
    await waitFor(async () => (await producer.metric('producer_events_dead_lettered_total')) >= stats.sent['malformed'], 'dead letters', 30_000, 500).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${await producer.metric('producer_events_dead_lettered_total')} of ${stats.sent['malformed']} malformed sent, ${await producer.metric('producer_overlap_dropped_total')} taken for overlap re-deliveries`);
    });
    const canariesDropped = await producer.metric('producer_canary_events_total');
    // One connection, no resume: nothing may be taken for an overlap re-delivery (identical malformed lines are distinct events).
    expect(await producer.metric('producer_overlap_dropped_total')).toBe(0);
    producer.proc.kill('SIGTERM');
    expect(await producer.proc.exited()).toBe(0);

    const result = compare(await idsIn(env, topics.OUTPUT_TOPIC));
    console.log(`full replay: ${result.total} records, ${result.distinct} distinct ids of ${recordedIds.size}, missing ${result.missing.length}, canaries sent ${stats.sent['canary']}, malformed sent ${stats.sent['malformed']}`);
    expect(result.missing).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.duplicates).toBe(0);
    expect(stats.sent['canary']).toBeGreaterThan(0);
    expect(canariesDropped).toBe(stats.sent['canary']);
    expect(producer.proc.output()).toContain('stream closed, all accepted events finished');

    const dead = await readTopic(testConnection(env), topics.DLQ_TOPIC);
    expect(dead.length).toBe(stats.sent['malformed']);
    // The source's malformed lines alternate between broken JSON and JSON without meta.
    expect(new Set(dead.map((d) => headerString(headersFromMessage(d.headers), DLQ_HEADERS.errorCode)))).toEqual(new Set(['NOT_JSON', 'INVALID_EVENT']));
    for (const d of dead) {
      const h = headersFromMessage(d.headers);
      // The code comes from normalization: text that does not parse is NOT_JSON, parsed JSON that is no event INVALID_EVENT.
      const parses = (() => {
        try {
          JSON.parse(d.value?.toString('utf8') ?? '');
          return true;
        } catch {
          return false;
        }
      })();
      expect(headerString(h, DLQ_HEADERS.errorCode)).toBe(parses ? 'INVALID_EVENT' : 'NOT_JSON');
      expect(headerString(h, DLQ_HEADERS.errorMessage)).toBeTruthy();
      expect(headerString(h, DLQ_HEADERS.sourceTopic)).toBe(source.url);
      expect(d.value?.length).toBeGreaterThan(0);
    }
  });

  it('producer killed -9 mid-replay and restarted should resume from its transactional checkpoint with no event missing or repeated', async () => {
    const env = await getTestEnv();
    const source = await startSource(['--rate', '1500']);
    cleanup.push(() => source.proc.kill('SIGKILL'));
    const topics = newTopics();
    const first = await startProducer(env, source.url, topics);
    cleanup.push(() => first.proc.kill('SIGKILL'));
    await waitFor(async () => (await first.metric('producer_events_published_total')) >= 1200, '1200 events published', 60_000, 100);
    first.proc.kill('SIGKILL');
    await first.proc.exited();

    const second = await startProducer(env, source.url, topics);
    cleanup.push(() => second.proc.kill('SIGKILL'));
    await waitFor(() => /resuming from checkpoint|no checkpoint/.test(second.proc.output()), 'checkpoint read at start', 30_000);
    expect(second.proc.output()).toMatch(/resuming from checkpoint/);
    let result = compare([]);
    await waitFor(
      async () => {
        result = compare(await idsIn(env, topics.OUTPUT_TOPIC));
        return result.missing.length === 0;
      },
      'every id present after restart',
      120_000,
      2000,
    );
    second.proc.kill('SIGTERM');
    await second.proc.exited();
    console.log(`kill -9 + restart: ${result.total} records, ${result.distinct} distinct, ${result.duplicates} duplicates, missing ${result.missing.length}`);
    expect(result.missing).toEqual([]);
    expect(result.unexpected).toEqual([]);
    // Records and position commit together: what the killed process had not committed is aborted, not duplicated.
    expect(result.duplicates).toBe(0);
  });

  it('producer should lose nothing while its broker is stopped for 30 s, with memory bounded by MAX_IN_FLIGHT', async () => {
    const env = await getTestEnv();
    // A private broker: stopping the shared one would break other tests running in parallel.
    const stackDir = mkdtempSync(join(tmpdir(), 'wm-stack-'));
    const kafkaPort = await freePort();
    const controllerPort = await freePort();
    const stackEnv = { ...process.env, WM_STACK_DIR: stackDir, WM_KAFKA_PORT: String(kafkaPort), WM_KAFKA_CONTROLLER_PORT: String(controllerPort) };
    const stack = (...args: string[]) => execFileSync(process.execPath, [join(REPO_ROOT, 'tools/stack/stack.mjs'), ...args], { env: stackEnv, stdio: 'pipe', timeout: 180_000 });
    stack('start', 'kafka');
    cleanup.push(() => {
      try {
        stack('stop', 'kafka');
      } finally {
        rmSync(stackDir, { recursive: true, force: true });
      }
    });
    const privateEnv = { ...env, bootstrapServers: `127.0.0.1:${kafkaPort}` };

    const source = await startSource(['--rate', '120']);
    cleanup.push(() => source.proc.kill('SIGKILL'));
    const topics = newTopics();
    const producer = await startProducer(privateEnv, source.url, topics, { MAX_IN_FLIGHT: '1000' });
    cleanup.push(() => producer.proc.kill('SIGKILL'));
    await waitFor(async () => (await producer.metric('producer_events_published_total')) >= 500, '500 published', 60_000, 200);

    stack('stop', 'kafka');
    const rss: number[] = [];
    let maxDepth = 0;
    const outageEnd = Date.now() + 30_000;
    while (Date.now() < outageEnd) {
      rss.push((await producer.metric('process_resident_memory_bytes')) / 1e6);
      maxDepth = Math.max(maxDepth, await producer.metric('producer_queue_depth_events'));
      await new Promise((r) => setTimeout(r, 1000));
    }
    const waits = await producer.metric('producer_backpressure_waits_total');
    stack('start', 'kafka');

    let result = compare([]);
    await waitFor(
      async () => {
        result = compare(await idsIn(privateEnv, topics.OUTPUT_TOPIC));
        return result.missing.length === 0;
      },
      'every id after the broker came back',
      180_000,
      3000,
    );
    producer.proc.kill('SIGTERM');
    await producer.proc.exited();
    console.log(`broker outage 30 s: ${result.distinct} distinct ids, ${result.duplicates} duplicates, missing ${result.missing.length}; peak RSS ${Math.max(...rss).toFixed(0)} MB, peak queue depth ${maxDepth}, backpressure waits ${waits}`);
    expect(result.missing).toEqual([]);
    expect(maxDepth).toBeLessThanOrEqual(1000 + 200); // bound + at most one chunk's worth of events
    expect(waits).toBeGreaterThan(0); // reading really paused
    expect(Math.max(...rss)).toBeLessThan(300);
  }, 400_000);
});
