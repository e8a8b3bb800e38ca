import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createPersisterMetrics(registry: Registry) {
  const registers = [registry];
  return {
    consumed: new Counter({ name: 'dedup_persister_records_consumed_total', help: 'Kafka records handled, by source topic', labelNames: ['topic'] as const, registers }),
    rowsWritten: new Counter({ name: 'dedup_persister_rows_written_total', help: 'Rows inserted (or aggregates changed) in PostgreSQL, by table', labelNames: ['table'] as const, registers }),
    duplicates: new Counter({
      name: 'dedup_persister_duplicates_skipped_total',
      help: 'Records not written because their key was already stored or repeated in the batch, by table',
      labelNames: ['table'] as const,
      registers,
    }),
    deadLettered: new Counter({ name: 'dedup_persister_dead_lettered_total', help: 'Records sent to the dead-letter topic, by error code', labelNames: ['code'] as const, registers }),
    dbErrors: new Counter({ name: 'dedup_persister_db_errors_total', help: 'Failed database calls, by class (retriable, data, fatal)', labelNames: ['class'] as const, registers }),
    fenced: new Counter({ name: 'dedup_persister_fenced_records_total', help: 'Records dropped because their partition was revoked before the batch was written', registers }),
    batchLatency: new Histogram({
      name: 'dedup_persister_batch_latency_seconds',
      help: 'One batch from decode to database commit (including retries)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    writeLatency: new Histogram({
      name: 'dedup_persister_db_write_latency_seconds',
      help: 'One successful database transaction (rows and offsets)',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    batchSize: new Histogram({ name: 'dedup_persister_batch_records', help: 'Records per batch', buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000], registers }),
    committedOffset: new Gauge({
      name: 'dedup_persister_committed_offset',
      help: 'Next offset to read, as last committed to PostgreSQL, per topic and partition',
      labelNames: ['topic', 'partition'] as const,
      registers,
    }),
    dbUp: new Gauge({ name: 'dedup_persister_db_up', help: '1 while PostgreSQL answers', registers }),
  };
}

export type PersisterMetrics = ReturnType<typeof createPersisterMetrics>;
