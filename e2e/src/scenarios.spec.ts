import { PRODUCER_TUNING } from '@wikimonitor/kafka';
import { type ScenarioResult, scenarioFigures, summaryTable, topicBreakdown } from './chaos';
import { countTopicCopies } from './checks';
import { CHAOS_RESUME_MARGIN_MS } from './pipeline';
import { CI_SCENARIOS, LONG_OUTAGE_MS, type ScenarioContext, selectScenarios } from './scenarios';
import type { PrivateStack } from './stack';

const byName = (name: string) => {
  const [s] = selectScenarios([name]);
  if (!s) throw new Error(name);
  return s;
};

describe('chaos scenarios', () => {
  it('the short CI suite should include eventstreams-resume', () => {
    expect(selectScenarios(CI_SCENARIOS).map((s) => s.name)).toContain('eventstreams-resume');
  });

  it('eventstreams-resume should ask the source for timestamp ids, short connection lifetimes and alternating datacenters, and require the resumes to happen', () => {
    const s = byName('eventstreams-resume');
    const args = s.sourceArgs ?? [];
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    expect(value('--id-mode')).toBe('timestamp');
    expect(Number(value('--lifetime-ms'))).toBeLessThanOrEqual(5_000);
    expect(value('--datacenter')).toBe('alternate');
    expect(s.minConnections?.(20_000)).toBeGreaterThanOrEqual(4);
    // A resume re-reads `margin` of event time out of the `lifetime` a connection delivers: it must progress.
    expect(CHAOS_RESUME_MARGIN_MS).toBeLessThan(Number(value('--lifetime-ms')) / 2);
  });

  it('broker-outage-long should keep Kafka down longer than the producers message.timeout.ms', async () => {
    expect(LONG_OUTAGE_MS).toBeGreaterThan(PRODUCER_TUNING['message.timeout.ms']);
    const events: string[] = [];
    let clock = 0;
    const stack = { stop: async (svc: string) => void events.push(`stop ${svc}@${clock}`), start: async (svc: string) => void events.push(`start ${svc}@${clock}`) } as unknown as PrivateStack;
    const ctx = {
      stack,
      inputMs: 10_000,
      at: async (ms: number) => void (clock = Math.max(clock, ms)),
      sleep: async (ms: number) => void (clock += ms),
      note: () => undefined,
    } as unknown as ScenarioContext;
    await byName('broker-outage-long').run(ctx);
    expect(events).toEqual([`stop kafka@3000`, `start kafka@${3000 + LONG_OUTAGE_MS}`]);
    expect(byName('broker-outage-long').faultBudgetMs?.(10_000)).toBeGreaterThan(10_000 + LONG_OUTAGE_MS);
  });

  /** A scenario context that records scale, restart and kill calls against a clock the scenario moves. */
  function recordingContext(start: Record<string, number>) {
    const calls: string[] = [];
    const count = { ...start };
    let clock = 0;
    let r = 0;
    const ctx = {
      inputMs: 10_000,
      rng: () => ((r = (r * 7 + 3) % 10) / 10),
      at: async (ms: number) => void (clock = Math.max(clock, ms)),
      sleep: async (ms: number) => void (clock += ms),
      note: () => undefined,
      instances: (app: string) => count[app] ?? 1,
      scale: async (app: string, n: number) => {
        calls.push(`scale ${app} ${n}@${clock}`);
        count[app] = n;
      },
      restart: async (app: string, ordinal: number) => void calls.push(`restart ${app}-${ordinal}`),
      kill: async (app: string, _ms: number, ordinal = 0) => void calls.push(`kill ${app}-${ordinal}`),
    } as unknown as ScenarioContext;
    return { ctx, calls };
  }
  const THREE = { 'filter-router': 3, aggregator: 3, 'dedup-persister': 3, 'lag-monitor': 3 };

  it('scale-out should take every consumer app from 1 to 3 instances while the input flows', async () => {
    const s = byName('scale-out');
    expect(s.instances).toBeUndefined();
    const { ctx, calls } = recordingContext({});
    await s.run(ctx);
    expect(calls.sort()).toEqual(['scale aggregator 3@1500', 'scale dedup-persister 3@1500', 'scale filter-router 3@1500', 'scale lag-monitor 3@1500']);
  });

  it('scale-in should start three of each and take every consumer app down to 1', async () => {
    const s = byName('scale-in');
    expect(s.instances).toEqual(THREE);
    const { ctx, calls } = recordingContext(THREE);
    await s.run(ctx);
    expect(calls.sort()).toEqual(['scale aggregator 1@4000', 'scale dedup-persister 1@4000', 'scale filter-router 1@4000', 'scale lag-monitor 1@4000']);
  });

  it('rolling-restart should restart every instance of every consumer app once, highest ordinal first', async () => {
    const s = byName('rolling-restart');
    const { ctx, calls } = recordingContext(THREE);
    await s.run(ctx);
    for (const app of Object.keys(THREE)) expect(calls.filter((c) => c.startsWith(`restart ${app}-`))).toEqual([`restart ${app}-2`, `restart ${app}-1`, `restart ${app}-0`]);
    expect(calls).toHaveLength(12);
  });

  it('kill-one-of-three should kill -9 one existing instance of each consumer app in turn', async () => {
    const s = byName('kill-one-of-three');
    const { ctx, calls } = recordingContext(THREE);
    await s.run(ctx);
    expect(calls.map((c) => c.replace(/-\d$/, ''))).toEqual(['kill filter-router', 'kill aggregator', 'kill dedup-persister', 'kill lag-monitor']);
    for (const c of calls) expect(Number(c.slice(-1))).toBeLessThan(3);
    expect(CI_SCENARIOS).toContain('kill-one-of-three');
  });

  it('selectScenarios should refuse an unknown name', () => {
    expect(() => selectScenarios(['nope'])).toThrow(/unknown scenario/);
  });
});

describe('chaos summary', () => {
  const result = {
    scenario: 'x',
    passed: false,
    eventsIn: 3,
    stored: 3,
    lost: 1,
    topics: [countTopicCopies('run.raw.changes', ['a', 'a', 'b']), countTopicCopies('run.changes.all', ['a', 'b'])],
    topicDuplicates: 1,
    rowDuplicates: 2,
    aggregatesEqualRecount: false,
    sourceConnections: 5,
    aggregates: { compared: 4, openAtEnd: 1, late: 0, diff: { equal: 3, missing: [], unexpected: [], different: [] }, topicDiff: { equal: 4, missing: [], unexpected: [], different: [] } },
    deadLettered: 0,
    expectedDeadLetters: 0,
    recoverySeconds: null,
    maxLagSeconds: { 'dedup-persister': 12.25, aggregator: 3 },
    groups: [],
    alert: { expected: false, raised: false, detail: 'none' },
  } as unknown as ScenarioResult;

  it('scenarioFigures should give lost, topic duplicates per topic, row duplicates and the recount result', () => {
    expect(scenarioFigures(result)).toMatchObject({
      lost: 1,
      topicDuplicates: 1,
      topicDuplicatesByTopic: { 'raw.changes': 1, 'changes.all': 0 },
      rowDuplicates: 2,
      aggregatesEqualRecount: false,
      aggregates: { closedWindows: 4, equalStored: 3, equalOnTopic: 4 },
      maxLagSeconds: { 'dedup-persister': 12.25, aggregator: 3 },
    });
    expect(topicBreakdown(result)).toBe('raw.changes 1');
    expect(summaryTable([result]).split('\n')[2]).toBe('| x | 3 | 3 | 1 | 1 (raw.changes 1) | 2 | NO: 3/4 windows | 0/0 | - | 12.3 (dedup-persister) | - | none | FAIL |');
  });
});
