import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type MigrationFile, parseMigrationFileName, planMigrations } from '@wikimonitor/domain';
import { type Logger, WikiMonitorError } from '@wikimonitor/service-kit';
import type { ClientBase } from 'pg';

/** Serializes concurrent start-ups (two replicas) so one migrates while the other waits. */
const MIGRATION_LOCK_KEY = 0x5744_5031; // "WDP1"

export const MIGRATIONS_TABLE = 'schema_migrations';

export interface LoadedMigration extends MigrationFile {
  file: string;
  sql: string;
}

/** The app's migrations folder: beside the sources (tsx) or beside the bundle (dist). */
export function defaultMigrationsDir(): string {
  const candidates = [join(__dirname, '..', 'migrations'), join(__dirname, 'migrations'), join(process.cwd(), 'apps', 'dedup-persister', 'migrations')];
  return candidates.find((d) => existsSync(d)) ?? (candidates[0] as string);
}

export function loadMigrations(dir: string): LoadedMigration[] {
  if (!existsSync(dir)) throw new WikiMonitorError('CONFIG_INVALID', `migrations directory ${dir} does not exist (set MIGRATIONS_DIR)`);
  const out: LoadedMigration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const parsed = parseMigrationFileName(file);
    if (!parsed) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    out.push({ ...parsed, file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  if (!out.length) throw new WikiMonitorError('CONFIG_INVALID', `no NNN_name.sql migrations in ${dir}`);
  return out;
}

export interface MigrationOutcome {
  from: number;
  to: number;
  applied: number[];
}

/**
 * Brings the schema to the newest known version, one transaction per migration, under an advisory
 * lock. Refuses (DB_SCHEMA_TOO_NEW, not retriable) a database a newer app already migrated, and
 * with `apply: false` refuses a database that is behind instead of changing it.
 */
export async function migrate(client: ClientBase, migrations: LoadedMigration[], log: Logger, opts: { apply: boolean }): Promise<MigrationOutcome> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version int4 PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = (await client.query<{ version: number; name: string; checksum: string }>(`SELECT version, name, checksum FROM ${MIGRATIONS_TABLE} ORDER BY version`)).rows;
    const plan = planMigrations(migrations, applied);
    if (plan.kind === 'too-new') {
      throw new WikiMonitorError('DB_SCHEMA_TOO_NEW', `database schema is at version ${plan.current}, newer than the newest this app knows (${plan.known}); refusing to run`, {
        details: { current: plan.current, known: plan.known },
      });
    }
    if (plan.kind === 'invalid') throw new WikiMonitorError('DB_FAILED', `cannot migrate: ${plan.reason}`);
    if (!plan.pending.length) {
      log.info({ version: plan.current }, 'database schema is up to date');
      return { from: plan.current, to: plan.current, applied: [] };
    }
    if (!opts.apply) {
      throw new WikiMonitorError('DB_FAILED', `database schema is at version ${plan.current} and this app needs ${plan.target}; MIGRATE=false, so refusing to run`);
    }
    const done: number[] = [];
    for (const p of plan.pending) {
      const m = migrations.find((x) => x.version === p.version) as LoadedMigration;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum) VALUES ($1, $2, $3)`, [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new WikiMonitorError('DB_FAILED', `migration ${m.file} failed: ${(err as Error).message}`, { cause: err });
      }
      done.push(m.version);
      log.info({ version: m.version, file: m.file }, 'migration applied');
    }
    return { from: plan.current, to: plan.target, applied: done };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
  }
}
