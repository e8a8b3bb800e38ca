import { jetstreamEventOrThrow } from '@wikimonitor/domain';
import { type Browser, chromium } from 'playwright-core';
import { type BlueskyEvent, BlueskyEventSchema } from '@wikimonitor/contracts';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, produceBlueskyEvents, recordedBlueskyEvents, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createApp } from './app';
import type { Snapshot } from './monitor';
import { BROWSER_ARGS, CHROMIUM, setGroupOffsets, testMonitorConfig } from '../testing/int-support';

const log = createLogger('test', 'silent');

describe('dashboard Streams section (Bluesky) in a real headless Chromium', () => {
  it('the dashboard should show the Bluesky stream: records on its topics and the lag of the group reading them', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.bsky');
    // The test's own Bluesky topic prefix stands in for bsky. (STREAMS is configuration).
    const raw = `${prefix}.bsky.raw.events`;
    const events = recordedBlueskyEvents(jetstreamEventOrThrow);
    const codec = createAvroCodec<BlueskyEvent>({ client: createRegistryClient({ url: env.registryUrl }), topic: raw, schema: BlueskyEventSchema });
    await codec.init();
    await produceBlueskyEvents({ connection: conn, codec: codec, topic: raw, partitions: 2, events, log });
    // A filter-router-bsky that routed 5 records of each partition, then stopped.
    const group = `${prefix}.filter-router-bsky`;
    await setGroupOffsets(conn, group, raw, 5);

    const app = createApp({ config: testMonitorConfig(conn, env.registryUrl, prefix, { WINDOW_CYCLES: '4', STREAMS: `wikimedia=${prefix}.wiki.,bluesky=${prefix}.bsky.` }), log, handleSignals: false });
    let browser: Browser | undefined;
    try {
      await app.nextCycle();
      const base = `http://127.0.0.1:${app.port()}`;
      let bsky: Snapshot['streams'][number] | undefined;
      await waitFor(async () => {
        const snap = (await (await fetch(`${base}/api/snapshot`)).json()) as Snapshot;
        bsky = snap.streams.find((s) => s.name === 'bluesky');
        return bsky?.lag !== null && (bsky?.groups.length ?? 0) === 1;
      }, 'the Bluesky stream summary');
      expect(bsky).toMatchObject({ topics: [raw], records: events.length, groups: [group], lag: events.length - 10 });

      browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(base);
      const row = page.locator('#streams tr.stream[data-stream="bluesky"]');
      await row.waitFor();
      await page.waitForFunction(`document.querySelector('#streams tr[data-stream="bluesky"] [data-role="lag"]')?.dataset.value === '${events.length - 10}'`);
      expect(await row.locator('[data-role="records"]').getAttribute('data-value')).toBe(String(events.length));
      expect(await row.locator('[data-role="groups"]').getAttribute('data-value')).toBe('1');
      // The status is the group's (it turns STOP once the window has passed without commits): shown as a badge.
      expect(await row.locator('[data-role="status"]').textContent()).toBe(await row.getAttribute('data-status'));
      expect(await page.locator('#streams tr.stream[data-stream="wikimedia"] [data-role="records"]').getAttribute('data-value')).toBe('0');
      expect(await page.locator(`tr.group[data-group="${group}"]`).count()).toBe(1);
    } finally {
      await browser?.close();
      expect(await app.service.close()).toBe(0);
    }
  }, 120_000);
});
