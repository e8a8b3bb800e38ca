export * from './errors';
export * from './config';
export * from './retry';
export * from './logger';
export * from './lifecycle';
export * from './metrics';
export * from './http';
export * from './version';
