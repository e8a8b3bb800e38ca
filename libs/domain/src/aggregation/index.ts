export * from './spike';
export * from './window';
export * from './state-codec';
export * from './two-stage';
export * from './bluesky';
