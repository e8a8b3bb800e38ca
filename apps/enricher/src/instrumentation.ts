// Loaded first (main.ts's first import; in builds also a separate bundle required before main's
// code): the OpenTelemetry SDK must start before http is loaded. Import nothing else.
import { startTelemetryFromEnv } from '@wikimonitor/telemetry/sdk';

export const telemetry = startTelemetryFromEnv('enricher', process.env);
