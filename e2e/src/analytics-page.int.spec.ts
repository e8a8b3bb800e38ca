import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { type Browser, type Locator, chromium } from 'playwright-core';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { INSTANCE_SESSION_TIMEOUT_MS, REPO_ROOT, deleteTestResources, getTestEnv, loadRecordedEvents, uniqueName, waitFor } from '@wikimonitor/testing';
import { DEFAULT_WORK_DIR } from './chaos';
import { type Pipeline, createPipeline, dropDatabase, provisionTopics, runNames } from './pipeline';
import { countStoredChanges } from './verify';

// The analytics page (dedup-persister's /analytics/) on the running pipeline: the SSE source replays
// the recordings dated now (with a wikidatawiki spike injected), producer -> filter-router ->
// aggregator -> dedup-persister as real processes from dist/, and a headless Chromium reads the page
// while the stream flows. Every figure the test expects comes from the run (the recordings, the
// database), not from records the test made up.
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
// Under the app's test output, beside the persister-level test's screenshots.
const OUT = join(REPO_ROOT, 'apps', 'dedup-persister', 'test-output');
const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const RATE = 100;
const SPIKE = { wiki: 'wikidatawiki', atS: 32, count: 3000 };

/** Distinct changes the recordings hold (what the persister must end with, before the injected spike). */
function recordedChanges(): number {
  const ids = new Set<string>();
  for (const e of loadRecordedEvents()) {
    const n = normalizeRecentChange(e.json, { receivedTime: Date.now(), sseId: null });
    if (n.kind === 'change') ids.add(n.change.id);
  }
  return ids.size;
}

const attrs = async <T>(rows: Locator, f: (row: Locator) => Promise<T>): Promise<T[]> => Promise.all((await rows.all()).map(f));

async function query<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

describe('analytics page on the running pipeline', () => {
  it('the page should draw the recorded stream as it flows, update live, filter, switch to 24 h and follow the spike alert to the changes behind it', async () => {
    const env = await getTestEnv();
    const endpoints = { bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, databaseUrl: env.databaseUrl };
    const names = runNames(uniqueName('e2e.page'));
    const workDir = join(DEFAULT_WORK_DIR, names.prefix);
    mkdirSync(workDir, { recursive: true });
    const log = (line: string) => process.stderr.write(`[page ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
    const expected = recordedChanges() + SPIKE.count;
    await provisionTopics(env.bootstrapServers, names);
    let pipeline: Pipeline | undefined;
    let browser: Browser | undefined;
    try {
      pipeline = await createPipeline({
        endpoints,
        appBootstrap: env.bootstrapServers,
        names,
        data: join(REPO_ROOT, 'data', 'recordings'),
        // Dated when sent, so the 1 h range holds them; the spike comes once the baseline has windows.
        sourceArgs: ['--time', 'now', '--rate', String(RATE), '--inject', `wiki=${SPIKE.wiki},at=${SPIKE.atS}s,count=${SPIKE.count}`],
        aggregator: { windowMs: 10_000, latenessMs: 2_000, idleCloseMs: 3_000 },
        lagMonitor: { cycleMs: 2_000, windowCycles: 5 },
        extraEnv: { aggregator: { SPIKE_WARMUP_WINDOWS: '2' } },
        workDir,
        logDir: join(workDir, 'logs'),
        log,
      });
      const db = pipeline.databaseUrl;
      await pipeline.start();
      const base = pipeline.apps['dedup-persister'].url;

      // While the stream flows: the page shows what is stored so far.
      await waitFor(async () => (await countStoredChanges(db)) >= 300, 'the first changes stored', 120_000, 250);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const failed: string[] = [];
      page.on('requestfailed', (r) => failed.push(r.url()));
      await page.goto(`${base}/analytics/#range=1h`);
      await page.waitForFunction(`Number(document.getElementById('series-chart').dataset.total) > 0`, undefined, { timeout: 60_000 });
      expect(await page.locator('#series-chart canvas').count()).toBeGreaterThan(0);
      const firstTotal = Number(await page.locator('#series-chart').getAttribute('data-total'));
      const firstUpdates = Number((await page.locator('body').getAttribute('data-updates')) ?? 0);
      expect(firstTotal).toBeLessThan(expected);
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'pipeline-analytics-flowing.png'), fullPage: true });

      // Live: the page grows without a reload as the aggregator's windows and the changes arrive.
      await page.waitForFunction(`Number(document.body.dataset.updates) > ${firstUpdates} && Number(document.getElementById('series-chart').dataset.total) > ${firstTotal}`, undefined, { timeout: 90_000 });

      // The whole recording and the spike stored, every window closed and persisted, the spike alert raised.
      await waitFor(async () => (await countStoredChanges(db)) === expected, `${expected} changes stored`, 240_000, 500);
      await waitFor(
        async () => Number((await query<{ n: string }>(db, 'SELECT coalesce(sum(total), 0) AS n FROM wiki_aggregates'))[0]?.n) === expected,
        'the persisted windows to count every stored change',
        120_000,
        500,
      );
      const alerts = await waitFor(
        async () => {
          const rows = await query<{ subject: string }>(db, `SELECT subject FROM wiki_alerts WHERE kind = 'spike'`);
          return rows.length ? rows : undefined;
        },
        'a spike alert stored',
        60_000,
        500,
      ).catch(async (err: Error) => {
        // The spike wiki's windows say why no alert came (the baseline and the spike window's count).
        const w = await query<{ start: Date; total: string }>(db, 'SELECT window_start AS start, total FROM wiki_aggregates WHERE wiki = $1 ORDER BY window_start', [SPIKE.wiki]);
        throw new Error(`${err.message}; ${SPIKE.wiki} windows: ${w.map((r) => `${r.start.toISOString().slice(11, 19)}=${r.total}`).join(' ')}`);
      });
      expect(alerts.map((a) => a.subject)).toContain(SPIKE.wiki);

      // The live page ends at the exact figures of the run: the series read from the rollups equals
      // the rows (the windows counted every stored change once), the alert is on the timeline.
      await page.waitForFunction(`Number(document.getElementById('series-chart').dataset.total) === ${expected}`, undefined, { timeout: 60_000 });
      expect(Number(await page.locator('#total-changes').getAttribute('data-value'))).toBe(expected);
      await page.locator('#alerts li.alert').first().waitFor({ timeout: 60_000 });
      expect(await page.locator(`#top-wikis li[data-key="${SPIKE.wiki}"]`).count()).toBe(1);
      expect(await page.locator('#by-type li').count()).toBeGreaterThanOrEqual(2);
      expect(await page.locator('#top-editors li').count()).toBeGreaterThan(0);
      await page.locator('#feed tr.change').first().waitFor();
      expect(await page.locator('#feed a.diff').first().getAttribute('href')).toMatch(/^https:\/\/[a-z.]+\/w\/index\.php\?/);
      await page.screenshot({ path: join(OUT, 'pipeline-analytics-1h.png'), fullPage: true });

      // A filter on the live feed.
      await page.fill('#feed-filters input[name="wiki"]', 'enwiki');
      await page.click('#feed-filters button[type="submit"]');
      await page.waitForFunction(`document.getElementById('feed').dataset.filter === JSON.stringify({ wiki: 'enwiki' })`);
      const rows = page.locator('#feed tr.change');
      expect(await rows.count()).toBeGreaterThan(0);
      expect(new Set(await attrs(rows, (r) => r.getAttribute('data-wiki')))).toEqual(new Set(['enwiki']));

      // The 24 h range: hour steps, the same total.
      await page.click('#ranges button[data-range="24h"]');
      await page.waitForFunction(`document.body.dataset.range === '24h' && document.getElementById('series-chart').dataset.step === 'hour'`);
      expect(Number(await page.locator('#series-chart').getAttribute('data-total'))).toBe(expected);
      await page.screenshot({ path: join(OUT, 'pipeline-analytics-24h-filtered.png'), fullPage: true });

      // The alert leads to its window and the changes behind it: as many as the window counted.
      const link = page.locator('#alerts li.alert a.alert-link').first();
      const drill = /drill=([^&]+)/.exec(decodeURIComponent((await link.getAttribute('href')) ?? ''))?.[1]?.split('|') ?? [];
      const at = (x: string | undefined) => (/^\d+$/.test(x ?? '') ? Number(x) : Date.parse(x ?? ''));
      const [wiki, start, end] = [drill[0], at(drill[1]), at(drill[2])];
      expect(alerts.map((a) => a.subject)).toContain(wiki);
      const [behind] = await query<{ n: string }>(db, 'SELECT count(*) AS n FROM wiki_changes WHERE wiki = $1 AND event_time >= to_timestamp($2 / 1000.0) AND event_time < to_timestamp($3 / 1000.0)', [wiki, start, end]);
      const [counted] = await query<{ total: string }>(db, 'SELECT total FROM wiki_aggregates WHERE wiki = $1 AND window_start = to_timestamp($2 / 1000.0)', [wiki, start]);
      expect(Number(behind?.n)).toBe(Number(counted?.total));
      await link.click();
      await page.locator('#drill').waitFor({ state: 'visible' });
      await page.waitForFunction(`Number(document.getElementById('drill').dataset.changes) > 0`);
      const drilled = await attrs(page.locator('#drill-changes tr.change'), (r) => r.getAttribute('data-wiki'));
      expect(drilled.length).toBe(Math.min(200, Number(counted?.total)));
      expect(new Set(drilled)).toEqual(new Set([wiki]));
      await page.screenshot({ path: join(OUT, 'pipeline-analytics-alert-drill.png'), fullPage: true });
      expect(statSync(join(OUT, 'pipeline-analytics-1h.png')).size).toBeGreaterThan(20_000);
      expect(failed).toEqual([]);
      // The figures for the closing note.
      console.log(JSON.stringify({ expected, pageTotal: expected, firstSeenWhileFlowing: firstTotal, spikeAlerts: alerts.length, drilledWindow: { wiki, start: new Date(start).toISOString(), counted: Number(counted?.total), rows: Number(behind?.n), shown: drilled.length } }));
    } finally {
      await browser?.close();
      await pipeline?.stop();
      // Static members stay in their groups for a session after a clean stop: wait that long, then delete.
      await deleteTestResources(env.bootstrapServers, [names.prefix], { groupWaitMs: INSTANCE_SESSION_TIMEOUT_MS * 2 });
      await dropDatabase(env.databaseUrl, names.database).catch(() => undefined);
    }
  }, 600_000);
});
