// Prometheus text exposition, parsed for tests: every sample as name, labels and value.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePromText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples of one metric as "label=value,..." -> value, without the given labels (e.g. the constant `service`). */
export function seriesOf(samples: Sample[], name: string, drop: string[] = ['service']): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = Object.entries(s.labels)
      .filter(([k]) => !drop.includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(',');
    out.set(key, s.value);
  }
  return out;
}

// Written apart from metrics.ts's relabelling on purpose: what an operator's query sees, projected back.
const BACK_TO_TWIN: Record<string, string | null> = { cluster_name: null, member_host: null, consumer_id: null, client_id: null, group_id: 'group', topic_name: 'topic', partition_id: 'partition', service: null };

/**
 * Every difference between each alias and its twin on a scrape: a series one has and the other not,
 * or a value that differs. Alias labels are projected back to the twin's (cluster and owner labels
 * dropped, kminion's names renamed). Empty when every alias equals its twin.
 */
export function aliasDifferences(samples: Sample[], aliases: Record<string, Partial<Record<string, string>>>): string[] {
  const diffs: string[] = [];
  for (const [twinName, names] of Object.entries(aliases)) {
    const twin = seriesOf(samples, twinName);
    for (const alias of Object.values(names)) {
      if (!alias) continue;
      const projected = new Map<string, number>();
      for (const s of samples) {
        if (s.name !== alias) continue;
        const key = Object.entries(s.labels)
          .flatMap(([k, v]) => {
            const to = k in BACK_TO_TWIN ? BACK_TO_TWIN[k] : k;
            return to ? [`${to}=${v}`] : [];
          })
          .sort()
          .join(',');
        projected.set(key, s.value);
      }
      for (const [k, v] of twin) if (projected.get(k) !== v) diffs.push(`${alias}{${k}} = ${projected.get(k)}, ${twinName} = ${v}`);
      for (const [k, v] of projected) if (!twin.has(k)) diffs.push(`${alias}{${k}} = ${v} has no ${twinName} twin`);
    }
  }
  return diffs;
}
