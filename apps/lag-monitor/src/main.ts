import { telemetry } from './instrumentation';
import { createLogger, runMain } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';

const HELP = `lag-monitor: consumer lag in messages and seconds, threshold-free status (OK WARN STALL STOP REWIND),
end-to-end probe, partition balance, alerts to wiki.alerts and a webhook, live dashboard.

Usage: node dist/apps/lag-monitor/main.js [--help]
Configured by environment variables (see apps/lag-monitor/README.md), e.g.
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092  SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7
  CYCLE_INTERVAL_MS=5000  WINDOW_CYCLES=10  GROUP_ALLOW='^(filter-router|aggregator|dedup-persister|enricher)$'
  ALERTS_TOPIC=wiki.alerts  ALERT_WEBHOOK_URL=https://hooks.example/lag  HTTP_PORT=8080
Endpoints: GET / (dashboard) /api/groups /api/groups/:id /api/topics /api/probe /api/events /healthz /readyz /metrics
Ops CLI (tools/ops, shipped beside main.js as cli.js): node dist/apps/lag-monitor/cli.js --help`;

void runMain('lag-monitor', HELP, async () => {
  const config = loadConfig(process.env);
  const log = createLogger('lag-monitor', config.LOG_LEVEL);
  return createApp({ config, log, finally: [() => telemetry.shutdown()] }).service.done;
}).then((code) => process.exit(code));
