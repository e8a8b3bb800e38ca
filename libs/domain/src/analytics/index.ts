export * from './ranges';
export * from './rollups';
export * from './heuristics';
export * from './links';
export * from './params';
