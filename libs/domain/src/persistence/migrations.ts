/** One versioned migration known to the app (from a file `NNN_name.sql`). */
export interface MigrationFile {
  version: number;
  name: string;
  checksum: string;
}

/** One row of the database's migration history. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

export type MigrationPlan =
  | { kind: 'apply'; pending: MigrationFile[]; current: number; target: number }
  | { kind: 'too-new'; current: number; known: number }
  | { kind: 'invalid'; reason: string };

const FILE_RE = /^(\d{3,})_([a-z0-9][a-z0-9_]*)\.sql$/;

/** Parses a migration file name (`001_initial.sql`); null for files that are not migrations. */
export function parseMigrationFileName(file: string): { version: number; name: string } | null {
  const m = FILE_RE.exec(file);
  if (!m) return null;
  return { version: Number(m[1]), name: m[2] as string };
}

/**
 * Decides what to run at start-up. Refuses (too-new) a database migrated by a newer app, and
 * refuses (invalid) an edited migration that was already applied, a gap in the history, or
 * two files with one version: each of those would leave the schema different from what the code expects.
 */
export function planMigrations(known: readonly MigrationFile[], applied: readonly AppliedMigration[]): MigrationPlan {
  const byVersion = new Map<number, MigrationFile>();
  for (const f of known) {
    if (byVersion.has(f.version)) return { kind: 'invalid', reason: `two migration files have version ${f.version}` };
    byVersion.set(f.version, f);
  }
  const knownMax = Math.max(0, ...known.map((f) => f.version));
  const current = Math.max(0, ...applied.map((a) => a.version));
  if (current > knownMax) return { kind: 'too-new', current, known: knownMax };
  const appliedVersions = new Set<number>();
  for (const a of applied) {
    appliedVersions.add(a.version);
    const f = byVersion.get(a.version);
    if (!f) return { kind: 'invalid', reason: `the database has migration ${a.version} (${a.name}) that this app does not know` };
    if (f.checksum !== a.checksum) return { kind: 'invalid', reason: `migration ${a.version} (${a.name}) was changed after it was applied (checksum differs)` };
  }
  const pending = [...byVersion.values()].filter((f) => !appliedVersions.has(f.version)).sort((a, b) => a.version - b.version);
  const below = pending.find((f) => f.version < current);
  if (below) return { kind: 'invalid', reason: `migration ${below.version} (${below.name}) is missing below the applied version ${current}` };
  return { kind: 'apply', pending, current, target: knownMax };
}
