/** Where integration tests find their broker, registry and database (see getTestEnv). */
export interface TestEnv {
  bootstrapServers: string;
  registryUrl: string;
  databaseUrl: string;
  source: 'env' | 'testcontainers' | 'local-stack';
}
