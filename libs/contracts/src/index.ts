export * from './generated/avro';
