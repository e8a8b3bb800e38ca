import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOPIC_IDS, TOPOLOGY } from '@wikimonitor/kafka';
import { ROUTES, instanceEnv, runNames, writeRoutesFile } from './pipeline';

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

describe('e2e instances', () => {
  it('instanceEnv should give each consumer instance its own stable identity, the same on every restart', () => {
    expect(instanceEnv('run-1', 'filter-router', 0)).toEqual({ CONSUMER_SESSION_TIMEOUT_MS: '10000', GROUP_INSTANCE_ID: 'run-1-filter-router-0', TRANSACTIONAL_ID: 'run-1-filter-router-0' });
    expect(instanceEnv('run-1', 'filter-router', 2)).toMatchObject({ GROUP_INSTANCE_ID: 'run-1-filter-router-2', TRANSACTIONAL_ID: 'run-1-filter-router-2' });
    expect(instanceEnv('run-1', 'dedup-persister', 1)).toEqual({ CONSUMER_SESSION_TIMEOUT_MS: '10000', GROUP_INSTANCE_ID: 'run-1-dedup-persister-1' });
    expect(instanceEnv('run-1', 'aggregator', 1)).toEqual(instanceEnv('run-1', 'aggregator', 1));
  });

  it('instanceEnv should give the producer one transactional id whatever the ordinal (a fenced singleton)', () => {
    expect(instanceEnv('run-1', 'producer', 0)).toEqual({ PRODUCER_TRANSACTIONAL_ID: 'run-1-producer-0' });
    expect(instanceEnv('run-1', 'producer', 3)).toEqual(instanceEnv('run-1', 'producer', 0));
    expect(instanceEnv('run-1', 'sse-source', 0)).toEqual({});
  });
});
