import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { WikiMonitorError, findRepoRoot } from '@wikimonitor/service-kit';
import { DEFAULT_DATA_DIR } from './config';
import { type ParsedRecording, parseRecording, recordingFormatOf } from './recording';

export { findRepoRoot };

/**
 * The recording files to load, in serving order: sorted by file name (then path). `paths` are files or
 * directories (a directory contributes its .jsonl/.ndjson/.sse files); relative paths are taken from `cwd`.
 * Without paths, the recordings in the repository (data/recordings).
 */
export async function resolveRecordingFiles(paths: readonly string[] | undefined, opts: { cwd?: string; repoRoot?: string } = {}): Promise<string[]> {
  const cwd = opts.cwd ?? process.cwd();
  const entries = paths ?? [resolve(opts.repoRoot ?? findRepoRoot(), DEFAULT_DATA_DIR)];
  const files = new Set<string>();
  const problems: string[] = [];
  for (const entry of entries) {
    const full = resolve(cwd, entry);
    const info = await stat(full).catch(() => undefined);
    if (!info) problems.push(`${entry}: no such file or directory`);
    else if (info.isDirectory()) {
      const names = (await readdir(full)).filter((n) => recordingFormatOf(n) !== undefined);
      if (names.length === 0) problems.push(`${entry}: no .jsonl, .ndjson or .sse files in this directory`);
      for (const n of names) files.add(join(full, n));
    } else if (recordingFormatOf(full) === undefined) problems.push(`${entry}: not a recording (expected .jsonl, .ndjson or .sse)`);
    else files.add(full);
  }
  if (problems.length > 0) {
    throw new WikiMonitorError('CONFIG_INVALID', `invalid SSE_SOURCE_DATA:\n  - ${problems.join('\n  - ')}`, { details: { problems } });
  }
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0); // code-unit order: the same on every machine and locale
  return [...files].sort((a, b) => byName(basename(a), basename(b)) || byName(a, b));
}

/** Reads and parses recordings in the given order. */
export async function loadRecordings(files: readonly string[]): Promise<ParsedRecording[]> {
  return Promise.all(files.map(async (f) => parseRecording(basename(f), await readFile(f, 'utf8'))));
}
