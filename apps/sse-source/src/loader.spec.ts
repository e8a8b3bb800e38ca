import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { findRepoRoot, loadRecordings, resolveRecordingFiles } from './loader';

const SHARED_FILES = [
  'recentchange-sample-polars-book-2023-07-29.jsonl',
  'recentchange-sample-wiki-visualizer-2022-12-11.sse',
  'recentchange-sample-wikistream-lakehouse-2026-02-26.jsonl',
  'recentchange-wikidata-editgroups-one_qs_batch-2018-03.jsonl',
  'recentchange-wikidata-editgroups-qs_batch_with_new_items-2018-03.jsonl',
];

describe('resolveRecordingFiles', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sse-source-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'b.jsonl'), '{"meta":{"id":"b"}}\n');
    await writeFile(join(dir, 'README.md'), '# not a recording');
    await writeFile(join(dir, 'sub', 'a.sse'), 'data: {"meta":{"id":"a"}}\n\n');
    await writeFile(join(dir, 'c.ndjson'), '{"meta":{"id":"c"}}\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('resolveRecordingFiles should default to the shared data under the repo root, sorted by name', async () => {
    const files = await resolveRecordingFiles(undefined, { repoRoot: findRepoRoot(__dirname) });
    expect(files.map((f) => basename(f))).toEqual(SHARED_FILES);
  });

  it('resolveRecordingFiles should mix directories and files, relative to cwd, sorted by file name', async () => {
    const files = await resolveRecordingFiles([dir, 'sub/a.sse', join(dir, 'b.jsonl')], { cwd: dir });
    expect(files).toEqual([join(dir, 'sub', 'a.sse'), join(dir, 'b.jsonl'), join(dir, 'c.ndjson')]);
  });

  it('resolveRecordingFiles should report every bad path at once', async () => {
    await expect(resolveRecordingFiles(['missing.jsonl', 'README.md', 'sub/../nothing'], { cwd: dir })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: { problems: ['missing.jsonl: no such file or directory', 'README.md: not a recording (expected .jsonl, .ndjson or .sse)', 'sub/../nothing: no such file or directory'] },
    });
  });
});

describe('loadRecordings', () => {
  it('loadRecordings should load all 4,053 shared events with unique meta.ids and no skips', async () => {
    const recordings = await loadRecordings(await resolveRecordingFiles(undefined, { repoRoot: findRepoRoot(__dirname) }));
    expect(recordings.map((r) => [r.file, r.events.length, r.skipped.length])).toEqual([
      [SHARED_FILES[0], 100, 0],
      [SHARED_FILES[1], 3, 0],
      [SHARED_FILES[2], 50, 0],
      [SHARED_FILES[3], 3818, 0],
      [SHARED_FILES[4], 82, 0],
    ]);
    const events = recordings.flatMap((r) => r.events);
    expect(new Set(events.map((e) => e.metaId)).size).toBe(4053);
    expect(events.every((e) => Number.isFinite(e.timeMs) && e.spans.metaId !== undefined)).toBe(true);
  });
});
