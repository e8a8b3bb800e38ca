import { telemetry } from './instrumentation';
import { createLogger, runMain } from '@wikimonitor/service-kit';
import { createProducerApp } from './app';
import { loadConfig } from './config';

const HELP = `producer: a firehose -> normalized Avro records -> Kafka, exactly once (position in the transaction)
  SOURCE=eventstreams (default): Wikimedia EventStreams (SSE) -> WikiChange -> wiki.raw.changes
  SOURCE=jetstream: Bluesky Jetstream (WebSocket) -> BlueskyEvent -> bsky.raw.events (key did)

Usage: node dist/apps/producer/main.js [--help]
Configured by environment variables (see apps/producer/README.md), e.g.
  SSE_URL=https://stream.wikimedia.org/v2/stream/recentchange
  SOURCE=jetstream JETSTREAM_URL=wss://jetstream2.us-east.bsky.network/subscribe
  JETSTREAM_WANTED_COLLECTIONS=app.bsky.feed.post,app.bsky.feed.like  JETSTREAM_ZSTD_DICTIONARY=/path/zstd_dictionary
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092  SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7
  OUTPUT_TOPIC=wiki.raw.changes  DLQ_TOPIC=wiki.dlq  MAX_IN_FLIGHT=20000  HTTP_PORT=8080
Endpoints: GET /healthz /readyz /metrics`;

void runMain('producer', HELP, async () => {
  const config = loadConfig(process.env);
  const log = createLogger('producer', config.LOG_LEVEL);
  const app = createProducerApp({ config, log, tracingEnabled: telemetry.enabled, finally: [() => telemetry.shutdown()] });
  return app.service.done;
}).then((code) => process.exit(code));
