import type { Connection, Submittable } from 'pg';

// The parts of pg's Connection used here; present at run time, not in @types/pg.
type CopyConnection = Connection & {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
};

const ignore = (): void => undefined;

/** Chunks of about this size keep each CopyData message reasonable without one write per row. */
const CHUNK_BYTES = 256 * 1024;

/**
 * `COPY ... FROM STDIN` for node-postgres, on its public Submittable interface (the same hooks the
 * pg-copy-streams package uses), for rows already rendered in COPY text format. Usage:
 * `await client.query(new CopyFrom(sql, lines)).done`. Resolves with the rows copied.
 */
export class CopyFrom implements Submittable {
  readonly done: Promise<number>;
  private resolve!: (rows: number) => void;
  private reject!: (err: Error) => void;
  private rows = 0;

  constructor(
    private readonly text: string,
    private readonly lines: readonly string[],
  ) {
    this.done = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A rejection is always observed through `done`; avoid an unhandled one if the caller awaits late.
    this.done.catch(() => undefined);
  }

  submit(connection: Connection): void {
    (connection as CopyConnection).query(this.text);
  }

  handleCopyInResponse(connection: Connection): void {
    const c = connection as CopyConnection;
    let chunk = '';
    for (const line of this.lines) {
      chunk += line;
      if (chunk.length >= CHUNK_BYTES) {
        c.sendCopyFromChunk(Buffer.from(chunk, 'utf8'));
        chunk = '';
      }
    }
    if (chunk) c.sendCopyFromChunk(Buffer.from(chunk, 'utf8'));
    c.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /^COPY (\d+)/.exec(msg.text ?? '');
    if (m) this.rows = Number(m[1]);
  }

  handleReadyForQuery(): void {
    this.resolve(this.rows);
  }

  handleError(err: Error): void {
    this.reject(err);
  }

  // Not expected for COPY FROM; present so an unexpected message cannot crash the client.
  readonly handleRowDescription = ignore;
  readonly handleDataRow = ignore;
  readonly handleEmptyQuery = ignore;
  readonly handlePortalSuspended = ignore;
  readonly handleCopyData = ignore;
}
