import { z } from 'zod';
import { DEFAULT_TOPICS, kafkaConfigShape } from '@wikimonitor/kafka';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';

export const DEFAULT_ADMIN_TIMEOUT_MS = 10_000;

/** The ops CLI needs only the connection and a few bounds. */
export const cliConfigSchema = z.object({
  ...kafkaConfigShape,
  LOG_LEVEL: baseConfigShape.LOG_LEVEL,
  ADMIN_TIMEOUT_MS: env.int(DEFAULT_ADMIN_TIMEOUT_MS, { min: 100 }),
  DLQ_TOPIC: env.string(DEFAULT_TOPICS.dlq),
  /** Where replayed producer dead letters go (the producer's RAW_TOPIC) unless they name a target topic. */
  RAW_TOPIC: env.string(DEFAULT_TOPICS.raw),
  /** The registry is contacted only to replay producer dead letters (Avro-encoded like the producer's records). */
  ...registryConfigShape,
});

export type CliConfig = z.output<typeof cliConfigSchema>;

export function loadCliConfig(source: Record<string, string | undefined>): CliConfig {
  return parseConfig(cliConfigSchema, source);
}
