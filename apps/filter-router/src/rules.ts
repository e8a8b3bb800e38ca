import { readFileSync } from 'node:fs';
import { type RoutingRules, parseRoutingRules } from '@wikimonitor/domain';
import { WikiMonitorError } from '@wikimonitor/service-kit';
import defaultRules from '../rules/default-rules.json';

export const DEFAULT_RULES_SOURCE = 'built-in rules/default-rules.json';

export interface LoadedRules {
  rules: RoutingRules;
  /** Where they came from (a path, or the built-in default). */
  source: string;
}

/**
 * Reads and validates the rule file once at start. Any problem stops the app with CONFIG_INVALID,
 * listing every bad rule and field; nothing connects to Kafka before the rules are known good.
 */
export function loadRoutingRules(opts: { file?: string; inputTopic: string; dlqTopic: string }): LoadedRules {
  const source = opts.file ?? DEFAULT_RULES_SOURCE;
  let parsed: unknown = defaultRules;
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
  const result = parseRoutingRules(parsed, {
    reservedTopics: { [opts.inputTopic]: 'the input topic (INPUT_TOPIC)', [opts.dlqTopic]: 'the dead-letter topic (DLQ_TOPIC)' },
  });
  if (!result.ok) {
    throw new WikiMonitorError('CONFIG_INVALID', `invalid routing rules in ${source}:\n  - ${result.problems.join('\n  - ')}`, { details: { problems: result.problems, source } });
  }
  return { rules: result.rules, source };
}
