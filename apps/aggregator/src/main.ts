import { telemetry } from './instrumentation';
import { createLogger, describeError } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';

const HELP = `aggregator: WikiChange (keyed by wiki) -> tumbling event-time windows per wiki -> WikiAggregate + spike WikiAlert, exactly once

Usage: node dist/apps/aggregator/main.js [--help]
Configured by environment variables (see apps/aggregator/README.md), e.g.
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092  SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7
  INPUT_TOPIC=wiki.changes.all  AGGREGATES_TOPIC=wiki.aggregates  ALERTS_TOPIC=wiki.alerts  LATE_TOPIC=wiki.changes.late
  WINDOW_SIZE_MS=60000  ALLOWED_LATENESS_MS=30000  IDLE_CLOSE_MS=120000  TRANSACTIONAL_ID=aggregator-0
Endpoints: GET /healthz /readyz /metrics`;

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const config = loadConfig(process.env);
  const log = createLogger('aggregator', config.LOG_LEVEL);
  return createApp({ config, log, tracingEnabled: telemetry.enabled, finally: [() => telemetry.shutdown()] }).service.done;
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    const e = describeError(err);
    console.error(JSON.stringify({ level: 'fatal', service: 'aggregator', code: e.code, msg: e.message }));
    process.exit(1);
  });
