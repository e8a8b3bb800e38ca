import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createEnricherMetrics(registry: Registry) {
  const registers = [registry];
  return {
    consumed: new Counter({ name: 'enricher_records_consumed_total', help: 'Input records read (a record re-read after an abort counts again)', registers }),
    apiCalls: new Counter({
      name: 'enricher_api_calls_total',
      help: 'Action API calls made, by outcome: ok (an answer with revisions), or the failure table reason of the call as a whole (made, whether or not their transaction commits)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    apiCallSeconds: new Histogram({ name: 'enricher_api_call_duration_seconds', help: 'Action API call duration (the wait for a slot or a token excluded)', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    apiRevids: new Counter({ name: 'enricher_api_revids_total', help: 'Revids asked for in Action API calls', registers }),
    enriched: new Counter({ name: 'enricher_records_enriched_total', help: 'Enriched records written in committed transactions', registers }),
    retries: new Counter({ name: 'enricher_retries_total', help: 'Retries scheduled in committed transactions (a record parked, or kept parked after another failed call), by reason', labelNames: ['reason'] as const, registers }),
    errorTopic: new Counter({ name: 'enricher_error_topic_records_total', help: 'Records written to the error topic in committed transactions, by reason', labelNames: ['reason'] as const, registers }),
    held: new Counter({ name: 'enricher_records_held_total', help: 'Records held behind a parked record of their page (committed)', registers }),
    deadLettered: new Counter({ name: 'enricher_records_dead_lettered_total', help: 'Invalid inputs sent to the dead-letter topic in committed transactions', labelNames: ['code'] as const, registers }),
    parkedPages: new Gauge({ name: 'enricher_parked_pages', help: 'Pages with records waiting for an API retry (committed state of the assigned partitions)', registers }),
    parkedRecords: new Gauge({ name: 'enricher_parked_records', help: 'Records waiting in parked pages (the retried ones and those held behind them)', registers }),
    transactions: new Counter({ name: 'enricher_transactions_total', help: 'Transactions by kind (batch, tick) and result', labelNames: ['kind', 'result'] as const, registers }),
    transactionSeconds: new Histogram({ name: 'enricher_transaction_duration_seconds', help: 'From the batch or tick to a successful commit (API calls included)', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
  };
}

export type EnricherMetrics = ReturnType<typeof createEnricherMetrics>;
