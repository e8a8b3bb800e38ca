import { telemetry } from './instrumentation';
import { createLogger, runMain } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';

const HELP = `dedup-persister: Kafka (WikiChange, WikiAggregate, WikiAlert) -> PostgreSQL, exactly once, plus a history API

Usage: node dist/apps/dedup-persister/main.js [--help]
Configured by environment variables (see apps/dedup-persister/README.md), e.g.
  DATABASE_URL=postgres://wikimonitor:wikimonitor@127.0.0.1:55432/wikimonitor
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092  SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7
  CHANGES_TOPICS=wiki.changes.all  AGGREGATES_TOPICS=wiki.aggregates  ALERTS_TOPICS=wiki.alerts  DLQ_TOPIC=wiki.dlq
  CONSUMER_GROUP=dedup-persister  BATCH_SIZE=2000  WRITE_METHOD=stage  HTTP_PORT=8080
Endpoints: GET /healthz /readyz /metrics /api/changes /api/changes/:id /api/aggregates /api/alerts`;

void runMain('dedup-persister', HELP, async () => {
  const config = loadConfig(process.env);
  const log = createLogger('dedup-persister', config.LOG_LEVEL);
  return createApp({ config, log, tracingEnabled: telemetry.enabled, finally: [() => telemetry.shutdown()] }).service.done;
}).then((code) => process.exit(code));
