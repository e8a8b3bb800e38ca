import { telemetry } from './instrumentation';
import { createLogger, runMain } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';

const HELP = `filter-router: wiki.raw.changes -> rule-selected route topics, exactly once (Kafka transactions)

Usage: node dist/apps/filter-router/main.js [--help]
Configured by environment variables (see apps/filter-router/README.md), e.g.
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092  SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7
  INPUT_TOPIC=wiki.raw.changes  DLQ_TOPIC=wiki.dlq  ROUTES_FILE=rules.json (default: built-in rules)
  TRANSACTIONAL_ID=<GROUP_ID>-<hostname> (unique per instance, stable across its restarts)
  STREAM=bluesky: bsky.raw.events -> rules/bluesky-rules.json (bsky.events.*), group filter-router-bsky
Endpoints: GET /healthz /readyz /metrics`;

void runMain('filter-router', HELP, async () => {
  const config = loadConfig(process.env);
  const log = createLogger('filter-router', config.LOG_LEVEL);
  return createApp({ config, log, tracingEnabled: telemetry.enabled, finally: [() => telemetry.shutdown()] }).service.done;
}).then((code) => process.exit(code));
