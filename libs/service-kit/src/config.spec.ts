import { z } from 'zod';
import { env, parseConfig } from './config';
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
