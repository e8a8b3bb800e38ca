export * from './normalize';
export * from './resume';
