import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeRecentChange, routeChange } from '@wikimonitor/domain';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { DEFAULT_RULES_SOURCE, loadRoutingRules } from './rules';

const topics = { inputTopic: 'wiki.raw.changes', dlqTopic: 'wiki.dlq' };
const writeTmp = (content: string) => {
  const file = join(mkdtempSync(join(tmpdir(), 'fr-rules-')), 'rules.json');
  writeFileSync(file, content);
  return file;
};

type Raw = Record<string, unknown>;
/** The documented meaning of each default route, written on the raw recorded JSON (independent of the rule engine). */
const documented: Array<[string, string, string, (e: Raw) => boolean, number]> = [
  ['all', 'wiki.changes.all', 'wiki', () => true, 4053],
  ['human-content', 'wiki.changes.human-content', 'wiki:title', (e) => (e['type'] === 'edit' || e['type'] === 'new') && e['bot'] === false && e['namespace'] === 0, 956],
  ['new-pages', 'wiki.changes.new-pages', 'wiki:title', (e) => e['type'] === 'new', 52],
  ['log', 'wiki.changes.log', 'wiki', (e) => e['type'] === 'log', 25],
  ['bot', 'wiki.changes.bot', 'wiki', (e) => e['bot'] === true, 3025],
];

describe('filter-router rules', () => {
  const { rules, source } = loadRoutingRules(topics);

  it('the built-in default rules should be the five documented routes with their topics and keys', () => {
    expect(source).toBe(DEFAULT_RULES_SOURCE);
    expect(rules.routes.map((r) => [r.name, r.topic, r.key])).toEqual(documented.map(([n, t, k]) => [n, t, k]));
  });

  it.each(documented)('default route %s should select from the recorded data exactly what it documents', (name, _topic, _key, predicate, count) => {
    const events = loadRecordedEvents();
    const byRules = events.filter((e) => {
      const n = normalizeRecentChange(e.json, { receivedTime: 0, sseId: null });
      return n.kind === 'change' && routeChange(rules, n.change).some((t) => t.route === name);
    });
    const byHand = events.filter((e) => predicate(e.json));
    expect(byRules.map((e) => e.json.meta.id)).toEqual(byHand.map((e) => e.json.meta.id));
    expect(byRules).toHaveLength(count);
  });

  it('loadRoutingRules should stop with CONFIG_INVALID naming every bad rule and field of a file', () => {
    const file = writeTmp(
      JSON.stringify({
        version: 1,
        routes: [
          { name: 'ok', topic: 'a', key: 'wiki', match: {} },
          { name: 'broken', topic: 'b', key: 'wiki', match: { namespace: 'main', titlePattern: '(' } },
          { name: 'loop', topic: 'wiki.raw.changes', key: 'wiki', match: {} },
        ],
      }),
    );
    let error: unknown;
    try {
      loadRoutingRules({ ...topics, file });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    const message = (error as Error).message;
    expect(message).toContain(`invalid routing rules in ${file}`);
    expect(message).toContain('route "broken" (routes[1]): match.namespace: must be an integer');
    expect(message).toContain('route "broken" (routes[1]): match.titlePattern: invalid regular expression');
    expect(message).toContain('route "loop" (routes[2]): topic: "wiki.raw.changes" is the input topic (INPUT_TOPIC)');
  });

  it.each([
    ['not JSON', '{"version": 1, routes: []}', /is not valid JSON/],
    ['a DLQ route', JSON.stringify({ version: 1, routes: [{ name: 'x', topic: 'wiki.dlq', key: 'wiki', match: {} }] }), /route "x" \(routes\[0\]\): topic: "wiki.dlq" is the dead-letter topic/],
  ])('loadRoutingRules should refuse a file that is %s', (_name, content, expected) => {
    expect(() => loadRoutingRules({ ...topics, file: writeTmp(content) })).toThrow(expected);
  });

  it('loadRoutingRules should refuse a file that cannot be read', () => {
    expect(() => loadRoutingRules({ ...topics, file: '/nonexistent/rules.json' })).toThrow(/ROUTES_FILE \/nonexistent\/rules.json cannot be read/);
  });
});
