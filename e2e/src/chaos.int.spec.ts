import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ScenarioResult, DEFAULT_WORK_DIR, runScenario, summaryTable } from './chaos';
import { expectExactOutcome } from './expect-outcome';
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
      expectExactOutcome(r, EVENTS);
      if (r.alert.expected) expect(r.alert.raised).toBe(true);
    },
    420_000,
  );
});
