import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { SourceLocation } from "../events/event-types.js";

/** A batch of whole lines from one input, with where it starts. */
export interface LineBatch {
  lines: string[];
  /** 1-based number of lines[0] in its input */
  firstLine: number;
  /** bytes consumed for these lines, newlines included */
  bytes: number;
  /**
   * Where each line really comes from, when the batch merges several files (strace -ff): problems
   * found in these lines are reported at their own file and line.
   */
  origins?: SourceLocation[];
  /** a binary format's bytes (EVTX, PML): `lines` is then empty and the parser's pushBytes reads them */
  data?: Buffer;
  /** file offset of data[0] */
  offset?: number;
}

/** Reads a stream as byte chunks for a binary format (no line splitting, no decoding). */
export async function* readByteBatches(stream: Readable): AsyncIterable<LineBatch> {
  let offset = 0;
  for await (const chunk of stream) {
    const data = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : (chunk as Buffer);
    yield { lines: [], firstLine: 0, bytes: data.length, data, offset };
    offset += data.length;
  }
}

const NL = 10;

/**
 * Splits byte chunks into batches of whole lines. Only the bytes after the last newline of a chunk
 * are carried over (as bytes, so a multi-byte character cut by the chunk boundary stays whole), and
 * each chunk is decoded once: no per-line reads, no concatenation of big strings. What is carried
 * over is a copy: the caller may reuse a chunk's memory once push returns (followFileLines does).
 */
export class LineSplitter {
  /** the bytes after the last newline seen, in the chunks they came in (joined once, at the newline) */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private nextLine = 1;

  push(chunk: Buffer): LineBatch | null {
    const last = chunk.lastIndexOf(NL);
    if (last < 0) {
      // a line longer than a chunk: kept in pieces, so a very long line costs linear time
      if (chunk.length > 0) {
        this.carry.push(Buffer.from(chunk));
        this.carryBytes += chunk.length;
      }
      return null;
    }
    let head: Buffer;
    if (this.carry.length > 0) {
      this.carry.push(chunk.subarray(0, last));
      head = Buffer.concat(this.carry, this.carryBytes + last);
    } else {
      head = chunk.subarray(0, last);
    }
    this.carry = last + 1 < chunk.length ? [Buffer.from(chunk.subarray(last + 1))] : [];
    this.carryBytes = chunk.length - last - 1;
    return this.makeBatch(head.toString("utf8"), head.length + 1);
  }

  /** End of input: a last line without a newline is still a line. */
  end(): LineBatch | null {
    if (this.carryBytes === 0) return null;
    const rest = Buffer.concat(this.carry, this.carryBytes);
    this.carry = [];
    this.carryBytes = 0;
    return this.makeBatch(rest.toString("utf8"), rest.length);
  }

  /** bytes held back waiting for their newline */
  get pending(): number {
    return this.carryBytes;
  }

  private makeBatch(text: string, bytes: number): LineBatch {
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    const batch = { lines, firstLine: this.nextLine, bytes };
    this.nextLine += lines.length;
    return batch;
  }
}

/** Reads a stream into line batches (about one batch per chunk). */
export async function* readLineBatches(stream: Readable): AsyncIterable<LineBatch> {
  const splitter = new LineSplitter();
  for await (const chunk of stream) {
    const batch = splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
    if (batch) yield batch;
  }
  const tail = splitter.end();
  if (tail) yield tail;
}

export interface FollowOptions {
  /** resolves when the writer is done: the file is then read to its end and the iteration stops */
  done: Promise<unknown>;
  chunkSize?: number;
  pollMs?: number;
  /**
   * while nothing new is written, yield an empty batch every this many ms (default: never), so that
   * the consumer can write what it holds while the writer is quiet (a live run shows up as it runs)
   */
  idleMs?: number;
}

/**
 * Reads a file while another process is still writing it (tail -f), in line batches, until
 * `done` resolves and everything written has been read.
 */
export async function* followFileLines(path: string, opts: FollowOptions): AsyncIterable<LineBatch> {
  let finished = false;
  opts.done.then(
    () => {
      finished = true;
    },
    () => {
      finished = true;
    },
  );
  const size = opts.chunkSize ?? 1 << 20;
  const poll = opts.pollMs ?? 25;
  const splitter = new LineSplitter();
  const fh = await open(path, "r");
  // one buffer for every read: the splitter copies what it keeps (a fresh 1 MB buffer per read was an
  // mmap and munmap each, thousands per traced run, as a growing log is read a few kB at a time)
  const buf = Buffer.allocUnsafe(size);
  try {
    let pos = 0;
    let quietSince = Date.now();
    for (;;) {
      const wasFinished = finished;
      const { bytesRead } = await fh.read(buf, 0, size, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        quietSince = Date.now();
        const batch = splitter.push(buf.subarray(0, bytesRead));
        if (batch) yield batch;
        continue;
      }
      if (wasFinished) break;
      if (opts.idleMs !== undefined && Date.now() - quietSince >= opts.idleMs) {
        quietSince = Date.now();
        yield { lines: [], firstLine: 0, bytes: 0 };
      }
      await sleep(poll);
    }
    const tail = splitter.end();
    if (tail) yield tail;
  } finally {
    await fh.close();
  }
}
