import type { AppName } from './processes';

/**
 * Session timeout of every consumer group in the chaos suite, and so in Kubernetes: short enough that
 * a dead member's partitions move within seconds when it does not come back, long enough (the broker's
 * group.min.session.timeout.ms is 6 s) that a pause for GC or a slow batch does not cost a rebalance.
 */
export const INSTANCE_SESSION_TIMEOUT_MS = 10_000;

/** How long a graceful stop may take before SIGKILL (the chaos suite's stop, a pod's grace period). */
export const INSTANCE_STOP_GRACE_MS = 30_000;

/** What each instance of an app gets in the chaos suite; what Kubernetes runs must match it (deploy/tests/parity.spec.ts). */
export interface InstanceSettings {
  /** Settings with one value for every instance. */
  env: Readonly<Record<string, string>>;
  /**
   * Settings whose value is the instance's identity: stable across its restarts (a pod replaced by a
   * StatefulSet keeps its name) and distinct between instances. For a singleton, the one identity.
   */
  identity: readonly string[];
  /** At most one instance at a time: the producer is a fenced singleton (a second one fences the first). */
  singleton: boolean;
}

/** Per app (the local sources have none), the identity settings and the fixed settings every chaos instance gets. */
export const INSTANCE_SETTINGS: Readonly<Record<Exclude<AppName, 'sse-source' | 'action-api-source' | 'jetstream-source'>, InstanceSettings>> = {
  producer: { env: {}, identity: ['PRODUCER_TRANSACTIONAL_ID'], singleton: true },
  'filter-router': {
    env: { CONSUMER_SESSION_TIMEOUT_MS: String(INSTANCE_SESSION_TIMEOUT_MS) },
    identity: ['GROUP_INSTANCE_ID', 'TRANSACTIONAL_ID'],
    singleton: false,
  },
  aggregator: {
    env: { CONSUMER_SESSION_TIMEOUT_MS: String(INSTANCE_SESSION_TIMEOUT_MS) },
    identity: ['GROUP_INSTANCE_ID', 'TRANSACTIONAL_ID'],
    singleton: false,
  },
  'dedup-persister': {
    env: { CONSUMER_SESSION_TIMEOUT_MS: String(INSTANCE_SESSION_TIMEOUT_MS) },
    identity: ['GROUP_INSTANCE_ID'],
    singleton: false,
  },
  'lag-monitor': {
    env: { CONSUMER_SESSION_TIMEOUT_MS: String(INSTANCE_SESSION_TIMEOUT_MS) },
    identity: ['GROUP_INSTANCE_ID'],
    singleton: false,
  },
  enricher: {
    env: { CONSUMER_SESSION_TIMEOUT_MS: String(INSTANCE_SESSION_TIMEOUT_MS) },
    identity: ['GROUP_INSTANCE_ID', 'TRANSACTIONAL_ID'],
    singleton: false,
  },
};

/** The identity of instance `ordinal` of `app` in a run named `prefix` (a StatefulSet pod's name: `<app>-<ordinal>`). */
export function instanceIdentity(prefix: string, app: AppName, ordinal: number): string {
  return `${prefix}-${app}-${ordinal}`;
}
