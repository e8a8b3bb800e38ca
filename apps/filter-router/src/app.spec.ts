import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@wikimonitor/service-kit';
import { startTsProcess } from '@wikimonitor/testing';
import { createApp } from './app';
import { loadConfig } from './config';

const badRules = () => {
  const file = join(mkdtempSync(join(tmpdir(), 'fr-app-')), 'rules.json');
  writeFileSync(file, JSON.stringify({ version: 1, routes: [{ name: 'human', topic: 'h', key: 'wiki', match: { bot: 'no' } }] }));
  return file;
};

describe('filter-router app', () => {
  it('filter-router config should name every bad setting', () => {
    expect(() => loadConfig({ HTTP_PORT: 'abc', LOG_LEVEL: 'loud', BATCH_SIZE: '0' })).toThrow(/HTTP_PORT[\s\S]*LOG_LEVEL[\s\S]*BATCH_SIZE/);
  });

  it('createApp should refuse a bad rule file before connecting to anything', () => {
    // The broker address is unreachable: getting to a connection attempt would hang, not throw CONFIG_INVALID.
    const config = loadConfig({ HTTP_PORT: '0', ROUTES_FILE: badRules(), KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:1' });
    expect(() => createApp({ config, log: createLogger('test', 'silent'), handleSignals: false })).toThrow(/route "human" \(routes\[0\]\): match.bot: must be true or false/);
  });

  it('filter-router process should exit 1 with the bad rule and field named when its rule file is invalid', async () => {
    const proc = startTsProcess('filter-router-bad-rules', 'apps/filter-router/src/main.ts', { ROUTES_FILE: badRules(), KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:1', HTTP_PORT: '0' });
    expect(await proc.exited()).toBe(1);
    const fatal = proc
      .output()
      .split('\n')
      .map((l) => (l.startsWith('{') ? (JSON.parse(l) as { level?: string; code?: string; msg?: string }) : {}))
      .find((l) => l.level === 'fatal');
    expect(fatal).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(fatal?.msg).toContain('route "human" (routes[0]): match.bot: must be true or false (got "no")');
  });
});
