export * from './recorded';
export * from './names';
export * from './env';
export * from './processes';
export * from './kafka';
