/** Half-open character range [start, end) of a JSON value inside a JSON text. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Finds where the values at the given dotted object paths (e.g. "meta.id") sit in a well-formed
 * JSON text, so a few fields can be replaced without re-serialising (and so changing) the rest.
 * Arrays are skipped, not descended into. A duplicated key reports its last occurrence, as JSON.parse does.
 */
export function locateJsonValues(text: string, paths: readonly string[]): Map<string, Span> {
  const wanted = new Set(paths);
  const prefixes = new Set<string>();
  for (const p of paths) {
    const parts = p.split('.');
    for (let k = 1; k < parts.length; k++) prefixes.add(parts.slice(0, k).join('.'));
  }
  const found = new Map<string, Span>();
  const n = text.length;
  let i = 0;

  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i}`);
  };
  const skipWs = () => {
    while (i < n && WS.has(text.charCodeAt(i))) i++;
  };
  const skipString = () => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) i += 2;
      else if (c === 0x22) {
        i++;
        return;
      } else i++;
    }
    fail('unterminated string');
  };
  const value = (path: string | undefined): void => {
    skipWs();
    const start = i;
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      i++;
      skipWs();
      if (text.charCodeAt(i) === 0x7d) i++;
      else {
        for (;;) {
          skipWs();
          if (text.charCodeAt(i) !== 0x22) fail('expected a key');
          const keyStart = i;
          skipString();
          const raw = text.slice(keyStart + 1, i - 1);
          const key = raw.includes('\\') ? (JSON.parse(text.slice(keyStart, i)) as string) : raw;
          skipWs();
          if (text.charCodeAt(i) !== 0x3a) fail('expected ":"');
          i++;
          const child = path === undefined ? undefined : path === '' ? key : `${path}.${key}`;
          value(child !== undefined && (wanted.has(child) || prefixes.has(child)) ? child : undefined);
          skipWs();
          const d = text.charCodeAt(i++);
          if (d === 0x7d) break;
          if (d !== 0x2c) fail('expected "," or "}"');
        }
      }
    } else if (c === 0x5b) {
      i++;
      skipWs();
      if (text.charCodeAt(i) === 0x5d) i++;
      else {
        for (;;) {
          value(undefined);
          skipWs();
          const d = text.charCodeAt(i++);
          if (d === 0x5d) break;
          if (d !== 0x2c) fail('expected "," or "]"');
        }
      }
    } else if (c === 0x22) {
      skipString();
    } else {
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x2c || d === 0x7d || d === 0x5d || WS.has(d)) break;
        i++;
      }
      if (i === start) fail('expected a value');
    }
    if (path !== undefined && wanted.has(path)) found.set(path, { start, end: i });
  };

  value('');
  return found;
}

/** Replaces non-overlapping spans of `text` with new (already JSON-encoded) values. */
export function spliceJson(text: string, replacements: ReadonlyArray<{ span: Span; json: string }>): string {
  const sorted = [...replacements].sort((a, b) => a.span.start - b.span.start);
  let out = '';
  let at = 0;
  for (const r of sorted) {
    if (r.span.start < at) throw new RangeError('overlapping JSON replacements');
    out += text.slice(at, r.span.start) + r.json;
    at = r.span.end;
  }
  return out + text.slice(at);
}
