export * from './config';
export * from './headers';
export * from './producer';
export * from './consumer';
export * from './admin';
export * from './dlq';
export * from './reader';
export * from './topology';
