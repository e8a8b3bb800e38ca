import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { WikiMonitorError } from './errors';
import { closestMatch } from './suggest';

export interface ParseConfigOptions {
  /** Who reads the configuration (named in warnings), e.g. the app's name. */
  name?: string;
  /** Where warnings go (default: one line each on stderr). */
  warn?: (line: string) => void;
}

/**
 * Parses an app's configuration from an environment object, once, at start-up.
 * Every problem is reported in one error (code CONFIG_INVALID), each naming its variable; the
 * problems are also in `details.problems`, one line each. A variable that is a near miss of one of the
 * schema's keys (`KAFKA_BOOTSTRAP_SERVER`) gets a warning naming the key it probably meant.
 */
export function parseConfig<S extends z.ZodType>(schema: S, source: Record<string, string | undefined>, options: ParseConfigOptions = {}): z.output<S> {
  // An empty variable (`FOO=` in compose or a ConfigMap) means "not set": the default applies.
  const given: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(source)) if (v !== '') given[k] = v;
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const line of misspeltSettings(schema, Object.keys(given), options.name ?? 'this service')) {
    if (warned.has(line)) continue;
    warned.add(line);
    warn(line);
  }
  const secrets = readSecretEnv(given, Object.keys(configShape(schema) ?? {}));
  const env = secrets.env;
  const result = schema.safeParse(env);
  if (result.success && secrets.problems.length === 0) return result.data as z.output<S>;
  const problems = [...secrets.problems, ...(result.success ? [] : result.error.issues)].map((issue) => {
    if (typeof issue === 'string') return issue;
    const key = issue.path.join('.') || '(root)';
    const value = issue.path.length === 1 ? env[String(issue.path[0])] : undefined;
    // A value read from a file is a secret: never repeated in a message.
    const shown = secrets.fromFile.has(key) ? `read from ${key}${SECRET_FILE_SUFFIX}` : value === undefined ? 'missing' : `got ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}`;
    // zod's own text for an absent key reads "Invalid input: expected string, received undefined".
    const message = value === undefined && issue.code === 'invalid_type' ? 'required' : issue.message;
    return `${key}: ${message} (${shown})`;
  });
  return throwConfig(problems);
}

const SECRET_FILE_SUFFIX = '_FILE';

/**
 * `<KEY>_FILE` for each of `keys`: the setting's value is the content of that file (a mounted
 * Kubernetes Secret or Docker secret), without its trailing newline. Setting both `<KEY>` and
 * `<KEY>_FILE`, or naming a file that cannot be read, is a problem; a file's content never appears in one.
 */
export function readSecretEnv(
  source: Record<string, string | undefined>,
  keys: readonly string[],
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { env: Record<string, string | undefined>; fromFile: Set<string>; problems: string[] } {
  const env = { ...source };
  const fromFile = new Set<string>();
  const problems: string[] = [];
  for (const key of keys) {
    const path = source[`${key}${SECRET_FILE_SUFFIX}`];
    if (path === undefined || path === '') continue;
    if (source[key] !== undefined && source[key] !== '') {
      problems.push(`${key}${SECRET_FILE_SUFFIX}: ${key} is set as well; set only one of them`);
      continue;
    }
    try {
      env[key] = read(path).replace(/\r?\n$/, '');
      fromFile.add(key);
    } catch (err) {
      problems.push(`${key}${SECRET_FILE_SUFFIX}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return { env, fromFile, problems };
}

/** Warnings already given in this process (a config loaded twice warns once). */
const warned = new Set<string>();

/**
 * Variable prefixes that other software reads with names of its own (the OpenTelemetry SDK, Node.js,
 * npm): a near miss of one of our keys there is no typo.
 */
const FOREIGN_PREFIXES = ['OTEL_', 'NODE_', 'npm_'];

/**
 * Warnings for variables that look like settings of this schema but are not: same first word as one of
 * its keys (KAFKA_, SSE_, ...) and a near miss of one key. Other variables, however many, are not ours
 * to judge (the environment holds PATH, HOME, the stack's WM_* ports, ...).
 */
export function misspeltSettings(schema: z.ZodType, names: readonly string[], who: string): string[] {
  const keys = Object.keys(configShape(schema) ?? {});
  if (keys.length === 0) return [];
  const known = new Set(keys);
  const families = new Set(keys.map((k) => k.split('_')[0]?.toUpperCase()));
  const out: string[] = [];
  for (const name of names) {
    if (known.has(name) || FOREIGN_PREFIXES.some((p) => name.startsWith(p))) continue;
    if (!families.has(name.split('_')[0]?.toUpperCase())) continue;
    const match = closestMatch(name, keys);
    if (match) out.push(`warning: ${name} is not a setting of ${who}; did you mean ${match}?`);
  }
  return out;
}

/**
 * The fields of the z.object inside transforms, pipes and defaults (undefined when there is none).
 * Refinements are checks on the object itself in zod 4; a transform is a pipe into a ZodTransform.
 */
export function configShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType | undefined = schema;
  for (let depth = 0; s && depth < 10; depth++) {
    if (s instanceof z.ZodObject) return s.shape as Record<string, z.ZodType>;
    if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) s = s.def.innerType as z.ZodType;
    else return undefined;
  }
  return undefined;
}

function throwConfig(problems: string[]): never {
  throw new WikiMonitorError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
    details: { problems },
  });
}

/**
 * Environment-variable field helpers: strings from env coerced with a clear message. Defaults are the
 * variable's text (`prefault`), so they go through the same coercion and checks as a value that is set.
 */
export const env = {
  string: (def?: string) => (def === undefined ? z.string().min(1, 'required') : z.string().min(1).prefault(def)),
  optionalString: () => z.string().min(1).optional(),
  int: (def: number, opts: { min?: number; max?: number } = {}) =>
    z
      .string()
      .regex(/^-?\d+$/, 'must be an integer')
      .transform(Number)
      .pipe(z.number().int().min(opts.min ?? Number.MIN_SAFE_INTEGER).max(opts.max ?? Number.MAX_SAFE_INTEGER))
      .prefault(String(def)),
  number: (def: number, opts: { min?: number; max?: number } = {}) =>
    z
      .string()
      .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
      .transform(Number)
      .pipe(z.number().min(opts.min ?? -Infinity).max(opts.max ?? Infinity))
      .prefault(String(def)),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .prefault(def ? 'true' : 'false'),
  url: (def?: string) => (def === undefined ? z.url('must be a URL') : z.url('must be a URL').prefault(def)),
  list: (def: string[]) =>
    z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .prefault(def.join(',')),
  enum: <const T extends [string, ...string[]]>(values: T, def: T[number]) => z.enum(values).prefault(def as never),
};

/** A bearer token: long enough that guessing is hopeless. */
const token = () => z.string().min(16, 'must be at least 16 characters').optional();

/** Settings every service shares: HTTP port for health/metrics, log level, service identity. */
export const baseConfigShape = {
  HTTP_PORT: env.int(8080, { min: 0, max: 65535 }),
  /** Bind address of the HTTP server (0.0.0.0: every interface, as a container needs; 127.0.0.1: this host only). */
  HTTP_HOST: env.string('0.0.0.0'),
  /** Bearer token for state-changing requests (POST, PUT, PATCH, DELETE); without it they are refused (403). Or OPS_TOKEN_FILE. */
  OPS_TOKEN: token(),
  /** When set, every request but /healthz, /readyz and /metrics needs this token (or OPS_TOKEN). Or API_TOKEN_FILE. */
  API_TOKEN: token(),
  LOG_LEVEL: env.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  SHUTDOWN_TIMEOUT_MS: env.int(25_000, { min: 1000 }),
};
