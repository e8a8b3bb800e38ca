import { type Parsed, parsed, rejected } from './types';

/**
 * What event times a connection sees. `original`: the recorded times (later loop passes moved forward by
 * whole passes). `now`: every event is dated when it is sent (wall clock), like a live stream.
 */
export const TIME_MODES = ['original', 'now'] as const;
export type TimeMode = (typeof TIME_MODES)[number];
/** A setting: a mode, or `auto` = `now` when the connection loops (more than one pass), else `original`. */
export const TIME_SETTINGS = ['auto', ...TIME_MODES] as const;
export type TimeSetting = (typeof TIME_SETTINGS)[number];

export function parseTimeSetting(raw: string): Parsed<TimeSetting> {
  const value = raw.trim().toLowerCase();
  return (TIME_SETTINGS as readonly string[]).includes(value)
    ? parsed(value as TimeSetting)
    : rejected([`time must be ${TIME_SETTINGS.join(', ')} (got ${JSON.stringify(raw)})`]);
}

/** The mode a connection is served in: the setting, with `auto` resolved by the number of passes. */
export function effectiveTimeMode(options: { time: TimeSetting; passes: number }): TimeMode {
  if (options.time !== 'auto') return options.time;
  return options.passes > 1 ? 'now' : 'original';
}

/**
 * The send-time clock of one `now`-mode connection. Called once per event with the precision its meta.dt
 * is written in (1 s for `...T16:16:17Z`, 1 ms for `...T15:49:36.569Z`), it returns the event's send time
 * in ms: the wall clock, never earlier than the time it returned before (a wall clock stepped back, e.g.
 * by NTP, repeats the latest reading until it catches up). Written at its precision (truncated), the
 * time of each event is also never earlier than that of the event before: after a finer-written event,
 * an event written in whole seconds gets the next whole second (less than 1 s ahead of the wall clock)
 * rather than go back to the start of the current one. (`offset`, the log offset being dated, is for
 * clocks that keep the times they gave: see upstream.ts.)
 */
export type SendClock = (precisionMs?: number, offset?: number) => number;

export function createSendClock(now: () => number = Date.now): SendClock {
  let latest = -Infinity;
  let written = -Infinity;
  return (precisionMs = 1) => {
    const t = Math.max(now(), latest);
    let w = t - (t % precisionMs);
    if (w < written) w = Math.ceil(written / precisionMs) * precisionMs;
    written = w;
    latest = Math.max(t, w);
    return latest;
  };
}
