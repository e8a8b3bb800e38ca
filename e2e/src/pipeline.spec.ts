import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOPIC_IDS, TOPOLOGY } from '@wikimonitor/kafka';
import { ROUTES, runNames, writeRoutesFile } from './pipeline';

describe('e2e run names', () => {
  it('runNames should give every topology topic its own name under the run prefix', () => {
    const names = runNames('run-1');
    expect(Object.keys(names.topicsById).sort()).toEqual([...TOPIC_IDS].sort());
    expect(names.topicsById.raw).toBe('run-1.raw.changes');
    expect(names.topics.changelog).toBe('run-1.aggregator.changelog');
    expect(names.topics.routes.all).toBe('run-1.changes.all');
    const all = Object.values(names.topicsById);
    expect(new Set(all).size).toBe(all.length);
    expect(all.filter((t) => !t.startsWith('run-1.'))).toEqual([]);
    for (const id of TOPIC_IDS) expect(names.topicsById[id].slice('run-1.'.length)).toBe(TOPOLOGY[id].name.replace(/^wiki\./, ''));
  });

  it('writeRoutesFile should point every default route at the run topic of that route', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-e2e-'));
    try {
      const names = runNames('run-2');
      const rules = JSON.parse(readFileSync(writeRoutesFile(names, dir), 'utf8')) as { routes: { name: string; topic: string }[] };
      expect(rules.routes.map((r) => r.name)).toEqual([...ROUTES]);
      expect(rules.routes.map((r) => r.topic)).toEqual(ROUTES.map((r) => names.topics.routes[r]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
