import { telemetry } from './instrumentation';
import { createLogger, describeError } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';

async function main(): Promise<number> {
  if (process.argv.includes('--help')) {
    console.log('lag-monitor: see apps/lag-monitor/README.md. Configured by environment variables; GET /healthz /readyz /metrics.');
    return 0;
  }
  const config = loadConfig(process.env);
  const log = createLogger('lag-monitor', config.LOG_LEVEL);
  return createApp({ config, log, finally: [() => telemetry.shutdown()] }).service.done;
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    const e = describeError(err);
    console.error(JSON.stringify({ level: 'fatal', service: 'lag-monitor', code: e.code, msg: e.message }));
    process.exit(1);
  });
