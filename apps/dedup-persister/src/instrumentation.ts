// Loaded first by main.ts: the OpenTelemetry SDK must start before anything it observes is loaded.
import { serviceVersion } from '@wikimonitor/service-kit';
import { startTelemetryFromEnv } from '@wikimonitor/telemetry/sdk';

export const telemetry = startTelemetryFromEnv('dedup-persister', process.env, serviceVersion());
