export * from './types';
export { parseRoutingRules, parseRulesWith, parsePattern, type ParseRulesOptions, type ConditionContext, type ConditionVocabulary } from './validate';
export * from './evaluate';
export * from './bluesky';
