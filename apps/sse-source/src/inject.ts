import { SpecReader, parseKeyValues } from './spec-syntax';
import { type Parsed, parsed, rejected } from './types';

/** `count` extra events for `wiki`, due from `atMs` after the connection opened, all at once or at `rate`/s. */
export interface InjectSpec {
  wiki: string;
  domain: string;
  atMs: number;
  count: number;
  /** Events per second for the injected events; 0 = all at once. */
  rate: number;
}

const INJECT_KEYS = ['wiki', 'at', 'count', 'rate', 'domain'] as const;

const SPECIAL_DOMAINS: Readonly<Record<string, string>> = {
  commonswiki: 'commons.wikimedia.org',
  wikidatawiki: 'www.wikidata.org',
  testwikidatawiki: 'test.wikidata.org',
  metawiki: 'meta.wikimedia.org',
  specieswiki: 'species.wikimedia.org',
  mediawikiwiki: 'www.mediawiki.org',
  sourceswiki: 'wikisource.org',
  incubatorwiki: 'incubator.wikimedia.org',
  foundationwiki: 'foundation.wikimedia.org',
  outreachwiki: 'outreach.wikimedia.org',
  wikifunctionswiki: 'www.wikifunctions.org',
};
const FAMILIES = ['wiktionary', 'wikibooks', 'wikinews', 'wikiquote', 'wikisource', 'wikiversity', 'wikivoyage'] as const;

/** The host name of a Wikimedia wiki id (dewiki -> de.wikipedia.org, enwiktionary -> en.wiktionary.org). */
export function domainForWiki(wiki: string): string | undefined {
  const special = SPECIAL_DOMAINS[wiki];
  if (special) return special;
  const lang = (suffix: string) => wiki.slice(0, -suffix.length).replace(/_/g, '-');
  for (const family of FAMILIES) {
    if (wiki.endsWith(family) && wiki.length > family.length) return `${lang(family)}.${family}.org`;
  }
  if (wiki.endsWith('wiki') && wiki.length > 4) return `${lang('wiki')}.wikipedia.org`;
  return undefined;
}

function parseOne(spec: string): Parsed<InjectSpec> {
  const kv = parseKeyValues(spec);
  if (!kv.ok) return rejected(kv.problems.map((p) => `inject: ${p}`));
  const r = new SpecReader(kv.value, 'inject', INJECT_KEYS);
  const wiki = r.string('wiki', undefined, /^[a-z0-9_-]+$/);
  const atMs = r.duration('at', 0);
  const count = r.number('count', undefined, { min: 1, integer: true });
  const rate = r.number('rate', 0, { min: 0 });
  const domain = r.optionalString('domain') ?? (wiki === undefined ? undefined : domainForWiki(wiki));
  if (domain === undefined) {
    if (wiki !== undefined) r.problems.push(`inject: cannot derive a domain for wiki "${wiki}"; add domain=...`);
    return rejected(r.problems);
  }
  return r.problems.length > 0 ? rejected(r.problems) : parsed({ wiki, domain, atMs, count, rate });
}

/** Parses "wiki=dewiki,at=5s,count=300[,rate=100][,domain=...]"; several injections are separated by ";". */
export function parseInjectSpecs(spec: string): Parsed<InjectSpec[]> {
  const specs: InjectSpec[] = [];
  const problems: string[] = [];
  for (const part of spec.split(';').map((s) => s.trim()).filter(Boolean)) {
    const one = parseOne(part);
    if (one.ok) specs.push(one.value);
    else problems.push(...one.problems);
  }
  if (specs.length === 0 && problems.length === 0) problems.push('inject: empty spec');
  return problems.length > 0 ? rejected(problems) : parsed(specs);
}

/** How many of an injection's events are due `elapsedMs` after the connection opened. */
export function injectedDueCount(spec: InjectSpec, elapsedMs: number): number {
  if (elapsedMs < spec.atMs) return 0;
  if (spec.rate <= 0) return spec.count;
  return Math.min(spec.count, Math.floor(((elapsedMs - spec.atMs) * spec.rate) / 1000 + 1e-9) + 1);
}

/** When the next event of an injection is due (ms after the connection opened), Infinity when all went out. */
export function nextInjectionDueMs(spec: InjectSpec, emitted: number): number {
  if (emitted >= spec.count) return Infinity;
  if (spec.rate <= 0 || emitted === 0) return spec.atMs;
  return spec.atMs + (emitted * 1000) / spec.rate;
}

/**
 * The recorded event an injected event is cloned from: the wiki's own events in turn when the log has
 * some (no rewrite needed), otherwise any event in turn, moved to the wiki.
 */
export function pickInjectionTemplate(wiki: string, byWiki: ReadonlyMap<string, readonly number[]>, logSize: number, seq: number): { index: number; sameWiki: boolean } {
  const own = byWiki.get(wiki);
  if (own && own.length > 0) return { index: own[seq % own.length], sameWiki: true };
  return { index: seq % logSize, sameWiki: false };
}
