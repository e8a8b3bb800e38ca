import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { z } from 'zod';
import { FAULT_KINDS } from './faults';
import { parseInjectSpecs } from './inject';
import { parseBurst } from './schedule';
import { ID_MODES } from './event-id';
import { parseDurationMs } from './spec-syntax';
import { TIME_SETTINGS } from './time-mode';
import { DATACENTER_SETTINGS, DATACENTER_TOPICS, DEFAULT_UPSTREAM_RETENTION } from './upstream';
import type { StreamOptions } from './stream-options';
import type { Parsed } from './types';

export const DEFAULT_PORT = 8092;
export const DEFAULT_HOST = '0.0.0.0';
/** Resolved against the repository root (not the working directory). */
export const DEFAULT_DATA_DIR = 'data/recordings';
export const DEFAULT_STREAMS = ['recentchange'];
export const DEFAULT_TOPIC: string = DATACENTER_TOPICS[0];
export const DEFAULT_RATE = 0;
export const DEFAULT_KEEPALIVE_MS = 15_000;
export const DEFAULT_FAULT_EVERY = 100;
export const DEFAULT_STALL_MS = 2_000;
export const DEFAULT_STATUS_TIMES = 1;
/** EventStreams ends every connection after about 15 minutes. */
export const DEFAULT_LIFETIME_MS = 900_000;
/** Concurrent connections per client (remote address + User-Agent); 0 = unlimited. */
export const DEFAULT_MAX_CONNECTIONS = 0;

const port = () =>
  z
    .string()
    .regex(/^\d+$/, 'must be a port number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(65535))
    .optional();

/** An optional spec string ("" or "none" = unset) checked by one of the pure spec parsers. */
const spec = <T>(parse: (raw: string) => Parsed<T>) =>
  z
    .string()
    .optional()
    .transform((raw, ctx): T | undefined => {
      if (raw === undefined || raw.trim() === '' || raw.trim() === 'none') return undefined;
      const result = parse(raw);
      if (result.ok) return result.value;
      for (const message of result.problems) ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    });

/** Every setting of the source, from the environment. CLI flags in main.ts map onto the same keys. */
export const configSchema = z
  .object({
    SSE_SOURCE_PORT: port(),
    HTTP_PORT: port(),
    SSE_SOURCE_HOST: env.string(DEFAULT_HOST),
    SSE_SOURCE_DATA: z
      .string()
      .optional()
      .transform((v) => v?.split(',').map((s) => s.trim()).filter(Boolean))
      .transform((v) => (v === undefined || v.length === 0 ? undefined : v)),
    SSE_SOURCE_STREAMS: env.list(DEFAULT_STREAMS).refine((v) => v.length > 0, 'needs at least one stream name'),
    SSE_SOURCE_TOPIC: env.string(DEFAULT_TOPIC),
    SSE_SOURCE_RATE: env.number(DEFAULT_RATE, { min: 0 }),
    SSE_SOURCE_BURST: spec(parseBurst),
    SSE_SOURCE_INJECT: spec(parseInjectSpecs),
    SSE_SOURCE_LOOP: env.bool(false),
    SSE_SOURCE_LOOP_COUNT: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(1)).optional(),
    SSE_SOURCE_END: env.enum(['hold', 'close'], 'hold'),
    SSE_SOURCE_KEEPALIVE_MS: env.int(DEFAULT_KEEPALIVE_MS, { min: 1 }),
    SSE_SOURCE_FAULT: z.enum(FAULT_KINDS).default('none'),
    SSE_SOURCE_FAULT_EVERY: env.int(DEFAULT_FAULT_EVERY, { min: 1 }),
    SSE_SOURCE_FAULT_MS: env.int(DEFAULT_STALL_MS, { min: 0 }),
    SSE_SOURCE_STATUS: z.enum(['429', '503', 'none']).default('none'),
    SSE_SOURCE_STATUS_TIMES: env.int(DEFAULT_STATUS_TIMES, { min: 0 }),
    SSE_SOURCE_CANARY_EVERY: env.int(0, { min: 0 }),
    SSE_SOURCE_TIME: env.enum([...TIME_SETTINGS], 'auto'),
    SSE_SOURCE_ID_MODE: env.enum([...ID_MODES], 'timestamp'),
    SSE_SOURCE_LIFETIME_MS: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined || raw.trim() === '') return DEFAULT_LIFETIME_MS;
        const ms = parseDurationMs(raw);
        if (ms !== undefined) return ms;
        ctx.addIssue({ code: 'custom', message: 'must be a duration like 900000, 500ms, 5s or 15m (0 = never)' });
        return z.NEVER;
      }),
    SSE_SOURCE_DATACENTER: env.enum([...DATACENTER_SETTINGS], 'eqiad'),
    SSE_SOURCE_MAX_CONNECTIONS: env.int(DEFAULT_MAX_CONNECTIONS, { min: 0 }),
    SSE_SOURCE_RETENTION: env.int(DEFAULT_UPSTREAM_RETENTION, { min: 1 }),
    LOG_LEVEL: baseConfigShape.LOG_LEVEL,
    SHUTDOWN_TIMEOUT_MS: baseConfigShape.SHUTDOWN_TIMEOUT_MS,
  })
  .transform((c) => {
    const stream: StreamOptions = {
      rate: c.SSE_SOURCE_RATE,
      burst: c.SSE_SOURCE_BURST,
      injections: c.SSE_SOURCE_INJECT ?? [],
      passes: c.SSE_SOURCE_LOOP_COUNT ?? (c.SSE_SOURCE_LOOP ? Infinity : 1),
      end: c.SSE_SOURCE_END,
      keepaliveMs: c.SSE_SOURCE_KEEPALIVE_MS,
      fault: { kind: c.SSE_SOURCE_FAULT, every: c.SSE_SOURCE_FAULT_EVERY, stallMs: c.SSE_SOURCE_FAULT_MS },
      status: c.SSE_SOURCE_STATUS === 'none' ? undefined : { status: Number(c.SSE_SOURCE_STATUS) as 429 | 503, times: c.SSE_SOURCE_STATUS_TIMES },
      statusKey: undefined,
      canaryEvery: c.SSE_SOURCE_CANARY_EVERY,
      time: c.SSE_SOURCE_TIME,
      idMode: c.SSE_SOURCE_ID_MODE,
      lifetimeMs: c.SSE_SOURCE_LIFETIME_MS,
      datacenter: c.SSE_SOURCE_DATACENTER,
    };
    return {
      port: c.SSE_SOURCE_PORT ?? c.HTTP_PORT ?? DEFAULT_PORT,
      host: c.SSE_SOURCE_HOST,
      /** Files and/or directories; undefined = DEFAULT_DATA_DIR under the repository root. */
      data: c.SSE_SOURCE_DATA,
      streams: c.SSE_SOURCE_STREAMS,
      topic: c.SSE_SOURCE_TOPIC,
      stream,
      maxConnections: c.SSE_SOURCE_MAX_CONNECTIONS,
      /** Log offsets whose upstream times are kept in time mode `now` with timestamp ids. */
      retention: c.SSE_SOURCE_RETENTION,
      logLevel: c.LOG_LEVEL,
      shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    };
  });

export type SseSourceConfig = z.output<typeof configSchema>;

/** Parses the configuration once: `overrides` (from CLI flags) win over the environment. */
export function loadConfig(overrides: Record<string, string> = {}, source: Record<string, string | undefined> = process.env): SseSourceConfig {
  return parseConfig(configSchema, { ...source, ...overrides }, { name: 'sse-source' });
}

/** The defaults alone, without reading the environment (for the programmatic API). */
export function defaultConfig(): SseSourceConfig {
  return parseConfig(configSchema, {});
}
