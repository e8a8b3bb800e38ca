export * from './types';
export * from './action-api';
export * from './decide';
