export * from './sse/parser';
export * from './recentchange/normalize';
export * from './sse/event-id';
export * from './routing';
export * from './persistence';
export * from './aggregation';
export * from './lag';
export * from './analytics';
