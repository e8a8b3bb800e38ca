/**
 * The source text of the members of a JSON object, without re-serializing: JSON.stringify of a
 * parsed value is not the text received (Jetstream is written by Go, which escapes <, > and & as
 * \u003c...; numbers like 1.0 lose their form). Assumes valid JSON (the caller parsed it first).
 */
export function memberSpans(text: string, start = skipWs(text, 0)): Map<string, { start: number; end: number }> {
  const out = new Map<string, { start: number; end: number }>();
  if (text[start] !== '{') return out;
  let i = skipWs(text, start + 1);
  if (text[i] === '}') return out;
  for (;;) {
    const keyEnd = skipValue(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // ':'
    const end = skipValue(text, i);
    out.set(key, { start: i, end });
    i = skipWs(text, end);
    if (text[i] !== ',') return out;
    i = skipWs(text, i + 1);
  }
}

function skipWs(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  return i;
}

/** The index just after the JSON value starting at i. */
function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === '"') return j + 1;
    }
    return text.length;
  }
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text[j];
      if (d === '"') j = skipValue(text, j) - 1;
      else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return text.length;
  }
  let j = i;
  while (j < text.length && !',}] \n\r\t'.includes(text[j] as string)) j++;
  return j;
}
