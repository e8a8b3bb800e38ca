import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { presampledRoot, rootSampling, startPublishSpan } from './propagation';
import { PresampledOrRatioSampler } from './sdk';

describe('root sampling decided before any span work', () => {
  it('picks the configured share of records with one draw each', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const s = rootSampling(0.01, random);
    let picked = 0;
    for (let i = 0; i < 200_000; i++) if (s.pick()) picked++;
    expect(picked).toBeGreaterThan(1_600);
    expect(picked).toBeLessThan(2_400);
  });

  it('never draws at 0 and always picks at 1; out-of-range ratios are clamped', () => {
    const never = () => {
      throw new Error('drawn');
    };
    expect(rootSampling(0, never).pick()).toBe(false);
    expect(rootSampling(1, never).pick()).toBe(true);
    expect(rootSampling(7, never).ratio).toBe(1);
    expect(rootSampling(Number.NaN, never).pick()).toBe(false);
  });

  it('a picked root is recorded by the SDK sampler even at a ratio that would drop it; other roots get the ratio', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ sampler: new ParentBasedSampler({ root: new PresampledOrRatioSampler(0) }), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('test');
    const picked = startPublishSpan(tracer, { topic: 't', messageId: 'a' }, presampledRoot());
    const other = startPublishSpan(tracer, { topic: 't', messageId: 'b' }, ROOT_CONTEXT);
    expect(picked.isRecording()).toBe(true);
    expect(trace.getSpanContext(trace.setSpan(ROOT_CONTEXT, picked))?.traceFlags).toBe(1);
    expect(other.isRecording()).toBe(false);
    picked.end();
    other.end();
    expect(exporter.getFinishedSpans().map((s) => s.attributes['messaging.message.id'])).toEqual(['a']);
  });
});
