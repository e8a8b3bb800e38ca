import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ParentBasedSampler, TraceIdRatioBasedSampler, AlwaysOffSampler, BatchSpanProcessor, SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';
import type { Context } from '@opentelemetry/api';
import { PRESAMPLED_KEY } from './propagation';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';

/**
 * The root sampler: a root the app already picked (rootSampling().pick(), parent context
 * presampledRoot()) is recorded; any other root (HTTP requests) gets the ratio.
 */
export class PresampledOrRatioSampler implements Sampler {
  private readonly ratio: TraceIdRatioBasedSampler;
  constructor(private readonly sampleRatio: number) {
    this.ratio = new TraceIdRatioBasedSampler(sampleRatio);
  }
  shouldSample(ctx: Context, traceId: string): SamplingResult {
    if (ctx.getValue(PRESAMPLED_KEY) === true) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.ratio.shouldSample(ctx, traceId);
  }
  toString(): string {
    return `PresampledOrRatioSampler{${this.sampleRatio}}`;
  }
}

/** Probes and scrapes would otherwise be most of the HTTP spans. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion: string;
  /** OTLP/HTTP base endpoint (e.g. http://127.0.0.1:4318); unset = tracing off. */
  otlpEndpoint?: string;
  /** Parent-based ratio sampler's ratio for root spans, 0..1. */
  sampleRatio: number;
  environment?: string;
}

export interface Telemetry {
  enabled: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK. Apps call this first (instrumentation.ts), before anything
 * else is imported, and shut it down last. Libraries only ever use @opentelemetry/api.
 */
export function startTelemetry(opts: TelemetryOptions): Telemetry {
  if (!opts.otlpEndpoint || opts.sampleRatio <= 0) {
    const sdk = new NodeSDK({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName, [ATTR_SERVICE_VERSION]: opts.serviceVersion }),
      sampler: new AlwaysOffSampler(),
      spanProcessors: [],
      instrumentations: [],
    });
    sdk.start();
    return { enabled: false, shutdown: () => sdk.shutdown() };
  }
  const exporter = new OTLPTraceExporter({ url: `${opts.otlpEndpoint.replace(/\/$/, '')}/v1/traces` });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: opts.serviceName,
      [ATTR_SERVICE_VERSION]: opts.serviceVersion,
      'deployment.environment.name': opts.environment ?? 'local',
    }),
    sampler: new ParentBasedSampler({ root: new PresampledOrRatioSampler(opts.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: 8192, scheduledDelayMillis: 1000 })],
    // HTTP server spans (APIs, dashboard) and PostgreSQL query spans; Kafka spans are the apps' own
    // (no instrumentation library covers this client's callback API correctly).
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
        // Outgoing calls are the OTLP exporter's own and the registry's: not worth a span each.
        ignoreOutgoingRequestHook: () => true,
      }),
      new ExpressInstrumentation(),
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
    ],
  });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}

/**
 * Starts telemetry from the standard environment variables. A malformed variable leaves tracing
 * off here: the app's own config parse reports it (with every other problem) right after.
 */
export function startTelemetryFromEnv(serviceName: string, env: Record<string, string | undefined>, version = packageVersion(__dirname)): Telemetry {
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'] || undefined;
  const ratioText = env['OTEL_TRACES_SAMPLER_ARG'] || '0.01';
  const ratio = Number(ratioText);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) return { enabled: false, shutdown: async () => undefined };
  return startTelemetry({ serviceName, serviceVersion: version, otlpEndpoint: endpoint, sampleRatio: ratio, environment: env['DEPLOYMENT_ENVIRONMENT'] || 'local' });
}

/**
 * Version from the nearest package.json above `dir`. (service-kit has the same lookup, but this
 * entry must not import service-kit: its index loads express and pg before the SDK could hook them.)
 */
function packageVersion(dir: string): string {
  for (let d = dir, i = 0; i < 8; i++, d = dirname(d)) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      const v = (JSON.parse(readFileSync(p, 'utf8')) as { version?: string }).version;
      if (v) return v;
    }
  }
  return '0.0.0';
}
