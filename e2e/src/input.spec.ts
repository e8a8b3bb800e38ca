import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PoisonEvent, secondIso, writeInput } from './input';
import { localPoisonEvents } from './poison-input';

describe('writeInput', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wm-e2e-input-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writeInput should date every event at its planned send time in whole seconds, so many share one millisecond', () => {
    const start = Date.UTC(2026, 11, 1, 12, 0, 0, 300);
    const input = writeInput(dir, 300, { rate: 50, startMs: start });
    const lines = readFileSync(input.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { meta: { id: string; dt: string }; timestamp?: number });
    expect(lines).toHaveLength(300);
    expect(input.lines).toBe(300);
    expect(new Set(input.ids).size).toBe(300);
    expect(lines.map((l) => l.meta.id)).toEqual(input.ids);
    expect(lines[0]?.meta.dt).toBe('2026-12-01T12:00:00Z');
    expect(lines[299]?.meta.dt).toBe(secondIso(start + (299 * 1000) / 50));
    const perMs = new Map<string, number>();
    for (const l of lines) perMs.set(l.meta.dt, (perMs.get(l.meta.dt) ?? 0) + 1);
    expect(Math.max(...perMs.values())).toBeGreaterThanOrEqual(49);
    const times = input.changes.map((c) => c.event_time);
    expect(times.every((t, i) => i === 0 || t >= (times[i - 1] as number))).toBe(true);
    expect(input.changes.map((c) => c.id)).toEqual(input.ids);
  });

  it('writeInput should spread poison among the real events with ids of their own and list what a file cannot carry', () => {
    const poison = localPoisonEvents();
    const input = writeInput(dir, 200, { rate: 100, poison });
    const invalidUtf8 = poison.filter((p) => p.name === 'invalid-utf8').length;
    expect(input.unservable.map((u) => u.name)).toEqual(['invalid-utf8']);
    expect(input.poison).toHaveLength(poison.length - invalidUtf8);
    expect(input.lines).toBe(200 + input.poison.length);
    const lines = readFileSync(input.file, 'utf8').trimEnd().split('\n');
    const at = input.poison.map((p) => lines.indexOf(p.data.toString('utf8')));
    expect(at.every((i) => i > 0)).toBe(true);
    expect(Math.max(...at) - Math.min(...at)).toBeGreaterThan(100);
    const published = input.poison.filter((p) => p.expected === 'published');
    expect(input.ids).toHaveLength(200 + published.length);
    for (const p of published) expect(input.ids).toContain(p.metaId);
    const realIds = new Set(input.ids.slice(0));
    for (const p of input.poison.filter((x) => x.expected !== 'published')) expect(realIds.has(p.metaId ?? '')).toBe(false);
    // The class's own dates are kept, ordinary recorded ones re-dated.
    const future = input.poison.find((p) => p.name === 'future-meta-dt');
    expect(future?.data.toString()).toContain('2099-01-01T00:00:00Z');
    expect(input.poison.find((p) => p.name === 'wrong-types-optional')?.data.toString()).toContain(`"dt":"${new Date().getUTCFullYear()}`);
  });

  it('writeInput should refuse a poison event expected published that does not normalize', () => {
    const bad: PoisonEvent = { name: 'no-wiki', expected: 'published', data: Buffer.from('{"meta":{"id":"x","dt":"2026-01-01T00:00:00Z"}}') };
    expect(() => writeInput(dir, 10, { rate: 10, poison: [bad] })).toThrow(/no-wiki is expected published/);
  });
});
