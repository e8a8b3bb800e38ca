export * from './first-records';
export * from './lag-snapshot';
