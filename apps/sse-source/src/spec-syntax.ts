import { type Parsed, parsed, rejected } from './types';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** "500ms", "5s", "1.5m", "2h"; a bare number is milliseconds. */
export function parseDurationMs(raw: string): number | undefined {
  const m = DURATION.exec(raw.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[(m[2] ?? 'ms') as keyof typeof UNIT_MS];
}

/** Parses "key=value,key=value" (the syntax of burst and inject specs). */
export function parseKeyValues(spec: string): Parsed<Map<string, string>> {
  const map = new Map<string, string>();
  const problems: string[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      problems.push(`"${part}" is not key=value`);
      continue;
    }
    const key = part.slice(0, eq).trim();
    if (map.has(key)) problems.push(`"${key}" is given twice`);
    map.set(key, part.slice(eq + 1).trim());
  }
  return problems.length > 0 ? rejected(problems) : parsed(map);
}

/** Typed reads from a key=value map that collect problems instead of throwing. */
export class SpecReader {
  readonly problems: string[] = [];

  constructor(
    private readonly values: Map<string, string>,
    private readonly what: string,
    allowedKeys: readonly string[],
  ) {
    for (const key of values.keys()) {
      if (!allowedKeys.includes(key)) this.problems.push(`${what}: unknown key "${key}" (expected ${allowedKeys.join(', ')})`);
    }
  }

  duration(key: string, fallback?: number): number {
    const raw = this.values.get(key);
    if (raw === undefined) return this.missing(key, fallback);
    const ms = parseDurationMs(raw);
    if (ms === undefined) {
      this.problems.push(`${this.what}: ${key} must be a duration like 500ms, 5s or 2m (got "${raw}")`);
      return 0;
    }
    return ms;
  }

  number(key: string, fallback: number | undefined, check: { min?: number; above?: number; integer?: boolean } = {}): number {
    const raw = this.values.get(key);
    if (raw === undefined) return this.missing(key, fallback);
    const n = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    const bad =
      !Number.isFinite(n) ||
      (check.integer === true && !Number.isInteger(n)) ||
      (check.min !== undefined && n < check.min) ||
      (check.above !== undefined && n <= check.above);
    if (bad) {
      const bounds = check.above !== undefined ? ` > ${check.above}` : check.min !== undefined ? ` >= ${check.min}` : '';
      this.problems.push(`${this.what}: ${key} must be ${check.integer === true ? 'an integer' : 'a number'}${bounds} (got "${raw}")`);
      return 0;
    }
    return n;
  }

  string(key: string, fallback?: string, pattern?: RegExp): string {
    const raw = this.values.get(key);
    if (raw === undefined || raw === '') return this.missing(key, fallback);
    if (pattern && !pattern.test(raw)) {
      this.problems.push(`${this.what}: ${key} has an unexpected form (got "${raw}")`);
    }
    return raw;
  }

  optionalString(key: string): string | undefined {
    const raw = this.values.get(key);
    return raw === undefined || raw === '' ? undefined : raw;
  }

  private missing<T>(key: string, fallback: T | undefined): T {
    if (fallback !== undefined) return fallback;
    this.problems.push(`${this.what}: ${key} is required`);
    return undefined as T;
  }
}
