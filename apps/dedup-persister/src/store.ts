import {
  AGGREGATE_COLUMNS,
  AGGREGATE_COLUMN_TYPES,
  ALERT_COLUMNS,
  ALERT_COLUMN_TYPES,
  BSKY_COLUMNS,
  BSKY_COLUMN_TYPES,
  CHANGE_COLUMNS,
  CHANGE_COLUMN_TYPES,
  type DbErrorClass,
  type NextOffset,
  type SqlValue,
  classifyDbError,
  copyTextLine,
} from '@wikimonitor/domain';
import { maintainChangeRollups, maintainWindowRollups, readWindowsForUpdate } from './rollup-store';
import { type Logger, WikiMonitorError } from '@wikimonitor/service-kit';
import pg from 'pg';
import { copyFrom } from './pg-copy';

/** The tables a batch writes: bsky = bsky_events (Bluesky events, migration 003). */
export const TABLE_KINDS = ['changes', 'aggregates', 'alerts', 'bsky'] as const;
export type TableKind = (typeof TABLE_KINDS)[number];
export type WriteMethod = 'copy' | 'stage' | 'insert';

/** One batch, deduplicated, as rows; written with its offsets in one transaction. */
export interface RowBatch {
  changes: SqlValue[][];
  aggregates: SqlValue[][];
  alerts: SqlValue[][];
  /** Optional: absent = none (callers that know no Bluesky events). */
  bsky?: SqlValue[][];
  offsets: NextOffset[];
}

export interface WriteResult {
  /** Rows that were new (changes, alerts) or new or changed (aggregates); the rest were duplicates. */
  written: Record<TableKind, number>;
}

export interface RejectedRow {
  table: TableKind;
  index: number;
  error: { code: string; message: string };
}

/** The persistence port the consumer talks to (a fake in unit tests). */
export interface PersistStore {
  write(batch: RowBatch): Promise<WriteResult>;
  /** Finds the rows PostgreSQL refuses (data errors), writing nothing. */
  findRejects(batch: RowBatch): Promise<RejectedRow[]>;
  loadOffsets(partitions: Array<{ topic: string; partition: number }>): Promise<NextOffset[]>;
  close(): Promise<void>;
}

/** A database failure classified by SQLSTATE, with `retriable` set for the retry loop. */
/** Node's codes for a server certificate that failed verification: no retry can fix them. */
const TLS_VERIFY_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
]);

export function dbError(err: unknown, what: string): WikiMonitorError {
  if (err instanceof WikiMonitorError) return err;
  const sqlState = (err as { code?: string }).code;
  if (sqlState && TLS_VERIFY_CODES.has(sqlState)) {
    return new WikiMonitorError('DB_FAILED', `${what}: PostgreSQL's TLS certificate was not accepted (${sqlState}: ${(err as Error).message}); check DATABASE_SSL_CA and the host name in DATABASE_URL`, {
      cause: err,
      retriable: false,
      details: { sqlState, class: 'fatal' },
    });
  }
  const cls: DbErrorClass = classifyDbError(sqlState);
  return new WikiMonitorError('DB_FAILED', `${what}: ${(err as Error).message}`, { cause: err, retriable: cls === 'retriable', details: { sqlState, class: cls } });
}

export function dbErrorClass(err: unknown): DbErrorClass {
  const d = err instanceof WikiMonitorError ? err.details : undefined;
  return (d?.['class'] as DbErrorClass | undefined) ?? (err instanceof WikiMonitorError && err.retriable ? 'retriable' : 'fatal');
}

const UNIQUE_VIOLATION = '23505';

const list = (cols: readonly string[]) => cols.join(', ');
const unnestArgs = (cols: readonly string[], types: Record<string, string>) => cols.map((c, i) => `$${i + 1}::${types[c] === 'jsonb' ? 'text' : types[c]}[]`).join(', ');
const selectList = (cols: readonly string[], types: Record<string, string>) => cols.map((c) => (types[c] === 'jsonb' ? `${c}::jsonb` : c)).join(', ');

export const SQL = {
  insertChanges: `INSERT INTO wiki_changes (${list(CHANGE_COLUMNS)}) SELECT * FROM unnest(${unnestArgs(CHANGE_COLUMNS, CHANGE_COLUMN_TYPES)}) ON CONFLICT (id) DO NOTHING RETURNING id`,
  createStage: `CREATE TEMP TABLE IF NOT EXISTS stage_changes (LIKE wiki_changes INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
  copyStage: `COPY stage_changes (${list(CHANGE_COLUMNS)}) FROM STDIN`,
  copyDirect: `COPY wiki_changes (${list(CHANGE_COLUMNS)}) FROM STDIN`,
  storedIds: `SELECT id FROM wiki_changes WHERE id = ANY($1::text[])`,
  mergeStage: `INSERT INTO wiki_changes (${list(CHANGE_COLUMNS)}) SELECT ${list(CHANGE_COLUMNS)} FROM stage_changes ON CONFLICT (id) DO NOTHING RETURNING id`,
  insertBsky: `INSERT INTO bsky_events (${list(BSKY_COLUMNS)}) SELECT ${selectList(BSKY_COLUMNS, BSKY_COLUMN_TYPES)} FROM unnest(${unnestArgs(BSKY_COLUMNS, BSKY_COLUMN_TYPES)}) AS u(${list(BSKY_COLUMNS)}) ON CONFLICT (id) DO NOTHING`,
  insertAlerts: `INSERT INTO wiki_alerts (${list(ALERT_COLUMNS)}) SELECT * FROM unnest(${unnestArgs(ALERT_COLUMNS, ALERT_COLUMN_TYPES)}) ON CONFLICT (id) DO NOTHING`,
  upsertAggregates: (() => {
    const keys = ['wiki', 'window_start', 'window_end'];
    const data = AGGREGATE_COLUMNS.filter((c) => !keys.includes(c) && !c.startsWith('kafka_'));
    const pos = AGGREGATE_COLUMNS.filter((c) => c.startsWith('kafka_'));
    return (
      `INSERT INTO wiki_aggregates (${list(AGGREGATE_COLUMNS)}) ` +
      `SELECT ${selectList(AGGREGATE_COLUMNS, AGGREGATE_COLUMN_TYPES)} FROM unnest(${unnestArgs(AGGREGATE_COLUMNS, AGGREGATE_COLUMN_TYPES)}) AS u(${list(AGGREGATE_COLUMNS)}) ` +
      `ON CONFLICT (wiki, window_start, window_end) DO UPDATE SET ${[...data, ...pos].map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, persisted_at = now() ` +
      `WHERE (${data.map((c) => `wiki_aggregates.${c}`).join(', ')}) IS DISTINCT FROM (${data.map((c) => `EXCLUDED.${c}`).join(', ')}) ` +
      // The windows inserted or changed: only these move the rollups.
      `RETURNING wiki, window_start, window_end`
    );
  })(),
  upsertOffsets:
    `INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset, updated_at) ` +
    `SELECT $1, t, p, o, now() FROM unnest($2::text[], $3::int4[], $4::int8[]) AS u(t, p, o) ` +
    `ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at`,
  loadOffsets:
    `SELECT o.topic, o.partition, o.next_offset FROM consumer_offsets o ` +
    `JOIN unnest($2::text[], $3::int4[]) AS u(t, p) ON o.topic = u.t AND o.partition = u.p WHERE o.consumer_group = $1`,
};

/** The rows whose id PostgreSQL returned (INSERT .. RETURNING id): the ones that were new. */
function insertedOf(rows: SqlValue[][], returned: Array<{ id: string }>): SqlValue[][] {
  if (returned.length === rows.length) return rows;
  const ids = new Set(returned.map((r) => r.id));
  return rows.filter((r) => ids.has(r[0] as string));
}

/** Rows to column arrays, for `unnest($1::type[], ...)`. */
export function columnsOf(rows: readonly SqlValue[][], width: number): SqlValue[][] {
  const cols: SqlValue[][] = Array.from({ length: width }, () => new Array<SqlValue>(rows.length));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as SqlValue[];
    for (let c = 0; c < width; c++) (cols[c] as SqlValue[])[r] = row[c] as SqlValue;
  }
  return cols;
}

export interface PgStoreOptions {
  databaseUrl: string;
  /** TLS for the writer's connection, as for the pools (see pgTls). */
  ssl?: pg.ClientConfig['ssl'];
  groupId: string;
  method: WriteMethod;
  connectTimeoutMs: number;
  log: Logger;
  /** Shared pool for reads (offsets on assignment). */
  pool: pg.Pool;
}

/**
 * PostgreSQL store. Writes go through one dedicated connection (batches are sequential), each batch
 * in one transaction with its offsets; a connection that failed is dropped and a new one opened on
 * the next attempt. Duplicates are absorbed by ON CONFLICT, so a retried transaction whose COMMIT
 * outcome was unknown cannot write a row twice.
 */
export function createPgStore(opts: PgStoreOptions): PersistStore {
  let writer: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;

  const drop = (c: pg.Client) => {
    if (writer === c) writer = undefined;
    c.end().catch(() => undefined);
  };

  async function getWriter(): Promise<pg.Client> {
    if (writer) return writer;
    connecting ??= (async () => {
      const c = new pg.Client({ connectionString: opts.databaseUrl, ssl: opts.ssl, connectionTimeoutMillis: opts.connectTimeoutMs, application_name: 'dedup-persister-writer' });
      c.on('error', (err) => {
        opts.log.warn({ err: err.message }, 'writer connection lost');
        drop(c);
      });
      try {
        await c.connect();
        if (opts.method !== 'insert') await c.query(SQL.createStage);
      } catch (err) {
        drop(c);
        throw dbError(err, 'connecting the writer');
      }
      writer = c;
      return c;
    })().finally(() => (connecting = undefined));
    return connecting;
  }

  async function insertRows(c: pg.Client, table: TableKind, rows: SqlValue[][], method: WriteMethod): Promise<number> {
    if (!rows.length) return 0;
    if (table === 'changes') return (await insertChanges(c, rows, method)).length;
    return (await insertOthers(c, table, rows)).rowCount ?? 0;
  }

  /** Writes change rows; returns the rows that were new (the rest were stored already). */
  async function insertChanges(c: pg.Client, rows: SqlValue[][], method: WriteMethod): Promise<SqlValue[][]> {
    if (!rows.length) return [];
    if (method === 'copy') return copyChanges(c, rows);
    if (method === 'stage') return stageChanges(c, rows);
    const res = await c.query<{ id: string }>({ name: 'dp_insert_changes', text: SQL.insertChanges, values: columnsOf(rows, CHANGE_COLUMNS.length) });
    return insertedOf(rows, res.rows);
  }

  async function insertOthers(c: pg.Client, table: 'aggregates' | 'alerts' | 'bsky', rows: SqlValue[][]) {
    const [name, text, width] =
      table === 'alerts'
        ? ['dp_insert_alerts', SQL.insertAlerts, ALERT_COLUMNS.length]
        : table === 'bsky'
          ? ['dp_insert_bsky', SQL.insertBsky, BSKY_COLUMNS.length]
          : ['dp_upsert_aggregates', SQL.upsertAggregates, AGGREGATE_COLUMNS.length];
    return c.query<Record<string, unknown>>({ name, text, values: columnsOf(rows, width) });
  }

  /**
   * Windows: the stored versions are read (locked) first, then upserted; the windows PostgreSQL
   * reports as inserted or changed move the rollups by (new - stored), in this same transaction.
   */
  async function writeWindows(c: pg.Client, rows: SqlValue[][]): Promise<number> {
    if (!rows.length) return 0;
    const before = await readWindowsForUpdate(c, rows);
    const res = await insertOthers(c, 'aggregates', rows);
    await maintainWindowRollups(c, rows, before, res.rows);
    return res.rowCount ?? 0;
  }

  /** COPY into a temporary staging table, then INSERT .. SELECT .. ON CONFLICT DO NOTHING. */
  async function stageChanges(c: pg.Client, rows: SqlValue[][]): Promise<SqlValue[][]> {
    await copyFrom(c, SQL.copyStage, rows.map(copyTextLine));
    return insertedOf(rows, (await c.query<{ id: string }>(SQL.mergeStage)).rows);
  }

  /**
   * Drops the ids already stored (one primary-key probe), then COPYs the rest straight into the
   * table: nearly the cost of a bare COPY. Should another writer store one of those ids meanwhile,
   * the COPY fails on the primary key; the batch then goes through the staging path instead, in the
   * same transaction, so the outcome is the same either way.
   */
  async function copyChanges(c: pg.Client, rows: SqlValue[][]): Promise<SqlValue[][]> {
    const stored = new Set((await c.query<{ id: string }>({ name: 'dp_stored_ids', text: SQL.storedIds, values: [rows.map((r) => r[0])] })).rows.map((r) => r.id));
    const fresh = stored.size ? rows.filter((r) => !stored.has(r[0] as string)) : rows;
    if (!fresh.length) return [];
    await c.query('SAVEPOINT dp_direct_copy');
    try {
      await copyFrom(c, SQL.copyDirect, fresh.map(copyTextLine));
      await c.query('RELEASE SAVEPOINT dp_direct_copy');
      return fresh;
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      await c.query('ROLLBACK TO SAVEPOINT dp_direct_copy');
      opts.log.debug('a concurrent writer stored some of these ids; merging through the staging table');
      return stageChanges(c, fresh);
    }
  }

  async function inTransaction<T>(what: string, fn: (c: pg.Client) => Promise<T>, commit: boolean): Promise<T> {
    const c = await getWriter();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query(commit ? 'COMMIT' : 'ROLLBACK');
      return out;
    } catch (err) {
      const e = dbError(err, what);
      if (e.retriable) drop(c);
      else await c.query('ROLLBACK').catch(() => drop(c));
      throw e;
    }
  }

  return {
    write(batch) {
      return inTransaction(
        'writing a batch',
        async (c) => {
          // Rollups move only with the rows that are new in this transaction: a redelivered row adds nothing.
          const inserted = await insertChanges(c, batch.changes, opts.method);
          await maintainChangeRollups(c, inserted);
          const written = {
            changes: inserted.length,
            aggregates: await writeWindows(c, batch.aggregates),
            alerts: await insertRows(c, 'alerts', batch.alerts, opts.method),
            bsky: await insertRows(c, 'bsky', batch.bsky ?? [], opts.method),
          };
          if (batch.offsets.length) {
            await c.query({
              name: 'dp_upsert_offsets',
              text: SQL.upsertOffsets,
              values: [opts.groupId, batch.offsets.map((o) => o.topic), batch.offsets.map((o) => o.partition), batch.offsets.map((o) => o.nextOffset)],
            });
          }
          return { written };
        },
        true,
      );
    },

    findRejects(batch) {
      return inTransaction(
        'isolating rejected rows',
        async (c) => {
          const rejects: RejectedRow[] = [];
          for (const table of TABLE_KINDS) {
            const rows = batch[table] ?? [];
            for (let index = 0; index < rows.length; index++) {
              await c.query('SAVEPOINT row_check');
              try {
                await insertRows(c, table, [rows[index] as SqlValue[]], 'insert');
                await c.query('RELEASE SAVEPOINT row_check');
              } catch (err) {
                const e = dbError(err, `${table} row`);
                if (dbErrorClass(e) !== 'data') throw e;
                await c.query('ROLLBACK TO SAVEPOINT row_check');
                rejects.push({ table, index, error: { code: 'DB_FAILED', message: e.message } });
              }
            }
          }
          return rejects;
        },
        false,
      );
    },

    async loadOffsets(partitions) {
      if (!partitions.length) return [];
      try {
        const res = await opts.pool.query<{ topic: string; partition: number; next_offset: string }>(SQL.loadOffsets, [
          opts.groupId,
          partitions.map((p) => p.topic),
          partitions.map((p) => p.partition),
        ]);
        return res.rows.map((r) => ({ topic: r.topic, partition: r.partition, nextOffset: Number(r.next_offset) }));
      } catch (err) {
        throw dbError(err, 'loading stored offsets');
      }
    },

    async close() {
      const c = writer ?? (await connecting?.catch(() => undefined));
      writer = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
