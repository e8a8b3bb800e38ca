import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { env, misspeltSettings, parseConfig, readSecretFiles } from './config';
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

describe('readSecretFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secretSchema = z.object({ NAME: env.string(), DATABASE_URL: env.string('postgres://local'), ROUTES_FILE: env.optionalString() });

  it('parseConfig should take a setting from <KEY>_FILE without its trailing newline', () => {
    const file = join(dir, 'db-url');
    writeFileSync(file, 'postgres://u:s3cret@db/x\n');
    const c = parseConfig(secretSchema, { NAME: 'x', DATABASE_URL_FILE: file, ROUTES_FILE: '/etc/rules.json' });
    expect(c.DATABASE_URL).toBe('postgres://u:s3cret@db/x');
    expect(c.ROUTES_FILE).toBe('/etc/rules.json'); // a setting that is itself a path stays a path
  });

  it('parseConfig should refuse an unreadable file or a setting given both ways, naming the variable and not the secret', () => {
    const file = join(dir, 'name');
    writeFileSync(file, 'from-file');
    let err: unknown;
    try {
      parseConfig(secretSchema, { NAME_FILE: file, NAME: 'also-set', DATABASE_URL_FILE: join(dir, 'missing') });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WikiMonitorError);
    const message = (err as Error).message;
    expect(message).toMatch(/NAME_FILE: NAME is set too/);
    expect(message).toMatch(/DATABASE_URL_FILE: cannot read .*missing \(ENOENT\)/);
    expect(message).not.toMatch(/from-file/);
  });

  it('readSecretFiles should ignore _FILE variables of settings the schema does not have', () => {
    const vars: Record<string, string | undefined> = { OTHER_FILE: '/nonexistent' };
    expect(readSecretFiles(vars, ['NAME'])).toEqual([]);
    expect(vars).toEqual({ OTHER_FILE: '/nonexistent' });
  });
});
