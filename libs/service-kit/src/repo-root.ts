import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The workspace root (the directory holding nx.json) above `from`; the working directory if there is none. The local stand-ins find the recordings with it. */
export function findRepoRoot(from: string = __dirname): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}
