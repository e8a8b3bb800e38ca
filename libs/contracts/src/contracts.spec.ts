import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import avro from 'avsc';
import { BlueskyEventSchema, WikiChangeEnrichedSchema, WikiChangeSchema } from './index';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');

describe('generated Avro contracts', () => {
  it('generated types should be up to date with schemas/*.avsc', () => {
    // Throws (exit 1) when the committed file differs from a fresh generation.
    expect(() => execFileSync(process.execPath, [join(REPO_ROOT, 'tools/codegen/avro-types.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('every schema file should parse as Avro, and the embedded schema should equal the file', () => {
    for (const f of readdirSync(join(REPO_ROOT, 'schemas')).filter((x) => x.endsWith('.avsc'))) {
      expect(() => avro.Type.forSchema(JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', f), 'utf8')))).not.toThrow();
    }
    expect(WikiChangeSchema).toEqual(JSON.parse(readFileSync(join(REPO_ROOT, 'schemas/wiki-change.avsc'), 'utf8')));
    expect(BlueskyEventSchema).toEqual(JSON.parse(readFileSync(join(REPO_ROOT, 'schemas/bluesky-event.avsc'), 'utf8')));
  });

  it('the enriched schema should carry wiki-change.avsc unchanged as its change field', () => {
    // The change is inlined (an .avsc file stands alone in the registry): this keeps the copy from drifting.
    const change = WikiChangeEnrichedSchema.fields.find((f) => f.name === 'change');
    expect(change?.type).toEqual(JSON.parse(readFileSync(join(REPO_ROOT, 'schemas/wiki-change.avsc'), 'utf8')));
  });

});
