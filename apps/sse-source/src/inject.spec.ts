import { domainForWiki, injectedDueCount, nextInjectionDueMs, parseInjectSpecs, pickInjectionTemplate } from './inject';

describe('parseInjectSpecs', () => {
  it.each([
    ['wiki=dewiki,at=5s,count=300', [{ wiki: 'dewiki', domain: 'de.wikipedia.org', atMs: 5000, count: 300, rate: 0 }]],
    ['wiki=commonswiki,count=1,rate=50', [{ wiki: 'commonswiki', domain: 'commons.wikimedia.org', atMs: 0, count: 1, rate: 50 }]],
    [
      'wiki=dewiki,count=2; wiki=mywiki,count=3,at=1m,domain=my.example.org',
      [
        { wiki: 'dewiki', domain: 'de.wikipedia.org', atMs: 0, count: 2, rate: 0 },
        { wiki: 'mywiki', domain: 'my.example.org', atMs: 60_000, count: 3, rate: 0 },
      ],
    ],
  ])('parseInjectSpecs should read %s', (spec, expected) => {
    expect(parseInjectSpecs(spec)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['at=5s,count=3', /wiki is required/],
    ['wiki=dewiki', /count is required/],
    ['wiki=dewiki,count=0', /count must be an integer >= 1/],
    ['wiki=dewiki,count=2.5', /count must be an integer/],
    ['wiki=dewiki,count=2,at=soon', /at must be a duration/],
    ['wiki=Bad Wiki,count=2', /wiki has an unexpected form/],
    ['wiki=foo,count=2', /cannot derive a domain for wiki "foo"/],
    ['', /empty/],
  ])('parseInjectSpecs should reject %j', (spec, problem) => {
    const r = parseInjectSpecs(spec);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('; ')).toMatch(problem);
  });
});

describe('domainForWiki', () => {
  it.each([
    ['dewiki', 'de.wikipedia.org'],
    ['enwiktionary', 'en.wiktionary.org'],
    ['mswiktionary', 'ms.wiktionary.org'],
    ['frwikisource', 'fr.wikisource.org'],
    ['zh_min_nanwiki', 'zh-min-nan.wikipedia.org'],
    ['commonswiki', 'commons.wikimedia.org'],
    ['wikidatawiki', 'www.wikidata.org'],
    ['wiktionary', undefined],
    ['wiki', undefined],
    ['foo', undefined],
  ])('domainForWiki should map %s', (wiki, domain) => {
    expect(domainForWiki(wiki)).toBe(domain);
  });
});

describe('injectedDueCount', () => {
  const allAtOnce = { wiki: 'dewiki', domain: 'de.wikipedia.org', atMs: 5000, count: 300, rate: 0 };
  const paced = { ...allAtOnce, rate: 100 };
  it.each([
    [allAtOnce, 4999, 0],
    [allAtOnce, 5000, 300],
    [paced, 4999, 0],
    [paced, 5000, 1],
    [paced, 5010, 2],
    [paced, 6000, 101],
    [paced, 60_000, 300],
  ])('injectedDueCount should release %# on time', (spec, t, due) => {
    expect(injectedDueCount(spec, t)).toBe(due);
  });

  it.each([
    [allAtOnce, 0, 5000],
    [allAtOnce, 300, Infinity],
    [paced, 0, 5000],
    [paced, 1, 5010],
    [paced, 101, 6010],
  ])('nextInjectionDueMs should say when the next event is due %#', (spec, emitted, at) => {
    expect(nextInjectionDueMs(spec, emitted)).toBeCloseTo(at, 6);
  });
});

describe('pickInjectionTemplate', () => {
  const byWiki = new Map([['dewiki', [3, 8]]]);
  it.each([
    ['dewiki', 0, { index: 3, sameWiki: true }],
    ['dewiki', 1, { index: 8, sameWiki: true }],
    ['dewiki', 2, { index: 3, sameWiki: true }],
    ['frwiki', 0, { index: 0, sameWiki: false }],
    ['frwiki', 12, { index: 2, sameWiki: false }],
  ])('pickInjectionTemplate should choose a template for %s #%d', (wiki, seq, expected) => {
    expect(pickInjectionTemplate(wiki, byWiki, 10, seq)).toEqual(expected);
  });
});
