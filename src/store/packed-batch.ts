import { takeAttrsJson } from "../events/attrs-text.js";
import type { GraphEdge, GraphNode } from "../graph/prov-types.js";
import type { Batch, Problem, Step } from "./store-types.js";

/** Strings of a small vocabulary, each given an index once per batch. */
class Words {
  readonly index = new Map<string, number>();
  of(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.index.size;
      this.index.set(s, i);
    }
    return i;
  }
}

/**
 * A Batch as the SQLite writer takes it: every node and edge a run of values in one flat array, in
 * the order of their columns, with the attributes already serialized. It is what crosses from the
 * parsing thread to the store worker (src/store/worker-store.ts): a structured clone of a flat
 * array of strings and numbers costs a fraction of the clone of nested attribute objects (each key
 * of each object written and read back), and the attributes are serialized on the thread that
 * built them (or kept as the source read them, events/attrs-text.ts), so the writer thread does
 * little but SQLite.
 */
export interface PackedBatch {
  /** NODE_WIDTH values per node: id, kind, type (indexes in `words`), gid, version, label, start, end, attrs (JSON) */
  nodes: unknown[];
  /** EDGE_WIDTH values per edge: id, type, op (indexes in `words`), from, to, ts, tsEnd, count, bytes, attrs (JSON) */
  edges: unknown[];
  /** the kinds, types and operations, which the rows give by their index here (fewer strings to copy) */
  words: string[];
  steps: Step[];
  problems: Problem[];
}

export const NODE_WIDTH = 9;
export const EDGE_WIDTH = 10;

function packNodes(nodes: readonly GraphNode[], words: Words): unknown[] {
  const out = new Array<unknown>(nodes.length * NODE_WIDTH);
  let i = 0;
  for (const n of nodes) {
    out[i] = n.id;
    out[i + 1] = words.of(n.kind);
    out[i + 2] = words.of(n.type);
    out[i + 3] = n.gid;
    out[i + 4] = n.version;
    out[i + 5] = n.label;
    out[i + 6] = n.start;
    out[i + 7] = n.end;
    out[i + 8] = takeAttrsJson(n.attrs);
    i += NODE_WIDTH;
  }
  return out;
}

function packEdges(edges: readonly GraphEdge[], words: Words): unknown[] {
  const out = new Array<unknown>(edges.length * EDGE_WIDTH);
  let i = 0;
  for (const e of edges) {
    out[i] = e.id;
    out[i + 1] = words.of(e.type);
    out[i + 2] = words.of(e.op);
    out[i + 3] = e.from;
    out[i + 4] = e.to;
    out[i + 5] = e.ts;
    out[i + 6] = e.tsEnd;
    out[i + 7] = e.count;
    out[i + 8] = e.bytes;
    out[i + 9] = takeAttrsJson(e.attrs);
    i += EDGE_WIDTH;
  }
  return out;
}

export function packBatch(batch: Batch): PackedBatch {
  const words = new Words();
  return {
    nodes: packNodes(batch.nodes, words),
    edges: packEdges(batch.edges, words),
    words: [...words.index.keys()],
    steps: batch.steps,
    problems: batch.problems,
  };
}

/**
 * Rows of `width` values whose first value is the id, with only the last of each id kept (in the
 * order of their first occurrence): duplicates inside one multi-row INSERT … ON CONFLICT fail, and
 * the last write of a row wins. Rows already in increasing id order (the usual case) are returned
 * as they are.
 */
export function dedupePacked(rows: unknown[], width: number): unknown[] {
  let prev = Number.NEGATIVE_INFINITY;
  let increasing = true;
  for (let i = 0; i < rows.length; i += width) {
    const id = rows[i] as number;
    if (!(id > prev)) {
      increasing = false;
      break;
    }
    prev = id;
  }
  if (increasing) return rows;
  const last = new Map<number, number>();
  for (let i = 0; i < rows.length; i += width) {
    const id = rows[i] as number;
    last.set(id, i);
  }
  if (last.size * width === rows.length) return rows;
  const out: unknown[] = [];
  for (const i of last.values()) for (let k = 0; k < width; k++) out.push(rows[i + k]);
  return out;
}
