import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { kafkaConnectionFromEnv } from '@wikimonitor/kafka';
import { createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { runCli } from './cli-run';
import { loadCliConfig } from './config';
import { createPersisterOffsets } from './pg-offsets';

/** Entry of the ops CLI: wiring only; the commands live in ops.ts, parsing and output in cli-run.ts. */
async function main(): Promise<number> {
  const io = { out: (s: string) => process.stdout.write(`${s}\n`), err: (s: string) => process.stderr.write(`${s}\n`) };
  let config: ReturnType<typeof loadCliConfig>;
  try {
    config = loadCliConfig(process.env);
  } catch (err) {
    io.err((err as Error).message);
    return 2;
  }
  const log = createLogger('ops-cli', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, process.stderr);
  const changeEncoder = async (topic: string) => {
    const codec = createAvroCodec<WikiChange>({ client: registryClientFromConfig(config), topic, schema: WikiChangeSchema, log });
    await codec.init();
    return (change: WikiChange) => codec.encode(change);
  };
  const ctx = () => ({
    connection: kafkaConnectionFromEnv(config, 'wikimonitor-ops-cli'), log, adminTimeoutMs: config.ADMIN_TIMEOUT_MS,
    changeEncoder,
    persisterOffsets: config.DATABASE_URL ? () => createPersisterOffsets(config.DATABASE_URL as string, config.ADMIN_TIMEOUT_MS) : undefined,
    offsetHomes: { postgresGroups: config.POSTGRES_OFFSET_GROUPS, changelogGroups: config.CHANGELOG_STATE_GROUPS },
    replay: { markerTopic: config.DLQ_REPLAYED_TOPIC, transactionalId: config.REPLAY_TRANSACTIONAL_ID, replicationFactor: config.TOPIC_REPLICATION_FACTOR },
  });
  return runCli(process.argv.slice(2), io, ctx, { dlqTopic: config.DLQ_TOPIC, rawTopic: config.RAW_TOPIC });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fatal: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
