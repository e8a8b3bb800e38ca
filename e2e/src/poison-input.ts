import * as testing from '@wikimonitor/testing';
import type { PoisonEvent } from './input';

/** An entry of the shared builder: `name` or `class`, and the outcome as a word or as `{ outcome, code }`. */
interface SharedPoisonEvent {
  name?: string;
  class?: string;
  data: Buffer;
  expected: PoisonEvent['expected'] | { outcome: PoisonEvent['expected']; code?: string };
}

/** Reads an entry of the shared builder (either shape) as the suite's PoisonEvent. */
export function fromSharedPoison(e: SharedPoisonEvent): PoisonEvent {
  const name = e.name ?? e.class;
  if (!name) throw new Error('a poison event without a name or class');
  if (typeof e.expected === 'string') return { name, data: e.data, expected: e.expected };
  return { name, data: e.data, expected: e.expected.outcome, ...(e.expected.code ? { code: e.expected.code } : {}) };
}

const sharedBuilder = () => {
  const fn = (testing as Record<string, unknown>)['poisonEvents'];
  return typeof fn === 'function' ? (fn as () => SharedPoisonEvent[]) : undefined;
};

/**
 * The poison events of issue 13 point 4 for the `poison-extended` scenario: `poisonEvents()` of
 * libs/testing/src/poison.ts (the builder the input-hardening work adds, exported from
 * @wikimonitor/testing) when it is there, else the minimal local list below, so this compiles and
 * runs either way. The shared builder wins: it knows the rules (and dead-letter codes) the pipeline enforces.
 */
export function poisonEvents(): PoisonEvent[] {
  const shared = sharedBuilder();
  return shared ? shared().map(fromSharedPoison) : localPoisonEvents();
}

/** Whether the shared builder was found (reported in the scenario's log). */
export function sharedPoisonBuilder(): boolean {
  return sharedBuilder() !== undefined;
}

type Obj = Record<string, unknown>;

/** A minimal list built from one real recorded edit; each class changes one thing. */
export function localPoisonEvents(): PoisonEvent[] {
  const base = testing.loadRecordedEvents().find((e) => e.json.type === 'edit' && typeof e.json['comment'] === 'string');
  if (!base) throw new Error('no recorded edit to build poison events from');
  const make = (name: string, expected: PoisonEvent['expected'], change: (e: Obj & { meta: Obj }) => void): PoisonEvent => {
    const e = JSON.parse(base.text) as Obj & { meta: Obj };
    change(e);
    return { name, expected, data: Buffer.from(JSON.stringify(e)) };
  };
  let deep: unknown = 'bottom';
  for (let i = 0; i < 100; i++) deep = { next: deep };
  return [
    make('oversized-comment', 'dead-letter', (e) => {
      e['comment'] = 'x'.repeat(2_200_000);
    }),
    make('future-meta-dt', 'dead-letter', (e) => {
      e.meta['dt'] = '2099-01-01T00:00:00Z';
      e['timestamp'] = Date.UTC(2099, 0, 1) / 1000;
    }),
    make('before-2001-meta-dt', 'dead-letter', (e) => {
      e.meta['dt'] = '1999-12-31T23:59:59Z';
      e['timestamp'] = Date.UTC(1999, 11, 31, 23, 59, 59) / 1000;
    }),
    make('wrong-types-optional', 'published', (e) => {
      e['bot'] = 'yes';
      e['minor'] = 1;
      e['length'] = { old: 'ten', new: [] };
      e['comment'] = 42;
    }),
    make('missing-meta-id', 'dead-letter', (e) => {
      delete e.meta['id'];
    }),
    make('canary-without-wiki', 'dropped', (e) => {
      e.meta['domain'] = 'canary';
      delete e['wiki'];
      delete e['type'];
    }),
    make('deep-log-params', 'published', (e) => {
      e['log_params'] = deep;
    }),
    { name: 'invalid-utf8', expected: 'dead-letter', data: Buffer.concat([Buffer.from(base.text.slice(0, -1)), Buffer.from(',"x":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]) },
  ];
}
