import { SEQ_PASS_SHIFT, type Template, dueBy, metaOf, passesFilters, render, templatesOf } from './retime';

describe('jetstream-source retiming', () => {
  const file = { name: 'f', text: ['{"did":"did:a","time_us":100,"kind":"commit","commit":{"rev":"r1","operation":"create","collection":"app.bsky.feed.like","rkey":"k"}}', '{"did":"did:b","time_us":90,"kind":"identity","identity":{"seq":7,"time":"t"}}', '{"did":"did:c","time_us":5000,"kind":"account","account":{"active":true,"seq":8,"time":"t"}}'].join('\n') };

  it('templatesOf should keep the recorded disorder relative to the running maximum, clipped', () => {
    expect(templatesOf([file], 1_000).map((t) => t.offsetUs)).toEqual([0, -10, 0]);
    expect(templatesOf([file], 5).map((t) => t.offsetUs)).toEqual([0, -5, 0]);
  });

  it('render should set time_us and give later passes fresh revs and seqs', () => {
    const [c, i] = templatesOf([file], 1_000) as [Template, Template];
    expect(JSON.parse(render(c, 42, 0))).toMatchObject({ time_us: 42, commit: { rev: 'r1' } });
    expect(JSON.parse(render(c, 42, 2))).toMatchObject({ commit: { rev: 'r1.p2' } });
    expect((JSON.parse(render(i, 1, 1)) as { identity: { seq: number } }).identity.seq).toBe(7 + SEQ_PASS_SHIFT);
  });

  it('passesFilters should apply wantedDids to all and wantedCollections to commits only', () => {
    const [likeLine, identLine] = file.text.split('\n') as [string, string];
    const like = metaOf(likeLine);
    const ident = metaOf(identLine);
    expect(passesFilters(like, ['app.bsky.feed.post'], [])).toBe(false);
    expect(passesFilters(like, ['app.bsky.feed.*'], [])).toBe(true);
    expect(passesFilters(ident, ['app.bsky.feed.post'], [])).toBe(true);
    expect(passesFilters(ident, [], ['did:a'])).toBe(false);
  });

  it('dueBy should follow the rate, faster during bursts', () => {
    expect(dueBy(1000, 100)).toBe(100);
    expect(dueBy(0, 0)).toBe(Infinity);
    // 1 s cycles, 0.2 s bursts at 5x: 0.2 * 5 + 0.8 = 1.8 s of events per cycle
    expect(dueBy(1000, 100, { everyMs: 1000, durationMs: 200, factor: 5 })).toBe(180);
  });
});
