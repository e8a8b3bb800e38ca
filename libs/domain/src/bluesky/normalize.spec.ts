import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import avro from 'avsc';
import { BlueskyEventSchema } from '@wikimonitor/contracts';
import { normalizeJetstreamEvent } from './normalize';

const DIR = resolve(__dirname, '../../../../data/recordings/bluesky-jetstream');
const lines = readdirSync(DIR)
  .filter((f) => f.endsWith('.jsonl'))
  .flatMap((f) => readFileSync(join(DIR, f), 'utf8').split('\n').filter((l) => l.trim()).map((line) => ({ file: f, line })));
const type = avro.Type.forSchema(BlueskyEventSchema as unknown as avro.Schema);
const ctx = { receivedTime: 1_800_000_000_000 };

describe('normalizeJetstreamEvent', () => {
  it('should turn every recorded event into a BlueskyEvent the Avro schema accepts', () => {
    expect(lines.length).toBe(186);
    for (const { file, line } of lines) {
      const r = normalizeJetstreamEvent(line, ctx);
      if (r.kind !== 'event') throw new Error(`${file}: ${r.code} ${r.reason}: ${line.slice(0, 200)}`);
      expect(type.isValid(r.event)).toBe(true);
      const raw = JSON.parse(line) as { did: string; time_us: number };
      expect(r.event.did).toBe(raw.did);
      expect(r.event.time_us).toBe(raw.time_us);
      expect(r.event.event_time).toBe(Math.floor(raw.time_us / 1000));
      expect([r.event.commit, r.event.identity, r.event.account].filter((x) => x !== null)).toHaveLength(1);
    }
  });

  it('should keep each record byte for byte and give posts their typed fields', () => {
    let posts = 0;
    for (const { line } of lines) {
      const r = normalizeJetstreamEvent(line, ctx);
      if (r.kind !== 'event' || !r.event.commit) continue;
      const body = (JSON.parse(line) as { commit?: { record?: unknown }; payload?: { record?: unknown } });
      const record = (body.commit ?? body.payload)?.record;
      if (record === undefined) expect(r.event.commit.record_json).toBeNull();
      else {
        expect(JSON.parse(r.event.commit.record_json as string)).toEqual(record);
        expect(line).toContain(r.event.commit.record_json);
      }
      if (r.event.commit.post) {
        posts++;
        expect(r.event.commit.post.text).toBe((record as { text?: string }).text ?? '');
      }
    }
    expect(posts).toBeGreaterThan(20);
  });

  it('should give every distinct recorded event a distinct id (the early format repeats 4 events in two shapes)', () => {
    const ids = lines.map(({ line }) => (normalizeJetstreamEvent(line, ctx) as { event: { id: string } }).event.id);
    expect(new Set(ids).size).toBe(ids.length - 4);
  });

  it('should map the early format (type com/id/acc, payload, commit.type c/u/d)', () => {
    const early = lines.filter((l) => l.file.startsWith('ericvolp12')).map(({ line }) => normalizeJetstreamEvent(line, ctx));
    expect(early.every((r) => r.kind === 'event' && r.event.early_format)).toBe(true);
    const kinds = early.map((r) => (r.kind === 'event' ? `${r.event.kind}:${r.event.commit?.operation ?? ''}` : ''));
    expect(kinds.slice(0, 4)).toEqual(['commit:create', 'commit:delete', 'identity:', 'account:']);
  });

  it.each([
    ['identity without handle', '{"did":"did:plc:a","time_us":1,"kind":"identity","identity":{"did":"did:plc:a","seq":5,"time":"t"}}', { id: 'did:plc:a#identity#5' }],
    ['takendown account', '{"did":"did:plc:a","time_us":1,"kind":"account","account":{"active":false,"status":"takendown","seq":6,"time":"t"}}', { id: 'did:plc:a#account#6' }],
    ['delete without record or cid', '{"did":"did:plc:a","time_us":2,"kind":"commit","commit":{"rev":"r","operation":"delete","collection":"app.bsky.feed.post","rkey":"k"}}', { id: 'at://did:plc:a/app.bsky.feed.post/k#r' }],
  ])('should accept a %s', (_name, line, want) => {
    const r = normalizeJetstreamEvent(line, ctx);
    expect(r.kind === 'event' && r.event.id).toBe(want.id);
  });

  it('should keep Go-escaped record text as received and read quotes of both embed kinds', () => {
    const line = '{"did":"did:plc:a","time_us":3,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{"text":"a \\u003c b","embed":{"$type":"app.bsky.embed.recordWithMedia","record":{"record":{"uri":"at://q"}}},"reply":{"root":{"uri":"at://root"},"parent":{"uri":"at://parent"}}}}}';
    const r = normalizeJetstreamEvent(line, ctx);
    if (r.kind !== 'event') throw new Error(r.reason);
    expect(r.event.commit?.record_json).toContain('\\u003c');
    expect(r.event.commit?.post).toMatchObject({ text: 'a < b', quote_uri: 'at://q', reply_root_uri: 'at://root', reply_parent_uri: 'at://parent', langs: [] });
  });

  it.each([
    ['not JSON', '{"did":', 'NOT_JSON'],
    ['an array', '[1]', 'NOT_JSON'],
    ['no did', '{"time_us":1,"kind":"identity","identity":{"seq":1}}', 'INVALID_EVENT'],
    ['no time_us', '{"did":"did:plc:a","kind":"identity","identity":{"seq":1}}', 'INVALID_EVENT'],
    ['an unknown kind', '{"did":"did:plc:a","time_us":1,"kind":"sync"}', 'UNKNOWN_KIND'],
    ['a commit without rkey', '{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"c"}}', 'INVALID_COMMIT'],
    ['an unknown operation', '{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"rev":"r","operation":"x","collection":"c","rkey":"k"}}', 'INVALID_COMMIT'],
    ['an identity without seq', '{"did":"did:plc:a","time_us":1,"kind":"identity","identity":{}}', 'INVALID_IDENTITY'],
    ['an account without body', '{"did":"did:plc:a","time_us":1,"kind":"account"}', 'INVALID_ACCOUNT'],
  ])('should reject %s', (_name, line, code) => {
    const r = normalizeJetstreamEvent(line, ctx);
    expect(r.kind === 'invalid' && r.code).toBe(code);
  });

  it('should reject a time_us beyond receipt + skew when the skew is set, and keep its id for the overlap filter', () => {
    const line = '{"did":"did:plc:a","time_us":1900000000000000,"kind":"identity","identity":{"seq":1,"time":"t"}}';
    const r = normalizeJetstreamEvent(line, { ...ctx, maxFutureSkewMs: 60_000 });
    expect(r).toMatchObject({ kind: 'invalid', code: 'EVENT_TIME_FUTURE', id: 'did:plc:a#identity#1', did: 'did:plc:a' });
    expect(normalizeJetstreamEvent(line, ctx).kind).toBe('event');
  });
});
