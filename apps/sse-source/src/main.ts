import { createLogger, describeError, runService } from '@wikimonitor/service-kit';
import { helpText, parseCliArgs } from './cli';
import { loadConfig } from './config';
import { createSseSource } from './server';

async function main(): Promise<number> {
  const cli = parseCliArgs(process.argv.slice(2));
  if (cli.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const config = loadConfig(cli.env);
  const log = createLogger('sse-source', config.logLevel);
  const source = createSseSource({ config, log });
  const service = runService({ name: 'sse-source', log, components: [source], shutdownTimeoutMs: config.shutdownTimeoutMs });
  return service.done;
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err: unknown) => {
    const error = describeError(err);
    createLogger('sse-source').fatal({ err: error }, 'sse-source failed to start');
    process.stderr.write(`sse-source: ${error.message}\n`);
    process.exit(1);
  });
