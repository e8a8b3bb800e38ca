import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROUTE_TOPIC_IDS, TOPIC_IDS, TOPOLOGY, type TopicDeclaration, renderTopicsFile } from '@wikimonitor/kafka';
import { ROOT, loadTopics } from './support';

const TOPICS_TXT = join(ROOT, 'deploy/k8s/base/kafka/topics.txt');
const REGENERATE = 'TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx deploy/tools/render-topics.ts > deploy/k8s/base/kafka/topics.txt';

describe('topology (libs/kafka/src/topology.ts) and deploy/k8s/base/kafka/topics.txt', () => {
  it(`topics.txt should be the rendering of the topology (regenerate: ${REGENERATE})`, () => {
    expect(readFileSync(TOPICS_TXT, 'utf8')).toBe(renderTopicsFile());
  });

  it('render-topics should print the rendering', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'deploy/tools/render-topics.ts')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.base.json') },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(renderTopicsFile());
  });

  it('topics.txt as create-topics.sh reads it should hold every declared topic with its partitions and configs', () => {
    const declared = TOPIC_IDS.map((id) => ({ name: TOPOLOGY[id].name, partitions: TOPOLOGY[id].partitions, configs: { ...TOPOLOGY[id].configs } }));
    expect(loadTopics()).toEqual(declared);
  });

  it("the topology's routes should be the filter-router default rules' routes, with their keys", () => {
    const rules = JSON.parse(readFileSync(join(ROOT, 'apps/filter-router/rules/default-rules.json'), 'utf8')) as { routes: { name: string; topic: string; key: string }[] };
    const declared = ROUTE_TOPIC_IDS.map((id) => {
      const t: TopicDeclaration = TOPOLOGY[id];
      return { name: t.route, topic: t.name, key: t.key };
    });
    expect(declared).toEqual(rules.routes.map((r) => ({ name: r.name, topic: r.topic, key: r.key })));
  });

  it('every Avro value the topology names should be the record of its .avsc file', () => {
    for (const id of TOPIC_IDS) {
      const v = TOPOLOGY[id].value;
      if (v.format !== 'avro') continue;
      const schema = JSON.parse(readFileSync(join(ROOT, v.file), 'utf8')) as { name: string; namespace: string };
      expect(`${id}: ${schema.namespace}.${schema.name}`).toBe(`${id}: ${v.record}`);
    }
  });
});
