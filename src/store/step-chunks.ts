import type { Step } from "./store-types.js";

/**
 * The calls log is stored in chunks: one row holds up to STEP_CHUNK_SIZE steps sorted by
 * (start, seq), encoded as one JSON array, with the chunk's smallest and largest start. Writing a row
 * per chunk instead of a row per step makes the calls log cheap to store; readers merge the chunks
 * back into (start, seq) order (StepMerger).
 *
 * Encoding, a JSON array: [calls, resources, rets, baseStart, baseSeq, rows...] where calls,
 * resources and rets are the chunk's distinct strings, and each step is 11 numbers in `rows`:
 * seq - baseSeq, pid, call index, resource index, count, bytes, errors, start - baseStart,
 * end - start, dur, ret index (-1: null). A seventh element, only when some step has database
 * queries: {index of the step in the chunk: its queries}.
 */
export const STEP_CHUNK_SIZE = 4096;

const FIELDS = 11;

/** Steps in (start, seq) order. */
export function compareSteps(a: Step, b: Step): number {
  return a.start - b.start || a.seq - b.seq;
}

export interface EncodedChunk {
  minStart: number;
  maxStart: number;
  count: number;
  data: string;
}

/** Encode steps already sorted by (start, seq). */
export function encodeStepChunk(steps: readonly Step[], from = 0, to = steps.length): EncodedChunk {
  const first = steps[from] as Step;
  const calls: string[] = [];
  const resources: string[] = [];
  const rets: string[] = [];
  const callIdx = new Map<string, number>();
  const resIdx = new Map<string, number>();
  const retIdx = new Map<string, number>();
  const index = (s: string, map: Map<string, number>, list: string[]): number => {
    let i = map.get(s);
    if (i === undefined) {
      i = list.length;
      list.push(s);
      map.set(s, i);
    }
    return i;
  };
  let baseSeq = first.seq;
  for (let i = from + 1; i < to; i++) {
    const seq = (steps[i] as Step).seq;
    if (seq < baseSeq) baseSeq = seq;
  }
  const baseStart = first.start;
  // a packed array (push, no holes) stringifies fastest
  const rows: number[] = [];
  let maxStart = baseStart;
  for (let i = from; i < to; i++) {
    const s = steps[i] as Step;
    if (s.start > maxStart) maxStart = s.start;
    rows.push(
      s.seq - baseSeq,
      s.pid,
      index(s.call, callIdx, calls),
      index(s.resource, resIdx, resources),
      s.count,
      s.bytes,
      s.errors,
      s.start - baseStart,
      s.end - s.start,
      s.dur,
      s.ret === null ? -1 : index(s.ret, retIdx, rets),
    );
  }
  // the steps' database queries, when any: {row index: queries}, a seventh element older readers ignore
  let queries: Record<number, string[]> | null = null;
  for (let i = from; i < to; i++) {
    const q = (steps[i] as Step).queries;
    if (q === undefined || q.length === 0) continue;
    if (queries === null) queries = {};
    queries[i - from] = q;
  }
  const data = `[${JSON.stringify(calls)},${JSON.stringify(resources)},${JSON.stringify(rets)},${baseStart},${baseSeq},${JSON.stringify(rows)}${queries ? `,${JSON.stringify(queries)}` : ""}]`;
  return { minStart: baseStart, maxStart, count: to - from, data };
}

/** Decode a chunk back into its steps, in (start, seq) order. */
export function decodeStepChunk(data: string): Step[] {
  const [calls, resources, rets, baseStart, baseSeq, rows, queries] = JSON.parse(data) as [
    string[],
    string[],
    string[],
    number,
    number,
    number[],
    Record<string, string[]> | undefined,
  ];
  const out = new Array<Step>(rows.length / FIELDS);
  for (let i = 0, k = 0; k < rows.length; i++, k += FIELDS) {
    const start = baseStart + (rows[k + 7] as number);
    const ret = rows[k + 10] as number;
    out[i] = {
      seq: baseSeq + (rows[k] as number),
      pid: rows[k + 1] as number,
      call: calls[rows[k + 2] as number] as string,
      resource: resources[rows[k + 3] as number] as string,
      count: rows[k + 4] as number,
      bytes: rows[k + 5] as number,
      errors: rows[k + 6] as number,
      start,
      end: start + (rows[k + 8] as number),
      dur: rows[k + 9] as number,
      ret: ret < 0 ? null : (rets[ret] as string),
    };
  }
  if (queries !== undefined)
    for (const [i, q] of Object.entries(queries)) (out[Number(i)] as Step).queries = q;
  return out;
}

/**
 * Cut steps into chunks (the steps are sorted in place). Steps starting before `watermark` (the
 * largest start already written for the run) are steps that stayed open long: they go in chunks of
 * their own, so they do not stretch the start range of the chunks of the new steps and a reader never
 * has to hold many chunks at once.
 */
export function chunkSteps(steps: Step[], watermark: number | null, size = STEP_CHUNK_SIZE): EncodedChunk[] {
  let sorted = true;
  for (let i = 1; i < steps.length && sorted; i++)
    sorted = compareSteps(steps[i - 1] as Step, steps[i] as Step) <= 0;
  if (!sorted) steps.sort(compareSteps);
  const out: EncodedChunk[] = [];
  let split = 0;
  if (watermark !== null) {
    while (split < steps.length && (steps[split] as Step).start < watermark) split++;
  }
  for (const [from, to] of [
    [0, split],
    [split, steps.length],
  ] as const) {
    for (let i = from; i < to; i += size) out.push(encodeStepChunk(steps, i, Math.min(to, i + size)));
  }
  return out;
}

export interface ChunkHead {
  id: number;
  minStart: number;
}

interface Cursor {
  steps: Step[];
  pos: number;
}

/** What a merge held at most at once (to check that reading stays bounded). */
export interface StepScanStats {
  chunks: number;
  peakOpenChunks: number;
  peakOpenSteps: number;
}

/**
 * Merges chunks read in order of their smallest start into one (start, seq)-ordered stream. A chunk
 * is loaded only when it could hold the next step: the smallest loaded step is handed out once no
 * unread chunk starts at or before it. Only chunks overlapping the current start are in memory.
 */
export class StepMerger {
  private readonly heap: Cursor[] = [];
  private openSteps = 0;
  readonly stats: StepScanStats = { chunks: 0, peakOpenChunks: 0, peakOpenSteps: 0 };

  /**
   * @param nextHead the next unread chunk (in (minStart, id) order) without consuming it, or null
   * @param take consume that chunk: its steps, sorted
   */
  constructor(
    private readonly nextHead: () => ChunkHead | null,
    private readonly take: () => Step[],
  ) {}

  /** Up to `max` steps in order; fewer only at the end. */
  read(max: number): Step[] {
    const out: Step[] = [];
    const heap = this.heap;
    while (out.length < max) {
      const head = this.nextHead();
      const top = heap[0];
      const cur = top ? (top.steps[top.pos] as Step) : undefined;
      if (head !== null && (cur === undefined || head.minStart <= cur.start)) {
        const steps = this.take();
        this.stats.chunks++;
        if (steps.length === 0) continue;
        this.push({ steps, pos: 0 });
        this.openSteps += steps.length;
        if (heap.length > this.stats.peakOpenChunks) this.stats.peakOpenChunks = heap.length;
        if (this.openSteps > this.stats.peakOpenSteps) this.stats.peakOpenSteps = this.openSteps;
        continue;
      }
      if (top === undefined || cur === undefined) break;
      out.push(cur);
      top.pos++;
      if (top.pos >= top.steps.length) {
        this.openSteps -= top.steps.length;
        this.pop();
      } else this.down(0);
    }
    return out;
  }

  private less(a: Cursor, b: Cursor): boolean {
    return compareSteps(a.steps[a.pos] as Step, b.steps[b.pos] as Step) < 0;
  }

  private push(c: Cursor): void {
    const h = this.heap;
    h.push(c);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i] as Cursor, h[parent] as Cursor)) break;
      [h[i], h[parent]] = [h[parent] as Cursor, h[i] as Cursor];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Cursor;
    if (h.length === 0) return;
    h[0] = last;
    this.down(0);
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(h[l] as Cursor, h[m] as Cursor)) m = l;
      if (r < n && this.less(h[r] as Cursor, h[m] as Cursor)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Cursor, h[i] as Cursor];
      i = m;
    }
  }
}
