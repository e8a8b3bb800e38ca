import { createLogger } from '@wikimonitor/service-kit';
import { freePort } from '@wikimonitor/testing';
import { createApp } from './app';
import { loadConfig } from './config';

describe('dedup-persister app', () => {
  it('dedup-persister config should default to the agreed topics, group and keys', () => {
    expect(loadConfig({})).toMatchObject({
      CHANGES_TOPICS: ['wiki.changes.all'],
      AGGREGATES_TOPICS: ['wiki.aggregates'],
      ALERTS_TOPICS: ['wiki.alerts'],
      DLQ_TOPIC: 'wiki.dlq',
      CONSUMER_GROUP: 'dedup-persister',
      WRITE_METHOD: 'stage',
      START_OFFSET: 'earliest',
      MIGRATE: true,
    });
    expect(loadConfig({ AGGREGATES_TOPICS: 'none', CHANGES_TOPICS: 'wiki.changes.bot, wiki.changes.new-pages' })).toMatchObject({
      AGGREGATES_TOPICS: [],
      CHANGES_TOPICS: ['wiki.changes.bot', 'wiki.changes.new-pages'],
    });
  });

  it('dedup-persister config should name every bad setting', () => {
    expect(() => loadConfig({ HTTP_PORT: 'abc', LOG_LEVEL: 'loud', WRITE_METHOD: 'telepathy', BATCH_SIZE: '0', START_OFFSET: 'middle' })).toThrow(
      /HTTP_PORT[\s\S]*LOG_LEVEL[\s\S]*BATCH_SIZE[\s\S]*WRITE_METHOD[\s\S]*START_OFFSET/,
    );
  });

  it.each([
    [{ CHANGES_TOPICS: 'none', AGGREGATES_TOPICS: 'none', ALERTS_TOPICS: 'none' }, /CHANGES_TOPICS: at least one topic/],
    [{ CHANGES_TOPICS: 'wiki.alerts' }, /CHANGES_TOPICS: a topic is listed twice/],
  ])('dedup-persister config should refuse topic lists %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('dedup-persister should stop with exit code 1 when PostgreSQL cannot be reached at start, serving liveness meanwhile', async () => {
    const deadPort = await freePort();
    const app = createApp({
      config: loadConfig({ HTTP_PORT: '0', DATABASE_URL: `postgres://u:p@127.0.0.1:${deadPort}/db`, DB_CONNECT_ATTEMPTS: '2', DB_CONNECT_TIMEOUT_MS: '500', LOG_LEVEL: 'silent' }),
      log: createLogger('test', 'silent'),
      handleSignals: false,
    });
    expect(app.service.isReady()).toBe(false);
    expect(await app.service.done).toBe(1);
  });
});
