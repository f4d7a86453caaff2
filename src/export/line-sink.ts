import { once } from "node:events";
import { RotatingFileSink } from "./rotating-file-sink.js";
import { UnixSocketSink } from "./unix-socket-sink.js";

/**
 * Where a stream of text lines goes (the laurel-style JSON lines of `audit ingest` and `audit plugin`):
 * stdout, a file rotated by size, or a listening unix socket. Every chunk handed to `write` holds whole
 * lines, so a sink may cut between any two of them.
 */
export interface LineSink {
  /** whole lines; a returned promise asks the caller to wait before writing more */
  write(chunk: string): void | Promise<void>;
  /** opens the destination again (SIGHUP after an external log rotation); a no-op for stdout */
  reopen(): void;
  /** writes what is pending and closes */
  close(): Promise<void>;
}

export interface LineSinkOptions {
  /** rotate the file when it grows past this many bytes (0: never) */
  rotateSize?: number;
  /** rotated generations kept: FILE.1 … FILE.N (default 5) */
  rotateCount?: number;
  /** bytes a socket sink holds while its peer is away (default 16 MiB) */
  queueBytes?: number;
  /** how long closing a socket sink waits for an absent peer to take the queue, ms (default 5000) */
  closeWaitMs?: number;
  /** messages about the destination (reconnects, drops) */
  log?: (message: string) => void;
}

/** stdout, honouring backpressure */
export function stdoutSink(): LineSink {
  return {
    write(chunk) {
      if (!process.stdout.write(chunk)) return once(process.stdout, "drain").then(() => undefined);
    },
    reopen() {},
    async close() {},
  };
}

/** `-` → stdout, `unix:/path` → a unix stream socket, anything else → a (rotated) file */
export function openLineSink(dest: string | undefined, opts: LineSinkOptions = {}): LineSink {
  if (dest === undefined || dest === "-") return stdoutSink();
  if (dest.startsWith("unix:")) return new UnixSocketSink(dest.slice(5), opts);
  return new RotatingFileSink(dest, opts);
}

/** `10M`, `512k`, `1G`, `4096` → bytes (k/M/G are powers of 1024) */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([kKmMgG]?)i?[bB]?$/.exec(text.trim());
  if (m === null) throw new Error(`not a size: ${text} (use e.g. 4096, 512k, 10M, 1G)`);
  const unit = m[2]!.toLowerCase();
  const mult = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}
