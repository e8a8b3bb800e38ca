// Prints, as JSON, the environment variables each app's configuration schema knows and which of them are
// required (no default, not optional). Run with tsx so apps/<app>/src/config.ts loads as the app loads it:
//   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx deploy/tools/print-config-schemas.ts [app...]
// The deploy tests spawn it (the lint rules keep test code from importing apps). An argument ending in .ts
// is read as a config module path instead of an app name (the tests' fixture).
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { configShape, parseCommandLine } from '@wikimonitor/service-kit';

export interface SchemaInfo {
  app: string;
  file: string;
  exportName: string;
  keys: string[];
  required: string[];
}

const root = resolve(__dirname, '..', '..');

function camel(app: string): string {
  return app.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function pickExport(mod: Record<string, unknown>, app: string): string {
  const preferred = ['configSchema', `${camel(app)}ConfigSchema`];
  for (const name of preferred) if (mod[name] !== undefined) return name;
  const others = Object.keys(mod).filter((k) => /ConfigSchema$/.test(k) && k !== 'cliConfigSchema');
  if (others.length === 1) return others[0] as string;
  throw new Error(`${app}: its config module exports no configSchema (nor ${camel(app)}ConfigSchema); exports: ${Object.keys(mod).join(', ')}`);
}

async function describe(arg: string): Promise<SchemaInfo> {
  const isFile = arg.endsWith('.ts');
  const file = isFile ? resolve(arg) : join(root, 'apps', arg, 'src', 'config.ts');
  const app = isFile ? basename(arg, '.ts') : arg;
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const exportName = pickExport(mod, app);
  const shape = configShape(mod[exportName] as z.ZodType);
  if (!shape) throw new Error(`${relative(root, file)}: ${exportName} is not a z.object(...) (or a transform of one)`);
  const keys = Object.keys(shape).sort();
  const required = keys.filter((k) => {
    const field = shape[k] as z.ZodType;
    return !field.isOptional();
  });
  return { app, file: relative(root, file), exportName, keys, required };
}

const USAGE = `Usage: TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx deploy/tools/print-config-schemas.ts [app|config.ts ...]
Prints, as JSON, the environment variables each app's config schema knows and which are required (default: every app).`;

async function main(): Promise<void> {
  const cli = parseCommandLine({ usage: USAGE, options: {}, positionals: true }, process.argv.slice(2));
  if (!cli.ok) {
    process[cli.exitCode === 0 ? 'stdout' : 'stderr'].write(`${cli.exitCode === 0 ? '' : 'print-config-schemas: '}${cli.text}\n`);
    process.exitCode = cli.exitCode;
    return;
  }
  const requested = cli.positionals;
  const apps = requested.length
    ? requested
    : readdirSync(join(root, 'apps')).filter((a) => existsSync(join(root, 'apps', a, 'src', 'config.ts'))).sort();
  const out: SchemaInfo[] = [];
  for (const app of apps) out.push(await describe(app));
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`print-config-schemas: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
