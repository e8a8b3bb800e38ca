import type { WikiChange } from '@wikimonitor/contracts';
import { changeKey } from '../recentchange/normalize';
import type { RouteKey, RouteTarget, RoutingRules } from './types';

/** The Kafka key a route writes a change under (null: no key, the producer spreads records). */
export function routeKey(key: RouteKey, change: WikiChange): string | null {
  switch (key) {
    case 'wiki':
      return change.wiki;
    case 'wiki:title':
      return changeKey(change);
    case 'id':
      return change.id;
    case 'domain':
      return change.domain;
    case 'wiki:user':
      return `${change.wiki}:${change.user}`;
    case 'none':
      return null;
  }
}

/**
 * Every route a change goes to, in rule-file order: zero, one or several. Routes are independent
 * (a record matching three rules is written to three topics); there is no "first match wins".
 */
export function routeChange(rules: RoutingRules, change: WikiChange): RouteTarget[] {
  return routeRecord(rules, change, routeKey);
}

/** Every route a record of any stream goes to, its key formed by the stream's `keyOf`. */
export function routeRecord<T, K extends string>(rules: RoutingRules<T, K>, record: T, keyOf: (key: K, record: T) => string | null): RouteTarget[] {
  const out: RouteTarget[] = [];
  for (const r of rules.routes) if (r.matches(record)) out.push({ route: r.name, topic: r.topic, key: keyOf(r.key, record) });
  return out;
}
