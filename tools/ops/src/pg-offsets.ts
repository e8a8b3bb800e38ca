import { PERSISTER_OFFSETS_TABLE } from '@wikimonitor/domain';
import { WikiMonitorError } from '@wikimonitor/service-kit';
import pg from 'pg';

export interface StoredOffset {
  topic: string;
  partition: number;
  nextOffset: number;
}

/**
 * The dedup-persister's offsets in PostgreSQL (table consumer_offsets of
 * apps/dedup-persister/migrations: consumer_group, topic, partition, next_offset, updated_at), the
 * position the persister seeks to on every partition assignment.
 */
export interface PersisterOffsets {
  /** The group's rows (every topic); an absent table reads as none. */
  load(groupId: string): Promise<StoredOffset[]>;
  /**
   * Writes the offsets in one transaction, rows locked first; `guard` runs inside it before the
   * commit (the Kafka commit, which the broker refuses once a consumer joined), and a throw rolls
   * everything back.
   */
  write(groupId: string, offsets: StoredOffset[], guard: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

const UNDEFINED_TABLE = '42P01';

function dbError(err: unknown, what: string): WikiMonitorError {
  return new WikiMonitorError('DB_FAILED', `${what} (PostgreSQL table ${PERSISTER_OFFSETS_TABLE}): ${(err as Error).message}`, { cause: err, retriable: true });
}

export function createPersisterOffsets(databaseUrl: string, connectTimeoutMs: number): PersisterOffsets {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: connectTimeoutMs });
  let connected: Promise<void> | undefined;
  const connect = () =>
    (connected ??= client.connect().then(
      () => undefined,
      (err: unknown) => {
        throw dbError(err, 'connecting to the database');
      },
    ));
  return {
    async load(groupId) {
      await connect();
      try {
        const r = await client.query<{ topic: string; partition: number; next_offset: string }>(
          `SELECT topic, partition, next_offset FROM ${PERSISTER_OFFSETS_TABLE} WHERE consumer_group = $1 ORDER BY topic, partition`,
          [groupId],
        );
        return r.rows.map((row) => ({ topic: row.topic, partition: row.partition, nextOffset: Number(row.next_offset) }));
      } catch (err) {
        if ((err as { code?: string }).code === UNDEFINED_TABLE) return [];
        throw dbError(err, 'reading the stored offsets');
      }
    },
    async write(groupId, offsets, guard) {
      await connect();
      try {
        await client.query('BEGIN');
        // A persister that is (against the checks) still writing holds these rows in its own transaction: wait for it, then overwrite.
        await client.query(`SELECT 1 FROM ${PERSISTER_OFFSETS_TABLE} WHERE consumer_group = $1 FOR UPDATE`, [groupId]);
        await client.query(
          `INSERT INTO ${PERSISTER_OFFSETS_TABLE} (consumer_group, topic, partition, next_offset, updated_at) ` +
            `SELECT $1, t, p, o, now() FROM unnest($2::text[], $3::int4[], $4::int8[]) AS u(t, p, o) ` +
            `ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at`,
          [groupId, offsets.map((o) => o.topic), offsets.map((o) => o.partition), offsets.map((o) => o.nextOffset)],
        );
        await guard();
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (err instanceof WikiMonitorError) throw err;
        throw dbError(err, 'writing the new offsets');
      }
    },
    async close() {
      if (connected) await client.end().catch(() => undefined);
    },
  };
}
