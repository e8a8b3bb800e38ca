/** Result of parsing user input (env values, query parameters, spec strings): a value or every problem found. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

export const parsed = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const rejected = <T = never>(problems: string[]): Parsed<T> => ({ ok: false, problems });

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
