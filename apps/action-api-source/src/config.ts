import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { z } from 'zod';
import { type FaultPlan, type Parsed, parseRateFaults, parseRevidFaults } from './faults';

export const APP_NAME = 'action-api-source';
export const DEFAULT_PORT = 8093;
export const DEFAULT_HOST = '0.0.0.0';
/** Resolved against the repository root (not the working directory). */
export const DEFAULT_DATA_DIR = 'data/recordings';
/** MediaWiki sends Retry-After: max(maxlag, 5) with a maxlag error. */
export const DEFAULT_MAXLAG_RETRY_AFTER_S = 5;
/** The replica lag a maxlag answer reports. */
export const DEFAULT_MAXLAG_LAG_S = 7;
/** How long an injected read timeout holds a request before closing it unanswered. */
export const DEFAULT_STALL_MS = 30_000;
export const DEFAULT_SEED = 1;

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

/** Every setting of the stand-in, from the environment; CLI flags (cli.ts) map onto the same keys. */
export const configSchema = z
  .object({
    ACTION_API_SOURCE_PORT: env.int(DEFAULT_PORT, { min: 0, max: 65535 }),
    ACTION_API_SOURCE_HOST: env.string(DEFAULT_HOST),
    ACTION_API_SOURCE_DATA: env.optionalString(),
    ACTION_API_SOURCE_FAIL: spec(parseRevidFaults),
    ACTION_API_SOURCE_FAIL_RATE: spec(parseRateFaults),
    ACTION_API_SOURCE_SEED: env.int(DEFAULT_SEED),
    ACTION_API_SOURCE_MAXLAG_RETRY_AFTER_S: env.int(DEFAULT_MAXLAG_RETRY_AFTER_S, { min: 0 }),
    ACTION_API_SOURCE_MAXLAG_LAG_S: env.int(DEFAULT_MAXLAG_LAG_S, { min: 0 }),
    ACTION_API_SOURCE_STALL_MS: env.int(DEFAULT_STALL_MS, { min: 1 }),
    ACTION_API_SOURCE_DELAY_MS: env.int(0, { min: 0 }),
    LOG_LEVEL: baseConfigShape.LOG_LEVEL,
    SHUTDOWN_TIMEOUT_MS: baseConfigShape.SHUTDOWN_TIMEOUT_MS,
  })
  .transform((c) => ({
    port: c.ACTION_API_SOURCE_PORT,
    host: c.ACTION_API_SOURCE_HOST,
    /** Directory of recentchange recordings; undefined = DEFAULT_DATA_DIR under the repository root. */
    data: c.ACTION_API_SOURCE_DATA,
    faults: { revids: c.ACTION_API_SOURCE_FAIL ?? [], rates: c.ACTION_API_SOURCE_FAIL_RATE ?? [] } satisfies FaultPlan,
    seed: c.ACTION_API_SOURCE_SEED,
    maxlag: { retryAfterS: c.ACTION_API_SOURCE_MAXLAG_RETRY_AFTER_S, lagS: c.ACTION_API_SOURCE_MAXLAG_LAG_S },
    stallMs: c.ACTION_API_SOURCE_STALL_MS,
    /** Added before every answer (a slower server, for capacity measurements). */
    delayMs: c.ACTION_API_SOURCE_DELAY_MS,
    logLevel: c.LOG_LEVEL,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
  }));

export type ActionApiSourceConfig = z.output<typeof configSchema>;

/** Parses the configuration once: `overrides` (from CLI flags) win over the environment. */
export function loadConfig(overrides: Record<string, string> = {}, source: Record<string, string | undefined> = process.env): ActionApiSourceConfig {
  return parseConfig(configSchema, { ...source, ...overrides }, { name: APP_NAME });
}
