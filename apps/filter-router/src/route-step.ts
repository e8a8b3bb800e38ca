import type { WikiChange } from '@wikimonitor/contracts';
import { type RoutingRules, routeChange } from '@wikimonitor/domain';
import { type Headers, type Message, type OutgoingRecord, deadLetterRecord, headersFromMessage } from '@wikimonitor/kafka';
import { WikiMonitorError, describeError, isRetriable } from '@wikimonitor/service-kit';
import { type Span, type Tracer, context, extractTraceContext, injectTraceHeaders, startProcessSpan, trace } from '@wikimonitor/telemetry';
import { APP_NAME } from './config';

/** What the router needs of an Avro codec (the input's decoder and each route topic's encoder). */
export interface ChangeCodec {
  schemaId(): number;
  encode(change: WikiChange): Buffer;
  decode(buf: Buffer): Promise<WikiChange>;
}

export interface RoutedRecord extends OutgoingRecord {
  /** The route it was written for, or `dlq`. */
  route: string;
}

export type RouteOutcome =
  | { kind: 'routed'; change: WikiChange; records: RoutedRecord[]; span?: Span }
  | { kind: 'dead-letter'; code: string; records: [RoutedRecord]; span?: Span };

export interface RecordRouterDeps {
  rules: RoutingRules;
  /** Decodes input values (Confluent wire format; the writer schema is looked up by id). */
  input: Pick<ChangeCodec, 'decode'>;
  /** One encoder per route topic, registered under `<topic>-value`. */
  outputs: ReadonlyMap<string, Pick<ChangeCodec, 'schemaId' | 'encode'>>;
  dlqTopic: string;
  /** Null when tracing is off: no span work on the hot path. */
  tracer: Tracer | null;
}

export interface RecordRouter {
  /**
   * Turns one input record into the records to write: one per matching route, or one dead letter
   * when the value cannot be decoded (or `forceDeadLetter` says an earlier attempt proved it cannot
   * be written). Throws only retriable errors (e.g. the registry is unreachable): the caller aborts
   * and retries the whole transaction.
   */
  route(m: Message, forceDeadLetter?: { code: string; message: string; attempts: number }): Promise<RouteOutcome>;
}

const writerSchemaId = (buf: Buffer): number => buf.readInt32BE(1);

export function createRecordRouter(deps: RecordRouterDeps): RecordRouter {
  const deadLetter = (m: Message, headers: Headers, error: { code: string; message: string }, attempts: number): RouteOutcome => ({
    kind: 'dead-letter',
    code: error.code,
    records: [
      {
        route: 'dlq',
        ...deadLetterRecord(deps.dlqTopic, {
          sourceTopic: m.topic,
          sourcePartition: m.partition,
          sourceOffset: m.offset,
          key: m.key ?? null,
          value: m.value ?? null,
          headers,
          error,
          attempts,
          app: APP_NAME,
        }),
      },
    ],
  });

  return {
    async route(m, forceDeadLetter) {
      const headers = headersFromMessage(m.headers);
      if (forceDeadLetter) return deadLetter(m, headers, forceDeadLetter, forceDeadLetter.attempts);
      let change: WikiChange;
      try {
        if (!m.value) throw new Error('null value (tombstone) on the input topic');
        change = await deps.input.decode(m.value);
      } catch (err) {
        if (isRetriable(err)) throw err;
        const e = describeError(err);
        return deadLetter(m, headers, { code: e.code === 'INTERNAL' ? 'DESERIALIZE_FAILED' : e.code, message: e.message }, 1);
      }
      const targets = routeChange(deps.rules, change);
      let span: Span | undefined;
      let outHeaders = headers;
      if (deps.tracer && targets.length) {
        span = startProcessSpan(deps.tracer, { topic: m.topic, partition: m.partition, offset: m.offset, messageId: change.id }, extractTraceContext(headers));
        outHeaders = injectTraceHeaders({ ...headers }, trace.setSpan(context.active(), span));
      }
      const writerId = writerSchemaId(m.value);
      const records: RoutedRecord[] = [];
      try {
        for (const t of targets) {
          const codec = deps.outputs.get(t.topic);
          if (!codec) throw new WikiMonitorError('INTERNAL', `no encoder for route topic ${t.topic}`, { retriable: true }); // wiring bug, not data
          // Same schema id as the input (the registry dedups identical schemas): forward the bytes untouched.
          const value = codec.schemaId() === writerId ? m.value : codec.encode(change);
          records.push({ route: t.route, topic: t.topic, key: t.key, value, headers: outHeaders, timestamp: m.timestamp });
        }
      } catch (err) {
        span?.end();
        if (isRetriable(err)) throw err;
        return deadLetter(m, headers, describeError(err), 1);
      }
      return { kind: 'routed', change, records, span };
    },
  };
}
