import { readFileSync } from 'node:fs';
import { type BlueskyRoutingRules, type ParseRulesOptions, type RoutingRules, type RulesValidation, parseBlueskyRoutingRules, parseRoutingRules } from '@wikimonitor/domain';
import { WikiMonitorError } from '@wikimonitor/service-kit';
import defaultRules from '../rules/default-rules.json';
import blueskyRules from '../rules/bluesky-rules.json';

export const DEFAULT_RULES_SOURCE = 'built-in rules/default-rules.json';
export const BLUESKY_RULES_SOURCE = 'built-in rules/bluesky-rules.json';

export interface LoadedRules<R = RoutingRules> {
  rules: R;
  /** Where they came from (a path, or the built-in default). */
  source: string;
}

interface RuleFileOptions {
  file?: string;
  inputTopic: string;
  dlqTopic: string;
}

/** Reads a rule file (or takes the built-in one) and validates it with the stream's parser. */
function loadRules<T, K extends string>(opts: RuleFileOptions, builtIn: { rules: unknown; source: string }, parse: (input: unknown, o: ParseRulesOptions) => RulesValidation<T, K>): LoadedRules<RoutingRules<T, K>> {
  const source = opts.file ?? builtIn.source;
  let parsed: unknown = builtIn.rules;
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new WikiMonitorError('CONFIG_INVALID', `ROUTES_FILE ${opts.file} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new WikiMonitorError('CONFIG_INVALID', `ROUTES_FILE ${opts.file} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  const result = parse(parsed, {
    reservedTopics: { [opts.inputTopic]: 'the input topic (INPUT_TOPIC)', [opts.dlqTopic]: 'the dead-letter topic (DLQ_TOPIC)' },
  });
  if (!result.ok) {
    throw new WikiMonitorError('CONFIG_INVALID', `invalid routing rules in ${source}:\n  - ${result.problems.join('\n  - ')}`, { details: { problems: result.problems, source } });
  }
  return { rules: result.rules, source };
}

/**
 * Reads and validates the rule file once at start. Any problem stops the app with CONFIG_INVALID,
 * listing every bad rule and field; nothing connects to Kafka before the rules are known good.
 */
export function loadRoutingRules(opts: RuleFileOptions): LoadedRules {
  return loadRules(opts, { rules: defaultRules, source: DEFAULT_RULES_SOURCE }, parseRoutingRules);
}

/** The Bluesky stream's rules (STREAM=bluesky): the same file format with Bluesky's fields and keys. */
export function loadBlueskyRoutingRules(opts: RuleFileOptions): LoadedRules<BlueskyRoutingRules> {
  return loadRules(opts, { rules: blueskyRules, source: BLUESKY_RULES_SOURCE }, parseBlueskyRoutingRules);
}
