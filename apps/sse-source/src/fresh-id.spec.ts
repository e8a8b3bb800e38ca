import { createHash } from 'node:crypto';
import { canaryIdName, createUuidV5, injectedIdName, isUuid, loopedIdName, uuidToBytes } from './fresh-id';

const sha1 = (parts: ReadonlyArray<Uint8Array | string>) => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('createUuidV5', () => {
  it('createUuidV5 should match the RFC 4122 name-based test vector', () => {
    const dns = createUuidV5(sha1, '6ba7b810-9dad-11d1-80b4-00c04fd430c8');
    expect(dns('www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('createUuidV5 should be deterministic and distinct per name', () => {
    const derive = createUuidV5(sha1);
    const names = [loopedIdName('0416300b-980c-45bb-b0a2-c9d7a9e2b7eb', 1), loopedIdName('0416300b-980c-45bb-b0a2-c9d7a9e2b7eb', 2), injectedIdName(1, 0, 0), canaryIdName(999)];
    const ids = names.map(derive);
    expect(names.map(derive)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('createUuidV5 should give 40,000 looped ids without a collision', () => {
    const derive = createUuidV5(sha1);
    const ids = new Set<string>();
    for (let pass = 1; pass <= 10; pass++) for (let i = 0; i < 4000; i++) ids.add(derive(loopedIdName(`id-${i}`, pass)));
    expect(ids.size).toBe(40_000);
  });
});

describe('uuidToBytes', () => {
  it.each([
    ['6ba7b810-9dad-11d1-80b4-00c04fd430c8', true],
    ['not-a-uuid', false],
    ['6ba7b810-9dad-11d1-80b4-00c04fd430c', false],
  ])('uuidToBytes should accept only UUIDs (%s)', (value, valid) => {
    expect(isUuid(value)).toBe(valid);
    if (valid) expect(Buffer.from(uuidToBytes(value)).toString('hex')).toBe(value.replace(/-/g, ''));
    else expect(() => uuidToBytes(value)).toThrow(TypeError);
  });
});
