import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { createConsumerRunner, createGroupAdmin } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createApp } from './app';
import { BROWSER_ARGS, CHROMIUM, changeCodec, createTopics, fetchGroup, newProducer, produceChanges, startFeed, startStuckConsumer, testMonitorConfig, toChanges, setGroupOffsets } from '../testing/int-support';

const log = createLogger('test', 'silent');
const OUT = join(__dirname, '..', 'test-output');

describe('dashboard in a real headless Chromium', () => {
  it('the dashboard should show each group with its status and live lag, updating without a reload', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.ui');
    const live = `${prefix}.live`;
    const stale = `${prefix}.stale`;
    await createTopics(conn, [live, stale], 2);
    const changes = toChanges(loadRecordedEvents());
    const producer = newProducer(conn, log);
    await producer.start();
    const liveCodec = await changeCodec(env.registryUrl, live);
    const staleCodec = await changeCodec(env.registryUrl, stale);
    await produceChanges(producer, staleCodec, stale, changes.slice(0, 60));
    const feed = startFeed(producer, liveCodec, live, changes, 20);
    // One healthy consumer keeping up with live input; one group that read 5 records per partition and stopped.
    const healthy = createConsumerRunner({ connection: conn, log, groupId: `${prefix}.healthy`, topics: [live], offsets: 'kafka', handle: async () => undefined });
    await healthy.start();
    await setGroupOffsets(conn, `${prefix}.stopped`, stale, 5);

    const app = createApp({ config: testMonitorConfig(conn, env.registryUrl, prefix, { WINDOW_CYCLES: '4' }), log, handleSignals: false });
    let browser: Browser | undefined;
    try {
      await app.nextCycle();
      const base = `http://127.0.0.1:${app.port()}`;
      await waitFor(async () => (await fetchGroup(base, `${prefix}.stopped`))?.status === 'STOP' && (await fetchGroup(base, `${prefix}.healthy`))?.status === 'OK', 'the statuses to settle');

      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: BROWSER_ARGS,
      });
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(base);
      const okRow = page.locator(`tr.group[data-group="${prefix}.healthy"]`);
      const stopRow = page.locator(`tr.group[data-group="${prefix}.stopped"]`);
      await okRow.and(page.locator('[data-status="OK"]')).waitFor();
      await stopRow.and(page.locator('[data-status="STOP"]')).waitFor();

      expect(await okRow.locator('[data-role="status"]').textContent()).toBe('OK');
      expect(await stopRow.locator('[data-role="status"]').textContent()).toBe('STOP');
      expect(await stopRow.locator('[data-role="lag"]').textContent()).toBe('50');
      expect(await stopRow.locator('[data-role="lag-seconds"]').textContent()).toMatch(/^\d+(\.\d)? s$|^\d+m \d\ds$/);
      expect(await page.locator(`tr.topic[data-group="${prefix}.stopped"][data-topic="${stale}"]`).getAttribute('data-status')).toBe('STOP');
      expect(await page.locator('.pill[data-status="STOP"]').getAttribute('data-count')).toBe('1');
      expect(await page.locator('.pill[data-status="OK"]').getAttribute('data-count')).toBe('1');
      expect(await page.locator(`#topics tr[data-topic="${live}"]`).count()).toBe(1);
      expect(await page.locator('#connection').textContent()).toBe('live');

      // Live: new snapshots arrive over server-sent events and the stopped group's lag time grows.
      const cycle = Number(await page.locator('body').getAttribute('data-cycle'));
      const ageBefore = Number(await stopRow.locator('[data-role="lag-seconds"]').getAttribute('data-value'));
      await page.waitForFunction(`Number(document.body.getAttribute('data-cycle')) >= ${cycle + 2}`);
      const ageAfter = Number(await stopRow.locator('[data-role="lag-seconds"]').getAttribute('data-value'));
      expect(ageAfter).toBeGreaterThan(ageBefore);

      mkdirSync(OUT, { recursive: true });
      const shot = join(OUT, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await browser?.close();
      await healthy.close();
      await feed.stop();
      await producer.close();
      await app.service.close();
    }
  });

  it('the dashboard should show an unknown lag as unknown and, once the cycles fail, a stale-since banner', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.ui-stale');
    const topic = `${prefix}.in`;
    const groupId = `${prefix}.half`;
    await createTopics(conn, [topic], 2);
    const codec = await changeCodec(env.registryUrl, topic);
    const producer = newProducer(conn, log);
    await producer.start();
    const changes = toChanges(loadRecordedEvents());
    await produceChanges(producer, codec, topic, changes.slice(0, 10), undefined, 0);
    await produceChanges(producer, codec, topic, changes.slice(10, 30), undefined, 1);
    await producer.close();
    // Commits partition 0 at its end, never partition 1 (which has records): the group's lag is unknown.
    const member = startStuckConsumer(conn, groupId, topic, 10);
    // The monitor's admin is a real client the test holds: closing it makes every cycle fail.
    const admin = await createGroupAdmin({ connection: conn, timeoutMs: 2_000, isolation: 'read_committed' });
    const app = createApp({ config: testMonitorConfig(conn, env.registryUrl, prefix, { COMMIT_LOG_ENABLED: 'false' }), log, handleSignals: false, overrides: { admin: async () => admin } });
    let browser: Browser | undefined;
    try {
      await app.nextCycle();
      const base = `http://127.0.0.1:${app.port()}`;
      await waitFor(async () => (await fetchGroup(base, groupId))?.status === 'UNKNOWN', 'the group UNKNOWN');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
      const page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
      await page.goto(base);
      const row = page.locator(`tr.group[data-group="${groupId}"]`);
      await row.and(page.locator('[data-status="UNKNOWN"]')).waitFor();
      expect(await row.locator('[data-role="lag"]').textContent()).toBe('unknown');
      expect(await row.locator('[data-role="lag-seconds"]').textContent()).toBe('–'); // unknown, not 0 s
      expect(await page.locator('#stale').isHidden()).toBe(true);
      expect(await page.locator('body').getAttribute('data-stale')).toBe('false');

      await admin.close();
      await page.locator('#stale').waitFor({ state: 'visible' });
      const banner = await page.locator('#stale').textContent();
      expect(banner).toMatch(/^stale since \d\d:\d\d:\d\d · data from \d\d:\d\d:\d\d · \d+ failed cycles?: KAFKA_ADMIN_FAILED$/);
      expect(await page.locator('body').getAttribute('data-stale')).toBe('true');
      // The data is as old as the last success, not as the last (stale) broadcast.
      await page.waitForFunction(`/updated [1-9]/.test(document.getElementById('meta').textContent)`);
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'dashboard-stale.png'), fullPage: true });
    } finally {
      await browser?.close();
      await member.stop();
      await app.service.close();
    }
  });
});
