import { z } from 'zod';
import { baseConfigShape, parseConfig } from '@wikimonitor/service-kit';
import { kafkaConfigShape } from '@wikimonitor/kafka';
import { telemetryConfigShape } from '@wikimonitor/telemetry';

export const configSchema = z.object({
  ...baseConfigShape,
  ...kafkaConfigShape,
  ...telemetryConfigShape,
});

export type AppConfig = z.output<typeof configSchema>;

export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  return parseConfig(configSchema, source);
}
