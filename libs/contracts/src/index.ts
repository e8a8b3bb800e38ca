export * from './generated/avro';
export * from './cluster';
