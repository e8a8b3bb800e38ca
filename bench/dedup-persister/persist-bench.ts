// dedup-persister throughput: rows/s persisted end to end from Kafka (consume, Avro decode, dedup,
// one PostgreSQL transaction per batch with its offsets) next to a bare COPY of the same rows into an
// identical table (same columns, primary key and indexes) of the same database, in the same run.
//   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/dedup-persister/persist-bench.ts [--copies 20] [--rounds 2] [--batch-sizes 500,2000,5000] [--methods copy,insert]
import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { CHANGE_COLUMNS, changeRow, copyTextLine, normalizeRecentChange } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { loadRecordedEvents, uniqueName } from '@wikimonitor/testing';
import pg from 'pg';
import { createApp } from '../../apps/dedup-persister/src/app';
import { loadConfig } from '../../apps/dedup-persister/src/config';
import { defaultMigrationsDir, loadMigrations, migrate } from '../../apps/dedup-persister/src/migrate';
import { copyFrom } from '../../apps/dedup-persister/src/pg-copy';
import { createTestDatabase, createTopics, produceAvro } from '../../apps/dedup-persister/testing/test-support';
import { benchArgs, machine, progress, stackEnv, table, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/dedup-persister/persist-bench.ts [options]
dedup-persister rows/s end to end beside a bare COPY of the same rows, on the local stack.
  --copies N             copies of the recorded events, each with fresh ids (default 20)
  --rounds N             alternating rounds (default 2)
  --batch-sizes a,b,...  BATCH_SIZE values (default 500,2000,5000)
  --methods copy,insert  WRITE_METHOD values (default copy,insert)`,
  {
    copies: { type: 'string', int: { min: 1 }, default: '20' },
    rounds: { type: 'string', int: { min: 1 }, default: '2' },
    'batch-sizes': { type: 'string', list: true, int: { min: 1 }, default: '500,2000,5000' },
    methods: { type: 'string', list: true, choices: ['copy', 'insert'], default: 'copy,insert' },
  },
);
const COPIES = ARGS.copies;
const ROUNDS = ARGS.rounds;
const BATCH_SIZES = ARGS['batch-sizes'];
const METHODS = ARGS.methods;
const log = createLogger('bench', 'warn');

interface Run {
  round: number;
  method: 'copy' | 'insert';
  batchSize: number;
  rows: number;
  /** Persister: first batch committed to last batch committed (steady state, excludes group join). */
  persisterRowsPerSec: number;
  /** Persister: app start to last row committed (includes start-up, migrations, group join). */
  persisterWallRowsPerSec: number;
  copyRowsPerSec: number;
  ratio: number;
  batches: number;
  p50BatchMs: number;
}

/** The recorded events, `copies` times, each copy with its own ids (every row distinct). */
function input(): WikiChange[] {
  const base = loadRecordedEvents().flatMap((e) => {
    const n = normalizeRecentChange(e.json, { receivedTime: Date.now(), sseId: null });
    return n.kind === 'change' ? [n.change] : [];
  });
  return Array.from({ length: COPIES }, (_, k) => base.map((c) => ({ ...c, id: `${c.id}#${k}` }))).flat();
}

/** Reference: the same rows rendered to COPY text and copied, in one statement, into an identical empty table. */
async function bareCopy(url: string, changes: WikiChange[]): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE copy_reference (LIKE wiki_changes INCLUDING ALL)');
    await c.query('CHECKPOINT').catch(() => undefined);
    const t0 = performance.now();
    const lines = changes.map((ch, i) => copyTextLine(changeRow(ch, { topic: 'reference', partition: 0, offset: i })));
    const n = await copyFrom(c, `COPY copy_reference (${CHANGE_COLUMNS.join(', ')}) FROM STDIN`, lines);
    const seconds = (performance.now() - t0) / 1000;
    if (n !== changes.length) throw new Error(`COPY wrote ${n} rows, expected ${changes.length}`);
    return n / seconds;
  } finally {
    await c.end();
  }
}

async function persist(env: Record<string, string>, url: string, topic: string, method: 'copy' | 'insert', batchSize: number, expected: number) {
  const ends: number[] = [];
  const sizes: number[] = [];
  const latencies: number[] = [];
  let last = 0;
  const started = performance.now();
  const app = createApp({
    config: loadConfig({
      KAFKA_BOOTSTRAP_SERVERS: env['KAFKA_BOOTSTRAP_SERVERS'],
      SCHEMA_REGISTRY_URL: env['SCHEMA_REGISTRY_URL'],
      DATABASE_URL: url,
      CHANGES_TOPICS: topic,
      AGGREGATES_TOPICS: 'none',
      ALERTS_TOPICS: 'none',
      DLQ_TOPIC: `${topic}.dlq`,
      CONSUMER_GROUP: uniqueName('bench.dp.group'),
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      BATCH_SIZE: String(batchSize),
      WRITE_METHOD: method,
    }),
    log,
    handleSignals: false,
    onBatch: (o) => {
      const now = performance.now();
      latencies.push(now - (last || started));
      last = now;
      ends.push(now);
      sizes.push(o.written.changes);
    },
  });
  const deadline = Date.now() + 15 * 60_000;
  while (sizes.reduce((s, n) => s + n, 0) < expected) {
    if (Date.now() > deadline) throw new Error('persister did not finish');
    await new Promise((r) => setTimeout(r, 5));
  }
  const done = performance.now();
  await app.service.close();
  const steadyRows = sizes.slice(1).reduce((s, n) => s + n, 0);
  const steadySeconds = ((ends[ends.length - 1] as number) - (ends[0] as number)) / 1000;
  const sorted = latencies.slice(1).sort((a, b) => a - b);
  return {
    steady: steadyRows / steadySeconds,
    wall: expected / ((done - started) / 1000),
    batches: sizes.length,
    p50: sorted[Math.floor(sorted.length / 2)] ?? NaN,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function main(): Promise<void> {
  const env = stackEnv();
  const changes = input();
  const connection = { bootstrapServers: env['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092', clientId: 'bench', securityProtocol: 'plaintext' as const, connectAttempts: 5 };
  const topic = uniqueName('bench.dp.changes');
  await createTopics(connection, [topic], 6);
  progress(`producing ${changes.length} records to ${topic}`);
  await produceAvro({ connection, registryUrl: env['SCHEMA_REGISTRY_URL'] ?? '', topic, schema: WikiChangeSchema, records: changes, key: (c) => c.wiki, log });

  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const method of METHODS) {
      for (const batchSize of BATCH_SIZES) {
        const db = await createTestDatabase(env['DATABASE_URL'] ?? '', 'dp_bench');
        try {
          const c = new pg.Client({ connectionString: db.url });
          await c.connect();
          await migrate(c, loadMigrations(defaultMigrationsDir()), log, { apply: true });
          await c.end();
          // Alternate which goes first, so neither always meets a warmer cache.
          let copyRate = 0;
          let p: Awaited<ReturnType<typeof persist>>;
          if (round % 2) {
            copyRate = await bareCopy(db.url, changes);
            p = await persist(env, db.url, topic, method, batchSize, changes.length);
          } else {
            p = await persist(env, db.url, topic, method, batchSize, changes.length);
            copyRate = await bareCopy(db.url, changes);
          }
          const run: Run = {
            round,
            method,
            batchSize,
            rows: changes.length,
            persisterRowsPerSec: Math.round(p.steady),
            persisterWallRowsPerSec: Math.round(p.wall),
            copyRowsPerSec: Math.round(copyRate),
            ratio: Math.round((p.steady / copyRate) * 100) / 100,
            batches: p.batches,
            p50BatchMs: Math.round(p.p50 * 10) / 10,
          };
          runs.push(run);
          progress(`round ${round} ${method} batch ${batchSize}: persister ${run.persisterRowsPerSec} rows/s, COPY ${run.copyRowsPerSec} rows/s, ratio ${run.ratio}`);
        } finally {
          await db.drop();
        }
      }
    }
  }

  const rows: Array<Array<string | number>> = [['write method', 'batch size', 'persister rows/s (median)', 'bare COPY rows/s (median)', 'ratio (median)', 'per round (persister / COPY)', 'p50 batch ms', 'incl. start-up rows/s']];
  const summary = [];
  for (const method of METHODS) {
    for (const batchSize of BATCH_SIZES) {
      const rs = runs.filter((r) => r.method === method && r.batchSize === batchSize);
      const s = {
        method,
        batchSize,
        persisterRowsPerSec: Math.round(median(rs.map((r) => r.persisterRowsPerSec))),
        copyRowsPerSec: Math.round(median(rs.map((r) => r.copyRowsPerSec))),
        ratio: Math.round(median(rs.map((r) => r.ratio)) * 100) / 100,
        wallRowsPerSec: Math.round(median(rs.map((r) => r.persisterWallRowsPerSec))),
        p50BatchMs: median(rs.map((r) => r.p50BatchMs)),
      };
      summary.push(s);
      rows.push([method, batchSize, s.persisterRowsPerSec, s.copyRowsPerSec, `${s.ratio.toFixed(2)}x`, rs.map((r) => `${r.persisterRowsPerSec} / ${r.copyRowsPerSec}`).join(', '), s.p50BatchMs, s.wallRowsPerSec]);
    }
  }
  const command = `TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/dedup-persister/persist-bench.ts --copies ${COPIES} --rounds ${ROUNDS} --batch-sizes ${BATCH_SIZES.join(',')} --methods ${METHODS.join(',')}`;
  const md = `# dedup-persister throughput

Rows persisted per second end to end from Kafka (consume, Avro decode, dedup, one PostgreSQL
transaction per batch holding the rows and the batch's offsets), next to a bare \`COPY\` of the same
${changes.length} rows (${COPIES} copies of the 4053 recorded events, distinct ids) into an identical empty table
(\`LIKE wiki_changes INCLUDING ALL\`: same primary key and indexes) in the same database, in the same run.
Each configuration gets a fresh database; persister and COPY alternate which goes first per round.
Persister rate: first batch committed to last batch committed (steady state; the group join and
start-up are excluded there and included in the last column). COPY rate: rendering the rows to COPY text
plus the COPY itself. Medians of ${ROUNDS} rounds.

${table(rows)}

Machine: ${JSON.stringify(machine())} (shared with other engineers' test runs while measuring)

Command: \`${command}\`
`;
  console.log(md);
  writeReport('dedup-persister', { machine: machine(), command, copies: COPIES, rows: changes.length, summary, runs }, md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
