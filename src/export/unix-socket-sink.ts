import { createConnection, type Socket } from "node:net";
import type { LineSink, LineSinkOptions } from "./line-sink.js";

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * Lines to a listening unix stream socket (a log shipper's unix input, `socat UNIX-LISTEN:…`), as a
 * client. The connection is made at once and made again after it fails or drops, waiting 0.1 s, 0.2 s,
 * … up to 5 s between attempts. While connected, writes wait when the socket's buffer is full (the
 * reader of the input slows down with it); while not, lines wait in a queue of at most `queueBytes`
 * (16 MiB) and the oldest are dropped beyond it. Drops are counted and reported through `log` when the
 * peer is back and at close. Lines that were in the socket's buffer when the peer went away are lost
 * (the kernel does not say which); datagram sockets (/dev/log) are not supported.
 */
export class UnixSocketSink implements LineSink {
  readonly stats = { connects: 0, droppedLines: 0, queuedLines: 0 };
  private socket: Socket | null = null;
  private connected = false;
  private closing = false;
  private backoff = MIN_BACKOFF_MS;
  private timer: NodeJS.Timeout | null = null;
  private queue: string[] = [];
  private queued = 0;
  private reportedDrops = 0;
  private readonly maxQueue: number;
  private readonly closeWaitMs: number;
  private readonly log: (m: string) => void;
  private waiters: Array<() => void> = [];
  private outage = false;

  constructor(
    readonly path: string,
    opts: LineSinkOptions = {},
  ) {
    this.maxQueue = opts.queueBytes ?? 16 << 20;
    this.closeWaitMs = opts.closeWaitMs ?? 5000;
    this.log = opts.log ?? (() => {});
    this.connect();
  }

  write(chunk: string): void | Promise<void> {
    if (chunk.length === 0) return;
    if (this.connected && this.queue.length === 0) {
      if (this.socket!.write(chunk)) return;
      return this.drained();
    }
    this.enqueue(chunk);
  }

  /** a new connection (the peer may have been restarted with a new socket file) */
  reopen(): void {
    if (this.closing || this.socket === null) return;
    // what is written from now on waits for the new connection; what was written goes out first
    this.connected = false;
    this.socket.end();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (!this.connected && this.queue.length > 0) {
      // give a peer that is (re)starting a moment to take the queue
      const deadline = Date.now() + this.closeWaitMs;
      while (!this.connected && Date.now() < deadline) {
        if (this.timer === null && this.socket === null) this.connect();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const s = this.socket;
    if (s !== null && this.connected) {
      this.flushQueue();
      await new Promise<void>((resolve) => {
        s.once("close", () => resolve());
        s.end();
      });
    } else {
      s?.destroy();
    }
    for (const q of this.queue) this.stats.droppedLines += countLines(q);
    this.queue = [];
    this.queued = 0;
    this.reportDrops();
    this.wake();
  }

  private connect(): void {
    this.timer = null;
    const s = createConnection({ path: this.path });
    this.socket = s;
    s.on("connect", () => {
      this.connected = true;
      this.outage = false;
      this.backoff = MIN_BACKOFF_MS;
      this.stats.connects++;
      if (this.stats.connects > 1) this.log(`reconnected to ${this.path}`);
      this.reportDrops();
      this.flushQueue();
    });
    s.on("drain", () => this.wake());
    s.on("error", (err: NodeJS.ErrnoException) => {
      // once per outage, not once per attempt
      if (!this.outage) this.log(`${this.path}: ${err.code ?? err.message}; retrying`);
      this.outage = true;
    });
    s.on("close", () => {
      const was = this.connected;
      this.connected = false;
      this.socket = null;
      this.wake();
      if (was && !this.closing) {
        this.log(`lost ${this.path}; reconnecting`);
        this.outage = true;
      }
      if (!this.closing) {
        this.timer = setTimeout(() => this.connect(), this.backoff);
        this.timer.unref();
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      }
    });
  }

  private enqueue(chunk: string): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.stats.queuedLines += countLines(chunk);
    while (this.queued > this.maxQueue && this.queue.length > 1) {
      const old = this.queue.shift()!;
      this.queued -= old.length;
      this.stats.droppedLines += countLines(old);
    }
  }

  private flushQueue(): void {
    if (!this.connected || this.queue.length === 0) return;
    const all = this.queue.join("");
    this.queue = [];
    this.queued = 0;
    this.socket!.write(all);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private reportDrops(): void {
    const n = this.stats.droppedLines - this.reportedDrops;
    if (n > 0) {
      this.log(`dropped ${n} lines while ${this.path} was not there`);
      this.reportedDrops = this.stats.droppedLines;
    }
  }
}
