import type { ChangeType, WikiChange } from '@wikimonitor/contracts';

/** How a route chooses the Kafka key of the records it writes (and so their partition). */
export const RouteKeys = ['wiki', 'wiki:title', 'id', 'domain', 'wiki:user', 'none'] as const;
export type RouteKey = (typeof RouteKeys)[number];

/** A number range, both ends inclusive and optional. */
export interface RangeCondition {
  min?: number;
  max?: number;
}

/**
 * What a rule matches, as written in the rule file. Every field present must hold (AND); a list
 * means "any of these" (OR). `{}` matches every record.
 */
export interface Condition {
  wiki?: string | string[];
  /** Exact domains, or `*.suffix` (e.g. `*.wikipedia.org`). */
  domain?: string | string[];
  type?: ChangeType | ChangeType[];
  namespace?: number | number[];
  bot?: boolean;
  /** Records without the flag (log, categorize) match neither true nor false. */
  minor?: boolean;
  patrolled?: boolean;
  user?: string | string[];
  /** Regular expression on the user name: `pattern` or `/pattern/flags`. */
  userPattern?: string;
  /** Regular expression on the full, namespace-prefixed title. */
  titlePattern?: string;
  commentPattern?: string;
  logType?: string | string[];
  logAction?: string | string[];
  /** Bytes added (positive) or removed (negative); only records that carry a new length match. */
  sizeDelta?: RangeCondition;
  /** At least one of these conditions holds. */
  any?: Condition[];
  /** This condition does not hold. */
  not?: Condition;
}

/** One route as written in the rule file. */
export interface RouteRuleSpec<C = Condition, K extends string = RouteKey> {
  name: string;
  description?: string;
  topic: string;
  key: K;
  match: C;
  /** Default true; false keeps the rule in the file but routes nothing. */
  enabled?: boolean;
}

export interface RoutingRulesSpec<C = Condition, K extends string = RouteKey> {
  version: 1;
  routes: Array<RouteRuleSpec<C, K>>;
}

/** A validated route, its condition compiled to a predicate. */
export interface CompiledRoute<T = WikiChange, K extends string = RouteKey> {
  readonly name: string;
  readonly topic: string;
  readonly key: K;
  readonly description: string;
  readonly matches: (record: T) => boolean;
}

/** Validated routes of one stream: records of type T, keys of type K. */
export interface RoutingRules<T = WikiChange, K extends string = RouteKey> {
  readonly routes: ReadonlyArray<CompiledRoute<T, K>>;
  /** The validated spec (for logs and documentation). */
  readonly spec: RoutingRulesSpec<unknown, K>;
}

/** Where one record goes for one route. */
export interface RouteTarget {
  route: string;
  topic: string;
  key: string | null;
}

export type RulesValidation<T = WikiChange, K extends string = RouteKey> = { ok: true; rules: RoutingRules<T, K> } | { ok: false; problems: string[] };
