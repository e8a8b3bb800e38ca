import { createLogger, runMain, runService } from '@wikimonitor/service-kit';
import { cliSpec, flagsToEnv } from './cli';
import { APP_NAME, loadConfig } from './config';
import { createActionApiSource } from './server';

void runMain(APP_NAME, cliSpec(), async ({ values }) => {
  const config = loadConfig(flagsToEnv(values));
  const log = createLogger(APP_NAME, config.logLevel);
  const source = createActionApiSource({ config, log });
  const service = runService({ name: APP_NAME, log, components: [source], shutdownTimeoutMs: config.shutdownTimeoutMs });
  return service.done;
}).then((code) => process.exit(code));
