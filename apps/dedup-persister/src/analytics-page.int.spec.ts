import { jetstreamEventOrThrow } from '@wikimonitor/domain';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type BlueskyEvent, BlueskyEventSchema, type WikiAggregate, type WikiAlert, type WikiChange, WikiAggregateSchema, WikiAlertSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { blueskySubject, normalizeRecentChange, topEntries } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { type ServiceProcess, freePort, getTestEnv, loadRecordedEvents, recordedBlueskyEvents, startBuiltApp, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import pg from 'pg';
import { type Browser, type Locator, chromium } from 'playwright-core';
import { createTestDatabase, createTopics, produceAvro, storedOffsetsTotal } from '../testing/test-support';

// Runs the built app (npx nx build dedup-persister): the page is the bundle the build makes.
const log = createLogger('test', 'silent');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const OUT = join(__dirname, '..', 'test-output');
const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const MINUTE = 60_000;

/** The recorded events, each file moved to end a few minutes before now (files 10 minutes apart), in their own order and spacing. */
function recordedNearNow(now: number): WikiChange[] {
  const byFile = new Map<string, WikiChange[]>();
  for (const e of loadRecordedEvents()) {
    const n = normalizeRecentChange(e.json, { receivedTime: now, sseId: null });
    if (n.kind !== 'change') continue;
    const l = byFile.get(e.file) ?? [];
    l.push(n.change);
    byFile.set(e.file, l);
  }
  return [...byFile.values()].flatMap((list, i) => {
    const last = Math.max(...list.map((c) => c.event_time));
    const shift = now - 5 * MINUTE - i * 10 * MINUTE - last;
    return list.map((c) => ({ ...c, event_time: c.event_time + shift }));
  });
}

const attrs = async <T>(rows: Locator, f: (row: Locator) => Promise<T>): Promise<T[]> => Promise.all((await rows.all()).map(f));

/** One-minute windows per wiki, as the aggregator would emit them for these changes. */
function windowsOf(changes: WikiChange[]): WikiAggregate[] {
  const groups = new Map<string, WikiChange[]>();
  for (const c of changes) {
    const k = `${c.wiki}|${Math.floor(c.event_time / MINUTE) * MINUTE}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  return [...groups].map(([k, list]) => {
    const [wiki, start] = k.split('|') as [string, string];
    const by = { edit: 0, new: 0, log: 0, categorize: 0, external: 0, unknown: 0 };
    let added = 0;
    let removed = 0;
    const pages = new Map<string, number>();
    for (const c of list) {
      by[c.type] += 1;
      const d = (c.length_new ?? 0) - (c.length_old ?? 0);
      if (d > 0) added += d;
      else removed -= d;
      pages.set(c.title, (pages.get(c.title) ?? 0) + 1);
    }
    const times = list.map((c) => c.event_time);
    return {
      wiki,
      window_start: Number(start),
      window_end: Number(start) + MINUTE,
      total: list.length,
      by_type: by,
      bot: list.filter((c) => c.bot).length,
      human: list.filter((c) => !c.bot).length,
      bytes_added: added,
      bytes_removed: removed,
      distinct_editors: new Set(list.map((c) => c.user)).size,
      top_pages: topEntries(pages, 10),
      first_event_time: Math.min(...times),
      last_event_time: Math.max(...times),
    };
  });
}

describe('analytics page in a real headless Chromium', () => {
  it('the analytics page should draw the recorded activity, update live, filter, switch to 24 h and follow an alert to its changes', async () => {
    const env = await getTestEnv();
    const connection = testConnection(env);
    const db = await createTestDatabase(env.databaseUrl);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const prefix = uniqueName('it.dp.page');
    const topics = { changes: `${prefix}.changes`, aggregates: `${prefix}.aggregates`, alerts: `${prefix}.alerts`, bsky: `${prefix}.bsky` };
    await createTopics(connection, Object.values(topics), 3);
    const now = Date.now();
    const changes = recordedNearNow(now);
    const windows = windowsOf(changes);
    const spike = windows.filter((w) => w.wiki === 'wikidatawiki').sort((a, b) => b.total - a.total)[0] as WikiAggregate;
    const alert: WikiAlert = {
      id: `spike:wikidatawiki:${spike.window_start}`,
      kind: 'spike',
      source: 'aggregator',
      subject: 'wikidatawiki',
      severity: 'warning',
      observed: spike.total,
      expected: 40,
      score: 9.5,
      window_start: spike.window_start,
      window_end: spike.window_end,
      status: null,
      previous_status: null,
      message: `wikidatawiki: ${spike.total} changes in the window, expected about 40`,
      created_at: spike.window_end + 2_000,
    };
    const feed = async (c: WikiChange[], w: WikiAggregate[], a: WikiAlert[]) => {
      await produceAvro({ connection, registryUrl: env.registryUrl, topic: topics.changes, schema: WikiChangeSchema, records: c, key: (x) => x.wiki, log });
      await produceAvro({ connection, registryUrl: env.registryUrl, topic: topics.aggregates, schema: WikiAggregateSchema, records: w, key: (x) => x.wiki, log });
      if (a.length) await produceAvro({ connection, registryUrl: env.registryUrl, topic: topics.alerts, schema: WikiAlertSchema, records: a, key: (x) => x.subject, log });
    };
    await feed(changes, windows, [alert]);
    // The Bluesky recordings, moved into the last half hour (5 s apart, in their recorded order).
    const bsky: BlueskyEvent[] = recordedBlueskyEvents(jetstreamEventOrThrow).map((e, i) => ({ ...e, event_time: now - 30 * MINUTE + i * 5_000 }));
    const bskyIds = new Set(bsky.map((e) => e.id));
    await produceAvro({ connection, registryUrl: env.registryUrl, topic: topics.bsky, schema: BlueskyEventSchema, records: bsky, key: (e) => e.did, log });
    const group = `${prefix}.group`;
    const port = await freePort();
    let proc: ServiceProcess | undefined;
    let browser: Browser | undefined;
    try {
      proc = startBuiltApp('dedup-persister', {
        KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
        SCHEMA_REGISTRY_URL: env.registryUrl,
        DATABASE_URL: db.url,
        CHANGES_TOPICS: topics.changes,
        AGGREGATES_TOPICS: topics.aggregates,
        ALERTS_TOPICS: topics.alerts,
        BLUESKY_TOPICS: topics.bsky,
        DLQ_TOPIC: `${prefix}.dlq`,
        CONSUMER_GROUP: group,
        HTTP_PORT: String(port),
        LOG_LEVEL: 'warn',
      });
      const base = `http://127.0.0.1:${port}`;
      await proc.waitReady(`${base}/readyz`, 90_000);
      const fed = changes.length + windows.length + 1 + bsky.length;
      await waitFor(async () => (await storedOffsetsTotal(client, group)) >= fed, 'every recorded record stored', 90_000, 250);

      browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const failed: string[] = [];
      page.on('requestfailed', (r) => failed.push(r.url()));
      await page.goto(`${base}/analytics/#range=1h`);
      // Charts drawn with data: uPlot's canvas is there and the series carries the recorded changes.
      await page.waitForFunction(`Number(document.getElementById('series-chart').dataset.total) > 0`);
      expect(await page.locator('#series-chart canvas').count()).toBeGreaterThan(0);
      expect(await page.locator('#bots-chart canvas').count()).toBeGreaterThan(0);
      expect(Number(await page.locator('#series-chart').getAttribute('data-total'))).toBe(changes.length);
      expect(Number(await page.locator('#total-changes').getAttribute('data-value'))).toBe(changes.length);
      expect(await page.locator('#top-wikis li[data-key="wikidatawiki"]').count()).toBe(1);
      expect(await page.locator('#by-type li').count()).toBeGreaterThanOrEqual(2);
      expect(await page.locator('#by-namespace li').count()).toBeGreaterThanOrEqual(2);
      expect(await page.locator('#top-editors li').count()).toBeGreaterThan(0);
      expect(await page.locator('#alerts li.alert').count()).toBe(1);
      // The Bluesky panel: every stored event (a repeated delivery counted once), per collection/operation.
      await page.waitForFunction(`Number(document.getElementById('bsky-total')?.dataset.value) > 0`);
      expect(Number(await page.locator('#bsky-total').getAttribute('data-value'))).toBe(bskyIds.size);
      const firstById = new Map<string, BlueskyEvent>();
      for (const e of bsky) if (!firstById.has(e.id)) firstById.set(e.id, e);
      const likes = [...firstById.values()].filter((e) => blueskySubject(e) === 'app.bsky.feed.like:create').length;
      expect(Number(await page.locator('#bsky-subjects li[data-key="app.bsky.feed.like:create"]').getAttribute('data-value'))).toBe(likes);
      expect(await page.locator('#bsky-subjects li[data-key="identity"]').count()).toBe(1);
      expect(await page.locator('#bsky-subjects li[data-key="account"]').count()).toBe(1);
      // Live: more Bluesky events (new ids, same recorded content) reach the panel without a reload.
      const liveBsky = bsky.slice(0, 10).map((e, i) => ({ ...e, id: `${e.id}#live`, event_time: now - MINUTE + i * 1000 }));
      await produceAvro({ connection, registryUrl: env.registryUrl, topic: topics.bsky, schema: BlueskyEventSchema, records: liveBsky, key: (e) => e.did, log });
      await page.waitForFunction(`Number(document.getElementById('bsky-total')?.dataset.value) === ${bskyIds.size + liveBsky.length}`, undefined, { timeout: 60_000 });
      await page.locator('#feed tr.change').first().waitFor();
      expect(await page.locator('#feed a.diff').first().getAttribute('href')).toMatch(/^https:\/\/[a-z.]+\/w\/index\.php\?/);
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'analytics-1h.png'), fullPage: true });

      // Live: a new window and its changes arrive over server-sent events, without a reload.
      const updates = Number(await page.locator('body').getAttribute('data-updates'));
      const liveChanges = changes.filter((c) => c.wiki === 'enwiki').slice(0, 5).map((c, i) => ({ ...c, id: `${c.id}#live`, event_time: now - MINUTE + i * 1000 }));
      await feed(liveChanges, windowsOf(liveChanges), []);
      await page.locator(`#feed tr.change[data-id="${liveChanges[0]?.id}"]`).waitFor({ timeout: 60_000 });
      await page.waitForFunction(`Number(document.body.dataset.updates) > ${updates}`, undefined, { timeout: 60_000 });
      await page.waitForFunction(`Number(document.getElementById('series-chart').dataset.total) === ${changes.length + liveChanges.length}`);

      // A filter on the live feed: only that wiki's changes, each linking to its diff.
      await page.fill('#feed-filters input[name="wiki"]', 'wikidatawiki');
      await page.selectOption('#feed-filters select[name="type"]', 'edit');
      await page.click('#feed-filters button[type="submit"]');
      await page.waitForFunction(`document.getElementById('feed').dataset.filter === JSON.stringify({ wiki: 'wikidatawiki', type: 'edit' })`);
      const rows = page.locator('#feed tr.change');
      expect(await rows.count()).toBeGreaterThan(0);
      expect(new Set(await attrs(rows, (r) => Promise.all([r.getAttribute('data-wiki'), r.getAttribute('data-type')]).then((x) => x.join('/'))))).toEqual(new Set(['wikidatawiki/edit']));

      // The 24 h range: hour steps, the same changes.
      await page.click('#ranges button[data-range="24h"]');
      await page.waitForFunction(`document.body.dataset.range === '24h' && document.getElementById('series-chart').dataset.step === 'hour'`);
      expect(Number(await page.locator('#series-chart').getAttribute('data-total'))).toBe(changes.length + liveChanges.length);
      await page.screenshot({ path: join(OUT, 'analytics-24h-filtered.png'), fullPage: true });

      // An alert leads to its window and the changes behind it.
      await page.click('#alerts a.alert-link');
      await page.locator('#drill').waitFor({ state: 'visible' });
      await page.waitForFunction(`Number(document.getElementById('drill').dataset.changes) > 0`);
      const drilled = await attrs(page.locator('#drill-changes tr.change'), (r) => r.getAttribute('data-wiki'));
      expect(drilled.length).toBe(Math.min(200, spike.total));
      expect(new Set(drilled)).toEqual(new Set(['wikidatawiki']));
      expect(await page.locator('#drill-window').textContent()).toContain(`${spike.total.toLocaleString('en')} changes in the window`);
      await page.screenshot({ path: join(OUT, 'analytics-alert-drill.png'), fullPage: true });
      expect(statSync(join(OUT, 'analytics-1h.png')).size).toBeGreaterThan(20_000);
      expect(failed).toEqual([]);
    } finally {
      await browser?.close();
      proc?.kill('SIGTERM');
      await proc?.exited();
      await client.end();
      await db.drop();
    }
  }, 300_000);
});
