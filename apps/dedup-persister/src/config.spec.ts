import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATABASE_URL, loadConfig } from './config';

describe('dedup-persister config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dp-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loadConfig should use the local stack URL in development only, and refuse it under NODE_ENV=production', () => {
    expect(loadConfig({}).DATABASE_URL).toBe(DEFAULT_DATABASE_URL);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/DATABASE_URL: required in production/);
    expect(loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://app@db/wm' }).DATABASE_URL).toBe('postgres://app@db/wm');
  });

  it('loadConfig should read DATABASE_URL from DATABASE_URL_FILE (a mounted Secret)', () => {
    const file = join(dir, 'database-url');
    writeFileSync(file, 'postgres://wm:s3cret@db:5432/wm\n');
    expect(loadConfig({ NODE_ENV: 'production', DATABASE_URL_FILE: file }).DATABASE_URL).toBe('postgres://wm:s3cret@db:5432/wm');
  });

  it('loadConfig should take TLS settings and refuse sslmode in the URL beside DATABASE_SSL_MODE', () => {
    expect(loadConfig({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA: '/ca.crt' })).toMatchObject({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA: '/ca.crt' });
    expect(() => loadConfig({ DATABASE_SSL_MODE: 'verify-full', DATABASE_URL: 'postgres://a@b/c?sslmode=require' })).toThrow(/DATABASE_SSL_MODE: sslmode is in DATABASE_URL/);
    expect(() => loadConfig({ DATABASE_SSL_MODE: 'prefer' })).toThrow(/DATABASE_SSL_MODE/);
  });
});
