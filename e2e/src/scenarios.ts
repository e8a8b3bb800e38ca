import { PRODUCER_TUNING } from '@wikimonitor/kafka';
import type { AppName } from '@wikimonitor/testing';
import type { PoisonEvent } from './input';
import { type Pipeline, SCALABLE_APPS, type ScalableApp } from './pipeline';
import { poisonEvents } from './poison-input';
import type { BlueskyPlan } from './bluesky';
import type { PrivateStack } from './stack';
import type { TcpProxy } from './tcp-proxy';

/** A poison record the suite writes itself, and the app that must dead-letter it. */
export interface PoisonRecord {
  topic: 'raw' | 'changes.all';
  key: string;
  value: Buffer;
  /** Apps that must each put it in the DLQ (a record in wiki.changes.all reaches two consumers). */
  apps: AppName[];
}

export interface ScenarioContext {
  pipeline: Pipeline;
  /** Present when the suite runs on its private stack (restart scenarios need it). */
  stack?: PrivateStack;
  /** Present when the apps reach the broker through the suite's proxy. */
  proxy?: TcpProxy;
  /** Seeded, so a run can be repeated. */
  rng(): number;
  /** Planned input duration (events / rate). */
  inputMs: number;
  /** Milliseconds since the producer started (the input began). */
  elapsed(): number;
  /** Waits until `elapsed()` reaches `ms` (returns at once if it already has). */
  at(ms: number): Promise<void>;
  sleep(ms: number): Promise<void>;
  /** Records a fault action in the scenario's log. */
  note(text: string): void;
  /** Kill -9 of instance `ordinal` (default 0) of `app`, restarted after `restartAfterMs`. */
  kill(app: AppName, restartAfterMs: number, ordinal?: number): Promise<void>;
  /** Scales a consumer app to `count` instances (new ones awaited ready; the highest ordinals stopped with SIGTERM). */
  scale(app: ScalableApp, count: number): Promise<void>;
  /** SIGTERM of one instance, started again and awaited ready (one step of a Kubernetes rollout). */
  restart(app: ScalableApp, ordinal: number): Promise<void>;
  /** How many instances of `app` are part of the run now. */
  instances(app: AppName): number;
  /** Produces poison records into the run's topics (expected in the DLQ afterwards). */
  poison(records: PoisonRecord[]): Promise<void>;
  /** Declares that lag-monitor must raise a non-OK alert for `group` between `from` and `to` (epoch ms). */
  expectAlert(group: string, from: number, to: number): void;
}

export interface Scenario {
  name: string;
  description: string;
  /** What the scenario needs from the suite's environment. */
  needs: Array<'private-stack' | 'proxy'>;
  /** Extra sse-source flags (faults of the source itself). */
  sourceArgs?: string[];
  /** Whether the producer's SSE-side dead letters (malformed events) are part of the expectation. */
  malformedFromSource?: boolean;
  /** Poison events the source serves among the real ones (in the input file), each with its expected outcome. */
  poisonEvents?: () => PoisonEvent[];
  /**
   * Fewest stream connections the source must have served (its /stats), so a scenario about resumes
   * cannot pass without resuming (e.g. a lifetime flag the source ignored).
   */
  minConnections?: (inputMs: number) => number;
  /** Instances of each consumer app started before the input flows (default 1 each). */
  instances?: Partial<Record<ScalableApp, number>>;
  /** The aggregator's mode (two-stage: wiki.changes.all keyed by wiki:title, the recount per partition). */
  aggregation?: 'two-stage';
  /**
   * Also run the enricher against the Action API stand-in (started with `apiArgs`): every record of the
   * human-content route must end once, enriched or in the error topic with one of `errorReasons`.
   */
  enricher?: { apiArgs: string[]; errorReasons: readonly string[] };
  /**
   * A Bluesky scenario (issue 19): the Jetstream stand-in and the producer with SOURCE=jetstream instead of
   * the Wikimedia pipeline; `bluesky.run` injects the faults and `run` is not called (see bluesky.ts).
   */
  bluesky?: BlueskyPlan;
  /** Bound on the scenario's faults (default: the input's duration + 2 min). */
  faultBudgetMs?: (inputMs: number) => number;
  /** Injects the faults while the input flows; resolves when the last fault is lifted. */
  run(ctx: ScenarioContext): Promise<void>;
}

const between = (rng: () => number, lo: number, hi: number) => lo + rng() * (hi - lo);

/** `count` kill -9s of the given apps spread over the input (one per slot, at a random moment in it). */
function killSeries(apps: AppName[] | 'random', count: number, pick?: (ctx: ScenarioContext, i: number) => AppName, ordinal?: (ctx: ScenarioContext, app: AppName) => number) {
  return async (ctx: ScenarioContext) => {
    const from = 0.1 * ctx.inputMs;
    const slot = (0.75 * ctx.inputMs) / count;
    for (let i = 0; i < count; i++) {
      await ctx.at(from + i * slot + ctx.rng() * slot * 0.6);
      const app = pick ? pick(ctx, i) : apps === 'random' ? 'producer' : (apps[i % apps.length] as AppName);
      await ctx.kill(app, Math.round(between(ctx.rng, 300, 3000)), ordinal?.(ctx, app) ?? 0);
    }
  };
}

const KILLABLE: AppName[] = ['producer', 'filter-router', 'aggregator', 'dedup-persister', 'lag-monitor'];

function corrupt(kind: 'text' | 'truncated' | 'unknown-schema', i: number): Buffer {
  if (kind === 'text') return Buffer.from(`{"poison":${i}} not avro`);
  if (kind === 'truncated') return Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff]);
  const b = Buffer.alloc(12, 0x41);
  b[0] = 0;
  b.writeInt32BE(2_000_000_000 - i, 1);
  return b;
}

/**
 * The longest a delivery may wait in the producers (libs/kafka PRODUCER_TUNING; a transactional producer
 * caps it at its transaction timeout, which is lower): an outage longer than this fails deliveries,
 * and only a resend (the same records, or the whole aborted transaction) keeps them.
 */
export const MESSAGE_TIMEOUT_MS = PRODUCER_TUNING['message.timeout.ms'];
export const LONG_OUTAGE_MS = MESSAGE_TIMEOUT_MS + 15_000;

/** eventstreams-resume: the source's connection lifetime. */
export const RESUME_LIFETIME_MS = 3_000;

/** The scenarios with one instance of each app. */
const SINGLE_INSTANCE_SCENARIOS: Scenario[] = [
  {
    name: 'kill-producer',
    description: 'kill -9 of the producer at 3 random moments, restarted after 0.3-3 s',
    needs: [],
    run: killSeries(['producer'], 3),
  },
  {
    name: 'kill-filter-router',
    description: 'kill -9 of the filter-router at 3 random moments (open transactions aborted by the restart)',
    needs: [],
    run: killSeries(['filter-router'], 3),
  },
  {
    name: 'kill-aggregator',
    description: 'kill -9 of the aggregator at 3 random moments (state restored from its changelog)',
    needs: [],
    run: killSeries(['aggregator'], 3),
  },
  {
    name: 'kill-dedup-persister',
    description: 'kill -9 of the dedup-persister at 3 random moments (batch transactions in PostgreSQL lost whole)',
    needs: [],
    run: killSeries(['dedup-persister'], 3),
  },
  {
    name: 'kill-lag-monitor',
    description: 'kill -9 of the lag-monitor at 2 random moments',
    needs: [],
    run: killSeries(['lag-monitor'], 2),
  },
  {
    name: 'kill-random',
    description: 'kill -9 of a random app at 6 random moments',
    needs: [],
    run: killSeries('random', 6, (ctx) => KILLABLE[Math.floor(ctx.rng() * KILLABLE.length)] as AppName),
  },
  {
    name: 'broker-restart',
    description: 'Kafka stopped at 40% of the input, started again 5 s later',
    needs: ['private-stack'],
    async run(ctx) {
      const stack = ctx.stack as PrivateStack;
      await ctx.at(0.4 * ctx.inputMs);
      ctx.note('stopping kafka');
      await stack.stop('kafka');
      await ctx.sleep(5000);
      ctx.note('starting kafka');
      await stack.start('kafka');
      ctx.note('kafka healthy');
    },
  },
  {
    name: 'registry-restart',
    description: 'Apicurio stopped for 10 s; filter-router and dedup-persister kill -9ed and restarted while it is down',
    needs: ['private-stack'],
    async run(ctx) {
      const stack = ctx.stack as PrivateStack;
      await ctx.at(0.3 * ctx.inputMs);
      ctx.note('stopping apicurio');
      await stack.stop('apicurio');
      await ctx.kill('filter-router', 1000);
      await ctx.kill('dedup-persister', 1000);
      await ctx.sleep(10_000);
      ctx.note('starting apicurio');
      await stack.start('apicurio');
      ctx.note('apicurio healthy');
    },
  },
  {
    name: 'postgres-restart',
    description: 'PostgreSQL stopped at 40% of the input for 12 s (lag-monitor must alert on the persister)',
    needs: ['private-stack'],
    async run(ctx) {
      const stack = ctx.stack as PrivateStack;
      await ctx.at(0.4 * ctx.inputMs);
      ctx.note('stopping postgres');
      const from = Date.now();
      await stack.stop('pg');
      await ctx.sleep(12_000);
      ctx.note('starting postgres');
      await stack.start('pg');
      ctx.note('postgres healthy');
      ctx.expectAlert(ctx.pipeline.names.groups.persister, from, Date.now() + 15_000);
    },
  },
  {
    name: 'consumer-stall',
    description: 'dedup-persister frozen (SIGSTOP) for 15 s while input flows (lag-monitor must alert), then resumed',
    needs: [],
    async run(ctx) {
      await ctx.at(0.3 * ctx.inputMs);
      ctx.note('SIGSTOP dedup-persister');
      const from = Date.now();
      ctx.pipeline.apps['dedup-persister'].pause();
      await ctx.sleep(15_000);
      ctx.note('SIGCONT dedup-persister');
      ctx.pipeline.apps['dedup-persister'].resume();
      ctx.expectAlert(ctx.pipeline.names.groups.persister, from, Date.now() + 10_000);
    },
  },
  {
    name: 'network-delay',
    description: 'proxy between apps and broker: 150 ms latency + 0-100 ms jitter per chunk, 100 KB/s per connection, 20%-80% of the input',
    needs: ['proxy'],
    async run(ctx) {
      const proxy = ctx.proxy as TcpProxy;
      await ctx.at(0.2 * ctx.inputMs);
      ctx.note('latency 150 ms, jitter 100 ms, 100 KB/s');
      proxy.setFaults({ latencyMs: 150, jitterMs: 100, bytesPerSecond: 100 * 1024 });
      await ctx.at(0.8 * ctx.inputMs);
      proxy.clearFaults();
      ctx.note('network healed');
    },
  },
  {
    name: 'network-loss',
    description: 'proxy: random connection resets (0.3/s per connection), two 3 s black holes and 2 s of refused connections, 20%-80% of the input',
    needs: ['proxy'],
    async run(ctx) {
      const proxy = ctx.proxy as TcpProxy;
      await ctx.at(0.2 * ctx.inputMs);
      ctx.note('random resets 0.3/s');
      proxy.setFaults({ resetsPerSecond: 0.3, latencyMs: 20, jitterMs: 30 });
      await ctx.at(0.35 * ctx.inputMs);
      ctx.note('black hole 3 s');
      proxy.setFaults({ paused: true });
      await ctx.sleep(3000);
      proxy.setFaults({ paused: false });
      await ctx.at(0.55 * ctx.inputMs);
      ctx.note(`reset all (${proxy.resetAll()} connections) and refuse for 2 s`);
      proxy.setFaults({ refuseConnections: true });
      await ctx.sleep(2000);
      proxy.setFaults({ refuseConnections: false });
      await ctx.at(0.65 * ctx.inputMs);
      ctx.note('black hole 3 s');
      proxy.setFaults({ paused: true });
      await ctx.sleep(3000);
      proxy.setFaults({ paused: false });
      await ctx.at(0.8 * ctx.inputMs);
      proxy.clearFaults();
      ctx.note(`network healed (${proxy.stats().resets} resets in all)`);
    },
  },
  {
    name: 'sse-drop-429',
    description: 'SSE source answers 429 (Retry-After: 1) to the first 3 connection attempts, then drops the connection every 500 events',
    needs: [],
    sourceArgs: ['--status', '429', '--status-times', '3', '--fault', 'drop', '--fault-every', '500'],
    async run() {
      /* the source injects the faults */
    },
  },
  {
    name: 'sse-stall',
    description: 'SSE source stalls 6 s (no byte) every 1,000 events; the producer gives up after 4 s idle and resumes',
    needs: [],
    sourceArgs: ['--fault', 'stall', '--fault-every', '1000', '--fault-ms', '6000'],
    async run() {
      /* the source injects the faults */
    },
  },
  {
    name: 'poison',
    description: 'malformed SSE events every 200 events, 5 corrupt records in the raw topic, 3 in wiki.changes.all',
    needs: [],
    sourceArgs: ['--fault', 'malformed', '--fault-every', '200'],
    malformedFromSource: true,
    async run(ctx) {
      await ctx.at(0.5 * ctx.inputMs);
      const kinds = ['text', 'truncated', 'unknown-schema'] as const;
      ctx.note('producing 5 corrupt raw records and 3 corrupt wiki.changes.all records');
      await ctx.poison([
        ...Array.from({ length: 5 }, (_, i): PoisonRecord => ({ topic: 'raw', key: `poison-raw-${i}`, value: corrupt(kinds[i % 3] as (typeof kinds)[number], i), apps: ['filter-router'] })),
        ...Array.from({ length: 3 }, (_, i): PoisonRecord => ({ topic: 'changes.all', key: `poison-all-${i}`, value: corrupt(kinds[i % 3] as (typeof kinds)[number], 10 + i), apps: ['aggregator', 'dedup-persister'] })),
      ]);
    },
  },
  {
    name: 'eventstreams-resume',
    description:
      'EventStreams resume: timestamp ids, the connection cut every 3 s, each reconnect served by the other datacenter (other meta.offset), same-millisecond bursts, kill -9 of the producer at 4 random moments',
    needs: [],
    sourceArgs: ['--id-mode', 'timestamp', '--lifetime-ms', String(RESUME_LIFETIME_MS), '--datacenter', 'alternate', '--burst', 'every=6s,duration=1s,factor=4'],
    // The producer's resume margin (CHAOS_RESUME_MARGIN_MS, 1 s) is well under this lifetime: see pipeline.ts.
    // At least half the cuts the lifetime alone makes over the input, on top of the first connection.
    minConnections: (inputMs) => 1 + Math.floor(inputMs / RESUME_LIFETIME_MS / 2),
    run: killSeries(['producer'], 4),
  },
  {
    name: 'poison-extended',
    description: 'every poison class of issue 13 point 4 (oversized / over-long SSE line, future and pre-2001 dates, wrong types, no meta.id, canary, deep log_params, invalid UTF-8 ...) served by the source among the real events',
    needs: [],
    poisonEvents,
    async run() {
      /* the source serves the poison */
    },
  },
  {
    name: 'broker-outage-long',
    description: `Kafka stopped at 30% of the input for ${LONG_OUTAGE_MS / 1000} s, longer than the producers' message.timeout.ms (${MESSAGE_TIMEOUT_MS / 1000} s): the resend path`,
    needs: ['private-stack'],
    faultBudgetMs: (inputMs) => inputMs + LONG_OUTAGE_MS + 180_000,
    async run(ctx) {
      const stack = ctx.stack as PrivateStack;
      await ctx.at(0.3 * ctx.inputMs);
      ctx.note(`stopping kafka for ${LONG_OUTAGE_MS / 1000} s`);
      await stack.stop('kafka');
      await ctx.sleep(LONG_OUTAGE_MS);
      ctx.note('starting kafka');
      await stack.start('kafka');
      ctx.note('kafka healthy');
    },
  },
];

/** Three instances of every consumer app. */
const THREE_EACH: Record<ScalableApp, number> = { 'filter-router': 3, aggregator: 3, 'dedup-persister': 3, 'lag-monitor': 3 };

/** Multi-instance scenarios: rebalances under load (issue 14). */
export const SCALING_SCENARIOS: Scenario[] = [
  {
    name: 'scale-out',
    description: 'every consumer app scaled 1 -> 3 instances at 15% of the input (all four at once, new instances join while input flows)',
    needs: [],
    faultBudgetMs: (inputMs) => inputMs + 240_000,
    async run(ctx) {
      await ctx.at(0.15 * ctx.inputMs);
      await Promise.all(SCALABLE_APPS.map((a) => ctx.scale(a, 3)));
    },
  },
  {
    name: 'scale-in',
    description: 'three instances of every consumer app from the start, scaled 3 -> 1 at 40% of the input (SIGTERM of the highest ordinals, all four apps at once)',
    needs: [],
    instances: THREE_EACH,
    faultBudgetMs: (inputMs) => inputMs + 240_000,
    async run(ctx) {
      await ctx.at(0.4 * ctx.inputMs);
      await Promise.all(SCALABLE_APPS.map((a) => ctx.scale(a, 1)));
    },
  },
  {
    name: 'rolling-restart',
    description: 'three instances of every consumer app; from 10% of the input each instance is SIGTERMed and replaced in turn, highest ordinal first, waiting for readiness between steps (a Kubernetes rollout), the four apps rolled at once',
    needs: [],
    instances: THREE_EACH,
    faultBudgetMs: (inputMs) => inputMs + 300_000,
    async run(ctx) {
      await ctx.at(0.1 * ctx.inputMs);
      await Promise.all(
        SCALABLE_APPS.map(async (a) => {
          for (let i = ctx.instances(a) - 1; i >= 0; i--) await ctx.restart(a, i);
        }),
      );
    },
  },
  {
    name: 'kill-one-of-three',
    description: 'three instances of every consumer app; kill -9 of one random instance of each app in turn (filter-router, aggregator, dedup-persister, lag-monitor), restarted after 0.3-3 s',
    needs: [],
    instances: THREE_EACH,
    run: killSeries(SCALABLE_APPS.slice(), SCALABLE_APPS.length, undefined, (ctx, app) => Math.floor(ctx.rng() * ctx.instances(app))),
  },
  {
    name: 'two-stage-scale',
    description:
      'the aggregator in two stages (wiki.changes.all keyed by wiki:title, every wiki over every partition): 1 -> 3 aggregator instances while the input flows, kill -9 of one of them, then 3 -> 1; the recount per input partition',
    needs: [],
    aggregation: 'two-stage',
    async run(ctx) {
      await ctx.at(0.2 * ctx.inputMs);
      await ctx.scale('aggregator', 3);
      await ctx.at(0.45 * ctx.inputMs);
      await ctx.kill('aggregator', Math.round(between(ctx.rng, 300, 3000)), Math.floor(ctx.rng() * 3));
      await ctx.at(0.7 * ctx.inputMs);
      await ctx.scale('aggregator', 1);
    },
  },
];

/** The enricher's maxlag answers outside the faults: Retry-After 1 s, 2% of the calls. */
const ENRICHER_API = ['--maxlag-retry-after', '1', '--fail-rate', 'maxlag=0.02', '--seed', '20'];

/** The pipeline with the enricher against the Action API stand-in (issue 20). */
export const ENRICHER_SCENARIOS: Scenario[] = [
  {
    name: 'kill-enricher',
    description: 'the enricher beside the pipeline (2% maxlag answers); kill -9 of the enricher 3 times, restarted after 0.3-3 s',
    needs: [],
    enricher: { apiArgs: ENRICHER_API, errorReasons: ['maxlag'] },
    run: killSeries(['enricher'], 3),
  },
  {
    name: 'api-down',
    description: 'the enricher beside the pipeline; the Action API stand-in killed -9 at 30% of the input and down for 20 s (longer than the retries last: records end in the error topic as connection failures)',
    needs: [],
    enricher: { apiArgs: ENRICHER_API, errorReasons: ['maxlag', 'connection-timeout', 'read-timeout'] },
    async run(ctx) {
      await ctx.at(0.3 * ctx.inputMs);
      await ctx.kill('action-api-source', 20_000);
    },
  },
  {
    name: 'maxlag-rise',
    description: 'the enricher beside the pipeline; maxlag answers rise tenfold (2% -> 20% of the calls) from 20% to 70% of the input',
    needs: [],
    enricher: { apiArgs: ENRICHER_API, errorReasons: ['maxlag'] },
    async run(ctx) {
      const control = `${ctx.pipeline.apps['action-api-source']?.url}/control/faults`;
      const setRate = async (rate: string) => {
        const res = await fetch(control, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failRate: `maxlag=${rate}` }) });
        if (!res.ok) throw new Error(`the stand-in refused the faults: ${res.status}`);
      };
      await ctx.at(0.2 * ctx.inputMs);
      await setRate('0.2');
      ctx.note('maxlag answers 2% -> 20%');
      await ctx.at(0.7 * ctx.inputMs);
      await setRate('0.02');
      ctx.note('maxlag answers back to 2%');
    },
  },
];

/** Every scenario of the full suite, in the order they run. */
const notThePipeline = async () => {
  throw new Error('a Bluesky scenario runs its bluesky.run');
};

/**
 * Bluesky Jetstream (issue 19): the producer with SOURCE=jetstream against apps/jetstream-source, and the
 * downstream apps on Bluesky. Each checks bsky.raw.events (every distinct event of the stand-in's log
 * exactly once, keyed by did), the DLQ (exactly its malformed frames, once each), every routed topic,
 * bsky_events and the windows against the recount (src/bluesky.ts).
 */
const BLUESKY_SCENARIOS: Scenario[] = [
  {
    name: 'bsky-kill-producer',
    description: 'Bluesky: kill -9 of the Jetstream producer at 3 random moments, restarted after 0.3-3 s (resume by cursor)',
    needs: [],
    run: notThePipeline,
    bluesky: {
      // A kill can land while the producer starts (before it connects); at least one resume by cursor must happen.
      minConnections: 2,
      async run(ctx) {
        const from = 0.1 * ctx.inputMs;
        const slot = (0.75 * ctx.inputMs) / 3;
        for (let i = 0; i < 3; i++) {
          await ctx.at(from + i * slot + ctx.rng() * slot * 0.6);
          await ctx.killProducer(Math.round(between(ctx.rng, 300, 3000)));
        }
      },
    },
  },
  {
    name: 'bsky-drops',
    description: 'Bluesky: the stand-in drops each connection after 600 messages, and every connection at 4 random moments',
    needs: [],
    run: notThePipeline,
    bluesky: {
      sourceArgs: ['--fault', 'drop', '--fault-every', '600'],
      minConnections: 5,
      async run(ctx) {
        for (let i = 0; i < 4; i++) {
          await ctx.at((0.1 + 0.2 * i + ctx.rng() * 0.1) * ctx.inputMs);
          await ctx.dropConnections();
        }
      },
    },
  },
  {
    name: 'bsky-stall',
    description: 'Bluesky: the stand-in stops sending for 8 s twice (the producer\'s idle timeout, 4 s, reconnects with its cursor), and stalls 3 s after every 1,000 messages',
    needs: [],
    run: notThePipeline,
    bluesky: {
      sourceArgs: ['--fault', 'stall', '--fault-every', '1000', '--fault-ms', '3000'],
      minConnections: 3,
      async run(ctx) {
        for (const at of [0.25, 0.6]) {
          await ctx.at(at * ctx.inputMs);
          await ctx.stall(8_000);
          await ctx.sleep(8_000);
        }
      },
    },
  },
];

export const SCENARIOS: Scenario[] = [...SINGLE_INSTANCE_SCENARIOS, ...SCALING_SCENARIOS, ...ENRICHER_SCENARIOS, ...BLUESKY_SCENARIOS];

/** The short version CI runs (a few minutes): EventStreams resume with producer kills, kill -9s of random apps, a PostgreSQL restart with its alert, poison, kill -9 of one of three instances of each consumer app, and the two-stage aggregator scaled 1 -> 3 -> 1 with a kill. */
export const CI_SCENARIOS = ['eventstreams-resume', 'kill-random', 'postgres-restart', 'poison', 'kill-one-of-three', 'two-stage-scale'];

export function selectScenarios(names: string[] | undefined): Scenario[] {
  if (!names || names.length === 0) return SCENARIOS;
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return SCENARIOS.filter((s) => names.includes(s.name));
}
