import { FAULT_KINDS, type FaultKind, type FaultPlan, STATUS_CODES, type StatusFault } from './faults';
import { type InjectSpec, parseInjectSpecs } from './inject';
import { type BurstSpec, parseBurst } from './schedule';
import { ID_MODES, type IdMode } from './event-id';
import { parseDurationMs } from './spec-syntax';
import { type TimeSetting, parseTimeSetting } from './time-mode';
import { type DatacenterSetting, parseDatacenter } from './upstream';
import { type Parsed, parsed, rejected } from './types';

export const END_MODES = ['hold', 'close'] as const;
export type EndMode = (typeof END_MODES)[number];

/** How one connection is served. Server-wide defaults come from config; query parameters override them. */
export interface StreamOptions {
  /** Events per second; 0 = as fast as the socket takes them. */
  rate: number;
  burst: BurstSpec | undefined;
  injections: InjectSpec[];
  /** Passes over the recording: 1 = no loop, Infinity = forever. */
  passes: number;
  /** After the last event: keep the connection open with keep-alive comments, or close it. */
  end: EndMode;
  keepaliveMs: number;
  fault: FaultPlan;
  status: StatusFault | undefined;
  /** Counts connection attempts for `status` (tests pass their own to start from zero). */
  statusKey: string | undefined;
  /** A canary event after every N-th log offset; 0 = none. */
  canaryEvery: number;
  /** Event times: recorded (`original`), send time (`now`), or `auto` (`now` when passes > 1); see time-mode.ts. */
  time: TimeSetting;
  /** How `id:` is written and Last-Event-ID read: per-partition timestamps (EventStreams) or this source's log offset. */
  idMode: IdMode;
  /** The server ends the response after this long (EventStreams: about 15 min); 0 = never. */
  lifetimeMs: number;
  /** Which datacenter serves the connection (meta.offset values differ); see upstream.ts. */
  datacenter: DatacenterSetting;
}

/** Query parameters a stream request understands (besides `since`). */
export const QUERY_PARAMS = ['rate', 'burst', 'inject', 'loop', 'end', 'keepalive', 'fault', 'every', 'ms', 'status', 'times', 'key', 'canary', 'time', 'idmode', 'lifetime', 'dc'] as const;

const NONE = new Set(['', 'none', 'off', 'false']);

function nonNegative(name: string, raw: string, problems: string[], integer = true): number {
  const ok = integer ? /^\d+$/.test(raw) : /^\d+(\.\d+)?$/.test(raw);
  if (!ok) problems.push(`${name} must be ${integer ? 'a whole number' : 'a number'} >= 0 (got ${JSON.stringify(raw)})`);
  return Number(raw);
}

/** Parses `loop`: true|forever -> Infinity, false -> 1 pass, n -> n passes. */
export function parseLoop(raw: string): Parsed<number> {
  if (raw === 'true' || raw === 'forever' || raw === 'yes' || raw === 'on') return parsed(Infinity);
  if (raw === 'false' || raw === 'no' || raw === 'off') return parsed(1);
  if (/^\d+$/.test(raw) && Number(raw) >= 1) return parsed(Number(raw));
  return rejected([`loop must be true, false or a pass count >= 1 (got ${JSON.stringify(raw)})`]);
}

/** Applies per-request query parameters on top of the server defaults; every problem is reported. */
export function applyQueryOverrides(defaults: StreamOptions, query: Readonly<Record<string, string | undefined>>): Parsed<StreamOptions> {
  const o: StreamOptions = { ...defaults, fault: { ...defaults.fault } };
  const problems: string[] = [];
  const q = (name: (typeof QUERY_PARAMS)[number]) => query[name];

  const rate = q('rate');
  if (rate !== undefined) o.rate = nonNegative('rate', rate, problems, false);
  const burst = q('burst');
  if (burst !== undefined) {
    if (NONE.has(burst)) o.burst = undefined;
    else {
      const b = parseBurst(burst);
      if (b.ok) o.burst = b.value;
      else problems.push(...b.problems);
    }
  }
  const inject = q('inject');
  if (inject !== undefined) {
    if (NONE.has(inject)) o.injections = [];
    else {
      const i = parseInjectSpecs(inject);
      if (i.ok) o.injections = i.value;
      else problems.push(...i.problems);
    }
  }
  const loop = q('loop');
  if (loop !== undefined) {
    const l = parseLoop(loop);
    if (l.ok) o.passes = l.value;
    else problems.push(...l.problems);
  }
  const end = q('end');
  if (end !== undefined) {
    if ((END_MODES as readonly string[]).includes(end)) o.end = end as EndMode;
    else problems.push(`end must be hold or close (got ${JSON.stringify(end)})`);
  }
  const keepalive = q('keepalive');
  if (keepalive !== undefined) {
    o.keepaliveMs = nonNegative('keepalive', keepalive, problems);
    if (o.keepaliveMs < 1) problems.push('keepalive must be >= 1 ms');
  }

  const fault = q('fault');
  if (fault !== undefined) {
    if ((FAULT_KINDS as readonly string[]).includes(fault)) o.fault.kind = fault as FaultKind;
    else problems.push(`fault must be one of ${FAULT_KINDS.join(', ')} (got ${JSON.stringify(fault)})`);
  }
  const every = q('every');
  if (every !== undefined) {
    o.fault.every = nonNegative('every', every, problems);
    if (o.fault.every < 1) problems.push('every must be >= 1');
  }
  const ms = q('ms');
  if (ms !== undefined) o.fault.stallMs = nonNegative('ms', ms, problems);

  const status = q('status');
  const times = q('times');
  if (status !== undefined) {
    if (NONE.has(status)) o.status = undefined;
    else if ((STATUS_CODES as readonly number[]).includes(Number(status))) {
      o.status = { status: Number(status) as StatusFault['status'], times: defaults.status?.times ?? 1 };
    } else problems.push(`status must be ${STATUS_CODES.join(' or ')} (got ${JSON.stringify(status)})`);
  }
  if (times !== undefined) {
    const n = nonNegative('times', times, problems);
    if (o.status) o.status = { ...o.status, times: n };
    else if (status === undefined) problems.push('times needs status=429 or status=503');
  }
  const key = q('key');
  if (key !== undefined) o.statusKey = key;

  const canary = q('canary');
  if (canary !== undefined) o.canaryEvery = nonNegative('canary', canary, problems);

  const time = q('time');
  if (time !== undefined) {
    const t = parseTimeSetting(time);
    if (t.ok) o.time = t.value;
    else problems.push(...t.problems);
  }

  const idMode = q('idmode');
  if (idMode !== undefined) {
    if ((ID_MODES as readonly string[]).includes(idMode)) o.idMode = idMode as IdMode;
    else problems.push(`idmode must be ${ID_MODES.join(' or ')} (got ${JSON.stringify(idMode)})`);
  }
  const lifetime = q('lifetime');
  if (lifetime !== undefined) {
    const ms = parseDurationMs(lifetime);
    if (ms === undefined) problems.push(`lifetime must be a duration like 900000, 500ms, 5s or 15m (0 = never; got ${JSON.stringify(lifetime)})`);
    else o.lifetimeMs = ms;
  }
  const dc = q('dc');
  if (dc !== undefined) {
    const d = parseDatacenter(dc);
    if (d.ok) o.datacenter = d.value;
    else problems.push(...d.problems);
  }

  return problems.length > 0 ? rejected(problems) : parsed(o);
}
