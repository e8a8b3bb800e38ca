import { parseEventId } from '@wikimonitor/domain';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createProducerMetrics(registry: Registry) {
  const registers = [registry];
  // Per-event state is kept in plain fields and turned into gauges at scrape time, not per event.
  const live = { lastEventId: '', inFlight: 0, lastEventMs: 0, lastReceiveMs: 0 };
  return {
    live,
    received: new Counter({ name: 'producer_events_received_total', help: 'SSE events received (message and error events)', registers }),
    published: new Counter({ name: 'producer_events_published_total', help: 'Events written to the raw topic in a committed batch', registers }),
    failed: new Counter({ name: 'producer_events_failed_total', help: 'Delivery failures (each is retried or dead-lettered)', labelNames: ['code'] as const, registers }),
    deadLettered: new Counter({ name: 'producer_events_dead_lettered_total', help: 'Events sent to the dead-letter topic', labelNames: ['code'] as const, registers }),
    canaries: new Counter({ name: 'producer_canary_events_total', help: 'Canary events dropped', registers }),
    /** Optional fields of published events that had a wrong type or were over their bound (NormalizeResult.fixed); field names are a closed set. */
    fieldsFixed: new Counter({ name: 'producer_fields_fixed_total', help: 'Optional fields coerced or dropped in published events, by field', labelNames: ['field'] as const, registers }),
    streamErrors: new Counter({ name: 'producer_stream_error_events_total', help: 'SSE `event: error` messages from the server', registers }),
    queueDepth: new Gauge({
      name: 'producer_queue_depth_events',
      help: 'Events read and not yet committed (bounded by MAX_IN_FLIGHT)',
      registers,
      collect() {
        this.set(live.inFlight);
      },
    }),
    publishLatency: new Histogram({
      name: 'producer_publish_latency_seconds',
      help: 'From SSE receipt to the commit of its batch',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    reconnects: new Counter({ name: 'producer_sse_reconnects_total', help: 'SSE reconnects by reason', labelNames: ['reason'] as const, registers }),
    connected: new Gauge({ name: 'producer_sse_connected', help: '1 while the SSE connection is open', registers }),
    lastEventTime: new Gauge({
      name: 'producer_last_event_timestamp_seconds',
      help: 'Event time (meta.dt) of the newest event received',
      registers,
      collect() {
        if (live.lastEventMs) this.set(live.lastEventMs / 1000);
      },
    }),
    lastReceiveTime: new Gauge({
      name: 'producer_last_receive_timestamp_seconds',
      help: 'Wall time the newest event was received',
      registers,
      collect() {
        if (live.lastReceiveMs) this.set(live.lastReceiveMs / 1000);
      },
    }),
    position: new Gauge({
      name: 'producer_sse_position',
      help: 'Current SSE position per upstream topic/partition (kind=offset: next offset; kind=timestamp: ms)',
      labelNames: ['upstream_topic', 'upstream_partition', 'kind'] as const,
      registers,
      collect() {
        this.reset();
        const id = live.lastEventId ? parseEventId(live.lastEventId) : undefined;
        for (const p of id?.ok ? id.value : []) {
          if (p.topic === undefined || p.partition === undefined) continue;
          const labels = { upstream_topic: p.topic, upstream_partition: String(p.partition) };
          if (p.offset !== undefined) this.set({ ...labels, kind: 'offset' }, p.offset);
          if (p.timestamp !== undefined) this.set({ ...labels, kind: 'timestamp' }, p.timestamp);
        }
      },
    }),
    checkpointed: new Gauge({ name: 'producer_checkpoint_events', help: 'Events covered by the durable resume checkpoint since start', registers }),
    overlapDropped: new Counter({ name: 'producer_overlap_dropped_total', help: 'Re-delivered events of a resume overlap dropped because their meta.id was written already', registers }),
    idsDropped: new Counter({ name: 'producer_position_ids_dropped_total', help: 'Kept ids dropped by the POSITION_MAX_IDS bound (an overlap reaching them would be written again)', registers }),
    futureIds: new Counter({ name: 'producer_position_future_ids_total', help: 'Event ids not taken as the resume position: their own timestamp was beyond receipt + the clock-skew bound', registers }),
    keptIds: new Gauge({ name: 'producer_position_ids', help: 'Ids kept with the position for the overlap filter', registers }),
    transactions: new Counter({ name: 'producer_transactions_total', help: 'Batches written (records + position) by outcome', labelNames: ['outcome'] as const, registers }),
    commitSeconds: new Histogram({
      name: 'producer_commit_seconds',
      help: 'Time to write one batch: begin, send, commit (at-least-once: send, then the position)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    backpressure: new Counter({ name: 'producer_backpressure_waits_total', help: 'Times reading paused because MAX_IN_FLIGHT was reached', registers }),
  };
}

export type ProducerMetrics = ReturnType<typeof createProducerMetrics>;
