import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createRouterMetrics(registry: Registry) {
  const registers = [registry];
  return {
    consumed: new Counter({ name: 'filter_router_records_consumed_total', help: 'Input records read (a record re-read after an abort counts again)', registers }),
    routed: new Counter({ name: 'filter_router_records_routed_total', help: 'Records written to a route topic in committed transactions', labelNames: ['route'] as const, registers }),
    unrouted: new Counter({ name: 'filter_router_records_unrouted_total', help: 'Committed input records that matched no route', registers }),
    deadLettered: new Counter({ name: 'filter_router_records_dead_lettered_total', help: 'Input records sent to the dead-letter topic in committed transactions', labelNames: ['code'] as const, registers }),
    committed: new Counter({ name: 'filter_router_transactions_committed_total', help: 'Transactions committed (outputs and input offsets together)', registers }),
    aborted: new Counter({ name: 'filter_router_transactions_aborted_total', help: 'Transactions aborted and rewound to the committed offsets', labelNames: ['code'] as const, registers }),
    transactionSeconds: new Histogram({
      name: 'filter_router_transaction_duration_seconds',
      help: 'From beginTransaction to a successful commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    batchRecords: new Histogram({ name: 'filter_router_transaction_records', help: 'Input records per committed transaction', buckets: [1, 10, 50, 100, 250, 500, 1000, 5000], registers }),
    lastEventTime: new Gauge({ name: 'filter_router_last_event_timestamp_seconds', help: 'Record timestamp (event time) of the newest committed input record', registers }),
    routes: new Gauge({ name: 'filter_router_routes', help: 'Enabled routes loaded from the rule file', registers }),
  };
}

export type RouterMetrics = ReturnType<typeof createRouterMetrics>;
