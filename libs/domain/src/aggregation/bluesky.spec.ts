import { jetstreamEventOrThrow } from '../bluesky/normalize';
import { recordedBlueskyEvents } from '@wikimonitor/testing';
import { blueskyAggregatable } from './bluesky';
import { DEFAULT_SPIKE_CONFIG } from './spike';
import { reduceChanges } from './window';

const events = recordedBlueskyEvents(jetstreamEventOrThrow);

describe('blueskyAggregatable', () => {
  it('should window by subject, count the operation as the type, the DID as editor and page, with no bots and no sizes', () => {
    const post = events.find((e) => e.commit?.collection === 'app.bsky.feed.post' && e.commit.operation === 'create');
    const account = events.find((e) => e.kind === 'account');
    if (!post || !account) throw new Error('recordings lack a post or an account event');
    expect(blueskyAggregatable(post)).toEqual({ id: post.id, wiki: 'app.bsky.feed.post:create', event_time: post.event_time, type: 'new', bot: false, user: post.did, title: post.did, length_old: null, length_new: null });
    expect(blueskyAggregatable(account)).toMatchObject({ wiki: 'account', type: 'external' });
    expect(blueskyAggregatable({ ...post, commit: null })).toMatchObject({ wiki: 'commit', type: 'external' });
  });

  it('the window reducer should count every recorded event once, in windows per subject', () => {
    const cfg = { sizeMs: 60_000, allowedLatenessMs: 0, topPages: 3, spike: DEFAULT_SPIKE_CONFIG, alertSource: 'aggregator-bsky' };
    const r = reduceChanges(new Map(), events.map(blueskyAggregatable), cfg, 0);
    const late = r.outputs.filter((o) => o.kind === 'late').length;
    const closed = r.outputs.flatMap((o) => (o.kind === 'aggregate' ? [o.aggregate.total] : [])).reduce((a, b) => a + b, 0);
    const open = [...r.states.values()].flatMap((s) => s.windows.map((w) => w.total)).reduce((a, b) => a + b, 0);
    expect(closed + open + late).toBe(events.length);
    expect(new Set(r.states.keys())).toContain('identity');
  });
});
