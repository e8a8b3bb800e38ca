import { getTestEnv, uniqueName, waitFor } from '@wikimonitor/testing';
import { startJetstreamSource } from '../testing/jetstream-source-process';
import { type Topics, blueskyIdsIn, countCopies, startProducer, valuesIn } from '../testing/producer-process';

/** The stand-in keeps the recordings' time_us disorder clipped to this. */
const DISORDER_MS = 1_000;
/** Above the disorder (README, "Jetstream: resume by cursor": the bound of the rule). */
const MARGIN_MS = 1_500;
const RATE = 150;
/**
 * Connections are cut after this many messages: more than a resume overlap holds (RATE * MARGIN_MS
 * = 225), else every connection would re-deliver the same overlap forever (the real one lasts hours).
 */
const CUT_EVERY = 300;

const jetstreamTopics = (): Topics & { BSKY_OUTPUT_TOPIC: string } => ({ OUTPUT_TOPIC: uniqueName('it.unused'), BSKY_OUTPUT_TOPIC: uniqueName('it.bsky'), DLQ_TOPIC: uniqueName('it.dlq'), CHECKPOINT_TOPIC: uniqueName('it.cp') });

describe('producer with SOURCE=jetstream against the Jetstream stand-in (real broker and registry)', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('should publish or dead-letter every recorded event exactly once over connection drops and two kill -9 restarts resumed by cursor', async () => {
    const env = await getTestEnv();
    // 4 passes over the 186 recorded lines (fresh revs/seqs per pass), a malformed frame every 25.
    const source = await startJetstreamSource(['--rate', String(RATE), '--loop-count', '4', '--max-disorder-ms', String(DISORDER_MS), '--malformed-every', '25', '--fault', 'drop', '--fault-every', String(CUT_EVERY)]);
    cleanup.push(() => source.close());
    const topics = jetstreamTopics();
    const extra = { SOURCE: 'jetstream', JETSTREAM_URL: source.url, RESUME_MARGIN_MS: String(MARGIN_MS), COMMIT_INTERVAL_MS: '50', JETSTREAM_IDLE_TIMEOUT_MS: '3000', SSE_RECONNECT_INITIAL_MS: '50', ...topics };
    let dropped = 0;
    for (const killAt of [120, 150]) {
      const p = await startProducer(env, 'http://unused.invalid/', topics, extra);
      cleanup.push(() => p.proc.kill('SIGKILL'));
      await waitFor(async () => (await p.metric('producer_events_published_total')) >= killAt, `${killAt} published`, 120_000, 100);
      dropped += await p.metric('producer_overlap_dropped_total');
      p.proc.kill('SIGKILL'); // kill -9: in-flight batches and uncommitted transactions are lost
      await p.proc.exited();
    }
    const last = await startProducer(env, 'http://unused.invalid/', topics, extra);
    cleanup.push(() => last.proc.kill('SIGKILL'));
    await waitFor(() => /resuming from checkpoint/.test(last.proc.output()), 'resumed from the checkpoint', 30_000);
    await waitFor(async () => {
      return (await source.stats()).complete;
    }, 'the source emitted every event', 120_000, 500);
    const want = await source.expected();
    let result = countCopies(want.ids, []);
    await waitFor(
      async () => {
        result = countCopies(want.ids, (await blueskyIdsIn(env, topics.BSKY_OUTPUT_TOPIC)).map((r) => r.id));
        return result.missing.length === 0;
      },
      'every id stored',
      120_000,
      2000,
    );
    dropped += await last.metric('producer_overlap_dropped_total');
    last.proc.kill('SIGTERM');
    expect(await last.proc.exited()).toBe(0);
    const records = await blueskyIdsIn(env, topics.BSKY_OUTPUT_TOPIC);
    result = countCopies(want.ids, records.map((r) => r.id));
    const deadLetters = await valuesIn(env, topics.DLQ_TOPIC);
    const stats = await source.stats();
    console.log(`jetstream exactly once: ${records.length} records for ${want.ids.length} distinct events, ${deadLetters.length} dead letters for ${want.malformed.length} malformed frames, ${result.extraCopies} extra copies, ${result.missing.length} missing, ${stats.connectionsTotal} connections (${stats.drops} dropped), ${dropped} overlap events dropped`);
    expect(result.missing).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(new Set(records.map((r) => r.kind))).toEqual(new Set(['commit', 'identity', 'account']));
    expect(records.every((r) => r.key === r.did)).toBe(true);
    expect(deadLetters.sort()).toEqual([...want.malformed].sort());
    expect(dropped).toBeGreaterThan(0); // the overlaps happened and were filtered
  }, 400_000);
});
