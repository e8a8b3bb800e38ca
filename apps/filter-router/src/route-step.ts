import type { WikiChange } from '@wikimonitor/contracts';
import type { RouteTarget } from '@wikimonitor/domain';
import { type Message, type OutgoingRecord, type Step, type StepRecord, deadLetterFrom, headersFromMessage } from '@wikimonitor/kafka';
import { WikiMonitorError, describeError, isRetriable } from '@wikimonitor/service-kit';
import { type Span, type Tracer, context, extractTraceContext, injectTraceHeaders, startProcessSpan, trace } from '@wikimonitor/telemetry';
import { APP_NAME } from './config';

/** What the router needs of an Avro codec (the input's decoder and each route topic's encoder). */
export interface RecordCodec<T> {
  schemaId(): number;
  encode(record: T): Buffer;
  decode(buf: Buffer): Promise<T>;
}

export type ChangeCodec = RecordCodec<WikiChange>;

/** What one input became: the routes it was written to, or the code of its dead letter. */
export type RouteOutcome = { kind: 'routed'; routes: string[]; span?: Span } | { kind: 'dead-letter'; code: string; span?: undefined };

/** Per partition and attempt: what the app's commit/abort hooks count (and the spans they end). */
export interface RouteSummary {
  outcomes: RouteOutcome[];
  /** Newest record timestamp (event time) of the batch, 0 if none. */
  newest: number;
}

export interface RouteStepDeps<T extends { id: string } = WikiChange> {
  /** The stream's pure routing: every route a record goes to (e.g. `(c) => routeChange(rules, c)`). */
  route: (record: T) => RouteTarget[];
  /** Decodes input values (Confluent wire format; the writer schema is looked up by id). */
  input: Pick<RecordCodec<T>, 'decode'>;
  /** One encoder per route topic, registered under `<topic>-value`. */
  outputs: ReadonlyMap<string, Pick<RecordCodec<T>, 'schemaId' | 'encode'>>;
  dlqTopic: string;
  /** Null when tracing is off: no span work on the hot path. */
  tracer: Tracer | null;
}

const writerSchemaId = (buf: Buffer): number => buf.readInt32BE(1);

/**
 * The filter-router's step, the same for every stream (records of type T): each input becomes one record per matching route (the input bytes
 * forwarded when the route topic uses the writer's schema id), or one dead letter when it cannot
 * be decoded. Throws only retriable errors (e.g. the registry is unreachable): the loop aborts and
 * retries the whole transaction. Stateless.
 */
export function createRouteStep<T extends { id: string } = WikiChange>(deps: RouteStepDeps<T>): Step<undefined, RouteSummary> {
  const deadLetter = (m: Message, error: { code: string; message: string }): OutgoingRecord => deadLetterFrom(m, error, { topic: deps.dlqTopic, app: APP_NAME });

  async function route(m: Message, records: StepRecord[], deadLetters: OutgoingRecord[]): Promise<RouteOutcome> {
    let change: T;
    try {
      if (!m.value) throw new Error('null value (tombstone) on the input topic');
      change = await deps.input.decode(m.value);
    } catch (err) {
      if (isRetriable(err)) throw err;
      const e = describeError(err);
      const code = e.code === 'INTERNAL' ? 'DESERIALIZE_FAILED' : e.code;
      deadLetters.push(deadLetter(m, { code, message: e.message }));
      return { kind: 'dead-letter', code };
    }
    const targets = deps.route(change);
    const headers = headersFromMessage(m.headers);
    let span: Span | undefined;
    let outHeaders = headers;
    if (deps.tracer && targets.length) {
      span = startProcessSpan(deps.tracer, { topic: m.topic, partition: m.partition, offset: m.offset, messageId: change.id }, extractTraceContext(headers));
      outHeaders = injectTraceHeaders({ ...headers }, trace.setSpan(context.active(), span));
    }
    const writerId = writerSchemaId(m.value);
    const routed: StepRecord[] = [];
    try {
      for (const t of targets) {
        const codec = deps.outputs.get(t.topic);
        if (!codec) throw new WikiMonitorError('INTERNAL', `no encoder for route topic ${t.topic}`, { retriable: true }); // wiring bug, not data
        // Same schema id as the input (the registry dedups identical schemas): forward the bytes untouched.
        const value = codec.schemaId() === writerId ? m.value : codec.encode(change);
        routed.push({ topic: t.topic, key: t.key, value, headers: outHeaders, timestamp: m.timestamp, source: m });
      }
    } catch (err) {
      span?.end();
      if (isRetriable(err)) throw err;
      const e = describeError(err);
      deadLetters.push(deadLetter(m, e));
      return { kind: 'dead-letter', code: e.code };
    }
    records.push(...routed);
    return { kind: 'routed', routes: targets.map((t) => t.route), span };
  }

  return async (batch, state) => {
    const records: StepRecord[] = [];
    const deadLetters: OutgoingRecord[] = [];
    const outcomes: RouteOutcome[] = [];
    let newest = 0;
    try {
      for (const m of batch) {
        outcomes.push(await route(m, records, deadLetters));
        newest = Math.max(newest, m.timestamp ?? 0);
      }
    } catch (err) {
      // The loop never sees this attempt's spans: end them here.
      for (const o of outcomes) o.span?.end();
      throw err;
    }
    return { records, deadLetters, nextState: state, summary: { outcomes, newest } };
  };
}
