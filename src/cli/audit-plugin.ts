import type { Readable } from "node:stream";
import type { ProblemEvent } from "../events/event-types.js";
import type { LineSink } from "../export/line-sink.js";
import type { AuditGroupItem } from "../sources/audit/audit-event-grouper.js";
import type { LaurelEnrichOptions } from "../sources/audit/laurel-enrich.js";
import { LaurelEventOrderer } from "../sources/audit/laurel-order.js";
import { LineSplitter } from "../sources/line-batches.js";
import { type AuditJsonStats, LaurelLineFormatter } from "./audit-json-lines.js";

export interface AuditPluginOptions {
  /** what auditd writes to the plugin (stdin) */
  input: Readable;
  sink: LineSink;
  onProblem: (p: ProblemEvent) => void;
  /** messages about the plugin itself (stderr) */
  log: (message: string) => void;
  enrich?: LaurelEnrichOptions;
  linePrefix?: string;
  /** close the events still open after this long without input, ms (default 1000; 0: never) */
  idleMs?: number;
  /** signals handled (default: SIGHUP reopens the output, SIGTERM and SIGINT end) */
  signals?: boolean;
}

/**
 * The auditd plugin protocol: auditd (or audispd) starts the plugin and writes every record to its stdin
 * in the "string" format, one record per line (`node=` prefixed when auditd names its node), and keeps
 * the pipe open until it shuts down. Each event is written as soon as it closes — at its EOE, at laurel's
 * 5 s event-time timeout, or when no input came for `idleMs` (so the last event does not wait for the
 * next one) — and the output is flushed chunk by chunk. SIGHUP re-opens the output (after logrotate);
 * SIGTERM, SIGINT or the end of stdin write the events still open, close the output and end. A line that
 * cannot be read is a problem, never a reason to stop; an internal error on some lines is logged and
 * those lines are skipped.
 */
export function runAuditPlugin(opts: AuditPluginOptions): Promise<AuditJsonStats> {
  const fmt = new LaurelLineFormatter(opts.onProblem, opts.enrich, opts.linePrefix);
  const orderer = new LaurelEventOrderer({ file: "<stdin>" });
  const splitter = new LineSplitter();
  const idleMs = opts.idleMs ?? 1000;
  const input = opts.input;
  let idle: NodeJS.Timeout | null = null;
  let open = false; // events may be in flight
  let writing: Promise<void> = Promise.resolve();
  let pendingWrites = 0;
  let finished = false;

  const write = (chunk: string): void => {
    if (chunk === "") return;
    pendingWrites++;
    writing = writing
      .then(() => opts.sink.write(chunk))
      .catch((err: Error) => opts.log(`cannot write the output: ${err.message}`))
      .finally(() => {
        pendingWrites--;
        if (pendingWrites === 0 && input.isPaused() && !finished) input.resume();
      });
    // the output cannot keep up: stop reading until it does
    if (pendingWrites > 8) input.pause();
  };

  const guarded = (what: string, f: () => AuditGroupItem[]): void => {
    try {
      write(fmt.format(f()));
    } catch (err) {
      opts.log(`internal error on ${what}, skipped: ${(err as Error).stack ?? String(err)}`);
    }
  };

  const flushOpen = (): void => {
    idle = null;
    if (!open) return;
    open = false;
    guarded("the events open at an idle moment", () => orderer.end());
  };

  const onData = (chunk: Buffer | string): void => {
    const batch = splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    if (batch) {
      open = true;
      const last = batch.firstLine + batch.lines.length - 1;
      guarded(`input lines ${batch.firstLine}-${last}`, () => orderer.push(batch.lines, batch.firstLine));
    }
    if (idleMs > 0) {
      if (idle !== null) clearTimeout(idle);
      idle = setTimeout(flushOpen, idleMs);
    }
  };

  return new Promise((resolve) => {
    const onHup = (): void => {
      writing = writing.then(() => opts.sink.reopen());
    };
    const finish = (why: string): void => {
      if (finished) return;
      finished = true;
      if (idle !== null) clearTimeout(idle);
      input.off("data", onData);
      input.pause();
      if (opts.signals !== false) {
        process.off("SIGHUP", onHup);
        process.off("SIGTERM", onTerm);
        process.off("SIGINT", onTerm);
      }
      const tail = splitter.end();
      // a last line without a newline is read like the others (laurel refuses it)
      if (tail) guarded(`input line ${tail.firstLine}`, () => orderer.push(tail.lines, tail.firstLine));
      guarded("the events open at the end", () => orderer.end());
      writing
        .then(() => opts.sink.close())
        .catch((err: Error) => opts.log(`cannot close the output: ${err.message}`))
        .finally(() => {
          if (why !== "end of input") input.destroy();
          resolve(fmt.stats);
        });
    };
    const onTerm = (): void => finish("signal");
    if (opts.signals !== false) {
      process.on("SIGHUP", onHup);
      process.on("SIGTERM", onTerm);
      process.on("SIGINT", onTerm);
    }
    input.on("data", onData);
    input.once("end", () => finish("end of input"));
    input.once("error", (err) => {
      opts.log(`cannot read stdin: ${err.message}`);
      finish("input error");
    });
  });
}
