/**
 * Failures the stand-in injects, one per row of the enricher's failure table: an HTTP status
 * (408, 204, 3xx, 4xx, 5xx), a read timeout (no answer until the client gives up), `badrevids`
 * (the revision reported missing in a 200 answer) and `maxlag` (the lagged-replica error with
 * Retry-After and X-Database-Lag).
 */
export type Fault = { kind: 'status'; status: number } | { kind: 'read-timeout' } | { kind: 'badrevids' } | { kind: 'maxlag' };

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** Per revid: the fault, and how many more requests naming the revid get it (Infinity: all). */
export interface RevidFault {
  revid: number;
  fault: Fault;
  times: number;
}

/** Per request (or per revid for badrevids): the fault with this probability. */
export interface RateFault {
  fault: Fault;
  rate: number;
}

export interface FaultPlan {
  revids: RevidFault[];
  rates: RateFault[];
}

const NAMED = ['read-timeout', 'badrevids', 'maxlag'] as const;

export function parseFault(raw: string): Fault | string {
  const s = raw.trim();
  if ((NAMED as readonly string[]).includes(s)) return { kind: s as (typeof NAMED)[number] };
  if (/^\d{3}$/.test(s)) {
    const status = Number(s);
    if (status === 204 || status === 408 || (status >= 300 && status <= 599)) return { kind: 'status', status };
  }
  return `unknown fault ${JSON.stringify(s)} (read-timeout, badrevids, maxlag, 204, 408, or a status 300-599)`;
}

export const faultName = (f: Fault): string => (f.kind === 'status' ? String(f.status) : f.kind);

/** `<revid>=<fault>[*<times>]`, joined by commas, e.g. `1101648129=503*2,1101648210=maxlag`. */
export function parseRevidFaults(raw: string): Parsed<RevidFault[]> {
  const out: RevidFault[] = [];
  const problems: string[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)=([a-z0-9-]+)(?:\*(\d+))?$/.exec(part);
    if (!m) {
      problems.push(`${JSON.stringify(part)}: expected <revid>=<fault>[*<times>]`);
      continue;
    }
    const fault = parseFault(m[2] as string);
    if (typeof fault === 'string') problems.push(`${part}: ${fault}`);
    else out.push({ revid: Number(m[1]), fault, times: m[3] === undefined ? Infinity : Number(m[3]) });
  }
  return problems.length ? { ok: false, problems } : { ok: true, value: out };
}

/** `<fault>=<probability>`, joined by commas, e.g. `maxlag=0.1,503=0.02`. */
export function parseRateFaults(raw: string): Parsed<RateFault[]> {
  const out: RateFault[] = [];
  const problems: string[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z0-9-]+)=(\d+(?:\.\d+)?)$/.exec(part);
    const fault = m ? parseFault(m[1] as string) : 'expected <fault>=<probability>';
    const rate = m ? Number(m[2]) : NaN;
    if (typeof fault === 'string') problems.push(`${JSON.stringify(part)}: ${fault}`);
    else if (!(rate >= 0 && rate <= 1)) problems.push(`${JSON.stringify(part)}: the probability must be in [0, 1]`);
    else out.push({ fault, rate });
  }
  return problems.length ? { ok: false, problems } : { ok: true, value: out };
}

/** What one request gets: a whole-request fault (or none), and the revids to report in badrevids. */
export interface RequestFaults {
  whole: Fault | null;
  badrevids: Set<number>;
  /** Per-revid injections that fired (for the stats). */
  fired: Array<{ revid: number; fault: string }>;
}

/**
 * The injections of a running stand-in: per-revid faults count down as requests name the revid;
 * rates draw from `random` (seeded by the caller for repeatable runs).
 */
export class FaultInjector {
  private plan: FaultPlan;
  private remaining = new Map<number, RevidFault>();

  constructor(plan: FaultPlan, private readonly random: () => number) {
    this.plan = plan;
    this.replace(plan);
  }

  replace(plan: FaultPlan): void {
    this.plan = plan;
    this.remaining = new Map(plan.revids.map((r) => [r.revid, { ...r }]));
  }

  describe(): { revids: Array<{ revid: number; fault: string; remaining: number | 'all' }>; rates: Array<{ fault: string; rate: number }> } {
    return {
      revids: [...this.remaining.values()].map((r) => ({ revid: r.revid, fault: faultName(r.fault), remaining: r.times === Infinity ? 'all' : r.times })),
      rates: this.plan.rates.map((r) => ({ fault: faultName(r.fault), rate: r.rate })),
    };
  }

  /** The faults of a request for these revids (in the order asked). */
  forRequest(revids: readonly number[]): RequestFaults {
    const out: RequestFaults = { whole: null, badrevids: new Set(), fired: [] };
    for (const id of revids) {
      const r = this.remaining.get(id);
      if (!r || r.times <= 0) continue;
      if (r.fault.kind === 'badrevids') out.badrevids.add(id);
      else if (out.whole) continue; // one whole-request fault per request; the others wait for their next request
      else out.whole = r.fault;
      r.times--;
      out.fired.push({ revid: id, fault: faultName(r.fault) });
    }
    for (const rate of this.plan.rates) {
      if (rate.fault.kind === 'badrevids') {
        for (const id of revids) if (this.random() < rate.rate) out.badrevids.add(id);
      } else if (!out.whole && this.random() < rate.rate) {
        out.whole = rate.fault;
      }
    }
    return out;
  }
}
