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
