// Loaded first by main.ts: the OpenTelemetry SDK must start before anything it observes is loaded.
import { parseConfig, serviceVersion } from '@wikimonitor/service-kit';
import { telemetryConfigShape } from '@wikimonitor/telemetry';
import { startTelemetry } from '@wikimonitor/telemetry/sdk';
import { z } from 'zod';

const cfg = parseConfig(z.object(telemetryConfigShape).passthrough(), process.env);
export const telemetry = startTelemetry({
  serviceName: 'dedup-persister',
  serviceVersion: serviceVersion(),
  otlpEndpoint: cfg.OTEL_EXPORTER_OTLP_ENDPOINT,
  sampleRatio: cfg.OTEL_TRACES_SAMPLER_ARG,
  environment: cfg.DEPLOYMENT_ENVIRONMENT,
});
