import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { env, misspeltSettings, parseConfig, readSecretEnv } from './config';
import { baseConfigShape } from './config';
import { WikiMonitorError } from './errors';

const schema = z.object({
  PORT: env.int(8080, { min: 1, max: 65535 }),
  NAME: env.string(),
  DEBUG: env.bool(false),
  TOPICS: env.list(['a', 'b']),
  MODE: env.enum(['fast', 'safe'], 'safe'),
});

describe('parseConfig', () => {
  it('parseConfig should apply defaults and coerce strings', () => {
    expect(parseConfig(schema, { NAME: 'x', DEBUG: 'true', TOPICS: 'c, d' })).toEqual({ PORT: 8080, NAME: 'x', DEBUG: true, TOPICS: ['c', 'd'], MODE: 'safe' });
  });

  it('parseConfig should list every problem at once, naming each variable', () => {
    let err: unknown;
    try {
      parseConfig(schema, { PORT: 'eighty', DEBUG: 'maybe', MODE: 'turbo' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WikiMonitorError);
    const e = err as WikiMonitorError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.retriable).toBe(false);
    expect(e.message).toMatch(/PORT: must be an integer \(got "eighty"\)/);
    expect(e.message).toMatch(/NAME: .* \(missing\)/);
    expect(e.message).toMatch(/DEBUG: must be true or false/);
    expect(e.message).toMatch(/MODE: /);
  });

  it('parseConfig should treat an empty variable as unset', () => {
    expect(parseConfig(schema, { NAME: 'x', PORT: '' }).PORT).toBe(8080);
    expect(() => parseConfig(schema, { NAME: '' })).toThrow(/NAME: .* \(missing\)/);
  });

  it('parseConfig should reject out-of-range numbers', () => {
    expect(() => parseConfig(schema, { NAME: 'x', PORT: '70000' })).toThrow(/PORT/);
  });
});

describe('misspeltSettings', () => {
  const appSchema = z
    .object({ ...baseConfigShape, KAFKA_BOOTSTRAP_SERVERS: env.string('127.0.0.1:9092'), SCHEMA_REGISTRY_URL: env.url('http://127.0.0.1:8081'), OTEL_TRACES_SAMPLER_ARG: env.number(1) })
    .transform((c) => c);

  it('misspeltSettings should name a near miss of a key and the key it probably meant', () => {
    expect(misspeltSettings(appSchema, ['KAFKA_BOOTSTRAP_SERVER', 'SCHEMA_REGSITRY_URL', 'LOG_LEVLE'], 'producer')).toEqual([
      'warning: KAFKA_BOOTSTRAP_SERVER is not a setting of producer; did you mean KAFKA_BOOTSTRAP_SERVERS?',
      'warning: SCHEMA_REGSITRY_URL is not a setting of producer; did you mean SCHEMA_REGISTRY_URL?',
      'warning: LOG_LEVLE is not a setting of producer; did you mean LOG_LEVEL?',
    ]);
  });

  it("misspeltSettings should not warn about the schema's own keys, other software's variables or other families", () => {
    const names = ['KAFKA_BOOTSTRAP_SERVERS', 'HTTP_PORT', 'HTTP_PROXY', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_AR', 'NODE_OPTIONS', 'WM_KAFKA_PORT', 'KAFKA_HEAP_OPTS', 'PATH', 'HOME', 'USER', 'LOG'];
    expect(misspeltSettings(appSchema, names, 'producer')).toEqual([]);
  });

  it('parseConfig should warn once per misspelt variable, even when loaded twice', () => {
    const lines: string[] = [];
    const source = { LOG_LEVL: 'debug', KAFKA_X: '1' };
    parseConfig(appSchema, source, { name: 'svc', warn: (l) => lines.push(l) });
    parseConfig(appSchema, source, { name: 'svc', warn: (l) => lines.push(l) });
    expect(lines).toEqual(['warning: LOG_LEVL is not a setting of svc; did you mean LOG_LEVEL?']);
  });
});

describe('secrets from files (<KEY>_FILE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wm-secret-'));
  const secretSchema = z.object({ NAME: env.string(), PASSWORD: env.optionalString(), PORT: env.int(8080, { min: 1, max: 65535 }) });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parseConfig should read a setting from the file its _FILE variable names, without the trailing newline', () => {
    const file = join(dir, 'password');
    writeFileSync(file, 's3cret-value\n');
    expect(parseConfig(secretSchema, { NAME: 'x', PASSWORD_FILE: file })).toEqual({ NAME: 'x', PASSWORD: 's3cret-value', PORT: 8080 });
  });

  it('parseConfig should refuse a setting given both directly and as a file, and an unreadable file, without showing any content', () => {
    const file = join(dir, 'port');
    writeFileSync(file, 'not-a-port-but-secret\n');
    let err: unknown;
    try {
      parseConfig(secretSchema, { PASSWORD: 'a', PASSWORD_FILE: file, PORT_FILE: file, NAME_FILE: join(dir, 'missing') });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WikiMonitorError);
    const problems = (err as WikiMonitorError).details?.['problems'] as string[];
    expect(problems).toEqual([
      `NAME_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`,
      'PASSWORD_FILE: PASSWORD is set as well; set only one of them',
      'NAME: required (missing)',
      'PORT: must be an integer (read from PORT_FILE)',
    ]);
    expect((err as Error).message).not.toContain('not-a-port-but-secret');
  });

  it('parseConfig should keep a setting that is itself a path (ROUTES_FILE) a path', () => {
    const file = join(dir, 'db-url');
    writeFileSync(file, 'postgres://u:s3cret@db/x\n');
    const withPaths = z.object({ DATABASE_URL: env.string('postgres://local'), ROUTES_FILE: env.optionalString() });
    expect(parseConfig(withPaths, { DATABASE_URL_FILE: file, ROUTES_FILE: '/etc/rules.json' })).toEqual({ DATABASE_URL: 'postgres://u:s3cret@db/x', ROUTES_FILE: '/etc/rules.json' });
  });

  it('readSecretEnv should leave variables without a _FILE twin untouched', () => {
    const r = readSecretEnv({ A: '1', B_FILE: '/x' }, ['A'], () => 'never read');
    expect(r).toEqual({ env: { A: '1', B_FILE: '/x' }, fromFile: new Set(), problems: [] });
  });
});
