/** Topic names shared across apps (each app's config can override its own). */
export const DEFAULT_TOPICS = {
  raw: 'wiki.raw.changes',
  aggregates: 'wiki.aggregates',
  alerts: 'wiki.alerts',
  dlq: 'wiki.dlq',
} as const;
