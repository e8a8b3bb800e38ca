import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { z } from 'zod';

export const DEFAULT_PORT = 8094;
/** Resolved against the repository root (not the working directory). */
export const DEFAULT_DATA_DIR = 'data/recordings/bluesky-jetstream';
/** The recordings' own time_us disorder is kept, clipped to this (the literals of one file go 12 s back). */
export const DEFAULT_MAX_DISORDER_MS = 3_000;
export const DEFAULT_FAULT_EVERY = 50;
export const DEFAULT_STALL_MS = 5_000;
/** A connection whose unsent backlog exceeds this many events is closed (Jetstream drops slow consumers); 0 = never. */
export const DEFAULT_SLOW_MAX_LAG = 0;
export const FAULT_KINDS = ['none', 'drop', 'stall'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Every setting of the stand-in, from the environment; the CLI flags map onto the same keys. */
export const configSchema = z
  .object({
    JETSTREAM_SOURCE_PORT: env.int(DEFAULT_PORT, { min: 0, max: 65535 }),
    JETSTREAM_SOURCE_HOST: env.string('0.0.0.0'),
    JETSTREAM_SOURCE_DATA: env.list([]),
    JETSTREAM_SOURCE_RATE: env.number(0, { min: 0 }),
    JETSTREAM_SOURCE_BURST_EVERY_MS: env.int(0, { min: 0 }),
    JETSTREAM_SOURCE_BURST_MS: env.int(1_000, { min: 0 }),
    JETSTREAM_SOURCE_BURST_FACTOR: env.number(10, { min: 1 }),
    JETSTREAM_SOURCE_LOOP_COUNT: env.int(1, { min: 1 }),
    JETSTREAM_SOURCE_MAX_DISORDER_MS: env.int(DEFAULT_MAX_DISORDER_MS, { min: 0 }),
    JETSTREAM_SOURCE_FAULT: env.enum([...FAULT_KINDS], 'none'),
    JETSTREAM_SOURCE_FAULT_EVERY: env.int(DEFAULT_FAULT_EVERY, { min: 1 }),
    JETSTREAM_SOURCE_FAULT_MS: env.int(DEFAULT_STALL_MS, { min: 0 }),
    JETSTREAM_SOURCE_MALFORMED_EVERY: env.int(0, { min: 0 }),
    JETSTREAM_SOURCE_SLOW_MAX_LAG: env.int(DEFAULT_SLOW_MAX_LAG, { min: 0 }),
    LOG_LEVEL: baseConfigShape.LOG_LEVEL,
    SHUTDOWN_TIMEOUT_MS: baseConfigShape.SHUTDOWN_TIMEOUT_MS,
  })
  .transform((c) => ({
    port: c.JETSTREAM_SOURCE_PORT,
    host: c.JETSTREAM_SOURCE_HOST,
    /** Files or directories; empty = DEFAULT_DATA_DIR under the repository root. */
    data: c.JETSTREAM_SOURCE_DATA,
    rate: c.JETSTREAM_SOURCE_RATE,
    burst: c.JETSTREAM_SOURCE_BURST_EVERY_MS > 0 ? { everyMs: c.JETSTREAM_SOURCE_BURST_EVERY_MS, durationMs: c.JETSTREAM_SOURCE_BURST_MS, factor: c.JETSTREAM_SOURCE_BURST_FACTOR } : undefined,
    passes: c.JETSTREAM_SOURCE_LOOP_COUNT,
    maxDisorderMs: c.JETSTREAM_SOURCE_MAX_DISORDER_MS,
    fault: { kind: c.JETSTREAM_SOURCE_FAULT, every: c.JETSTREAM_SOURCE_FAULT_EVERY, ms: c.JETSTREAM_SOURCE_FAULT_MS } as FaultPlan,
    malformedEvery: c.JETSTREAM_SOURCE_MALFORMED_EVERY,
    slowMaxLag: c.JETSTREAM_SOURCE_SLOW_MAX_LAG,
    logLevel: c.LOG_LEVEL,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
  }));

export interface FaultPlan {
  kind: FaultKind;
  /** After every this many events sent on a connection. */
  every: number;
  /** Stall length. */
  ms: number;
}

export type JetstreamSourceConfig = z.output<typeof configSchema>;

/** Parses the configuration once: `overrides` (from CLI flags) win over the environment. */
export function loadConfig(overrides: Record<string, string> = {}, source: Record<string, string | undefined> = process.env): JetstreamSourceConfig {
  return parseConfig(configSchema, { ...source, ...overrides }, { name: 'jetstream-source' });
}
