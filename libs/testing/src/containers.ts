import { GenericContainer, Network, Wait, type StartedTestContainer } from 'testcontainers';
import type { TestEnv } from './types';

const started: StartedTestContainer[] = [];

/**
 * The same three parts as the local stack, from images (used only where a Docker engine answers).
 * Kafka's advertised listener is the mapped host port, so clients outside Docker can reach it.
 */
export async function startContainers(): Promise<TestEnv> {
  const network = await new Network().start();
  const pg = await new GenericContainer('postgres:15')
    .withNetwork(network)
    .withNetworkAliases('postgres')
    .withEnvironment({ POSTGRES_USER: 'wikimonitor', POSTGRES_PASSWORD: 'wikimonitor', POSTGRES_DB: 'wikimonitor' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  started.push(pg);
  const kafkaPort = 39092;
  const kafka = await new GenericContainer('apache/kafka:4.1.1')
    .withNetwork(network)
    .withExposedPorts({ container: kafkaPort, host: kafkaPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://:${kafkaPort},CONTROLLER://:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_LOG_RETENTION_CHECK_INTERVAL_MS: '10000',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  started.push(kafka);
  const registry = await new GenericContainer('apicurio/apicurio-registry:3.0.9')
    .withNetwork(network)
    .withExposedPorts(8080)
    .withEnvironment({
      APICURIO_STORAGE_KIND: 'sql',
      APICURIO_STORAGE_SQL_KIND: 'postgresql',
      APICURIO_DATASOURCE_URL: 'jdbc:postgresql://postgres:5432/wikimonitor',
      APICURIO_DATASOURCE_USERNAME: 'wikimonitor',
      APICURIO_DATASOURCE_PASSWORD: 'wikimonitor',
    })
    .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
    .start();
  started.push(registry);
  return {
    bootstrapServers: `127.0.0.1:${kafkaPort}`,
    registryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
    databaseUrl: `postgres://wikimonitor:wikimonitor@${pg.getHost()}:${pg.getMappedPort(5432)}/wikimonitor`,
    source: 'testcontainers',
  };
}
