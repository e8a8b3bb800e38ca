import type { BlueskyEvent, ChangeType } from '@wikimonitor/contracts';
import { blueskySubject } from '../routing/bluesky';
import type { AggregatableChange } from './window';

/** How a Bluesky operation is counted in an aggregate's by_type (identity and account events: external). */
export const BLUESKY_TYPE: Readonly<Record<string, ChangeType>> = { create: 'new', update: 'edit', delete: 'log' };

/**
 * A Bluesky event as the window reducer reads it, so both streams share one reducer, one changelog
 * and one WikiAggregate schema: the window key (`wiki`) is the subject (`<collection>:<operation>`,
 * or `identity` / `account`), the editor and the "page" are the DID (distinct_editors = distinct
 * accounts, top_pages = the most active accounts), there are no bots and no sizes. Total on
 * records lacking their commit (kind commit without one counts under the kind).
 */
export function blueskyAggregatable(e: BlueskyEvent): AggregatableChange & { id: string } {
  return {
    id: e.id,
    wiki: blueskySubject(e),
    event_time: e.event_time,
    type: e.kind === 'commit' && e.commit ? (BLUESKY_TYPE[e.commit.operation] ?? 'unknown') : 'external',
    bot: false,
    user: e.did,
    title: e.did,
    length_old: null,
    length_new: null,
  };
}
