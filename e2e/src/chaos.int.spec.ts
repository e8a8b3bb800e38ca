import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ScenarioResult, DEFAULT_WORK_DIR, runScenario, summaryTable } from './chaos';
import { CI_SCENARIOS, selectScenarios } from './scenarios';
import { type PrivateStack, startPrivateStack } from './stack';
import { type WebhookReceiver, startWebhookReceiver } from './webhook';

// The short chaos suite CI runs: the whole pipeline (six real processes from dist/, built by the
// test target's dependsOn) on a private stack, the CI scenarios on 1,500 real recorded events.
// The full suite is `node --import tsx e2e/src/chaos-run.ts` (e2e/README.md).
const EVENTS = 1500;
const RATE = 75;
const SEED = 20261121;

describe('chaos (short suite)', () => {
  let stack: PrivateStack;
  let webhook: WebhookReceiver;
  const workDir = join(DEFAULT_WORK_DIR, `jest-${Date.now()}`);
  const results: ScenarioResult[] = [];
  const log = (line: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

  beforeAll(async () => {
    mkdirSync(workDir, { recursive: true });
    webhook = await startWebhookReceiver();
    stack = await startPrivateStack({ proxyListener: true, log });
  }, 300_000);

  afterAll(async () => {
    await webhook?.close();
    await stack?.down();
    if (results.length) log(`\n${summaryTable(results)}`);
  }, 120_000);

  it.each(selectScenarios(CI_SCENARIOS).map((s) => [s.name, s] as const))(
    'the pipeline should lose nothing, hold every event once on every topic, dead-letter exactly the poison, match the recount of the distinct input and return to lag 0 under %s',
    async (_name, scenario) => {
      const r = await runScenario(scenario, { scenarios: [scenario], events: EVENTS, rate: RATE, seed: SEED, stack, useProxy: true, workDir, log }, webhook);
      results.push(r);
      expect(r.failures).toEqual([]);
      expect({ eventsIn: r.eventsIn, stored: r.stored, lost: r.lost, topicDuplicates: r.topicDuplicates, rowDuplicates: r.rowDuplicates, unexpected: r.unexpected, aggregatesEqualRecount: r.aggregatesEqualRecount }).toEqual({
        eventsIn: r.poison.filter((p) => p.expected === 'published').length + EVENTS,
        stored: r.eventsIn,
        lost: 0,
        topicDuplicates: 0,
        rowDuplicates: 0,
        unexpected: 0,
        aggregatesEqualRecount: true,
      });
      expect(r.deadLettered).toBe(r.expectedDeadLetters);
      expect(r.aggregates?.compared).toBeGreaterThan(0);
      expect(r.groups.map((g) => [g.totalLag, g.status])).toEqual([
        [0, 'OK'],
        [0, 'OK'],
        [0, 'OK'],
      ]);
      if (r.alert.expected) expect(r.alert.raised).toBe(true);
    },
    420_000,
  );
});
