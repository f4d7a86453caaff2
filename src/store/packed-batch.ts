import { attrsValue, takeAttrsJson } from "../events/attrs-text.js";
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
 * A Batch as the SQLite writer takes it: the numbers of every node and edge in one Float64Array, in
 * the order of their columns, their strings in one flat array, the attributes already serialized.
 * It is what crosses from the parsing thread to the store worker (src/store/worker-store.ts): a
 * structured clone of typed arrays and a flat array of strings costs a fraction of the clone of
 * nested attribute objects (each key of each object written and read back), or of one value at a
 * time; and the attributes are serialized on the thread that built them (or kept as the source read
 * them, events/attrs-text.ts), so the writer thread does little but SQLite.
 */
export interface PackedBatch {
  /** NODE_NUMS numbers per node: id, kind, type (indexes in `words`), version, start, end (NaN: null) */
  nodeNums: Float64Array;
  /** NODE_STRS strings per node: gid, label, attrs (JSON) */
  nodeStrs: string[];
  /**
   * the columns path and pid (nodeLookupKeys) of the nodes that have one: row, path, pid for each
   * (sparse: a value per node cost more to clone than the rest of the row's numbers)
   */
  nodeKeys: LookupValue[];
  /** EDGE_NUMS numbers per edge: id, type, op (indexes in `words`), from, to, ts, tsEnd (NaN: null), count, bytes */
  edgeNums: Float64Array;
  /** the attributes (JSON) of each edge */
  edgeStrs: string[];
  /** the kinds, types and operations, which the rows give by their index here (fewer strings to copy) */
  words: string[];
  /** steps as objects (a batch packed for the writer on the same thread) */
  steps: Step[];
  /**
   * Steps packed (`packSteps`, what crosses to the store worker): STEP_NUMS numbers per step: seq,
   * pid, call (index in `words`), count, bytes, errors, start, end, dur, ret (index in `words`, -1:
   * null), resource (index in `stepStrs`). A structured clone of 150k step objects (every key of every object written and read back)
   * took about 0.8 CPU-s of the traced eBPF bench job; the same steps as numbers and one string each,
   * a fraction of that.
   */
  stepNums: Float64Array;
  /** the packed steps' resources, each once (a file's open, read and close steps name it thrice) */
  stepStrs: string[];
  /** the database queries of the packed steps that have some: [step index, queries, …] */
  stepQueries: Array<number | string[]>;
  problems: Problem[];
}

export const NODE_NUMS = 6;
export const NODE_STRS = 3;
export const EDGE_NUMS = 9;
export const STEP_NUMS = 11;

export interface PackOptions {
  /** pack the steps too (stepNums, stepStrs), for a batch that crosses to another thread */
  packSteps?: boolean;
}

/** A value of the columns path and pid as packed: text, a number or null (lookupValue). */
export type LookupValue = string | number | null;

/** A value of the columns path and pid as bound: whole numbers as bigints (sqlLookup). */
export type LookupParam = string | number | bigint | null;

/**
 * The value SQLite's json_extract(attrs, '$.key') gives for an attribute value, before sqlLookup:
 * text, a number, 1/0 for true/false, NULL for null (or none), an object or a list as its JSON text.
 */
export function lookupValue(v: unknown): LookupValue {
  if (typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v === null || v === undefined || typeof v !== "object") return null;
  return JSON.stringify(v);
}

/**
 * A packed value as the writer binds it: a whole number as a bigint, which better-sqlite3 binds as
 * an integer, as json_extract gives it (a number is bound as a real, and the columns have no
 * affinity to turn it back).
 */
export function sqlLookup(v: LookupValue): LookupParam {
  return typeof v === "number" && Number.isSafeInteger(v) ? BigInt(v) : v;
}

/**
 * The nodes' columns path (entities) and pid (activities), which the indexes nodes_path and nodes_pid
 * hold (sqlite-schema.ts, version 6): the attributes `path` and `pid`, NULL for other kinds.
 */
export function nodeLookupKeys(kind: string, attrs: object): [LookupValue, LookupValue] {
  if (kind === "entity") {
    const a = attrsValue(attrs) as { path?: unknown };
    return [lookupValue(a.path), null];
  }
  if (kind === "activity") {
    const a = attrsValue(attrs) as { pid?: unknown };
    return [null, lookupValue(a.pid)];
  }
  return [null, null];
}

/** nodeLookupKeys as the writer binds them. */
export function nodeLookupParams(kind: string, attrs: object): [LookupParam, LookupParam] {
  const [path, pid] = nodeLookupKeys(kind, attrs);
  return [sqlLookup(path), sqlLookup(pid)];
}

/**
 * The path and pid of every node of a packed batch, two a row, as the writer binds them (the batch
 * carries only the nodes that have one, which most nodes have not).
 */
export function lookupParams(b: PackedBatch): LookupParam[] {
  const out = new Array<LookupParam>((b.nodeNums.length / NODE_NUMS) * 2).fill(null);
  const k = b.nodeKeys;
  for (let i = 0; i < k.length; i += 3) {
    const row = k[i] as number;
    out[row * 2] = sqlLookup(k[i + 1] as LookupValue);
    out[row * 2 + 1] = sqlLookup(k[i + 2] as LookupValue);
  }
  return out;
}

/** null as NaN, in the Float64Arrays (every other value is a number) */
const orNaN = (v: number | null): number => (v === null ? Number.NaN : v);

/** The value of a nullable column: NaN back to null. */
export const nullable = (v: number): number | null => (Number.isNaN(v) ? null : v);

/**
 * One small function per kind of row, each loop compiled (and recompiled as new shapes of rows come)
 * on its own: one function with the three loops was optimized and thrown away 5–8 times per eBPF
 * bench ingest, each time compiling the whole.
 */
export function packBatch(batch: Batch, opts: PackOptions = {}): PackedBatch {
  const words = new Words();
  const nodes = packNodes(batch.nodes, words);
  const edges = packEdges(batch.edges, words);
  const packSteps = opts.packSteps === true && batch.steps.length > 0;
  const steps = packSteps ? packStepRows(batch.steps, words) : null;
  return {
    nodeNums: nodes.nums,
    nodeStrs: nodes.strs,
    nodeKeys: nodes.keys,
    edgeNums: edges.nums,
    edgeStrs: edges.strs,
    words: [...words.index.keys()],
    steps: packSteps ? [] : batch.steps,
    stepNums: steps?.nums ?? NO_NUMS,
    stepStrs: steps?.strs ?? [],
    stepQueries: steps?.queries ?? [],
    problems: batch.problems,
  };
}

function packNodes(
  nodes: readonly GraphNode[],
  words: Words,
): { nums: Float64Array; strs: string[]; keys: LookupValue[] } {
  const nums = new Float64Array(nodes.length * NODE_NUMS);
  const strs = new Array<string>(nodes.length * NODE_STRS);
  const keys: LookupValue[] = [];
  for (let r = 0, i = 0, j = 0; r < nodes.length; r++, i += NODE_NUMS, j += NODE_STRS) {
    const n = nodes[r] as GraphNode;
    // before takeAttrsJson, which empties a lazy object
    const [path, pid] = nodeLookupKeys(n.kind, n.attrs);
    if (path !== null || pid !== null) keys.push(r, path, pid);
    nums[i] = n.id;
    nums[i + 1] = words.of(n.kind);
    nums[i + 2] = words.of(n.type);
    nums[i + 3] = n.version;
    nums[i + 4] = orNaN(n.start);
    nums[i + 5] = orNaN(n.end);
    strs[j] = n.gid;
    strs[j + 1] = n.label;
    strs[j + 2] = takeAttrsJson(n.attrs);
  }
  return { nums, strs, keys };
}

function packEdges(edges: readonly GraphEdge[], words: Words): { nums: Float64Array; strs: string[] } {
  const nums = new Float64Array(edges.length * EDGE_NUMS);
  const strs = new Array<string>(edges.length);
  for (let r = 0, i = 0; r < edges.length; r++, i += EDGE_NUMS) {
    const e = edges[r] as GraphEdge;
    nums[i] = e.id;
    nums[i + 1] = words.of(e.type);
    nums[i + 2] = words.of(e.op);
    nums[i + 3] = e.from;
    nums[i + 4] = e.to;
    nums[i + 5] = orNaN(e.ts);
    nums[i + 6] = orNaN(e.tsEnd);
    nums[i + 7] = e.count;
    nums[i + 8] = e.bytes;
    strs[r] = takeAttrsJson(e.attrs);
  }
  return { nums, strs };
}

function packStepRows(
  steps: readonly Step[],
  words: Words,
): { nums: Float64Array; strs: string[]; queries: Array<number | string[]> } {
  const nums = new Float64Array(steps.length * STEP_NUMS);
  const resources = new Words();
  const queries: Array<number | string[]> = [];
  for (let r = 0, i = 0; r < steps.length; r++, i += STEP_NUMS) {
    const s = steps[r] as Step;
    nums[i] = s.seq;
    nums[i + 1] = s.pid;
    nums[i + 2] = words.of(s.call);
    nums[i + 3] = s.count;
    nums[i + 4] = s.bytes;
    nums[i + 5] = s.errors;
    nums[i + 6] = s.start;
    nums[i + 7] = s.end;
    nums[i + 8] = s.dur;
    nums[i + 9] = s.ret === null ? -1 : words.of(s.ret);
    nums[i + 10] = resources.of(s.resource);
    if (s.queries !== undefined) queries.push(r, s.queries);
  }
  return { nums, strs: [...resources.index.keys()], queries };
}

const NO_NUMS = new Float64Array(0);

/**
 * The typed arrays' memory of a packed batch, to transfer to the store worker instead of copying it
 * (the batch's arrays are unusable here afterwards). The shared empty array is never among them.
 */
export function packedBuffers(b: PackedBatch): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of [b.nodeNums, b.edgeNums, b.stepNums]) {
    if (a.byteLength > 0 && a.buffer instanceof ArrayBuffer) out.push(a.buffer);
  }
  return out;
}

/** The steps of a packed batch as objects: `steps`, then those packed in `stepNums`. */
export function unpackSteps(b: PackedBatch): Step[] {
  const n = b.stepNums.length / STEP_NUMS;
  if (n === 0) return b.steps;
  const out = b.steps.slice();
  const nums = b.stepNums;
  const words = b.words;
  const first = out.length;
  for (let r = 0, i = 0; r < n; r++, i += STEP_NUMS) {
    const ret = nums[i + 9] as number;
    out.push({
      seq: nums[i] as number,
      pid: nums[i + 1] as number,
      call: words[nums[i + 2] as number] as string,
      resource: b.stepStrs[nums[i + 10] as number] as string,
      count: nums[i + 3] as number,
      bytes: nums[i + 4] as number,
      errors: nums[i + 5] as number,
      start: nums[i + 6] as number,
      end: nums[i + 7] as number,
      dur: nums[i + 8] as number,
      ret: ret < 0 ? null : (words[ret] as string),
    });
  }
  const q = b.stepQueries;
  for (let k = 0; k + 1 < q.length; k += 2)
    (out[first + (q[k] as number)] as Step).queries = q[k + 1] as string[];
  return out;
}

/**
 * The rows to write, given `width` numbers per row whose first is the id: every row (null) when the
 * ids increase (the usual case), else only the last row of each id, in the order of the first
 * occurrence: duplicates inside one multi-row INSERT … ON CONFLICT fail, and the last write of a row
 * wins.
 */
export function rowsToWrite(nums: Float64Array, width: number): number[] | null {
  let prev = Number.NEGATIVE_INFINITY;
  let increasing = true;
  for (let i = 0; i < nums.length; i += width) {
    const id = nums[i] as number;
    if (!(id > prev)) {
      increasing = false;
      break;
    }
    prev = id;
  }
  if (increasing) return null;
  const last = new Map<number, number>();
  for (let i = 0, r = 0; i < nums.length; i += width, r++) last.set(nums[i] as number, r);
  return [...last.values()];
}
