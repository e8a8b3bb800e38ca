// The local pipeline's apps and their ports: what `pipeline up`, `nx serve` (apps.mjs) and the
// stack's optional Prometheus (tools/stack, which scrapes them) agree on. No Node version guard
// here, unlike apps.mjs: the stack runs under any node.

/** @type {(name: string, def: number) => number} */
const port = (name, def) => Number(process.env[name] ?? def);

/** Every app on its own port (they all default to 8080 when run bare); the sse-source first. */
export const APPS = [
  { name: 'sse-source', port: port('WM_SSE_SOURCE_PORT', 8092), optional: true },
  { name: 'producer', port: port('WM_PRODUCER_PORT', 8101) },
  { name: 'filter-router', port: port('WM_FILTER_ROUTER_PORT', 8102) },
  { name: 'aggregator', port: port('WM_AGGREGATOR_PORT', 8103) },
  { name: 'dedup-persister', port: port('WM_DEDUP_PERSISTER_PORT', 8104) },
  { name: 'lag-monitor', port: port('WM_LAG_MONITOR_PORT', 8105) },
  { name: 'action-api-source', port: port('WM_ACTION_API_SOURCE_PORT', 8093), optional: true },
  { name: 'enricher', port: port('WM_ENRICHER_PORT', 8106) },
];
