import { type AppliedMigration, type MigrationFile, parseMigrationFileName, planMigrations } from './migrations';

const f = (version: number, checksum = `c${version}`): MigrationFile => ({ version, name: `m${version}`, checksum });
const a = (version: number, checksum = `c${version}`): AppliedMigration => ({ version, name: `m${version}`, checksum });

describe('parseMigrationFileName', () => {
  it.each([
    ['001_initial.sql', { version: 1, name: 'initial' }],
    ['012_add_index_2.sql', { version: 12, name: 'add_index_2' }],
    ['1_short.sql', null],
    ['001_initial.sql.bak', null],
    ['README.md', null],
    ['001-initial.sql', null],
  ])('parseMigrationFileName should read %s', (file, expected) => {
    expect(parseMigrationFileName(file)).toEqual(expected);
  });
});

describe('planMigrations', () => {
  it.each([
    ['fresh database', [f(1), f(2)], [], { kind: 'apply', pending: [f(1), f(2)], current: 0, target: 2 }],
    ['one behind', [f(1), f(2)], [a(1)], { kind: 'apply', pending: [f(2)], current: 1, target: 2 }],
    ['up to date', [f(1), f(2)], [a(1), a(2)], { kind: 'apply', pending: [], current: 2, target: 2 }],
    ['newer database', [f(1)], [a(1), a(2)], { kind: 'too-new', current: 2, known: 1 }],
  ])('planMigrations should plan a %s', (_name, known, applied, expected) => {
    expect(planMigrations(known, applied)).toEqual(expected);
  });

  it.each([
    ['an applied migration was edited', [f(1), f(2)], [a(1, 'other')], /changed after it was applied/],
    ['two files share a version', [f(1), f(1, 'x')], [], /two migration files have version 1/],
    ['a migration is missing below the applied version', [f(1), f(2), f(3)], [a(1), a(3)], /migration 2 \(m2\) is missing/],
  ])('planMigrations should refuse when %s', (_name, known, applied, reason) => {
    const plan = planMigrations(known, applied);
    expect(plan.kind).toBe('invalid');
    expect(plan.kind === 'invalid' && plan.reason).toMatch(reason);
  });
});
