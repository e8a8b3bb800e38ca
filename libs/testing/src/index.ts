export * from './recorded';
export * from './names';
export * from './types';
export * from './env';
export * from './processes';
export * from './kafka';
export * from './poison';
