import { env } from '@wikimonitor/service-kit';

/** Tracing settings every app shares (standard OTel variable names where one exists). */
export const telemetryConfigShape = {
  /** OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318 (Jaeger v2). Unset = tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: env.optionalString(),
  /** Parent-based ratio for new traces: 1% keeps overhead low at firehose rates. */
  OTEL_TRACES_SAMPLER_ARG: env.number(0.01, { min: 0, max: 1 }),
  DEPLOYMENT_ENVIRONMENT: env.string('local'),
};
