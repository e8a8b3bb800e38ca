import { createHash } from 'node:crypto';
import { SseParser, formatSseEvent } from './parser';

const feed = (chunks: string[]) => {
  const p = new SseParser();
  const events = [];
  const comments: string[] = [];
  let retry: number | undefined;
  for (const c of chunks) {
    const r = p.push(c);
    events.push(...r.events);
    comments.push(...r.comments);
    if (r.retryMs !== undefined) retry = r.retryMs;
  }
  return { events, comments, retry };
};

describe('SseParser', () => {
  it('SseParser should parse EventStreams framing with id and comments', () => {
    const { events, comments } = feed([':ok\n\nevent: message\nid: [{"offset":1}]\ndata: {"a":1}\n\n']);
    expect(comments).toEqual(['ok']);
    expect(events).toEqual([{ type: 'message', data: '{"a":1}', lastEventId: '[{"offset":1}]', hasId: true }]);
  });

  it.each([
    ['LF', 'data: x\n\n'],
    ['CRLF', 'data: x\r\n\r\n'],
    ['CR', 'data: x\r\r'],
  ])('SseParser should accept %s line ends', (_name, text) => {
    expect(feed([text]).events.map((e) => e.data)).toEqual(['x']);
  });

  it('SseParser should join multi-line data and survive chunks split anywhere, including inside CRLF', () => {
    const text = 'event: message\r\ndata: line1\r\ndata: line2\r\n\r\ndata:no-space\r\n\r\n';
    for (let i = 1; i < text.length; i++) {
      const { events } = feed([text.slice(0, i), text.slice(i)]);
      expect(events.map((e) => e.data)).toEqual(['line1\nline2', 'no-space']);
    }
  });

  it('SseParser should report retry and event: error, and ignore ids with NUL', () => {
    const { events, retry } = feed(['retry: 5000\nevent: error\ndata: boom\n\nid: a\u0000b\ndata: y\n\n']);
    expect(retry).toBe(5000);
    expect(events[0]).toMatchObject({ type: 'error', data: 'boom' });
    expect(events[1]).toMatchObject({ data: 'y', hasId: false, lastEventId: '' });
  });

  it('SseParser should not dispatch an unterminated event and reset() should drop it', () => {
    const p = new SseParser();
    expect(p.push('data: partial').events).toEqual([]);
    p.reset();
    expect(p.push('\n\ndata: next\n\n').events.map((e) => e.data)).toEqual(['next']);
  });

  it('formatSseEvent should round-trip through the parser', () => {
    const text = formatSseEvent({ id: '[{"topic":"t","partition":0,"offset":5}]', data: 'a\nb' });
    expect(feed([text]).events).toEqual([{ type: 'message', data: 'a\nb', lastEventId: '[{"topic":"t","partition":0,"offset":5}]', hasId: true }]);
  });
});

describe('SseParser bounds and bytes', () => {
  const sha256 = () => {
    const h = createHash('sha256');
    return { update: (b: Uint8Array) => h.update(b), digest: () => h.digest('hex') };
  };
  const frame = (data: string | Buffer, id?: string) => Buffer.concat([Buffer.from(`${id ? `id: ${id}\n` : ''}data: `), Buffer.from(data), Buffer.from('\n\n')]);
  const inChunks = (bytes: Buffer, size: number) => {
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
    return out;
  };

  it('SseParser should cut an event over the bound, report its size and sha256, and parse the next one whole', () => {
    const big = `{"comment":"${'x'.repeat(300_000)}"}`;
    const stream = Buffer.concat([frame('{"a":1}', 'one'), frame(big, 'two'), frame('{"b":2}', 'three')]);
    for (const size of [stream.length, 65_536, 1_000, 7]) {
      const p = new SseParser('', { maxEventBytes: 10_000, digest: sha256 });
      const events = inChunks(stream, size).flatMap((c) => p.push(c).events);
      expect(events.map((e) => [e.lastEventId, e.problem?.code ?? 'ok'])).toEqual([['one', 'ok'], ['two', 'EVENT_TOO_LARGE'], ['three', 'ok']]);
      const problem = events[1]?.problem;
      if (problem?.code !== 'EVENT_TOO_LARGE') throw new Error('expected EVENT_TOO_LARGE');
      expect(problem.size).toBe(Buffer.byteLength(big));
      expect(problem.sha256).toBe(createHash('sha256').update(big).digest('hex'));
      expect(Buffer.from(problem.prefix).toString()).toBe(big.slice(0, 10_000));
      expect(events[2]?.data).toBe('{"b":2}');
    }
  });

  it('SseParser should count multi-line data of an oversized event with its line feeds', () => {
    const lines = ['a'.repeat(600), 'b'.repeat(600)];
    const p = new SseParser('', { maxEventBytes: 1_000, digest: sha256 });
    const [ev] = p.push(`data: ${lines[0]}\ndata: ${lines[1]}\n\n`).events;
    expect(ev?.problem).toMatchObject({ code: 'EVENT_TOO_LARGE', size: 1_201, sha256: createHash('sha256').update(lines.join('\n')).digest('hex') });
  });

  it('SseParser should flag an event whose id line is over the bound, and ignore an overlong comment', () => {
    const p = new SseParser('before', { maxEventBytes: 100, digest: sha256 });
    const events = [
      ...p.push(`:${'c'.repeat(5_000)}\ndata: fine\n\n`).events,
      ...p.push(`id: ${'9'.repeat(300)}`).events,
      ...p.push(`${'9'.repeat(300)}\ndata: x\n\n`).events,
    ];
    expect(events.map((e) => [e.data, e.problem?.code ?? 'ok', e.lastEventId])).toEqual([['fine', 'ok', 'before'], ['x', 'EVENT_TOO_LARGE', 'before']]);
  });

  it('SseParser should hand back the raw bytes of an event that is not UTF-8 and decode its neighbours', () => {
    const bad = Buffer.concat([Buffer.from('{"c":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    const stream = Buffer.concat([frame('{"é":1}'), frame(bad), frame('{"ü":2}')]);
    for (let cut = 1; cut < stream.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(stream.subarray(0, cut)).events, ...p.push(stream.subarray(cut)).events];
      expect(events.map((e) => e.problem?.code ?? e.data)).toEqual(['{"é":1}', 'INVALID_UTF8', '{"ü":2}']);
      const problem = events[1]?.problem;
      expect(problem?.code === 'INVALID_UTF8' && Buffer.from(problem.bytes).equals(bad)).toBe(true);
    }
  });

  it('SseParser should decode a multi-byte character split across chunks', () => {
    const stream = frame('{"t":"日本"}');
    for (let cut = 1; cut < stream.length; cut++) {
      const p = new SseParser();
      expect([...p.push(stream.subarray(0, cut)).events, ...p.push(stream.subarray(cut)).events].map((e) => e.data)).toEqual(['{"t":"日本"}']);
    }
  });

  it('SseParser should keep the CRLF split across chunks and an oversized event in CR framing', () => {
    const p = new SseParser('', { maxEventBytes: 50 });
    const events = [...p.push(`data: ${'z'.repeat(200)}\r`).events, ...p.push('\n\r\ndata: ok\r\n\r\n').events];
    expect(events.map((e) => [e.problem?.code ?? 'ok', e.data.length])).toEqual([['EVENT_TOO_LARGE', 50], ['ok', 2]]);
    expect(events[0]?.problem).toMatchObject({ size: 200, sha256: null });
  });

  it('SseParser should not keep pointing into a chunk the caller reuses after push', () => {
    const p = new SseParser('', { maxEventBytes: 1_000 });
    const chunk = Buffer.from('data: first line\ndata: second');
    expect(p.push(chunk).events).toEqual([]);
    chunk.fill(0x78); // the caller's read buffer is reused for the next read
    const big = Buffer.from(`data: ${'b'.repeat(2_000)}`);
    expect(p.push(Buffer.from(' half\n\n')).events.map((e) => e.data)).toEqual(['first line\nsecond half']);
    expect(p.push(big).events).toEqual([]);
    big.fill(0x78);
    const [ev] = p.push('\n\n').events;
    expect(ev?.problem?.code === 'EVENT_TOO_LARGE' && Buffer.from(ev.problem.prefix).toString()).toBe('b'.repeat(1_000));
  });
});
