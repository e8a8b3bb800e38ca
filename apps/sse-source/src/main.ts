import { createLogger, runMain, runService } from '@wikimonitor/service-kit';
import { cliSpec, flagsToEnv } from './cli';
import { loadConfig } from './config';
import { createSseSource } from './server';

void runMain('sse-source', cliSpec(), async ({ values }) => {
  const config = loadConfig(flagsToEnv(values));
  const log = createLogger('sse-source', config.logLevel);
  const source = createSseSource({ config, log });
  const service = runService({ name: 'sse-source', log, components: [source], shutdownTimeoutMs: config.shutdownTimeoutMs });
  return service.done;
}).then((code) => process.exit(code));
