export * from './types';
export { parseRoutingRules, parsePattern, type ParseRulesOptions } from './validate';
export * from './evaluate';
