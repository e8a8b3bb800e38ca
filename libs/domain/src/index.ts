export * from './sse/parser';
export * from './recentchange/normalize';
export * from './sse/event-id';
