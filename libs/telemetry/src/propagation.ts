import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, TraceFlags, context, createContextKey, propagation, trace, SpanKind, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';

export type HeaderMap = Record<string, string | Buffer>;

const setter = {
  set(carrier: HeaderMap, key: string, value: string) {
    carrier[key] = value;
  },
};
const getter = {
  keys: (carrier: HeaderMap) => Object.keys(carrier),
  get(carrier: HeaderMap, key: string) {
    const v = carrier[key];
    return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : v;
  },
};

/** Writes W3C `traceparent`/`tracestate` of `ctx` (default: active) into Kafka record headers. */
export function injectTraceHeaders(headers: HeaderMap, ctx: Context = context.active()): HeaderMap {
  propagation.inject(ctx, headers, setter);
  return headers;
}

/** Reads the producer's trace context from Kafka record headers. */
export function extractTraceContext(headers: HeaderMap, base: Context = context.active()): Context {
  return propagation.extract(base, headers, getter);
}

export function getTracer(name: string): Tracer {
  return trace.getTracer(name);
}

export interface MessagingAttributes {
  topic: string;
  partition?: number;
  offset?: number;
  messageId?: string;
  key?: string;
}

function attrs(operation: 'publish' | 'process' | 'receive', m: MessagingAttributes) {
  const a: Record<string, string | number> = {
    'messaging.system': 'kafka',
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    'messaging.destination.name': m.topic,
  };
  if (m.partition !== undefined) a['messaging.destination.partition.id'] = String(m.partition);
  if (m.offset !== undefined) a['messaging.kafka.offset'] = m.offset;
  if (m.messageId !== undefined) a['messaging.message.id'] = m.messageId;
  if (m.key !== undefined) a['messaging.kafka.message.key'] = m.key;
  return a;
}

/**
 * Context flag of a root span whose sampling the caller already decided (a {@link RootSampling} pick):
 * the SDK's root sampler (sdk.ts) records it without drawing again.
 */
export const PRESAMPLED_KEY = createContextKey('wikimonitor.presampled');
const PRESAMPLED_ROOT: Context = ROOT_CONTEXT.setValue(PRESAMPLED_KEY, true);

/**
 * Where a change enters the pipeline (the producer), the sampling decision for its new trace, made
 * before any span work: one random draw per record. The 99% of records left out at 1% cost that draw
 * and nothing else (no span object, ids, attributes or sampler call); a picked record's span is then
 * started under {@link presampledRoot} and always recorded, so the ratio stays the configured one.
 */
export interface RootSampling {
  readonly ratio: number;
  pick(): boolean;
}

export function rootSampling(ratio: number, random: () => number = Math.random): RootSampling {
  const r = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 0));
  return { ratio: r, pick: r >= 1 ? () => true : r <= 0 ? () => false : () => random() < r };
}

/** The parent context of a root span picked by {@link RootSampling}. */
export function presampledRoot(): Context {
  return PRESAMPLED_ROOT;
}

/** `publish <topic>` PRODUCER span, child of the active context. */
export function startPublishSpan(tracer: Tracer, m: MessagingAttributes, parent: Context = context.active()): Span {
  return tracer.startSpan(`publish ${m.topic}`, { kind: SpanKind.PRODUCER, attributes: attrs('publish', m) }, parent);
}

/**
 * `process <topic>` CONSUMER span. One record: the producer's context is the parent, so a change's
 * whole path is one trace. A batch: links to each record's context (messaging conventions).
 *
 * Sampling is decided once, where a change enters (the producer), and followed downstream: a record
 * that arrives without a sampled context gets a no-op span here, never a new root trace. This keeps
 * traces whole (no fragments starting mid-pipeline) and unsampled records free of tracing cost.
 */
export function startProcessSpan(tracer: Tracer, m: MessagingAttributes, producerContext?: Context, links?: Link[]): Span {
  const parentSpan = producerContext ? trace.getSpanContext(producerContext) : undefined;
  if (!parentSpan || (parentSpan.traceFlags & TraceFlags.SAMPLED) === 0) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  return tracer.startSpan(`process ${m.topic}`, { kind: SpanKind.CONSUMER, attributes: attrs('process', m), links }, producerContext);
}

/** Trace headers for a record: only when the span is sampled (unsampled records carry none). */
export function traceHeadersFor(span: Span | undefined): HeaderMap | undefined {
  return span?.isRecording() ? injectTraceHeaders({}, trace.setSpan(context.active(), span)) : undefined;
}

export { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
export type { Context, Span, Tracer, Link } from '@opentelemetry/api';

/**
 * `process <topic>` span for a batch. Every record's producer context becomes a link (messaging
 * conventions for batches), and the first *sampled* record's context is also the parent, so a
 * sampled change keeps one trace across every service even when it is processed in a batch.
 */
export function startBatchProcessSpan(tracer: Tracer, topic: string, recordHeaders: HeaderMap[], maxLinks = 128): Span {
  const links: Link[] = [];
  let parent: Context | undefined;
  for (const h of recordHeaders.slice(0, maxLinks)) {
    const ctx = extractTraceContext(h);
    const sc = trace.getSpanContext(ctx);
    if (!sc) continue;
    // The parent is not linked as well: trace UIs would show the relation as a link, not a parent.
    if (!parent && (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) parent = ctx;
    else links.push({ context: sc });
  }
  const span = startProcessSpan(tracer, { topic }, parent, links);
  span.setAttribute('messaging.batch.message_count', recordHeaders.length);
  return span;
}

/**
 * `GET` (the method) CLIENT span of an outgoing HTTP call, following HTTP client conventions
 * (`http.request.method`, `url.full`, `server.address`), as a child of `parent` (a record's context:
 * the call appears inside that record's trace). Like {@link startProcessSpan}, no root trace is
 * started here: without a sampled parent the span is a no-op. Other records the call serves are links.
 */
export function startHttpClientSpan(tracer: Tracer, req: { method: string; url: URL }, parent?: Context, links?: Link[]): Span {
  const parentSpan = parent ? trace.getSpanContext(parent) : undefined;
  if (!parentSpan || (parentSpan.traceFlags & TraceFlags.SAMPLED) === 0) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  const port = req.url.port ? Number(req.url.port) : req.url.protocol === 'https:' ? 443 : 80;
  return tracer.startSpan(
    req.method,
    { kind: SpanKind.CLIENT, attributes: { 'http.request.method': req.method, 'url.full': req.url.toString(), 'server.address': req.url.hostname, 'server.port': port }, links },
    parent,
  );
}
