import type { ProvEvent, RunContext } from "../events/event-types.js";
import type { LineBatch } from "./line-batches.js";

/**
 * Every source format has the same shape: a pure parser that takes batches of lines and returns
 * events, plus detection from the first lines. The stream adapter (`line-batches.ts`) feeds it.
 */
export interface LineParser {
  /** Parse a batch of lines; `firstLine` is the 1-based number of `lines[0]` in its file. */
  push(lines: string[], firstLine: number): ProvEvent[];
  /** End of input: flush what is pending (unfinished calls, open steps) and report truncation. */
  end(): ProvEvent[];
  /** Binary formats (EVTX, PML): the next bytes of the input, `offset` being the file offset of chunk[0]. */
  pushBytes?(chunk: Buffer, offset: number): ProvEvent[];
  /** counts only the source knows, added to the run's statistics (eBPF: `lost` events) */
  runStats?(): Record<string, number>;
}

export interface ParserOptions {
  /** the file name used in problem reports */
  file: string;
  ctx: RunContext;
  /** for strace -ff files: the pid taken from FILE.PID, since the lines carry none */
  pid?: number;
  /** the trace began by attaching to running processes (strace -p) */
  attach?: boolean;
  /** pid of the first process when known from elsewhere (dockit's .ini TopProcessId) */
  topPid?: number;
}

export interface SourceFormat {
  /** the --kind name */
  kind: string;
  /** how sure (0..1) this format is that these first lines are its own */
  detect(head: string[], fileName: string): number;
  createParser(opts: ParserOptions): LineParser;
  /** what the first lines say about the machine the log was recorded on (Windows exports name it) */
  headContext?(head: string[], headBytes?: Buffer): { host?: string };
  /** a binary format: its input is read as bytes (LineParser.pushBytes), not as lines */
  binary?: boolean;
  /**
   * A binary format whose file must be read out of order (PML keeps its process table after the
   * events): its own stream adapter, reading the file in bounded chunks.
   */
  readFile?(path: string): AsyncIterable<LineBatch>;
}
