import { formatIsoAs, isoFormatOf, parseIsoMs, shiftIsoTimestamp, wholeMillisecondFormat } from './event-time';

describe('parseIsoMs', () => {
  it.each([
    ['2023-07-29T07:51:39Z', Date.UTC(2023, 6, 29, 7, 51, 39)],
    ['2026-02-26T15:49:36.569Z', Date.UTC(2026, 1, 26, 15, 49, 36, 569)],
    ['2018-03-07T16:16:17+00:00', Date.UTC(2018, 2, 7, 16, 16, 17)],
    ['2018-03-07T18:16:17+02:00', Date.UTC(2018, 2, 7, 16, 16, 17)],
    ['2018-03-07T16:16:17', Date.UTC(2018, 2, 7, 16, 16, 17)],
    ['yesterday', NaN],
  ])('parseIsoMs should read %s (zone-less as UTC)', (value, expected) => {
    expect(parseIsoMs(value)).toEqual(expected);
  });
});

describe('shiftIsoTimestamp', () => {
  it.each([
    ['2023-07-29T07:51:39Z', 61_000, '2023-07-29T07:52:40Z'],
    ['2026-02-26T15:49:36.569Z', 1000, '2026-02-26T15:49:37.569Z'],
    ['2018-03-07T16:16:17+00:00', 86_400_000, '2018-03-08T16:16:17+00:00'],
    ['2018-03-07T23:30:00+02:00', 3_600_000, '2018-03-08T00:30:00+02:00'],
    ['2018-03-07T16:16:17.123456Z', 1000, '2018-03-07T16:16:18.123456Z'],
    ['2018-03-07T16:16:17.1Z', 1000, '2018-03-07T16:16:18.1Z'],
    ['not a date', 1000, 'not a date'],
  ])('shiftIsoTimestamp should move %s by %d ms keeping its form', (value, shift, expected) => {
    expect(shiftIsoTimestamp(value, shift)).toBe(expected);
  });
});

describe('isoFormatOf', () => {
  it.each([
    ['2026-02-26T15:49:36.569Z', { zone: 'Z', zoneOffsetMs: 0, withSeconds: true, fractionDigits: 3, subMs: '' }],
    ['2023-07-29T07:51:39Z', { zone: 'Z', zoneOffsetMs: 0, withSeconds: true, fractionDigits: 0, subMs: '' }],
    ['2018-03-07T16:16:17+00:00', { zone: '+00:00', zoneOffsetMs: 0, withSeconds: true, fractionDigits: 0, subMs: '' }],
    ['2018-03-07T18:16:17.5-0230', { zone: '-0230', zoneOffsetMs: -9_000_000, withSeconds: true, fractionDigits: 1, subMs: '' }],
    ['2018-03-07T16:16:17.123456Z', { zone: 'Z', zoneOffsetMs: 0, withSeconds: true, fractionDigits: 6, subMs: '456' }],
    ['2018-03-07T16:16', { zone: '', zoneOffsetMs: 0, withSeconds: false, fractionDigits: 0, subMs: '' }],
    ['16:16:17Z', undefined],
    ['', undefined],
  ])('isoFormatOf should describe %j', (value, format) => {
    expect(isoFormatOf(value)).toEqual(format);
  });
});

describe('formatIsoAs', () => {
  // 2026-11-21T21:30:05.789Z
  const t = Date.UTC(2026, 10, 21, 21, 30, 5, 789);
  it.each([
    ['2026-02-26T15:49:36.569Z', '2026-11-21T21:30:05.789Z'],
    ['2023-07-29T07:51:39Z', '2026-11-21T21:30:05Z'],
    ['2018-03-07T16:16:17+00:00', '2026-11-21T21:30:05+00:00'],
    ['2018-03-07T16:16:17.000+00:00', '2026-11-21T21:30:05.789+00:00'],
    ['2018-03-07T18:16:17+02:00', '2026-11-21T23:30:05+02:00'],
    ['2018-03-07T16:16:17.1Z', '2026-11-21T21:30:05.7Z'],
    ['2018-03-07T16:16:17.123456Z', '2026-11-21T21:30:05.789000Z'],
    ['2018-03-07T16:16', '2026-11-21T21:30'],
  ])('formatIsoAs should write the instant the way %s is written', (template, expected) => {
    const format = isoFormatOf(template);
    if (format === undefined) throw new Error('no format');
    const out = formatIsoAs(t, wholeMillisecondFormat(format));
    expect(out).toBe(expected);
    // Writing never moves the instant forward (fewer digits truncate).
    expect(parseIsoMs(out)).toBeLessThanOrEqual(t);
    expect(t - parseIsoMs(out)).toBeLessThan(format.withSeconds ? 1000 : 60_000);
  });

  it('formatIsoAs should keep the order of instants (truncation never reorders)', () => {
    const format = isoFormatOf('2023-07-29T07:51:39Z');
    if (format === undefined) throw new Error('no format');
    const instants = [t - 1, t, t + 210, t + 211, t + 1211, t + 60_000];
    const written = instants.map((ms) => formatIsoAs(ms, format));
    expect([...written].sort()).toEqual(written);
  });

  it('wholeMillisecondFormat should zero only the digits beyond milliseconds', () => {
    const micro = isoFormatOf('2018-03-07T16:16:17.123456Z');
    const milli = isoFormatOf('2018-03-07T16:16:17.123Z');
    expect(micro && wholeMillisecondFormat(micro).subMs).toBe('000');
    expect(milli && wholeMillisecondFormat(milli)).toBe(milli);
  });
});
