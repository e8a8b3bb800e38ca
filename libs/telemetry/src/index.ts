export * from './propagation';
export * from './config';
