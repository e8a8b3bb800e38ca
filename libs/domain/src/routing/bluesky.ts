import { type BlueskyEvent, BlueskyEventKindSymbols, BlueskyOperationSymbols } from '@wikimonitor/contracts';
import { routeRecord } from './evaluate';
import type { RouteTarget, RoutingRules, RulesValidation } from './types';
import { type ConditionVocabulary, type ParseRulesOptions, isNonEmptyString, parseRulesWith } from './validate';

/**
 * How a Bluesky route keys its records: `did` (the repository: per-account order, as on the raw
 * topic), `subject` (`<collection>:<operation>` for commits, the kind for identity/account events:
 * what the aggregator windows by, so one subject lives in one partition), `id`, or none.
 */
export const BlueskyRouteKeys = ['did', 'subject', 'id', 'none'] as const;
export type BlueskyRouteKey = (typeof BlueskyRouteKeys)[number];

export type BlueskyRoutingRules = RoutingRules<BlueskyEvent, BlueskyRouteKey>;

/** `<collection>:<operation>` of a commit; `identity` or `account` otherwise. Never throws on a record lacking its commit. */
export function blueskySubject(e: Pick<BlueskyEvent, 'kind' | 'commit'>): string {
  return e.kind === 'commit' && e.commit ? `${e.commit.collection}:${e.commit.operation}` : e.kind;
}

/** The primary language subtag, lower case (`en-US` -> `en`). */
export const primaryLanguage = (tag: string): string => (tag.split('-')[0] ?? '').toLowerCase();

/**
 * Bluesky's condition fields: kind, collection (an NSID, or `prefix.*` for a namespace), operation,
 * lang (a post's language: primary subtags, `none` for a post that names none; only posts match).
 */
const BLUESKY_VOCABULARY: ConditionVocabulary<BlueskyEvent> = {
  fields: ['kind', 'collection', 'operation', 'lang'],
  compile(ctx) {
    ctx.oneOf('kind', BlueskyEventKindSymbols, (e) => e.kind);
    const collections = ctx.list('collection', isNonEmptyString, 'an NSID or a prefix.*');
    if (collections) {
      const exact = new Set(collections.filter((c) => !c.endsWith('.*')));
      const prefixes = collections.filter((c) => c.endsWith('.*')).map((c) => c.slice(0, -1));
      ctx.push((e) => !!e.commit && (exact.has(e.commit.collection) || prefixes.some((p) => e.commit?.collection.startsWith(p))));
    }
    ctx.oneOf('operation', BlueskyOperationSymbols, (e) => e.commit?.operation ?? null);
    const langs = ctx.list('lang', isNonEmptyString, 'a language subtag (en, ja, ...) or none');
    if (langs) {
      const set = new Set(langs.map(primaryLanguage));
      ctx.push((e) => {
        const post = e.commit?.post;
        if (!post) return false;
        if (!post.langs.length) return set.has('none');
        return post.langs.some((l) => set.has(primaryLanguage(l)));
      });
    }
  },
};

/** Validates and compiles a Bluesky rule file (same format as the recentchange one, Bluesky's fields and keys). */
export function parseBlueskyRoutingRules(input: unknown, opts: ParseRulesOptions = {}): RulesValidation<BlueskyEvent, BlueskyRouteKey> {
  return parseRulesWith(input, opts, BLUESKY_VOCABULARY, BlueskyRouteKeys);
}

export function blueskyRouteKey(key: BlueskyRouteKey, e: BlueskyEvent): string | null {
  switch (key) {
    case 'did':
      return e.did;
    case 'subject':
      return blueskySubject(e);
    case 'id':
      return e.id;
    case 'none':
      return null;
  }
}

/** Every Bluesky route an event goes to, in rule-file order. */
export function routeBlueskyEvent(rules: BlueskyRoutingRules, e: BlueskyEvent): RouteTarget[] {
  return routeRecord(rules, e, blueskyRouteKey);
}
