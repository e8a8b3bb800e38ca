import { telemetry } from './instrumentation';
import { createLogger, runMain } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';

const HELP = `enricher: wiki.changes.human-content -> wiki.changes.enriched (+ revision facts from the MediaWiki Action API),
exactly once (Kafka transactions); failures per the failure table go to wiki.changes.enriched.error

Usage: node dist/apps/enricher/main.js [--help]
Configured by environment variables (see apps/enricher/README.md), e.g.
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092  SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7
  API_URL=https://{domain}/w/api.php (the local stand-in: http://127.0.0.1:8093/{domain}/w/api.php)
  USER_AGENT='<name>/<version> (<contact URL or e-mail>)'  API_RATE_LIMIT=10  API_CONCURRENCY_PER_WIKI=2
  RETRY_MAX_ATTEMPTS=5  TRANSACTIONAL_ID=enricher-<hostname> (unique per instance, stable across its restarts)
Endpoints: GET /healthz /readyz /metrics`;

void runMain('enricher', HELP, async () => {
  const config = loadConfig(process.env);
  const log = createLogger('enricher', config.LOG_LEVEL);
  return createApp({ config, log, tracingEnabled: telemetry.enabled, finally: [() => telemetry.shutdown()] }).service.done;
}).then((code) => process.exit(code));
