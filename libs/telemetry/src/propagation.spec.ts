import { TraceFlags, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOffSampler, AlwaysOnSampler, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { extractTraceContext, injectTraceHeaders, startBatchProcessSpan, startHttpClientSpan, startProcessSpan, startPublishSpan, traceHeadersFor } from './propagation';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
// What NodeTracerProvider.register() did before SDK 3 (sdk-trace-node is gone): context manager, propagator, provider.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('test');

afterEach(() => exporter.reset());
afterAll(() => provider.shutdown());

const sampledHeaders = () => {
  const span = startPublishSpan(tracer, { topic: 'wiki.raw.changes', messageId: 'id-1' });
  const headers = traceHeadersFor(span) ?? {};
  span.end();
  return { span, headers };
};

describe('trace context on Kafka headers', () => {
  it('injectTraceHeaders and extractTraceContext should round-trip a W3C traceparent through string or Buffer headers', () => {
    const span = tracer.startSpan('x');
    const headers = injectTraceHeaders({}, trace.setSpan(context.active(), span));
    expect(String(headers['traceparent'])).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const back = trace.getSpanContext(extractTraceContext({ traceparent: Buffer.from(String(headers['traceparent'])) }));
    expect(back?.traceId).toBe(span.spanContext().traceId);
    expect(back?.spanId).toBe(span.spanContext().spanId);
    span.end();
  });

  it('startPublishSpan should be a PRODUCER span named publish <topic> with the message id', () => {
    sampledHeaders();
    const [s] = exporter.getFinishedSpans();
    expect(s?.name).toBe('publish wiki.raw.changes');
    expect(s?.kind).toBe(3); // PRODUCER
    expect(s?.attributes['messaging.message.id']).toBe('id-1');
    expect(s?.attributes['messaging.system']).toBe('kafka');
  });

  it('startProcessSpan should be the child of the producer context', () => {
    const { span, headers } = sampledHeaders();
    const child = startProcessSpan(tracer, { topic: 'wiki.raw.changes', partition: 2, offset: 7 }, extractTraceContext(headers));
    child.end();
    const processed = exporter.getFinishedSpans().find((s) => s.name === 'process wiki.raw.changes');
    expect(processed?.spanContext().traceId).toBe(span.spanContext().traceId);
    expect(processed?.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
    expect(processed?.attributes['messaging.destination.partition.id']).toBe('2');
  });

  it('startProcessSpan should not start a new root trace for a record without a sampled context', () => {
    const none = startProcessSpan(tracer, { topic: 't' }, extractTraceContext({}));
    expect(none.isRecording()).toBe(false);
    expect(traceHeadersFor(none)).toBeUndefined();
  });

  it('startHttpClientSpan should be a CLIENT span of the method inside the record trace, and a no-op without a sampled record context', () => {
    const { span, headers } = sampledHeaders();
    const call = startHttpClientSpan(tracer, { method: 'GET', url: new URL('http://127.0.0.1:8093/en.wikipedia.org/w/api.php?action=query') }, extractTraceContext(headers));
    call.end();
    const s = exporter.getFinishedSpans().find((x) => x.name === 'GET');
    expect(s?.kind).toBe(2); // CLIENT
    expect(s?.spanContext().traceId).toBe(span.spanContext().traceId);
    expect(s?.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
    expect(s?.attributes['server.port']).toBe(8093);
    expect(startHttpClientSpan(tracer, { method: 'GET', url: new URL('https://en.wikipedia.org/w/api.php') }, extractTraceContext({})).isRecording()).toBe(false);
  });

  it('startBatchProcessSpan should take the first sampled record as parent and link the others', () => {
    const a = sampledHeaders();
    const b = sampledHeaders();
    const batch = startBatchProcessSpan(tracer, 'wiki.changes.all', [{}, a.headers, b.headers]);
    batch.end();
    const s = exporter.getFinishedSpans().find((x) => x.name === 'process wiki.changes.all');
    expect(s?.parentSpanContext?.spanId).toBe(a.span.spanContext().spanId);
    expect(s?.links.map((l) => l.context.spanId)).toEqual([b.span.spanContext().spanId]);
    expect(s?.attributes['messaging.batch.message_count']).toBe(3);
  });

  it('traceHeadersFor should give no headers for an unsampled span', () => {
    const off = new TracerProvider({ sampler: new AlwaysOffSampler() }).getTracer('off');
    const span = startPublishSpan(off, { topic: 't' });
    expect(span.spanContext().traceFlags & TraceFlags.SAMPLED).toBe(0);
    expect(traceHeadersFor(span)).toBeUndefined();
    expect(propagation.fields()).toContain('traceparent');
  });
});
