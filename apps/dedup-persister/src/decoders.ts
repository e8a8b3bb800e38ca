import { BlueskyEventSchema, WikiAggregateSchema, WikiAlertSchema, WikiChangeSchema, type BlueskyEvent, type WikiAggregate, type WikiAlert, type WikiChange } from '@wikimonitor/contracts';
import { type AvroCodec, type SchemaRegistryClient, createAvroCodec } from '@wikimonitor/schemas';
import type { Logger } from '@wikimonitor/service-kit';
import type { Decoders, RecordKind } from './persister';

export interface TopicKinds {
  changes: string[];
  aggregates: string[];
  alerts: string[];
  /** Bluesky event topics (bsky_events); optional. */
  bsky?: string[];
}

/** Which kind of record each consumed topic carries. */
export function topicKinds(t: TopicKinds): Map<string, RecordKind> {
  const m = new Map<string, RecordKind>();
  for (const x of t.changes) m.set(x, 'change');
  for (const x of t.aggregates) m.set(x, 'aggregate');
  for (const x of t.alerts) m.set(x, 'alert');
  for (const x of t.bsky ?? []) m.set(x, 'bsky');
  return m;
}

/**
 * Avro decoders, one codec per topic (subject `<topic>-value`): each resolves the writer schema named
 * by the record's id into the reader schema this app was built with (schemas/*.avsc), so producers
 * may move ahead within FORWARD_TRANSITIVE compatibility. The persister never registers schemas.
 */
export function createDecoders(opts: { client: SchemaRegistryClient; topics: TopicKinds; log: Logger }): Decoders {
  const codecs = new Map<string, AvroCodec<unknown>>();
  const codec = <T>(topic: string, schema: object): AvroCodec<T> => {
    let c = codecs.get(topic);
    if (!c) {
      c = createAvroCodec<unknown>({ client: opts.client, topic, schema, log: opts.log });
      codecs.set(topic, c);
    }
    return c as AvroCodec<T>;
  };
  return {
    change: (topic, value) => codec<WikiChange>(topic, WikiChangeSchema).decode(value),
    aggregate: (topic, value) => codec<WikiAggregate>(topic, WikiAggregateSchema).decode(value),
    alert: (topic, value) => codec<WikiAlert>(topic, WikiAlertSchema).decode(value),
    bsky: (topic, value) => codec<BlueskyEvent>(topic, BlueskyEventSchema).decode(value),
  };
}
