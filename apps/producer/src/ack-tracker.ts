/**
 * Tracks which stream events are done (published and acknowledged, dead-lettered, or dropped as
 * canaries) and yields the position of the newest event such that it and every event before it
 * are done. Resuming from that position loses nothing even when acks arrive out of order.
 * Pure: no I/O.
 */
export class AckTracker<P> {
  private next = 0;
  private low = 0; // every seq < low is done
  private readonly pending = new Map<number, { done: boolean; position: P }>();
  private lowPosition: P | undefined;

  /** Registers the next event and returns its sequence number. */
  add(position: P): number {
    const seq = this.next++;
    this.pending.set(seq, { done: false, position });
    return seq;
  }

  complete(seq: number): void {
    const entry = this.pending.get(seq);
    if (!entry) return;
    entry.done = true;
    while (this.pending.get(this.low)?.done) {
      this.lowPosition = this.pending.get(this.low)?.position;
      this.pending.delete(this.low);
      this.low++;
    }
  }

  /** Position of the last event of the contiguous done prefix, or undefined if none yet. */
  watermark(): P | undefined {
    return this.lowPosition;
  }

  /** Events registered but not done. */
  outstanding(): number {
    return this.next - this.low;
  }

  /** Events completed in the contiguous prefix so far. */
  completedCount(): number {
    return this.low;
  }
}
