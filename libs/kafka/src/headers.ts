import type { MessageHeader } from '@confluentinc/kafka-javascript';

export type Headers = Record<string, string | Buffer>;

/** librdkafka delivers headers as a list of single-key objects; flattens them (last one wins). */
export function headersFromMessage(list: MessageHeader[] | undefined): Headers {
  const out: Headers = {};
  for (const h of list ?? []) for (const [k, v] of Object.entries(h)) out[k] = v;
  return out;
}

export function headersToMessage(headers: Headers | undefined): MessageHeader[] | undefined {
  if (!headers) return undefined;
  const list = Object.entries(headers).map(([k, v]) => ({ [k]: v }));
  return list.length ? list : undefined;
}

export function headerString(headers: Headers, key: string): string | undefined {
  const v = headers[key];
  return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : v;
}
