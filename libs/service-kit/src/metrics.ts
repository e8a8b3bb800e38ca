import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A Prometheus registry with Node's default process metrics and a `service` default label.
 * App metrics are named `<app>_<thing>_<unit>` (e.g. producer_events_published_total).
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
