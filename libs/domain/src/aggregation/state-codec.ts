import type { ChangeType } from '@wikimonitor/contracts';
import type { OpenWindow, WikiState } from './window';

/** Changelog format version; a reader refuses versions it does not know rather than guess. */
export const WIKI_STATE_VERSION = 1;

/** An open window as JSON (Maps as entry lists): the changelogs' format. */
export interface WindowJson {
  start: number;
  total: number;
  byType: Record<ChangeType, number>;
  bot: number;
  human: number;
  bytesAdded: number;
  bytesRemoved: number;
  firstEventTime: number;
  lastEventTime: number;
  editors: Array<[string, number]>;
  pages: Array<[string, number]>;
}

interface WikiStateJson {
  v: number;
  wiki: string;
  maxEventTime: number | null;
  closedUpTo: number | null;
  lastScoredEnd: number | null;
  spike: WikiState['spike'];
  windows: WindowJson[];
}

export const windowToJson = (w: OpenWindow): WindowJson => ({ ...w, editors: [...w.editors], pages: [...w.pages] });
export const windowFromJson = (w: WindowJson): OpenWindow => ({ ...w, byType: { ...w.byType }, editors: new Map(w.editors), pages: new Map(w.pages) });

/** Serializes a wiki's window state for the changelog (JSON; Maps become entry lists). */
export function encodeWikiState(s: WikiState): string {
  const json: WikiStateJson = {
    v: WIKI_STATE_VERSION,
    wiki: s.wiki,
    maxEventTime: s.maxEventTime,
    closedUpTo: s.closedUpTo,
    lastScoredEnd: s.lastScoredEnd,
    spike: s.spike,
    windows: s.windows.map(windowToJson),
  };
  return JSON.stringify(json);
}

export class WikiStateFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WikiStateFormatError';
  }
}

/** Reads a changelog value back; throws WikiStateFormatError on an unknown version or shape. */
export function decodeWikiState(text: string): WikiState {
  let json: WikiStateJson;
  try {
    json = JSON.parse(text) as WikiStateJson;
  } catch (err) {
    throw new WikiStateFormatError(`wiki state is not JSON: ${(err as Error).message}`);
  }
  if (json?.v !== WIKI_STATE_VERSION) throw new WikiStateFormatError(`unsupported wiki state version ${JSON.stringify(json?.v)}`);
  if (typeof json.wiki !== 'string' || !Array.isArray(json.windows) || typeof json.spike !== 'object') throw new WikiStateFormatError('wiki state lacks wiki, windows or spike');
  const windows: OpenWindow[] = json.windows.map(windowFromJson);
  return { wiki: json.wiki, maxEventTime: json.maxEventTime, closedUpTo: json.closedUpTo, lastScoredEnd: json.lastScoredEnd, spike: { ...json.spike }, windows };
}
