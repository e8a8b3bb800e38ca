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
 * The send-time clock of one `now`-mode connection: wall-clock ms that never go backwards (a wall clock
 * stepped back, e.g. by NTP, repeats the latest reading until it catches up).
 */
export function createSendClock(now: () => number = Date.now): () => number {
  let latest = -Infinity;
  return () => {
    const t = now();
    if (t > latest) latest = t;
    return latest;
  };
}
