import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createAggregatorMetrics(registry: Registry) {
  const registers = [registry];
  return {
    consumed: new Counter({ name: 'aggregator_records_consumed_total', help: 'Input records processed in committed transactions', registers }),
    late: new Counter({ name: 'aggregator_late_events_total', help: 'Changes whose window had already closed, sent to the late topic', registers }),
    windowsClosed: new Counter({ name: 'aggregator_windows_closed_total', help: 'Windows closed and emitted as WikiAggregate, by what closed them', labelNames: ['reason'] as const, registers }),
    alerts: new Counter({ name: 'aggregator_alerts_total', help: 'Spike alerts emitted', labelNames: ['severity'] as const, registers }),
    deadLettered: new Counter({ name: 'aggregator_dead_lettered_total', help: 'Input records sent to the dead-letter topic', labelNames: ['code'] as const, registers }),
    transactions: new Counter({ name: 'aggregator_transactions_total', help: 'Transactions by outcome', labelNames: ['result'] as const, registers }),
    transactionSeconds: new Histogram({
      name: 'aggregator_transaction_duration_seconds',
      help: 'From begin to commit of one transaction',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    openWindows: new Gauge({ name: 'aggregator_open_windows', help: 'Open windows held for the assigned partitions', registers }),
    wikis: new Gauge({ name: 'aggregator_state_wikis', help: 'Wikis with state on the assigned partitions', registers }),
    restoredWikis: new Counter({ name: 'aggregator_state_restored_wikis_total', help: 'Wiki states restored from the changelog on assignment', registers }),
    distrustedStates: new Counter({ name: 'aggregator_state_distrusted_total', help: 'Restored wiki states whose watermark was beyond the wall clock plus the allowed skew, rebuilt', registers }),
    restoreSeconds: new Histogram({ name: 'aggregator_state_restore_duration_seconds', help: 'Time to restore the state of newly assigned partitions', buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60], registers }),
    maxEventTime: new Gauge({ name: 'aggregator_max_event_timestamp_seconds', help: 'Newest event time processed', registers }),
  };
}

export type AggregatorMetrics = ReturnType<typeof createAggregatorMetrics>;
