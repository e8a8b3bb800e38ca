import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** The WikiMonitor version: the nearest package.json above this module (the app's in dist, else the root). */
export function serviceVersion(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const v = (JSON.parse(readFileSync(p, 'utf8')) as { version?: string }).version;
      if (v) return (cached = v);
    }
    dir = dirname(dir);
  }
  return (cached = '0.0.0');
}
