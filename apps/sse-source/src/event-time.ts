const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

function zoneOffsetMinutes(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
}

/** Parses an ISO-8601 date-time; one without a zone is taken as UTC (not local time, as Date.parse would). */
export function parseIsoMs(value: string): number {
  const m = ISO.exec(value);
  if (!m) return NaN;
  return Date.parse(m[3] === undefined ? `${value}Z` : value);
}

/** How an ISO-8601 timestamp is written, so another instant can be written the same way (see formatIsoAs). */
export interface IsoFormat {
  /** The zone as written: `Z`, `+00:00`, `+0200`..., or '' (none: UTC). */
  readonly zone: string;
  /** The zone's offset from UTC. */
  readonly zoneOffsetMs: number;
  /** False for `hh:mm` without seconds. */
  readonly withSeconds: boolean;
  /** Fraction digits after the seconds (0 = no fraction). */
  readonly fractionDigits: number;
  /** The digits beyond milliseconds (fractionDigits > 3), written after the milliseconds as they are. */
  readonly subMs: string;
}

/** The written form of an ISO-8601 date-time, or undefined when it is not one. */
export function isoFormatOf(value: string): IsoFormat | undefined {
  const m = ISO.exec(value);
  if (!m || !Number.isFinite(parseIsoMs(value))) return undefined;
  const fraction = m[2] ?? '';
  const digits = Math.max(0, fraction.length - 1);
  return {
    zone: m[3] ?? '',
    zoneOffsetMs: zoneOffsetMinutes(m[3]) * 60_000,
    withSeconds: m[1].length > 16,
    fractionDigits: digits,
    subMs: digits > 3 ? fraction.slice(4) : '',
  };
}

/** The same form with zeros beyond the milliseconds (for instants that have no finer part, like a clock reading). */
export function wholeMillisecondFormat(format: IsoFormat): IsoFormat {
  return format.subMs === '' || /^0+$/.test(format.subMs) ? format : { ...format, subMs: '0'.repeat(format.subMs.length) };
}

/** The step between instants the form can tell apart: 60 s without seconds, 1 s without fraction, 100 ms for one digit... 1 ms. */
export function isoPrecisionMs(format: IsoFormat): number {
  if (!format.withSeconds) return 60_000;
  return 10 ** Math.max(0, 3 - Math.min(3, format.fractionDigits));
}

// Replays write runs of events with the same clock reading: one Date per distinct instant.
let cachedMs = NaN;
let cachedIso = '';
function isoStringOf(ms: number): string {
  if (ms !== cachedMs) {
    cachedIso = new Date(ms).toISOString();
    cachedMs = ms;
  }
  return cachedIso;
}

/**
 * Writes the instant `ms` in the given form: the same zone (local time in it), precision and number of
 * fraction digits (fewer than 3 truncate the milliseconds).
 */
export function formatIsoAs(ms: number, format: IsoFormat): string {
  const local = isoStringOf(ms + format.zoneOffsetMs);
  let out = local.slice(0, format.withSeconds ? 19 : 16);
  const digits = format.fractionDigits;
  if (digits > 0) out += digits <= 3 ? local.slice(19, 20 + digits) : `${local.slice(19, 23)}${format.subMs}`;
  return out + format.zone;
}

/**
 * Moves an ISO-8601 timestamp by `shiftMs`, keeping its written form (fraction digits, `Z` or `+00:00`),
 * so shifted events look like the originals.
 */
export function shiftIsoTimestamp(value: string, shiftMs: number): string {
  const format = isoFormatOf(value);
  if (format === undefined) return value;
  return formatIsoAs(parseIsoMs(value) + shiftMs, format);
}
