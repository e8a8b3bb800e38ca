export * from './types';
export * from './status';
export * from './lag';
export * from './balance';
export * from './reset-plan';
export * from './alert';
export * from './cycle';
