import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';

/** Chunks of about this size keep each CopyData message reasonable without one write per row. */
const CHUNK_BYTES = 256 * 1024;

function* chunksOf(lines: readonly string[]): Generator<Buffer> {
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= CHUNK_BYTES) {
      yield Buffer.from(chunk, 'utf8');
      chunk = '';
    }
  }
  if (chunk) yield Buffer.from(chunk, 'utf8');
}

/**
 * `COPY ... FROM STDIN` through pg-copy-streams, for rows already rendered in COPY text format.
 * Resolves with the rows copied; rejects with the server's error (a `pg` DatabaseError with its
 * `code`), after which the client is usable again (for a ROLLBACK TO SAVEPOINT, say).
 */
export async function copyFrom(client: pg.ClientBase, sql: string, lines: readonly string[]): Promise<number> {
  const copy = client.query(copyFromStdin(sql));
  await pipeline(Readable.from(chunksOf(lines), { objectMode: false }), copy);
  return copy.rowCount;
}
