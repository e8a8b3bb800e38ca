import { z } from 'zod';
import { WikiMonitorError } from './errors';

/**
 * Parses an app's configuration from an environment object, once, at start-up.
 * Every problem is reported in one error (code CONFIG_INVALID), each naming its variable.
 */
export function parseConfig<S extends z.ZodTypeAny>(schema: S, source: Record<string, string | undefined>): z.output<S> {
  // An empty variable (`FOO=` in compose or a ConfigMap) means "not set": the default applies.
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(source)) if (v !== '') env[k] = v;
  const result = schema.safeParse(env);
  if (result.success) return result.data as z.output<S>;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(root)';
    const value = issue.path.length === 1 ? env[String(issue.path[0])] : undefined;
    const shown = value === undefined ? 'missing' : `got ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}`;
    return `${key}: ${issue.message} (${shown})`;
  });
  return throwConfig(problems);
}

function throwConfig(problems: string[]): never {
  throw new WikiMonitorError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
    details: { problems },
  });
}

/** Environment-variable field helpers: strings from env coerced with a clear message. */
export const env = {
  string: (def?: string) => (def === undefined ? z.string().min(1, 'required') : z.string().min(1).default(def)),
  optionalString: () => z.string().min(1).optional(),
  int: (def: number, opts: { min?: number; max?: number } = {}) =>
    z
      .string()
      .regex(/^-?\d+$/, 'must be an integer')
      .transform(Number)
      .pipe(z.number().int().min(opts.min ?? Number.MIN_SAFE_INTEGER).max(opts.max ?? Number.MAX_SAFE_INTEGER))
      .default(String(def)),
  number: (def: number, opts: { min?: number; max?: number } = {}) =>
    z
      .string()
      .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
      .transform(Number)
      .pipe(z.number().min(opts.min ?? -Infinity).max(opts.max ?? Infinity))
      .default(String(def)),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(def ? 'true' : 'false'),
  url: (def?: string) => (def === undefined ? z.string().url('must be a URL') : z.string().url('must be a URL').default(def)),
  list: (def: string[]) =>
    z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .default(def.join(',')),
  enum: <const T extends [string, ...string[]]>(values: T, def: T[number]) => z.enum(values).default(def as never),
};

/** Settings every service shares: HTTP port for health/metrics, log level, service identity. */
export const baseConfigShape = {
  HTTP_PORT: env.int(8080, { min: 0, max: 65535 }),
  LOG_LEVEL: env.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  SHUTDOWN_TIMEOUT_MS: env.int(25_000, { min: 1000 }),
};
