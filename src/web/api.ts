/** The server's JSON API (docs/server-api.md), same origin; the token travels in the cookie. */
import type { GraphEdge, GraphNode } from "../graph/prov-types.js";
import type { RunRecord } from "../store/store-types.js";

/** A run as the API gives it: the store's record with its times as ISO text and its duration in s. */
export type Run = RunRecord & { startIso: string | null; endIso: string | null; duration: number | null };

/** A node as the API gives it, marked when an ended process or a deleted file (changes, node). */
export type GNode = GraphNode & { ended?: boolean; deleted?: boolean };

export type GEdge = GraphEdge;

export interface Proc {
  id: number;
  pid: number | null;
  ppid: number | null;
  label: string;
  exe: string | null;
  start: number | null;
  end: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  via: string | null;
  generation: number;
}

export interface ProcLink {
  from: number;
  to: number;
  op: string;
  ts: number | null;
}

export interface Changes {
  cursor: string;
  more: boolean;
  nodes: GNode[];
  edges: GEdge[];
  ended: number[];
  deleted: number[];
}

export interface DiffEntry {
  key: string;
  count: number;
  detail?: string;
}
export interface DiffChange {
  key: string;
  fields: Record<string, [unknown, unknown]>;
}
export interface DiffSection {
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffChange[];
}
export type RunDiff = {
  a: { id: number; name: string };
  b: { id: number; name: string };
  same: boolean;
  differences: number;
  run: DiffChange[];
} & Record<string, DiffSection | unknown>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: "same-origin" });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(res.status, `${path}: not JSON (${res.status})`);
  }
  if (!res.ok) throw new ApiError(res.status, (body as { error?: string }).error ?? `${path}: ${res.status}`);
  return body as T;
}

export const runPath = (run: number | string): string => `/api/runs/${encodeURIComponent(String(run))}`;
