import type { WikiChange } from '@wikimonitor/contracts';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { normalizeRecentChange } from '../recentchange/normalize';
import { routeChange, routeKey } from './evaluate';
import type { Condition, RouteKey, RoutingRules } from './types';
import { parseRoutingRules } from './validate';

const base: WikiChange = {
  id: 'id-1',
  event_time: 1_700_000_000_000,
  received_time: 1_700_000_000_100,
  wiki: 'enwiki',
  domain: 'en.wikipedia.org',
  stream: 'mediawiki.recentchange',
  type: 'edit',
  namespace: 0,
  title: 'Main Page',
  title_url: null,
  user: 'Alice',
  bot: false,
  minor: false,
  patrolled: null,
  length_old: 100,
  length_new: 150,
  revision_old: 1,
  revision_new: 2,
  comment: 'fix typo',
  rc_id: 7,
  server_name: 'en.wikipedia.org',
  request_id: null,
  schema_uri: null,
  log_id: null,
  log_type: null,
  log_action: null,
  log_action_comment: null,
  log_params: null,
  source: { topic: null, partition: null, offset: null, sse_id: null },
};
const change = (over: Partial<WikiChange>): WikiChange => ({ ...base, ...over });

function compile(match: Condition): RoutingRules {
  const r = parseRoutingRules({ version: 1, routes: [{ name: 'r', topic: 't', key: 'wiki', match }] });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.rules;
}
const matches = (match: Condition, c: WikiChange) => routeChange(compile(match), c).length === 1;

describe('routing rule evaluation', () => {
  it.each<[string, Condition, Partial<WikiChange>, boolean]>([
    ['empty condition matches anything', {}, { type: 'log', namespace: -1 }, true],
    ['wiki in list', { wiki: ['dewiki', 'enwiki'] }, {}, true],
    ['wiki not in list', { wiki: 'dewiki' }, {}, false],
    ['domain exact', { domain: 'en.wikipedia.org' }, {}, true],
    ['domain suffix', { domain: '*.wikipedia.org' }, {}, true],
    ['domain suffix is not a substring match', { domain: '*.wikipedia.org' }, { domain: 'en.wikipedia.org.evil' }, false],
    ['domain suffix other project', { domain: ['*.wiktionary.org'] }, {}, false],
    ['type single', { type: 'edit' }, {}, true],
    ['type list miss', { type: ['new', 'log'] }, {}, false],
    ['namespace hit', { namespace: [0, 14] }, { namespace: 14 }, true],
    ['namespace miss', { namespace: 0 }, { namespace: 2 }, false],
    ['bot false on human', { bot: false }, {}, true],
    ['bot true on human', { bot: true }, {}, false],
    ['minor true', { minor: true }, { minor: true }, true],
    ['minor false does not match a record without the flag', { minor: false }, { minor: null }, false],
    ['minor true does not match a record without the flag', { minor: true }, { minor: null }, false],
    ['patrolled', { patrolled: true }, { patrolled: true }, true],
    ['user exact', { user: ['Alice', 'Bob'] }, {}, true],
    ['user exact is case-sensitive', { user: 'alice' }, {}, false],
    ['user pattern', { userPattern: 'Bot$' }, { user: 'QuickStatementsBot' }, true],
    ['user pattern with flags', { userPattern: '/^alice$/i' }, {}, true],
    ['title pattern on the prefixed title', { titlePattern: '^User:' }, { title: 'User:Alice/sandbox', namespace: 2 }, true],
    ['title pattern miss', { titlePattern: '^Talk:' }, {}, false],
    ['comment pattern', { commentPattern: 'typo' }, {}, true],
    ['log type', { logType: 'patrol' }, { type: 'log', log_type: 'patrol' }, true],
    ['log type on a record without one', { logType: 'patrol' }, {}, false],
    ['log action', { logAction: ['delete', 'restore'] }, { type: 'log', log_action: 'delete' }, true],
    ['size delta min hit', { sizeDelta: { min: 50 } }, {}, true],
    ['size delta min miss', { sizeDelta: { min: 51 } }, {}, false],
    ['size delta range negative', { sizeDelta: { min: -1000, max: -1 } }, { length_old: 500, length_new: 20 }, true],
    ['size delta of a new page counts from zero', { sizeDelta: { min: 1000 } }, { type: 'new', length_old: null, length_new: 4000 }, true],
    ['size delta never matches a record without length', { sizeDelta: { max: 0 } }, { type: 'log', length_old: null, length_new: null }, false],
    ['fields are ANDed', { type: 'edit', bot: false, namespace: 0 }, {}, true],
    ['one failing field fails the AND', { type: 'edit', bot: false, namespace: 0 }, { bot: true }, false],
    ['any of alternatives', { any: [{ wiki: 'dewiki' }, { namespace: 0 }] }, {}, true],
    ['any with no hit', { any: [{ wiki: 'dewiki' }, { namespace: 1 }] }, {}, false],
    ['not', { not: { bot: true } }, {}, true],
    ['not excludes', { type: 'edit', not: { userPattern: 'Bot$' } }, { user: 'SomeBot' }, false],
    ['nested any inside not', { not: { any: [{ type: 'log' }, { type: 'categorize' }] } }, { type: 'categorize' }, false],
  ])('a rule should evaluate %s', (_name, match, over, expected) => {
    expect(matches(match, change(over))).toBe(expected);
  });

  it.each<[RouteKey, string | null]>([
    ['wiki', 'enwiki'],
    ['wiki:title', 'enwiki:Main Page'],
    ['id', 'id-1'],
    ['domain', 'en.wikipedia.org'],
    ['wiki:user', 'enwiki:Alice'],
    ['none', null],
  ])('routeKey should give key %s = %j', (key, expected) => {
    expect(routeKey(key, base)).toBe(expected);
  });

  it('routeChange should return every matching route in file order with its own key', () => {
    const r = parseRoutingRules({
      version: 1,
      routes: [
        { name: 'all', topic: 'a', key: 'wiki', match: {} },
        { name: 'bots', topic: 'b', key: 'wiki', match: { bot: true } },
        { name: 'content', topic: 'c', key: 'wiki:title', match: { namespace: 0 } },
        { name: 'off', topic: 'd', key: 'wiki', match: {}, enabled: false },
      ],
    });
    if (!r.ok) throw new Error(r.problems.join('\n'));
    expect(routeChange(r.rules, base)).toEqual([
      { route: 'all', topic: 'a', key: 'enwiki' },
      { route: 'content', topic: 'c', key: 'enwiki:Main Page' },
    ]);
    expect(routeChange(r.rules, change({ bot: true, namespace: 2 })).map((t) => t.route)).toEqual(['all', 'bots']);
  });

  it('routeChange should agree with plain predicates on every recorded real event', () => {
    const rules = compile({ any: [{ type: ['edit', 'new'], bot: false, namespace: 0 }, { type: 'log', not: { bot: true } }] });
    const changes = loadRecordedEvents().flatMap((e) => {
      const n = normalizeRecentChange(e.json, { receivedTime: 0, sseId: null });
      return n.kind === 'change' ? [n.change] : [];
    });
    const byRules = changes.filter((c) => routeChange(rules, c).length > 0).map((c) => c.id);
    const byHand = changes.filter((c) => (['edit', 'new'].includes(c.type) && !c.bot && c.namespace === 0) || (c.type === 'log' && !c.bot)).map((c) => c.id);
    expect(byRules).toEqual(byHand);
    expect(byRules.length).toBeGreaterThan(900);
  });
});
