import { closeSync, existsSync, fstatSync, openSync, renameSync, writeSync } from "node:fs";
import type { LineSink, LineSinkOptions } from "./line-sink.js";

/**
 * A file of lines rotated by size the way laurel rotates its audit.log: after the write of a line takes
 * the file past `rotateSize` bytes, FILE.N-1 becomes FILE.N, …, FILE.1 becomes FILE.2, FILE becomes FILE.1
 * (the oldest generation is overwritten), and the next line opens a new FILE. A file that already
 * exists is appended to and counts with its size. Files are created mode 0600 (audit data).
 *
 * Writes are synchronous and whole: one write(2) per chunk of lines, so each chunk is in the file when
 * `write` returns (what `audit plugin` needs to flush event by event). `reopen()` closes the file so the
 * next write opens FILE again — after an external logrotate renamed it.
 */
export class RotatingFileSink implements LineSink {
  private fd: number | null = null;
  private offset = 0;
  private readonly size: number;
  private readonly generations: number;
  /** files rotated so far */
  rotations = 0;

  constructor(
    readonly path: string,
    opts: LineSinkOptions = {},
  ) {
    this.size = opts.rotateSize ?? 0;
    this.generations = opts.rotateCount ?? 5;
    if (this.size > 0 && this.generations < 1) throw new Error("rotation needs at least one generation");
    this.open(); // fail early on a path that cannot be written
  }

  write(chunk: string): void {
    if (chunk.length === 0) return;
    if (this.size <= 0) {
      this.writeAll(chunk);
      return;
    }
    let rest = chunk;
    while (rest.length > 0) {
      const bytes = Buffer.byteLength(rest);
      if (this.offset + bytes <= this.size) {
        this.writeAll(rest);
        return;
      }
      // the first line whose end takes the file past the limit closes it
      const cut = this.cutAfterLimit(rest);
      this.writeAll(rest.slice(0, cut));
      rest = rest.slice(cut);
      if (this.offset > this.size) this.rotate();
    }
  }

  reopen(): void {
    this.closeFd();
  }

  async close(): Promise<void> {
    this.closeFd();
  }

  /** index just after the line whose end first makes offset exceed the limit (or the whole text) */
  private cutAfterLimit(text: string): number {
    let off = this.offset;
    let from = 0;
    while (from < text.length) {
      let nl = text.indexOf("\n", from);
      if (nl < 0) nl = text.length - 1;
      off += Buffer.byteLength(text.slice(from, nl + 1));
      from = nl + 1;
      if (off > this.size) return from;
    }
    return text.length;
  }

  private writeAll(text: string): void {
    if (this.fd === null) this.open();
    const buf = Buffer.from(text);
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd!, buf, done, buf.length - done);
    this.offset += buf.length;
  }

  private open(): void {
    this.fd = openSync(this.path, "a", 0o600);
    this.offset = fstatSync(this.fd).size;
  }

  private closeFd(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  private rotate(): void {
    this.closeFd();
    for (let g = this.generations - 1; g >= 0; g--) {
      const from = g === 0 ? this.path : `${this.path}.${g}`;
      if (existsSync(from)) renameSync(from, `${this.path}.${g + 1}`);
    }
    this.rotations++;
    this.offset = 0;
  }
}
