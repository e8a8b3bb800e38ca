import { Counter, Gauge, type Registry } from 'prom-client';
import type { ParsedRecording } from './recording';

export type SentKind = 'real' | 'canary' | 'injected' | 'malformed';
export type FaultName = 'drop' | 'stall' | 'malformed' | 'status';

export interface SseSourceStats {
  startedAt: string;
  uptimeSeconds: number;
  eventsLoaded: number;
  files: Array<{ file: string; events: number; skipped: number }>;
  /** Real (recorded or looped) events sent, over all connections. */
  eventsSent: number;
  /** Everything sent, by kind (extras are canary, injected and malformed events). */
  sent: Record<SentKind, number>;
  bytesSent: number;
  /** `cut`: ended by the connection lifetime; `refused`: answered 429 beyond the per-client connection limit. */
  connections: { total: number; active: number; cut: number; refused: number };
  faultsInjected: Record<FaultName, number>;
  badRequests: number;
}

/** Counters behind /stats and /metrics (`sse_source_*`). */
export class SourceStats {
  private readonly startedAt = new Date();
  private readonly sent: Record<SentKind, number> = { real: 0, canary: 0, injected: 0, malformed: 0 };
  private readonly faults: Record<FaultName, number> = { drop: 0, stall: 0, malformed: 0, status: 0 };
  private bytes = 0;
  private connectionsTotal = 0;
  private connectionsActive = 0;
  private connectionsCut = 0;
  private connectionsRefused = 0;
  private badRequestCount = 0;
  private files: SseSourceStats['files'] = [];
  private readonly m;

  constructor(registry: Registry) {
    const registers = [registry];
    this.m = {
      sent: new Counter({ name: 'sse_source_events_sent_total', help: 'Events sent, by kind', labelNames: ['kind'] as const, registers }),
      bytes: new Counter({ name: 'sse_source_bytes_sent_total', help: 'Stream bytes written', registers }),
      connections: new Counter({ name: 'sse_source_connections_total', help: 'Stream connections accepted', registers }),
      active: new Gauge({ name: 'sse_source_connections_active', help: 'Open stream connections', registers }),
      cut: new Counter({ name: 'sse_source_connections_cut_total', help: 'Stream connections ended by the connection lifetime', registers }),
      refused: new Counter({ name: 'sse_source_connections_refused_total', help: 'Stream requests answered 429 beyond the per-client connection limit', registers }),
      faults: new Counter({ name: 'sse_source_faults_injected_total', help: 'Faults injected, by fault', labelNames: ['fault'] as const, registers }),
      badRequests: new Counter({ name: 'sse_source_bad_requests_total', help: 'Stream requests answered 400/404', registers }),
      loaded: new Gauge({ name: 'sse_source_events_loaded', help: 'Recorded events loaded', registers }),
    };
  }

  loaded(recordings: readonly ParsedRecording[]): void {
    this.files = recordings.map((r) => ({ file: r.file, events: r.events.length, skipped: r.skipped.length }));
    this.m.loaded.set(this.files.reduce((n, f) => n + f.events, 0));
  }

  addSent(counts: Readonly<Record<SentKind, number>>, bytes: number): void {
    for (const kind of Object.keys(counts) as SentKind[]) {
      const n = counts[kind];
      if (n > 0) {
        this.sent[kind] += n;
        this.m.sent.inc({ kind }, n);
      }
    }
    this.bytes += bytes;
    this.m.bytes.inc(bytes);
  }

  fault(name: FaultName, n = 1): void {
    this.faults[name] += n;
    this.m.faults.inc({ fault: name }, n);
  }

  badRequest(): void {
    this.badRequestCount++;
    this.m.badRequests.inc();
  }

  connectionOpened(): void {
    this.connectionsTotal++;
    this.connectionsActive++;
    this.m.connections.inc();
    this.m.active.inc();
  }

  lifetimeCut(): void {
    this.connectionsCut++;
    this.m.cut.inc();
  }

  connectionRefused(): void {
    this.connectionsRefused++;
    this.m.refused.inc();
  }

  connectionClosed(): void {
    this.connectionsActive--;
    this.m.active.dec();
  }

  snapshot(): SseSourceStats {
    return {
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      eventsLoaded: this.files.reduce((n, f) => n + f.events, 0),
      files: this.files.map((f) => ({ ...f })),
      eventsSent: this.sent.real,
      sent: { ...this.sent },
      bytesSent: this.bytes,
      connections: { total: this.connectionsTotal, active: this.connectionsActive, cut: this.connectionsCut, refused: this.connectionsRefused },
      faultsInjected: { ...this.faults },
      badRequests: this.badRequestCount,
    };
  }
}
