import { readFileSync } from 'node:fs';
import { type Lifecycle, type Logger, WikiMonitorError, retry } from '@wikimonitor/service-kit';
import pg from 'pg';
import { type LoadedMigration, type MigrationOutcome, migrate } from './migrate';
import { dbError } from './store';

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

/**
 * node-postgres TLS options for a libpq-style mode: `require` encrypts without checking the
 * certificate; `verify-ca` checks it against the CA (DATABASE_SSL_CA, else Node's public CAs);
 * `verify-full` also checks that it names the host in DATABASE_URL.
 */
export function pgTls(mode: SslMode, caFile?: string): pg.ClientConfig['ssl'] {
  if (mode === 'disable') return undefined;
  if (mode === 'require') return { rejectUnauthorized: false };
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new WikiMonitorError('CONFIG_INVALID', `DATABASE_SSL_CA: cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
  }
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}) };
}

export interface ApiPoolOptions {
  databaseUrl: string;
  ssl?: pg.ClientConfig['ssl'];
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  log: Logger;
}

/**
 * The history API's own pool: its size bounds the connections the API can hold (seen in
 * pg_stat_activity as application_name dedup-persister-api), its statement timeout is enforced by
 * the server, and the persister's pool (offsets on assignment, health probe) never waits behind it.
 */
export function createApiPool(opts: ApiPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.databaseUrl,
    ssl: opts.ssl,
    max: opts.poolSize,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    idleTimeoutMillis: 10_000,
    statement_timeout: opts.statementTimeoutMs,
    // Client side too: a server that stops answering does not hold a request forever.
    query_timeout: opts.statementTimeoutMs + 5_000,
    application_name: 'dedup-persister-api',
  });
  pool.on('error', (err) => opts.log.warn({ err: err.message }, 'idle API database connection lost'));
  return pool;
}

export interface DatabaseOptions {
  databaseUrl: string;
  ssl?: pg.ClientConfig['ssl'];
  poolSize: number;
  connectTimeoutMs: number;
  connectAttempts: number;
  statementTimeoutMs: number;
  healthIntervalMs: number;
  migrations: LoadedMigration[];
  applyMigrations: boolean;
  log: Logger;
  onHealth?: (up: boolean) => void;
}

export interface Database extends Lifecycle {
  readonly pool: pg.Pool;
  /** False from a failed probe or write until the next success. */
  isUp(): boolean;
  /** Reports the outcome of a write (or any call) so readiness follows the database at once. */
  report(up: boolean): void;
  migration(): MigrationOutcome | undefined;
}

/**
 * The database part of the service: applies migrations at start (bounded retries while PostgreSQL
 * is not reachable yet; a too-new schema is refused at once), then probes it so readiness is false
 * while it is down. Its pool serves the persister alone (migrations, offsets on assignment, the
 * probe); the history API has its own (createApiPool).
 */
export function createDatabase(opts: DatabaseOptions): Database {
  const { log } = opts;
  const pool = new pg.Pool({
    connectionString: opts.databaseUrl,
    ssl: opts.ssl,
    max: opts.poolSize,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    idleTimeoutMillis: 10_000,
    statement_timeout: opts.statementTimeoutMs,
    application_name: 'dedup-persister',
  });
  // An idle client whose server went away emits here; without a listener it would crash the process.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle database connection lost'));
  let up = false;
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  let outcome: MigrationOutcome | undefined;
  let probing = false;

  const report = (ok: boolean) => {
    if (ok !== up) {
      log[ok ? 'info' : 'warn']({ up: ok }, ok ? 'database reachable' : 'database unreachable');
      up = ok;
      opts.onHealth?.(ok);
    }
  };

  const probe = async () => {
    if (probing) return;
    probing = true;
    try {
      await pool.query('SELECT 1');
      report(true);
    } catch {
      report(false);
    } finally {
      probing = false;
    }
  };

  return {
    name: 'postgres',
    pool,
    async start() {
      outcome = await retry(
        async () => {
          let client: pg.PoolClient;
          try {
            client = await pool.connect();
          } catch (err) {
            throw dbError(err, `connecting to PostgreSQL`);
          }
          try {
            return await migrate(client, opts.migrations, log, { apply: opts.applyMigrations });
          } catch (err) {
            throw err instanceof WikiMonitorError ? err : dbError(err, 'migrating');
          } finally {
            client.release();
          }
        },
        {
          attempts: opts.connectAttempts,
          initialMs: 500,
          maxMs: 10_000,
          onRetry: (err, attempt, delay) => log.warn({ attempt, delay, err: (err as Error).message }, 'PostgreSQL not reachable yet, retrying'),
        },
      );
      report(true);
      started = true;
      timer = setInterval(() => void probe(), opts.healthIntervalMs);
      timer.unref();
    },
    async close() {
      clearInterval(timer);
      await pool.end().catch(() => undefined);
    },
    isLive: () => true,
    isReady: () => started && up,
    isUp: () => up,
    report,
    migration: () => outcome,
  };
}
