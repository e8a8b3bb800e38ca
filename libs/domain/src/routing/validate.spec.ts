import { parsePattern, parseRoutingRules } from './validate';

const route = (over: Record<string, unknown> = {}) => ({ name: 'human', topic: 'wiki.changes.human', key: 'wiki', match: {}, ...over });
const file = (...routes: unknown[]) => ({ version: 1, routes });
const problemsOf = (input: unknown, opts = {}) => {
  const r = parseRoutingRules(input, opts);
  return r.ok ? [] : r.problems;
};

describe('routing rules validation', () => {
  it('parseRoutingRules should accept a well-formed file', () => {
    const r = parseRoutingRules(file(route({ match: { type: ['edit', 'new'], bot: false, namespace: 0, sizeDelta: { min: -10 }, any: [{ wiki: 'enwiki' }, { domain: '*.wikipedia.org' }] } })));
    expect(r.ok).toBe(true);
    expect(r.ok && r.rules.routes.map((x) => x.name)).toEqual(['human']);
  });

  it.each<[string, unknown, string]>([
    ['not an object', [], 'rules file: must be a JSON object'],
    ['missing version', { routes: [route()] }, 'rules file: version: must be 1 (got undefined)'],
    ['wrong version', { version: 2, routes: [route()] }, 'rules file: version: must be 1 (got 2)'],
    ['unknown top-level field', { version: 1, routes: [route()], rutes: [] }, 'rules file: rutes: unknown field (did you mean "routes"?)'],
    ['no routes', { version: 1, routes: [] }, 'rules file: routes: must be a non-empty list'],
    ['route not an object', file('x'), 'routes[0]: must be an object'],
    ['bad name', file(route({ name: 'Human Edits' })), 'route "Human Edits" (routes[0]): name: must be lower-case'],
    ['duplicate name', file(route(), route({ topic: 'other' })), 'route "human" (routes[1]): name: duplicates the name of routes[0]'],
    ['bad topic', file(route({ topic: 'wiki changes' })), 'route "human" (routes[0]): topic: must be a Kafka topic name'],
    ['duplicate topic', file(route(), route({ name: 'other' })), 'route "other" (routes[1]): topic: "wiki.changes.human" is already the topic of route "human" (routes[0])'],
    ['bad key', file(route({ key: 'title' })), 'route "human" (routes[0]): key: must be one of wiki, wiki:title, id, domain, wiki:user, none (got "title")'],
    ['missing match', file({ name: 'human', topic: 't', key: 'wiki' }), 'route "human" (routes[0]): match: is required'],
    ['match not an object', file(route({ match: 'all' })), 'route "human" (routes[0]): match: must be an object of conditions'],
    ['unknown route field', file(route({ topics: ['a'] })), 'route "human" (routes[0]): topics: unknown field (did you mean "topic"?)'],
    ['misspelt condition', file(route({ match: { namspace: 0 } })), 'route "human" (routes[0]): match.namspace: unknown field (did you mean "namespace"?)'],
    ['namespace as a string', file(route({ match: { namespace: '0' } })), 'route "human" (routes[0]): match.namespace: must be an integer or a non-empty list of them (got "0")'],
    ['empty list', file(route({ match: { wiki: [] } })), 'match.wiki: must be a non-empty string or a non-empty list of them (got [])'],
    ['unknown change type', file(route({ match: { type: ['edit', 'delete'] } })), 'match.type: must be one of edit|new|log|categorize|external|unknown'],
    ['bot as a string', file(route({ match: { bot: 'no' } })), 'route "human" (routes[0]): match.bot: must be true or false (got "no")'],
    ['bad regular expression', file(route({ match: { titlePattern: '([a-z' } })), 'route "human" (routes[0]): match.titlePattern: invalid regular expression'],
    ['bad regex flags', file(route({ match: { userPattern: '/bot/g' } })), 'match.userPattern: unsupported regular expression flags "g"'],
    ['size range reversed', file(route({ match: { sizeDelta: { min: 10, max: 1 } } })), 'match.sizeDelta: min is greater than max'],
    ['size range not integers', file(route({ match: { sizeDelta: { min: '1k' } } })), 'match.sizeDelta: min and max must be integers'],
    ['size range empty', file(route({ match: { sizeDelta: {} } })), 'match.sizeDelta: needs min, max or both'],
    ['nested field error names its path', file(route({ match: { any: [{ wiki: 'enwiki' }, { not: { namespace: 'x' } }] } })), 'route "human" (routes[0]): match.any[1].not.namespace: must be an integer'],
    ['empty any', file(route({ match: { any: [] } })), 'match.any: must be a non-empty list of conditions'],
    ['enabled not boolean', file(route({ enabled: 'yes' })), 'route "human" (routes[0]): enabled: must be true or false'],
    ['all disabled', file(route({ enabled: false })), 'every route is disabled'],
  ])('parseRoutingRules should reject %s, naming the rule and field', (_name, input, expected) => {
    const problems = problemsOf(input);
    expect(problems.join('\n')).toContain(expected);
  });

  it('parseRoutingRules should refuse a route to a reserved topic (the input would loop)', () => {
    const problems = problemsOf(file(route({ topic: 'wiki.raw.changes' })), { reservedTopics: { 'wiki.raw.changes': 'the input topic' } });
    expect(problems).toEqual(['route "human" (routes[0]): topic: "wiki.raw.changes" is the input topic and cannot be a route']);
  });

  it('parseRoutingRules should report every problem at once', () => {
    const problems = problemsOf({ version: 1, routes: [route({ key: 'x' }), route({ name: 'b', topic: 'b', match: { bot: 1, namespace: 'main' } })] });
    expect(problems.map((p) => p.split(': ').slice(0, 2).join(': '))).toEqual(['route "human" (routes[0]): key', 'route "b" (routes[1]): match.namespace', 'route "b" (routes[1]): match.bot']);
  });

  it.each<[string, string | RegExp]>([
    ['^User:', /^User:/],
    ['/bot$/i', /bot$/i],
    ['/a/g', 'unsupported regular expression flags "g" (use i, m, s, u)'],
  ])('parsePattern should parse %s', (text, expected) => {
    const r = parsePattern(text);
    if (typeof expected === 'string') expect(r).toBe(expected);
    else expect(r).toEqual(expected);
  });
});
