import { BSKY_EVENTS, type Table, WIKI_AGGREGATES, WIKI_ALERTS, WIKI_CHANGES } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv } from '@wikimonitor/testing';
import pg from 'pg';
import { defaultMigrationsDir, loadMigrations, migrate } from './migrate';
import { type TestDatabase, createTestDatabase } from '../testing/test-support';

const log = createLogger('test', 'silent');

interface ColumnFacts {
  name: string;
  type: string;
  nullable: boolean;
  hasDefault: boolean;
}

const declared = <R>(t: Table<R>): ColumnFacts[] =>
  t.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, hasDefault: 'databaseDefault' in c.source }));

// The migrations are the schema; libs/domain/src/persistence/columns.ts declares it for the code. They must agree.
describe('column declarations against the migrated schema (real database)', () => {
  let db: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase((await getTestEnv()).databaseUrl, 'dp_columns');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  const actual = async (table: string): Promise<ColumnFacts[]> => {
    const r = await client.query<{ column_name: string; udt_name: string; is_nullable: 'YES' | 'NO'; column_default: string | null }>(
      `SELECT column_name, udt_name, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    return r.rows.map((c) => ({ name: c.column_name, type: c.udt_name, nullable: c.is_nullable === 'YES', hasDefault: c.column_default !== null }));
  };

  it.each([
    ['wiki_changes', WIKI_CHANGES],
    ['wiki_aggregates', WIKI_AGGREGATES],
    ['wiki_alerts', WIKI_ALERTS],
    ['bsky_events', BSKY_EVENTS],
  ] as Array<[string, Table<unknown>]>)('the migrated %s should have exactly the declared columns, in order, with their types and nullability', async (name, table) => {
    expect(table.name).toBe(name);
    expect(await actual(name)).toEqual(declared(table));
  });

  it('the check should see a column the migrations add but the declaration lacks', async () => {
    await client.query('ALTER TABLE wiki_alerts ADD COLUMN drift_probe text');
    try {
      expect(await actual('wiki_alerts')).not.toEqual(declared(WIKI_ALERTS));
    } finally {
      await client.query('ALTER TABLE wiki_alerts DROP COLUMN drift_probe');
    }
  });
});
