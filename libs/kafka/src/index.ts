export * from './config';
export * from './headers';
export * from './producer';
export * from './consumer';
export * from './admin';
export * from './dlq';
export * from './topics';
export * from './reader';
