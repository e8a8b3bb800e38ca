export * from './dedup';
export * from './pg-errors';
export * from './migrations';
export * from './rows';
export * from './buckets';
export * from './query-params';
export * from './columns';
