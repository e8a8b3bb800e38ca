/** SHA-1 over the concatenation of the parts (strings as UTF-8). Injected so this module stays pure. */
export type Sha1 = (parts: ReadonlyArray<Uint8Array | string>) => Uint8Array;

/** Namespace for every id this source derives (a fixed random UUID, so derived ids are stable across runs). */
export const FRESH_ID_NAMESPACE = '3f0b6f0e-5d1a-4c52-9a7e-1d2b8c4e6a90';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export function uuidToBytes(uuid: string): Uint8Array {
  if (!isUuid(uuid)) throw new TypeError(`not a UUID: ${uuid}`);
  const hex = uuid.replace(/-/g, '');
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Formats the first 16 bytes of a SHA-1 digest as an RFC 4122 version-5 (name-based) UUID. */
export function uuidV5FromDigest(digest: Uint8Array): string {
  if (digest.length < 16) throw new RangeError('digest shorter than 16 bytes');
  // Called once per looped event: plain concatenation, no intermediate arrays.
  const h = (i: number) => HEX[digest[i]];
  const version = HEX[(digest[6] & 0x0f) | 0x50];
  const variant = HEX[(digest[8] & 0x3f) | 0x80];
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${version}${h(7)}-${variant}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}

/** A deterministic UUIDv5 generator: same name, same id; different names, different ids. */
export function createUuidV5(sha1: Sha1, namespace: string = FRESH_ID_NAMESPACE): (name: string) => string {
  const ns = uuidToBytes(namespace);
  return (name) => uuidV5FromDigest(sha1([ns, name]));
}

/** Name for a looped event's fresh meta.id: the original id and the pass number. */
export function loopedIdName(originalId: string, pass: number): string {
  return `loop:${originalId}:${pass}`;
}

/** Name for an injected burst event: unique per connection, injection and sequence number. */
export function injectedIdName(connectionId: number, injection: number, seq: number): string {
  return `inject:${connectionId}:${injection}:${seq}`;
}

/** Name for a canary event: tied to the log offset it follows, so a replay yields the same canary. */
export function canaryIdName(offset: number): string {
  return `canary:${offset}`;
}
