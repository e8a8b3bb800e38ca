import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** The recorded events committed with the repository (provenance in its README.md). */
export const RECORDINGS_DIR = resolve(REPO_ROOT, 'data', 'recordings');

/** The recorded-events folder: WM_SHARED_DATA when set (another copy), else data/recordings in the repository. */
export function recordingsDir(): string {
  const dir = process.env['WM_SHARED_DATA'] || RECORDINGS_DIR;
  if (!existsSync(dir)) throw new Error(`recorded events not found at ${dir} (WM_SHARED_DATA overrides ${RECORDINGS_DIR})`);
  return dir;
}

export interface RecordedEvent {
  file: string;
  /** The exact JSON text of the event. */
  text: string;
  json: { meta: { id: string; domain?: string; dt: string }; wiki?: string; type?: string; [k: string]: unknown };
}

/** Every real event in the recorded files (.jsonl lines and .sse data payloads), in file order. */
export function loadRecordedEvents(dir = recordingsDir()): RecordedEvent[] {
  const out: RecordedEvent[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl') || f.endsWith('.sse')).sort()) {
    const content = readFileSync(join(dir, file), 'utf8');
    const texts = file.endsWith('.sse')
      ? content.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()) // recorded frames have one data line
      : content.split('\n').filter((l) => l.trim() !== '');
    for (const text of texts) out.push({ file, text, json: JSON.parse(text) as RecordedEvent['json'] });
  }
  return out;
}
