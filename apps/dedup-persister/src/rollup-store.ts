import {
  AGGREGATE_COLUMNS,
  CHANGE_COLUMNS,
  EDITOR_LEVELS,
  type ChangeFacts,
  type EditorRollup,
  type RollupLevel,
  type SignalChange,
  type SqlValue,
  type TopEntry,
  type WindowCounts,
  type WindowRollup,
  type WindowWrite,
  applyEditorChanges,
  applyWindowWrites,
  changeRollupDeltas,
  changeSignals,
  editorRollupKeys,
  rollupKey,
  rollupKeysOf,
} from '@wikimonitor/domain';
import type pg from 'pg';

// The rollups are written by the batch's own connection inside its open transaction (see store.ts):
// rows, rollups and offsets commit together or not at all. The arithmetic is libs/domain's.

const A = Object.fromEntries(AGGREGATE_COLUMNS.map((c, i) => [c, i])) as Record<string, number>;
const C = Object.fromEntries(CHANGE_COLUMNS.map((c, i) => [c, i])) as Record<string, number>;
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Date.parse(String(v)));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

type Row = Record<string, unknown>;
const windowKey = (wiki: string, start: number, end: number) => `${wiki}|${start}|${end}`;

function countsFromAggregateRow(r: SqlValue[]): WindowCounts {
  const get = (c: string) => r[A[c] as number];
  return {
    wiki: String(get('wiki')),
    window_start: ms(get('window_start')),
    total: num(get('total')),
    by_type: { edit: num(get('count_edit')), new: num(get('count_new')), log: num(get('count_log')), categorize: num(get('count_categorize')), external: num(get('count_external')), unknown: num(get('count_unknown')) },
    bot: num(get('bot')),
    human: num(get('human')),
    bytes_added: num(get('bytes_added')),
    bytes_removed: num(get('bytes_removed')),
    top_pages: JSON.parse(String(get('top_pages'))) as Array<{ title: string; count: number }>,
  };
}

function countsFromStored(r: Row): WindowCounts {
  return {
    wiki: String(r['wiki']),
    window_start: ms(r['window_start']),
    total: num(r['total']),
    by_type: { edit: num(r['count_edit']), new: num(r['count_new']), log: num(r['count_log']), categorize: num(r['count_categorize']), external: num(r['count_external']), unknown: num(r['count_unknown']) },
    bot: num(r['bot']),
    human: num(r['human']),
    bytes_added: num(r['bytes_added']),
    bytes_removed: num(r['bytes_removed']),
    top_pages: ((r['top_pages'] as Array<{ title: string; count: number }> | null) ?? []).map((p) => ({ title: p.title, count: Number(p.count) })),
  };
}

/** The stored versions of these windows, locked until the transaction ends (key: wiki|start|end in ms). */
export async function readWindowsForUpdate(c: pg.ClientBase, rows: SqlValue[][]): Promise<Map<string, WindowCounts>> {
  const res = await c.query<Row>({
    name: 'dp_windows_for_update',
    text:
      'SELECT a.* FROM wiki_aggregates a JOIN unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS k(wiki, s, e) ' +
      'ON a.wiki = k.wiki AND a.window_start = k.s AND a.window_end = k.e FOR UPDATE OF a',
    values: [rows.map((r) => r[A['wiki'] as number]), rows.map((r) => r[A['window_start'] as number]), rows.map((r) => r[A['window_end'] as number])],
  });
  return new Map(res.rows.map((r) => [windowKey(String(r['wiki']), ms(r['window_start']), ms(r['window_end'])), countsFromStored(r)]));
}

type Key = { level: RollupLevel; wiki: string; bucket_start: number };
const byKey = (a: Key, b: Key) => (a.level < b.level ? -1 : a.level > b.level ? 1 : a.wiki < b.wiki ? -1 : a.wiki > b.wiki ? 1 : a.bucket_start - b.bucket_start);
const sortedKeys = (keys: Iterable<Key>): Key[] => [...keys].sort(byKey);

/*
 * Read-modify-write of shared rows (the all-wikis '*' rows) by several persister instances at once:
 * every touched row is first made to exist (INSERT .. ON CONFLICT DO NOTHING waits for another
 * transaction inserting the same key), then locked FOR UPDATE, both in key order (no deadlock
 * cycles). Without the first step, two transactions could both find a new bucket missing and the
 * second upsert would overwrite the first one's counts.
 */
const ENSURE_WINDOW_ROLLUPS =
  'INSERT INTO window_rollups (level, wiki, bucket_start, windows, total, count_edit, count_new, count_log, count_categorize, count_external, count_unknown, bot, human, bytes_added, bytes_removed, top_pages) ' +
  "SELECT l, w, b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '[]'::jsonb FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(l, w, b) ORDER BY l, w, b ON CONFLICT DO NOTHING";
const ENSURE_EDITOR_ROLLUPS =
  "INSERT INTO editor_rollups (level, wiki, bucket_start, changes, top_editors) SELECT l, w, b, 0, '[]'::jsonb FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(l, w, b) ORDER BY l, w, b ON CONFLICT DO NOTHING";

const WINDOW_ROLLUP_COLS = ['level', 'wiki', 'bucket_start', 'windows', 'total', 'count_edit', 'count_new', 'count_log', 'count_categorize', 'count_external', 'count_unknown', 'bot', 'human', 'bytes_added', 'bytes_removed', 'top_pages'];
const WINDOW_ROLLUP_TYPES = ['text', 'text', 'timestamptz', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'int8', 'text'];

/**
 * Moves the window rollups by the windows the upsert reported (`written`: inserted or changed);
 * `before` holds their stored versions. Windows the upsert skipped (identical redeliveries) add nothing.
 */
export async function maintainWindowRollups(c: pg.ClientBase, rows: SqlValue[][], before: Map<string, WindowCounts>, written: Row[]): Promise<void> {
  if (!written.length) return;
  const incoming = new Map(rows.map((r) => [windowKey(String(r[A['wiki'] as number]), ms(r[A['window_start'] as number]), ms(r[A['window_end'] as number])), r]));
  const writes: WindowWrite[] = [];
  for (const w of written) {
    const k = windowKey(String(w['wiki']), ms(w['window_start']), ms(w['window_end']));
    const row = incoming.get(k);
    if (row) writes.push({ before: before.get(k) ?? null, after: countsFromAggregateRow(row) });
  }
  const keys = new Map<string, { level: RollupLevel; wiki: string; bucket_start: number }>();
  for (const w of writes) for (const side of [w.before, w.after]) if (side) for (const k of rollupKeysOf(side.wiki, side.window_start)) keys.set(rollupKey(k.level, k.wiki, k.bucket_start), k);
  const list = sortedKeys(keys.values());
  const keyArgs = [list.map((k) => k.level), list.map((k) => k.wiki), list.map((k) => new Date(k.bucket_start).toISOString())];
  await c.query({ name: 'dp_window_rollups_ensure', text: ENSURE_WINDOW_ROLLUPS, values: keyArgs });
  const cur = await c.query<Row>({
    name: 'dp_window_rollups_for_update',
    text: 'SELECT r.* FROM window_rollups r JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(l, w, b) ON r.level = k.l AND r.wiki = k.w AND r.bucket_start = k.b ORDER BY r.level, r.wiki, r.bucket_start FOR UPDATE OF r',
    values: keyArgs,
  });
  const existing = new Map<string, WindowRollup>();
  for (const r of cur.rows) {
    const s = countsFromStored(r);
    const level = String(r['level']) as RollupLevel;
    existing.set(rollupKey(level, s.wiki, ms(r['bucket_start'])), { level, wiki: s.wiki, bucket_start: ms(r['bucket_start']), windows: num(r['windows']), total: s.total, by_type: s.by_type, bot: s.bot, human: s.human, bytes_added: s.bytes_added, bytes_removed: s.bytes_removed, top_pages: r['top_pages'] as TopEntry[] });
  }
  const next = applyWindowWrites(existing, writes).sort(byKey);
  const cols: unknown[][] = WINDOW_ROLLUP_COLS.map(() => []);
  for (const r of next) {
    const values = [r.level, r.wiki, new Date(r.bucket_start).toISOString(), r.windows, r.total, r.by_type.edit, r.by_type.new, r.by_type.log, r.by_type.categorize, r.by_type.external, r.by_type.unknown, r.bot, r.human, r.bytes_added, r.bytes_removed, JSON.stringify(r.top_pages)];
    values.forEach((v, i) => (cols[i] as unknown[]).push(v));
  }
  const data = WINDOW_ROLLUP_COLS.slice(3);
  await c.query({
    name: 'dp_upsert_window_rollups',
    text:
      `INSERT INTO window_rollups (${WINDOW_ROLLUP_COLS.join(', ')}) SELECT ${WINDOW_ROLLUP_COLS.map((n) => (n === 'top_pages' ? 'top_pages::jsonb' : n)).join(', ')} ` +
      `FROM unnest(${WINDOW_ROLLUP_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) AS u(${WINDOW_ROLLUP_COLS.join(', ')}) ` +
      `ON CONFLICT (level, wiki, bucket_start) DO UPDATE SET ${data.map((n) => `${n} = EXCLUDED.${n}`).join(', ')}`,
    values: cols,
  });
}

/** A stored change row as the facts the rollups and the heuristics need. */
function factsOf(r: SqlValue[]): ChangeFacts & SignalChange {
  const g = (c: string) => r[C[c] as number];
  return {
    id: String(g('id')),
    event_time: ms(g('event_time')),
    wiki: String(g('wiki')),
    domain: String(g('domain')),
    namespace: Number(g('namespace')),
    type: String(g('type')),
    bot: g('bot') === true,
    user: String(g('user_name')),
    title: String(g('title')),
    comment: String(g('comment')),
    length_old: numOrNull(g('length_old')),
    length_new: numOrNull(g('length_new')),
    revision_old: numOrNull(g('revision_old')),
    revision_new: numOrNull(g('revision_new')),
    server_name: g('server_name') === null ? null : String(g('server_name')),
  };
}

/** Change rollups, editor rollups and signals of the change rows that were new in this transaction. */
export async function maintainChangeRollups(c: pg.ClientBase, inserted: SqlValue[][]): Promise<void> {
  if (!inserted.length) return;
  const facts = inserted.map(factsOf);
  const d = changeRollupDeltas(facts);
  await c.query({
    name: 'dp_add_change_rollups',
    text:
      'INSERT INTO change_rollups (level, bucket_start, wiki, namespace, type, bot, domain, changes, bytes_added, bytes_removed) ' +
      'SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int4[], $5::text[], $6::bool[], $7::text[], $8::int8[], $9::int8[], $10::int8[]) ' +
      'ON CONFLICT (level, bucket_start, wiki, namespace, type, bot) DO UPDATE SET changes = change_rollups.changes + EXCLUDED.changes, ' +
      'bytes_added = change_rollups.bytes_added + EXCLUDED.bytes_added, bytes_removed = change_rollups.bytes_removed + EXCLUDED.bytes_removed',
    values: [
      d.map((x) => x.level),
      d.map((x) => new Date(x.bucket_start).toISOString()),
      d.map((x) => x.wiki),
      d.map((x) => x.namespace),
      d.map((x) => x.type),
      d.map((x) => x.bot),
      d.map((x) => x.domain),
      d.map((x) => x.changes),
      d.map((x) => x.bytes_added),
      d.map((x) => x.bytes_removed),
    ],
  });

  const keys = sortedKeys(editorRollupKeys(facts));
  const keyArgs = [keys.map((k) => k.level), keys.map((k) => k.wiki), keys.map((k) => new Date(k.bucket_start).toISOString())];
  await c.query({ name: 'dp_editor_rollups_ensure', text: ENSURE_EDITOR_ROLLUPS, values: keyArgs });
  const cur = await c.query<Row>({
    name: 'dp_editor_rollups_for_update',
    text: 'SELECT r.* FROM editor_rollups r JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(l, w, b) ON r.level = k.l AND r.wiki = k.w AND r.bucket_start = k.b ORDER BY r.level, r.wiki, r.bucket_start FOR UPDATE OF r',
    values: keyArgs,
  });
  const existing = new Map<string, EditorRollup>();
  for (const r of cur.rows) {
    const level = String(r['level']) as RollupLevel;
    if (!EDITOR_LEVELS.includes(level)) continue;
    existing.set(rollupKey(level, String(r['wiki']), ms(r['bucket_start'])), { level, wiki: String(r['wiki']), bucket_start: ms(r['bucket_start']), changes: num(r['changes']), top_editors: r['top_editors'] as TopEntry[] });
  }
  const next = applyEditorChanges(existing, facts).sort(byKey);
  await c.query({
    name: 'dp_upsert_editor_rollups',
    text:
      'INSERT INTO editor_rollups (level, wiki, bucket_start, changes, top_editors) SELECT l, w, b, n, t::jsonb FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[], $5::text[]) AS u(l, w, b, n, t) ' +
      'ON CONFLICT (level, wiki, bucket_start) DO UPDATE SET changes = EXCLUDED.changes, top_editors = EXCLUDED.top_editors',
    values: [next.map((r) => r.level), next.map((r) => r.wiki), next.map((r) => new Date(r.bucket_start).toISOString()), next.map((r) => r.changes), next.map((r) => JSON.stringify(r.top_editors))],
  });

  const signals = facts.flatMap((f) => changeSignals(f).map((kind) => ({ f, kind })));
  if (signals.length) {
    await c.query({
      name: 'dp_insert_signals',
      text:
        'INSERT INTO change_signals (id, kind, event_time, wiki, domain, server_name, type, user_name, title, bytes_delta, revision_old, revision_new) ' +
        'SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::int8[]) ON CONFLICT DO NOTHING',
      values: [
        signals.map((s) => s.f.id),
        signals.map((s) => s.kind),
        signals.map((s) => new Date(s.f.event_time).toISOString()),
        signals.map((s) => s.f.wiki),
        signals.map((s) => s.f.domain),
        signals.map((s) => s.f.server_name),
        signals.map((s) => s.f.type),
        signals.map((s) => s.f.user),
        signals.map((s) => s.f.title),
        signals.map((s) => (s.f.length_old !== null && s.f.length_new !== null ? s.f.length_new - s.f.length_old : null)),
        signals.map((s) => s.f.revision_old),
        signals.map((s) => s.f.revision_new),
      ],
    });
  }
}
