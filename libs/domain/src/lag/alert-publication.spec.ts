import { type StatusAlert, isStatusAlertOf, planAlertPublication, recentAlerts } from './alert-publication';

const WINDOW_MS = 10_000;
const T = 1_700_000_000_000; // a window-bucket boundary
const TOLERANCE_MS = 2_000;

/** `g:OK->STOP@100.3` = group g went OK -> STOP at T + 100.3 s; the id carries the window bucket, as consumerStatusAlert's does. */
function a(spec: string): StatusAlert {
  const m = /^(\w+):(\w+)->(\w+)@([\d.]+)$/.exec(spec);
  if (!m) throw new Error(`bad alert spec ${spec}`);
  const [, group, previous, status, at] = m as unknown as [string, string, string, string, string];
  const createdAt = T + Math.round(Number(at) * 1000);
  return {
    id: `lag-monitor:consumer_status:${group}:${previous}->${status}:${Math.floor(createdAt / WINDOW_MS)}`,
    kind: 'consumer_status',
    source: 'lag-monitor',
    subject: group,
    status,
    previous_status: previous === 'NONE' ? null : previous,
    created_at: createdAt,
  };
}

const published = (evaluated: string[], onTopic: string[]) =>
  planAlertPublication({ evaluated: evaluated.map(a), published: onTopic.map(a), toleranceMs: TOLERANCE_MS })
    .filter((d) => d.publish)
    .map((d) => `${d.alert.subject}:${d.alert.previous_status ?? 'NONE'}->${d.alert.status}@${(d.alert.created_at - T) / 1000}`);

describe('planAlertPublication', () => {
  it.each<[string, string[], string[], string[]]>([
    // No leader while these happened, nothing on the topic: everything the standby saw.
    ['nothing on the topic: every change the standby evaluated', ['g:NONE->INACTIVE@1', 'g:INACTIVE->STOP@4'], [], ['g:NONE->INACTIVE@1', 'g:INACTIVE->STOP@4']],
    // The former leader published the first, died; the second happened in the gap.
    ['the former leader published the first change (same id): the rest', ['g:NONE->INACTIVE@1', 'g:INACTIVE->STOP@4'], ['g:NONE->INACTIVE@1.4'], ['g:INACTIVE->STOP@4']],
    ['everything already on the topic: nothing', ['g:NONE->INACTIVE@1', 'g:INACTIVE->STOP@4'], ['g:NONE->INACTIVE@1', 'g:INACTIVE->STOP@4'], []],
    // The same change seen half a second apart across a window-bucket boundary: another id, same change.
    ['the same change in another window bucket (seen a cycle later): not again', ['g:OK->STOP@10.3'], ['g:OK->STOP@9.8'], []],
    ['the same change in another window bucket (seen a cycle earlier): not again', ['g:OK->STOP@9.8'], ['g:OK->STOP@10.3'], []],
    ['the former leader saw an intermediate status this one missed: only what came after', ['g:OK->STOP@100.3', 'g:STOP->OK@130'], ['g:OK->WARN@95', 'g:WARN->STOP@100'], ['g:STOP->OK@130']],
    ['this one saw an intermediate status the former leader missed, before its change: superseded', ['g:OK->WARN@99.5', 'g:WARN->STOP@100.3'], ['g:OK->STOP@100'], []],
    ['this one was ahead of the former leader, which died before its next change: the next change', ['g:OK->WARN@99.6', 'g:WARN->STOP@99.9'], ['g:OK->WARN@100'], ['g:WARN->STOP@99.9']],
    ['a flap back to the announced status during the gap: both changes', ['g:OK->STOP@100.3', 'g:STOP->OK@113', 'g:OK->STOP@126'], ['g:OK->STOP@100'], ['g:STOP->OK@113', 'g:OK->STOP@126']],
    ['a flap back to the announced status within its window bucket: the repeated id stays once, so the flap is not announced', ['g:OK->STOP@100.3', 'g:STOP->OK@103', 'g:OK->STOP@106'], ['g:OK->STOP@100'], []],
    ['this one lagged a whole window (its window was filling): not again', ['g:OK->WARN@108'], ['g:OK->WARN@100'], []],
    ['this one lagged, then saw a new change: only the new one', ['g:OK->WARN@108', 'g:WARN->OK@150'], ['g:OK->WARN@100'], ['g:WARN->OK@150']],
    ['the former leader announced the status long before this one first saw the group: not again', ['g:NONE->STOP@500'], ['g:OK->STOP@100'], []],
    ['a status the former leader never announced: published (the topic then shows what is true)', ['g:OK->STOP@99.9'], ['g:OK->WARN@100'], ['g:OK->STOP@99.9']],
    ['a fast flap both saw, the standby a little late: nothing', ['g:OK->WARN@101.2', 'g:WARN->OK@101.8'], ['g:OK->WARN@100', 'g:WARN->OK@101'], []],
    ['groups are independent', ['a:OK->STOP@1', 'b:OK->STOP@1.5', 'a:STOP->OK@20'], ['a:OK->STOP@1.2'], ['b:OK->STOP@1.5', 'a:STOP->OK@20']],
    // As leader (re-planned every cycle with what it published): the next change only; a flap that repeats an id within its bucket stays once.
    ['its own publications: only changes after them', ['g:OK->STOP@100', 'g:STOP->OK@100.5'], ['g:OK->STOP@100'], ['g:STOP->OK@100.5']],
    ['an id repeated within its window bucket (a flap): never twice', ['g:OK->STOP@100', 'g:STOP->OK@100.5', 'g:OK->STOP@101'], ['g:OK->STOP@100', 'g:STOP->OK@100.5'], []],
  ])('planAlertPublication should publish, when %s', (_case, evaluated, onTopic, expected) => {
    expect(published(evaluated, onTopic)).toEqual(expected);
  });

  it('planAlertPublication should say why each alert is or is not published, in evaluation order', () => {
    const decisions = planAlertPublication({ evaluated: ['g:OK->WARN@99.5', 'g:WARN->STOP@100.3', 'g:STOP->OK@130', 'h:OK->STOP@1'].map(a), published: ['g:OK->STOP@100', 'h:OK->STOP@1'].map(a), toleranceMs: TOLERANCE_MS });
    expect(decisions.map((d) => [d.alert.subject, d.publish, d.reason])).toEqual([
      ['g', false, 'announced'],
      ['g', false, 'announced'],
      ['g', true, 'new'],
      ['h', false, 'on-topic'],
    ]);
  });

  it('isStatusAlertOf should keep only the consumer-status alerts of the given source', () => {
    expect(isStatusAlertOf(a('g:OK->STOP@1'), 'lag-monitor')).toBe(true);
    expect(isStatusAlertOf({ ...a('g:OK->STOP@1'), source: 'other' }, 'lag-monitor')).toBe(false);
    expect(isStatusAlertOf({ id: 'aggregator:spike:enwiki:1', kind: 'spike', source: 'aggregator' }, 'lag-monitor')).toBe(false);
  });

  it('recentAlerts should keep the alerts since a time, at most the newest max', () => {
    const alerts = ['g:OK->STOP@1', 'g:STOP->OK@2', 'g:OK->STOP@3', 'g:STOP->OK@4'].map(a);
    expect(recentAlerts(alerts, T + 2_000, 10).map((x) => x.created_at - T)).toEqual([2_000, 3_000, 4_000]);
    expect(recentAlerts(alerts, 0, 2).map((x) => x.created_at - T)).toEqual([3_000, 4_000]);
    const remembered = alerts.map((alert, i) => ({ alert, at: 10 * i }));
    expect(recentAlerts(remembered, 15, 10, (r) => r.at).map((r) => r.at)).toEqual([20, 30]);
  });
});
