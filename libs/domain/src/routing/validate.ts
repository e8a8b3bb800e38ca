import { ChangeTypeSymbols, type WikiChange } from '@wikimonitor/contracts';
import { sizeDelta } from '../recentchange/normalize';
import { type CompiledRoute, type Condition, RouteKeys, type RouteRuleSpec, type RoutingRulesSpec, type RulesValidation } from './types';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
};

/** Kafka's legal topic names. */
const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const CONDITION_FIELDS = [
  'wiki',
  'domain',
  'type',
  'namespace',
  'bot',
  'minor',
  'patrolled',
  'user',
  'userPattern',
  'titlePattern',
  'commentPattern',
  'logType',
  'logAction',
  'sizeDelta',
  'any',
  'not',
] as const satisfies ReadonlyArray<keyof Condition>;
const ROUTE_FIELDS = ['name', 'description', 'topic', 'key', 'match', 'enabled'] as const satisfies ReadonlyArray<keyof RouteRuleSpec>;
const TOP_FIELDS = ['version', 'routes', '$comment', 'description'] as const;
const MAX_DEPTH = 8;

/** Edit distance (Levenshtein, case-insensitive) between two short names. */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[y.length];
}

/** " (did you mean ...?)" for a misspelt field name within edit distance 2 of a known one. */
function suggest(word: string, known: readonly string[]): string {
  const best = known.map((k) => ({ k, d: editDistance(word, k) })).sort((p, q) => p.d - q.d)[0];
  return best && best.d <= 2 ? ` (did you mean "${best.k}"?)` : '';
}

function unknownFields(o: Obj, known: readonly string[], path: string, problems: string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) problems.push(`${path}${k}: unknown field${suggest(k, known)}; known fields: ${known.join(', ')}`);
}

/** Parses `pattern` or `/pattern/flags` into a RegExp, or returns the reason it is not one. */
export function parsePattern(text: string): RegExp | string {
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(text);
  const [source, flags] = literal ? [literal[1] as string, literal[2] as string] : [text, ''];
  if (/[^imsu]/.test(flags)) return `unsupported regular expression flags "${flags}" (use i, m, s, u)`;
  try {
    return new RegExp(source, flags);
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
}

/** What a stream's condition fields get to compile themselves (one field at a time). */
export interface ConditionContext<T> {
  readonly raw: Readonly<Record<string, unknown>>;
  readonly path: string;
  problem(field: string, message: string): void;
  /** Adds a predicate every matching record must satisfy. */
  push(p: (r: T) => boolean): void;
  /** The field's value as a non-empty list of items passing `check`, or undefined (absent or reported). */
  list<V>(field: string, check: (v: unknown) => v is V, what: string): V[] | undefined;
  /** `field` is a string or a list of them; matches when `get` returns one of them. */
  strIn(field: string, get: (r: T) => string | null): void;
  /** `field` is one of `symbols` or a list of them; matches when `get` returns one of them. */
  oneOf(field: string, symbols: readonly string[], get: (r: T) => string | null): void;
  /** `field` is true or false; matches when `get` returns it (null never matches). */
  flag(field: string, get: (r: T) => boolean | null): void;
  /** `field` is a regular expression; matches when `get` returns a string it finds something in. */
  pattern(field: string, get: (r: T) => string | null): void;
}

/** The condition fields of one stream: their names (for unknown-field messages) and how they compile. */
export interface ConditionVocabulary<T> {
  readonly fields: readonly string[];
  readonly compile: (ctx: ConditionContext<T>) => void;
}

export const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
export const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * Compiles one condition into a predicate, pushing a problem naming the field for everything wrong.
 * `path` is the field prefix in messages, e.g. `match.` or `match.any[1].`. The stream's vocabulary
 * compiles its fields; `any` and `not` (and the AND of everything) are the same for every stream.
 */
function compileCondition<T>(raw: unknown, path: string, problems: string[], vocab: ConditionVocabulary<T>, depth = 0): (r: T) => boolean {
  const never = () => false;
  const here = path.replace(/\.$/, '');
  if (!isObj(raw)) {
    problems.push(`${here}: must be an object of conditions, {} matches everything (got ${show(raw)})`);
    return never;
  }
  if (depth > MAX_DEPTH) {
    problems.push(`${here}: conditions nested deeper than ${MAX_DEPTH} levels`);
    return never;
  }
  unknownFields(raw, [...vocab.fields, 'any', 'not'], path, problems);
  const preds: Array<(r: T) => boolean> = [];
  const before = problems.length;

  const list = <V>(field: string, check: (v: unknown) => v is V, what: string): V[] | undefined => {
    const v = raw[field];
    if (v === undefined) return undefined;
    const items = Array.isArray(v) ? v : [v];
    if (items.length === 0 || !items.every(check)) {
      problems.push(`${path}${field}: must be ${what} or a non-empty list of them (got ${show(v)})`);
      return undefined;
    }
    return items;
  };
  const ctx: ConditionContext<T> = {
    raw,
    path,
    problem: (field, message) => void problems.push(`${path}${field}: ${message} (got ${show(raw[field])})`),
    push: (p) => void preds.push(p),
    list,
    strIn(field, get) {
      const items = list(field, isNonEmptyString, 'a non-empty string');
      if (!items) return;
      const set = new Set(items);
      preds.push((c) => {
        const v = get(c);
        return v !== null && set.has(v);
      });
    },
    oneOf(field, symbols, get) {
      const items = list(field, (v): v is string => typeof v === 'string' && symbols.includes(v), `one of ${symbols.join('|')}`);
      if (!items) return;
      const set = new Set(items);
      preds.push((c) => {
        const v = get(c);
        return v !== null && set.has(v);
      });
    },
    flag(field, get) {
      const v = raw[field];
      if (v === undefined) return;
      if (typeof v !== 'boolean') return void problems.push(`${path}${field}: must be true or false (got ${show(v)})`);
      preds.push((c) => get(c) === v);
    },
    pattern(field, get) {
      const v = raw[field];
      if (v === undefined) return;
      if (!isNonEmptyString(v)) return void problems.push(`${path}${field}: must be a regular expression string (got ${show(v)})`);
      const re = parsePattern(v);
      if (typeof re === 'string') return void problems.push(`${path}${field}: ${re} (got ${show(v)})`);
      preds.push((c) => {
        const s = get(c);
        return s !== null && re.test(s);
      });
    },
  };
  vocab.compile(ctx);

  const any = raw['any'];
  if (any !== undefined) {
    if (!Array.isArray(any) || any.length === 0) problems.push(`${path}any: must be a non-empty list of conditions (got ${show(any)})`);
    else {
      const alts = any.map((a, i) => compileCondition(a, `${path}any[${i}].`, problems, vocab, depth + 1));
      preds.push((c) => alts.some((p) => p(c)));
    }
  }
  if (raw['not'] !== undefined) {
    const inner = compileCondition(raw['not'], `${path}not.`, problems, vocab, depth + 1);
    preds.push((c) => !inner(c));
  }

  if (problems.length > before) return never;
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0] as (r: T) => boolean;
  return (c) => {
    for (const p of preds) if (!p(c)) return false;
    return true;
  };
}

/** The recentchange (WikiChange) condition fields. */
const WIKI_VOCABULARY: ConditionVocabulary<WikiChange> = {
  fields: CONDITION_FIELDS.filter((f) => f !== 'any' && f !== 'not'),
  compile(ctx) {
    const { raw } = ctx;
    ctx.strIn('wiki', (c) => c.wiki);
    const domains = ctx.list('domain', isNonEmptyString, 'a domain or *.suffix');
    if (domains) {
      const exact = new Set(domains.filter((d) => !d.startsWith('*.')));
      const suffixes = domains.filter((d) => d.startsWith('*.')).map((d) => d.slice(1));
      ctx.push((c) => exact.has(c.domain) || suffixes.some((s) => c.domain.endsWith(s)));
    }
    ctx.oneOf('type', ChangeTypeSymbols, (c) => c.type);
    const namespaces = ctx.list('namespace', isInteger, 'an integer');
    if (namespaces) {
      const set = new Set(namespaces);
      ctx.push((c) => set.has(c.namespace));
    }
    ctx.flag('bot', (c) => c.bot);
    ctx.flag('minor', (c) => c.minor);
    ctx.flag('patrolled', (c) => c.patrolled);
    ctx.strIn('user', (c) => c.user);
    ctx.pattern('userPattern', (c) => c.user);
    ctx.pattern('titlePattern', (c) => c.title);
    ctx.pattern('commentPattern', (c) => c.comment);
    ctx.strIn('logType', (c) => c.log_type);
    ctx.strIn('logAction', (c) => c.log_action);

    const range = raw['sizeDelta'];
    if (range !== undefined) {
      const bad = (m: string) => ctx.problem('sizeDelta', m);
      if (!isObj(range)) bad('must be an object {"min": int, "max": int} with at least one end');
      else {
        const extra = Object.keys(range).filter((k) => k !== 'min' && k !== 'max');
        const { min, max } = range;
        if (extra.length) bad(`unknown field ${extra.map((e) => `"${e}"`).join(', ')}; use min and max`);
        else if (min === undefined && max === undefined) bad('needs min, max or both');
        else if ((min !== undefined && !isInteger(min)) || (max !== undefined && !isInteger(max))) bad('min and max must be integers');
        else if (isInteger(min) && isInteger(max) && min > max) bad('min is greater than max');
        else {
          const lo = isInteger(min) ? min : -Infinity;
          const hi = isInteger(max) ? max : Infinity;
          ctx.push((c) => {
            if (c.length_new === null) return false;
            const d = sizeDelta(c);
            return d >= lo && d <= hi;
          });
        }
      }
    }
  },
};

export interface ParseRulesOptions {
  /** Topics no route may write to, with why (the input topic would loop, the DLQ is not a route). */
  reservedTopics?: Record<string, string>;
}

/**
 * Validates a parsed rule file and compiles it. Every problem is reported at once, each naming the
 * rule (by name and position) and the field, so a bad file can be fixed in one pass.
 */
export function parseRoutingRules(input: unknown, opts: ParseRulesOptions = {}): RulesValidation {
  return parseRulesWith(input, opts, WIKI_VOCABULARY, RouteKeys);
}

/**
 * A stream's rule file (the same format: version, routes of name, topic, key, match, enabled),
 * validated and compiled with the stream's condition fields and route keys.
 */
export function parseRulesWith<T, K extends string>(input: unknown, opts: ParseRulesOptions, vocab: ConditionVocabulary<T>, keys: readonly K[]): RulesValidation<T, K> {
  const problems: string[] = [];
  if (!isObj(input)) return { ok: false, problems: [`rules file: must be a JSON object {"version": 1, "routes": [...]} (got ${show(input)})`] };
  unknownFields(input, TOP_FIELDS, 'rules file: ', problems);
  if (input['version'] !== 1) problems.push(`rules file: version: must be 1 (got ${show(input['version'])})`);
  const routes = input['routes'];
  if (!Array.isArray(routes) || routes.length === 0) {
    problems.push(`rules file: routes: must be a non-empty list of routes (got ${show(routes)})`);
    return { ok: false, problems };
  }

  const compiled: Array<CompiledRoute<T, K>> = [];
  const names = new Map<string, number>();
  const topics = new Map<string, string>();
  routes.forEach((r: unknown, i: number) => {
    const label = isObj(r) && typeof r['name'] === 'string' && r['name'] ? `route "${r['name']}" (routes[${i}])` : `routes[${i}]`;
    const at = (field: string, msg: string) => problems.push(`${label}: ${field}: ${msg}`);
    if (!isObj(r)) return void problems.push(`${label}: must be an object with name, topic, key and match (got ${show(r)})`);
    const routeProblems: string[] = [];
    unknownFields(r, ROUTE_FIELDS, '', routeProblems);
    routeProblems.forEach((p) => problems.push(`${label}: ${p}`));

    const { name, topic, key, description, enabled } = r;
    if (typeof name !== 'string' || !NAME_RE.test(name)) at('name', `must be lower-case letters, digits, ".", "_" or "-", at most 64 (got ${show(name)})`);
    else if (names.has(name)) at('name', `duplicates the name of routes[${names.get(name)}]`);
    else names.set(name, i);
    if (typeof topic !== 'string' || !TOPIC_RE.test(topic) || topic === '.' || topic === '..') at('topic', `must be a Kafka topic name: 1-249 of a-z A-Z 0-9 . _ - (got ${show(topic)})`);
    else if (opts.reservedTopics?.[topic]) at('topic', `"${topic}" is ${opts.reservedTopics[topic]} and cannot be a route`);
    else if (topics.has(topic)) at('topic', `"${topic}" is already the topic of ${topics.get(topic)}; one topic per route, so a record is written there once`);
    else topics.set(topic, label);
    if (typeof key !== 'string' || !(keys as readonly string[]).includes(key)) at('key', `must be one of ${keys.join(', ')} (got ${show(key)})`);
    if (description !== undefined && typeof description !== 'string') at('description', `must be a string (got ${show(description)})`);
    if (enabled !== undefined && typeof enabled !== 'boolean') at('enabled', `must be true or false (got ${show(enabled)})`);
    if (!('match' in r)) at('match', 'is required ({} matches every record)');

    const matchProblems: string[] = [];
    const matches = 'match' in r ? compileCondition(r['match'], 'match.', matchProblems, vocab) : () => false;
    matchProblems.forEach((p) => problems.push(`${label}: ${p}`));
    if (enabled === false) return;
    compiled.push({ name: String(name), topic: String(topic), key: key as K, description: typeof description === 'string' ? description : '', matches });
  });

  if (problems.length) return { ok: false, problems };
  if (compiled.length === 0) return { ok: false, problems: ['rules file: routes: every route is disabled; nothing would be routed'] };
  return { ok: true, rules: { routes: compiled, spec: input as unknown as RoutingRulesSpec<unknown, K> } };
}
