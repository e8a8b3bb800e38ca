import { createLogger, runMain, runService } from '@wikimonitor/service-kit';
import { cliSpec, flagsToEnv } from './cli';
import { loadConfig } from './config';
import { createJetstreamSource } from './server';

void runMain('jetstream-source', cliSpec(), async ({ values }) => {
  const config = loadConfig(flagsToEnv(values));
  const log = createLogger('jetstream-source', config.logLevel);
  const source = createJetstreamSource({ config, log });
  const service = runService({ name: 'jetstream-source', log, components: [source], shutdownTimeoutMs: config.shutdownTimeoutMs });
  return service.done;
}).then((code) => process.exit(code));
