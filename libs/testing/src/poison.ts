import { loadRecordedEvents } from './recorded';

/** What the pipeline must do with a poison event. */
export type PoisonOutcome =
  /** Published to the raw topic; `fixed` = optional fields the producer coerces or drops (and counts). */
  | { outcome: 'published'; fixed: string[] }
  /** Dropped and counted (canaries). */
  | { outcome: 'dropped' }
  /** Dead-lettered by the producer with this `dlq.error.code`; `truncated`: the letter keeps only a prefix (never replayed). */
  | { outcome: 'dead-letter'; code: string; truncated: boolean };

export interface PoisonEvent {
  /** The class of bad input (one per class of issue 13, point 4). */
  class: string;
  /** meta.id of the event (null when the class is its absence). */
  id: string | null;
  /** The `data:` payload exactly as the stream sends it (not always UTF-8, hence bytes). */
  data: Buffer;
  expected: PoisonOutcome;
}

export interface PoisonOptions {
  /** Prefix of the meta.id values (make it unique per run when the events go through a shared topic). */
  idPrefix?: string;
  /** The real event each poison event is made from (default: the first recorded `edit`). */
  base?: Record<string, unknown>;
}

/** The 2.2 MB comment of issue 13's measurement: over the producer's event bound and the broker's 1 MiB limit. */
export const POISON_HUGE_COMMENT_CHARS = 2_200_000;

function firstRecordedEdit(): Record<string, unknown> {
  const edit = loadRecordedEvents().find((r) => r.json['type'] === 'edit' && r.file.includes('2026'));
  if (!edit) throw new Error('no recorded edit event to build poison events from');
  return edit.json as unknown as Record<string, unknown>;
}

function nest(depth: number): unknown {
  let v: unknown = { leaf: true };
  for (let i = 1; i < depth; i++) v = { level: i, next: v };
  return v;
}

/**
 * One event of every class of bad input, each built from a real recorded event: what the sse-source
 * can serve (see {@link poisonSseFrame}) and what the pipeline must make of it. Every event has its
 * own meta.id and page title, so the published ones can be counted downstream.
 */
export function poisonEvents(opts: PoisonOptions = {}): PoisonEvent[] {
  const base = opts.base ?? firstRecordedEdit();
  const prefix = opts.idPrefix ?? 'poison';
  const baseMeta = base['meta'] as Record<string, unknown>;
  const make = (cls: string, edit: (e: Record<string, unknown>, meta: Record<string, unknown>) => void): { id: string; json: Record<string, unknown> } => {
    const id = `${prefix}-${cls}`;
    const meta: Record<string, unknown> = { ...baseMeta, id };
    const e: Record<string, unknown> = { ...base, meta, title: `Poison/${prefix}/${cls}` };
    edit(e, meta);
    return { id, json: e };
  };
  const text = (j: unknown) => Buffer.from(JSON.stringify(j), 'utf8');
  const out: PoisonEvent[] = [];
  const add = (cls: string, expected: PoisonOutcome, edit: (e: Record<string, unknown>, meta: Record<string, unknown>) => void = () => undefined) => {
    const { id, json } = make(cls, edit);
    out.push({ class: cls, id, data: text(json), expected });
  };

  add('huge-comment', { outcome: 'dead-letter', code: 'EVENT_TOO_LARGE', truncated: true }, (e) => {
    e['comment'] = 'x'.repeat(POISON_HUGE_COMMENT_CHARS);
  });
  add('future-time', { outcome: 'dead-letter', code: 'EVENT_TIME_FUTURE', truncated: false }, (_e, m) => {
    m['dt'] = '2099-01-01T00:00:00Z';
  });
  add('ancient-time', { outcome: 'dead-letter', code: 'EVENT_TIME_TOO_OLD', truncated: false }, (_e, m) => {
    m['dt'] = '1999-12-31T23:59:59Z';
  });
  add('wrong-types', { outcome: 'published', fixed: ['user', 'bot', 'minor', 'length'] }, (e) => {
    e['user'] = 12345;
    e['bot'] = 'yes';
    e['minor'] = 1;
    e['length'] = 'long';
  });
  add('deep-log-params', { outcome: 'published', fixed: ['log_params'] }, (e) => {
    e['log_params'] = nest(100);
  });
  add('huge-log-params', { outcome: 'published', fixed: ['log_params'] }, (e) => {
    e['log_params'] = { blob: 'y'.repeat(200_000) };
  });
  add('canary', { outcome: 'dropped' }, (e, m) => {
    m['domain'] = 'canary';
    for (const k of Object.keys(e)) if (k !== 'meta' && k !== '$schema') delete e[k];
  });

  const noId = make('missing-meta-id', (_e, m) => {
    delete m['id'];
  });
  out.push({ class: 'missing-meta-id', id: null, data: text(noId.json), expected: { outcome: 'dead-letter', code: 'MISSING_META_ID', truncated: false } });

  const utf8 = make('invalid-utf8', (e) => {
    e['comment'] = 'BAD_BYTES_HERE';
  });
  const [head, tail] = JSON.stringify(utf8.json).split('BAD_BYTES_HERE') as [string, string];
  out.push({ class: 'invalid-utf8', id: utf8.id, data: Buffer.concat([Buffer.from(head), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(tail)]), expected: { outcome: 'dead-letter', code: 'INVALID_UTF8', truncated: false } });

  const cut = make('not-json', () => undefined);
  out.push({ class: 'not-json', id: cut.id, data: text(cut.json).subarray(0, 120), expected: { outcome: 'dead-letter', code: 'NOT_JSON', truncated: false } });
  return out;
}

/** An event in EventStreams' SSE framing (the data payload has no line ends: one `data:` line). */
export function poisonSseFrame(ev: Pick<PoisonEvent, 'data'>, id?: string): Buffer {
  return Buffer.concat([Buffer.from(`event: message\n${id === undefined ? '' : `id: ${id}\n`}data: `), ev.data, Buffer.from('\n\n')]);
}
