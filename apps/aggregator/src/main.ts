import { telemetry } from './instrumentation';
import { createLogger, runMain } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';

const HELP = `aggregator: WikiChange (keyed by wiki) -> tumbling event-time windows per wiki -> WikiAggregate + spike WikiAlert, exactly once

Usage: node dist/apps/aggregator/main.js [--help]
Configured by environment variables (see apps/aggregator/README.md), e.g.
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092  SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7
  INPUT_TOPIC=wiki.changes.all  AGGREGATES_TOPIC=wiki.aggregates  ALERTS_TOPIC=wiki.alerts  LATE_TOPIC=wiki.changes.late
  WINDOW_SIZE_MS=60000  ALLOWED_LATENESS_MS=30000  IDLE_CLOSE_MS=120000  TRANSACTIONAL_ID=aggregator-0
  AGGREGATION_MODE=per-wiki (input keyed by wiki) | two-stage (input keyed by wiki:title: partial windows per
  partition merged per wiki; scales past the busiest wiki's partition, README "Scaling")
  STREAM=bluesky: BlueskyEvent from bsky.events.all, windows per <collection>:<operation> -> bsky.aggregates (group aggregator-bsky)
Endpoints: GET /healthz /readyz /metrics`;

void runMain('aggregator', HELP, async () => {
  const config = loadConfig(process.env);
  const log = createLogger('aggregator', config.LOG_LEVEL);
  return createApp({ config, log, tracingEnabled: telemetry.enabled, finally: [() => telemetry.shutdown()] }).service.done;
}).then((code) => process.exit(code));
