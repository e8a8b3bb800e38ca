import { jetstreamEventOrThrow } from '../bluesky/normalize';
import type { BlueskyEvent } from '@wikimonitor/contracts';
import { recordedBlueskyEvents } from '@wikimonitor/testing';
import { blueskySubject, parseBlueskyRoutingRules, routeBlueskyEvent } from './bluesky';

const events = recordedBlueskyEvents(jetstreamEventOrThrow);
const rules = (routes: unknown[]) => {
  const r = parseBlueskyRoutingRules({ version: 1, routes });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.rules;
};
const routedIds = (match: unknown, key = 'did') => events.filter((e) => routeBlueskyEvent(rules([{ name: 'r', topic: 't', key, match }]), e).length).map((e) => e.id);

describe('Bluesky routing rules', () => {
  it('blueskySubject should be <collection>:<operation> for commits and the kind otherwise, also for a commit record lacking its commit', () => {
    const like = events.find((e) => e.commit?.collection === 'app.bsky.feed.like') as BlueskyEvent;
    expect(blueskySubject(like)).toBe(`app.bsky.feed.like:${like.commit?.operation}`);
    expect(blueskySubject(events.find((e) => e.kind === 'identity') as BlueskyEvent)).toBe('identity');
    expect(blueskySubject({ kind: 'commit', commit: null })).toBe('commit');
  });

  it.each([
    ['a collection prefix', { collection: 'app.bsky.graph.*' }, (e: BlueskyEvent) => !!e.commit?.collection.startsWith('app.bsky.graph.')],
    ['not app.bsky.*', { kind: 'commit', not: { collection: 'app.bsky.*' } }, (e: BlueskyEvent) => e.kind === 'commit' && !e.commit?.collection.startsWith('app.bsky.')],
    ['deletes', { operation: 'delete' }, (e: BlueskyEvent) => e.commit?.operation === 'delete'],
    ['a language by primary subtag (en-US is en)', { lang: 'en' }, (e: BlueskyEvent) => !!e.commit?.post?.langs.some((l) => l.toLowerCase().startsWith('en'))],
    ['posts naming no language', { lang: 'none' }, (e: BlueskyEvent) => !!e.commit?.post && e.commit.post.langs.length === 0],
    ['identity or account (no commit)', { kind: ['identity', 'account'] }, (e: BlueskyEvent) => e.kind !== 'commit'],
    ['any of two', { any: [{ operation: 'update' }, { kind: 'account' }] }, (e: BlueskyEvent) => e.commit?.operation === 'update' || e.kind === 'account'],
  ])('a rule on %s should select exactly the recorded events it describes', (_name, match, expected) => {
    const ids = routedIds(match);
    expect(ids).toEqual(events.filter(expected).map((e) => e.id));
    expect(ids.length).toBeGreaterThan(0);
  });

  it('keys should be the did, the subject, the id or none', () => {
    const e = events[0] as BlueskyEvent;
    const r = rules(['did', 'subject', 'id', 'none'].map((key) => ({ name: key, topic: `t.${key}`, key, match: {} })));
    expect(routeBlueskyEvent(r, e).map((t) => t.key)).toEqual([e.did, blueskySubject(e), e.id, null]);
  });

  it('parseBlueskyRoutingRules should name every bad field at once, with a suggestion for a misspelt one', () => {
    const r = parseBlueskyRoutingRules({ version: 1, routes: [{ name: 'x', topic: 't', key: 'wiki', match: { colection: 'a', operation: 'c', kind: 'com', lang: [] } }] });
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/key: must be one of did, subject, id, none/),
        expect.stringMatching(/match\.colection: unknown field \(did you mean "collection"\?\)/),
        expect.stringMatching(/match\.operation: must be one of create\|update\|delete/),
        expect.stringMatching(/match\.kind: must be one of commit\|identity\|account/),
        expect.stringMatching(/match\.lang: must be a language subtag/),
      ]),
    );
  });
});
