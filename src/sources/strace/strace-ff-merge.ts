/**
 * strace -ff writes one file per process (`PREFIX.PID`) whose lines carry no pid. Like the
 * `strace-log-merge` script that ships with strace, merge them by timestamp into one stream with
 * the pid attached — but streaming: each file is read in chunks, k-way merged with a heap, and
 * files are opened only for the time of one read (a build can leave thousands of them).
 */
import { open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { SourceLocation } from "../../events/event-types.js";
import type { LineBatch } from "../line-batches.js";

export interface MergedLine {
  pid: number;
  line: string;
  /** 1-based line number in its file */
  lineNo: number;
  file: string;
}

export interface FfFile {
  pid: number;
  path: string;
}

export interface FfGroup {
  /** PREFIX of PREFIX.PID (with its directory) */
  prefix: string;
  /** sorted by pid */
  files: FfFile[];
  /** the same files' paths, in pid order */
  paths: string[];
}

/** The pid of an -ff file name `PREFIX.PID`, else undefined. */
export function ffPidOf(path: string): number | undefined {
  const name = basename(path);
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot === name.length - 1) return undefined;
  const suffix = name.slice(dot + 1);
  for (let i = 0; i < suffix.length; i++) {
    const c = suffix.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const pid = Number(suffix);
  return pid > 0 ? pid : undefined;
}

/**
 * Group `PREFIX.PID` paths into sets (one set per PREFIX), files sorted by pid. Paths without a
 * numeric suffix are left out.
 */
export function groupFfFiles(paths: readonly string[]): FfGroup[] {
  const groups = new Map<string, FfFile[]>();
  for (const path of paths) {
    const pid = ffPidOf(path);
    if (pid === undefined) continue;
    const name = basename(path);
    const prefix = join(dirname(path), name.slice(0, name.lastIndexOf(".")));
    let g = groups.get(prefix);
    if (g === undefined) {
      g = [];
      groups.set(prefix, g);
    }
    g.push({ pid, path });
  }
  const out: FfGroup[] = [];
  for (const [prefix, files] of groups) {
    files.sort((a, b) => a.pid - b.pid);
    out.push({ prefix, files, paths: files.map((f) => f.path) });
  }
  out.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  return out;
}

const DAY_US = 86_400_000_000;

/**
 * The leading timestamp of an -ff line in µs (`HH:MM:SS[.frac]` as time of day, `N.frac` epoch),
 * or -1 when the line does not start with one.
 */
export function ffLineTime(line: string): number {
  let i = 0;
  let v = 0;
  while (i < line.length) {
    const c = line.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    i++;
  }
  if (i === 0) return -1;
  let us: number;
  let c = line.charCodeAt(i);
  if (c === 58) {
    const mm = (line.charCodeAt(i + 1) - 48) * 10 + (line.charCodeAt(i + 2) - 48);
    const ss = (line.charCodeAt(i + 4) - 48) * 10 + (line.charCodeAt(i + 5) - 48);
    if (line.charCodeAt(i + 3) !== 58 || !(mm >= 0 && mm < 60 && ss >= 0 && ss < 62)) return -1;
    us = ((v * 60 + mm) * 60 + ss) * 1_000_000;
    i += 6;
    c = line.charCodeAt(i);
  } else if (c === 46) {
    us = v * 1_000_000;
  } else return -1;
  if (c === 46) {
    i++;
    let f = 0;
    let nd = 0;
    while (i < line.length) {
      const d = line.charCodeAt(i);
      if (d < 48 || d > 57) break;
      if (nd < 6) {
        f = f * 10 + (d - 48);
        nd++;
      }
      i++;
    }
    while (nd < 6) {
      f *= 10;
      nd++;
    }
    us += f;
  }
  return line.charCodeAt(i) === 32 ? us : -1;
}

class Cursor {
  lines: string[] = [];
  idx = 0;
  lineNo = 0;
  key = 0;
  eof = false;
  private pos = 0;
  private rest: Buffer | null = null;
  private dayOffset = 0;
  private lastRaw = -1;

  constructor(
    readonly file: FfFile,
    readonly order: number,
    private readonly chunk: number,
  ) {}

  /** load the next lines; false at end of file */
  async fill(): Promise<boolean> {
    this.lines = [];
    this.idx = 0;
    while (this.lines.length === 0) {
      if (this.eof) return false;
      const buf = Buffer.allocUnsafe(this.chunk);
      const fh = await open(this.file.path, "r");
      let n: number;
      try {
        n = (await fh.read(buf, 0, this.chunk, this.pos)).bytesRead;
      } finally {
        await fh.close();
      }
      this.pos += n;
      let data = buf.subarray(0, n);
      if (this.rest !== null) {
        data = Buffer.concat([this.rest, data]);
        this.rest = null;
      }
      if (n === 0) {
        this.eof = true;
        if (data.length > 0) this.lines = [data.toString("utf8")];
        return this.lines.length > 0;
      }
      const nl = data.lastIndexOf(10);
      if (nl < 0) {
        this.rest = Buffer.from(data);
        continue;
      }
      if (nl + 1 < data.length) this.rest = Buffer.from(data.subarray(nl + 1));
      this.lines = data.toString("utf8", 0, nl).split("\n");
    }
    return true;
  }

  /** key of the current line: its time, or the previous line's when it has none */
  computeKey(): void {
    const t = ffLineTime(this.lines[this.idx] as string);
    if (t < 0) return;
    // -t/-tt: a time going back more than 12 h is the next day
    if (this.lastRaw >= 0 && t < this.lastRaw - DAY_US / 2) this.dayOffset += DAY_US;
    this.lastRaw = t;
    this.key = t + this.dayOffset;
  }
}

function less(a: Cursor, b: Cursor): boolean {
  return a.key < b.key || (a.key === b.key && a.order < b.order);
}

function siftDown(heap: Cursor[], i: number): void {
  const n = heap.length;
  const item = heap[i] as Cursor;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const m = r < n && less(heap[r] as Cursor, heap[l] as Cursor) ? r : l;
    if (!less(heap[m] as Cursor, item)) break;
    heap[i] = heap[m] as Cursor;
    i = m;
  }
  heap[i] = item;
}

export interface FfMergeOptions {
  /** lines per yielded batch (default 4096) */
  batchSize?: number;
  /** told once when the files cannot be merged by time */
  onWarning?: (message: string) => void;
  /** bytes read from one file at a time (default: 32 MB shared out, 16 KB..1 MB) */
  chunkBytes?: number;
}

/**
 * Merge the lines of -ff files by timestamp (ties: lower pid first), yielding batches of
 * `{pid, line, lineNo, file}`. `paths` are PREFIX.PID files (others are ignored). Without
 * timestamps the files are concatenated in pid order and `onWarning` says so.
 */
export async function* mergeFfFiles(
  paths: readonly string[],
  opts: FfMergeOptions = {},
): AsyncGenerator<MergedLine[]> {
  const batchSize = opts.batchSize ?? 4096;
  const files: FfFile[] = [];
  for (const g of groupFfFiles(paths)) files.push(...g.files);
  files.sort((a, b) => a.pid - b.pid);
  if (files.length === 0) return;
  const chunk = opts.chunkBytes ?? Math.max(16_384, Math.min(1 << 20, Math.floor((32 << 20) / files.length)));
  const cursors: Cursor[] = [];
  let timed = false;
  for (let k = 0; k < files.length; k++) {
    const c = new Cursor(files[k] as FfFile, k, chunk);
    if (!(await c.fill())) continue;
    c.computeKey();
    if (!timed && ffLineTime(c.lines[0] as string) >= 0) timed = true;
    cursors.push(c);
  }
  if (!timed) {
    opts.onWarning?.(
      `the ${files.length} -ff files have no timestamps (strace without -t/-tt/-ttt): ` +
        "they cannot be merged by time and are concatenated in pid order",
    );
  }
  let batch: MergedLine[] = [];
  if (!timed) {
    for (const c of cursors) {
      for (;;) {
        for (; c.idx < c.lines.length; c.idx++) {
          batch.push({
            pid: c.file.pid,
            line: c.lines[c.idx] as string,
            lineNo: ++c.lineNo,
            file: c.file.path,
          });
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
        if (!(await c.fill())) break;
      }
    }
    if (batch.length > 0) yield batch;
    return;
  }
  const heap = cursors;
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i);
  while (heap.length > 0) {
    const c = heap[0] as Cursor;
    batch.push({ pid: c.file.pid, line: c.lines[c.idx] as string, lineNo: ++c.lineNo, file: c.file.path });
    c.idx++;
    let alive = true;
    if (c.idx >= c.lines.length) alive = await c.fill();
    if (alive) {
      c.computeKey();
    } else {
      const last = heap.pop() as Cursor;
      if (heap.length > 0 && last !== c) heap[0] = last;
    }
    if (heap.length > 0) siftDown(heap, 0);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * The merged stream as line batches for the ordinary strace parser: every line is prefixed with
 * its pid (`25944 1795400834.993916 execve(…)`), as `strace-log-merge` prints it. `firstLine`
 * counts lines of the merged stream; `bytes` counts the bytes read from the files.
 */
export async function* mergeFfLineBatches(
  paths: readonly string[],
  opts: FfMergeOptions = {},
): AsyncGenerator<LineBatch> {
  let next = 1;
  for await (const batch of mergeFfFiles(paths, opts)) {
    const lines: string[] = new Array(batch.length);
    const origins: SourceLocation[] = new Array(batch.length);
    let bytes = 0;
    for (let k = 0; k < batch.length; k++) {
      const m = batch[k] as MergedLine;
      lines[k] = `${m.pid} ${m.line}`;
      origins[k] = { file: m.file, line: m.lineNo };
      bytes += Buffer.byteLength(m.line) + 1;
    }
    yield { lines, firstLine: next, bytes, origins };
    next += batch.length;
  }
}
