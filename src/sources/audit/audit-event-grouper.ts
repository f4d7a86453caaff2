import type { ProblemEvent } from "../../events/event-types.js";
import { type AuditRecord, parseAuditLine } from "./audit-record-parser.js";

/**
 * Groups audit records into events. Records of one event share (node, SECONDS.MILLIS:SERIAL); the
 * timestamp is part of the key, so a serial that wraps (4294967295 → 0) starts new events. An event
 * closes at its EOE record (audisp streams), when it is older than the newest event time seen by
 * `timeoutMs` (files on disk have no EOE), when more than `maxOpen` events are open (the oldest goes,
 * counted as overflow), and at the end of input. A record arriving after its event closed starts a
 * new event with the same id, marked `late`.
 */

export interface AuditEvent {
  kind: "audit.event";
  node: string;
  /** "SECONDS.MILLIS:SERIAL" */
  id: string;
  sec: number;
  ms: number;
  serial: number;
  /** microseconds since the Unix epoch */
  ts: number;
  /** records in arrival order, EOE excluded */
  records: AuditRecord[];
  closedBy: "eoe" | "timeout" | "overflow" | "end";
  /** a record of an id that had already been closed: this is a remainder */
  late?: boolean;
}

export type AuditGroupItem = AuditEvent | ProblemEvent;

export interface AuditGrouperOptions {
  /** file name for problem reports */
  file: string;
  /** close events older than the newest record by this many ms of event time (default 2000) */
  timeoutMs?: number;
  /** most events held open at once (default 10000) */
  maxOpen?: number;
}

export interface AuditGrouperStats {
  lines: number;
  records: number;
  events: number;
  problems: number;
  /** blank and `#` comment lines */
  skipped: number;
  /** events closed early because `maxOpen` was reached */
  overflow: number;
  /** records that arrived after their event had closed */
  late: number;
}

interface OpenEvent {
  ev: AuditEvent;
  timeMs: number;
}

const RECENT_CLOSED = 4096;
const MAX_PROBLEM_TEXT = 200;

export class AuditEventGrouper {
  readonly stats: AuditGrouperStats = {
    lines: 0,
    records: 0,
    events: 0,
    problems: 0,
    skipped: 0,
    overflow: 0,
    late: 0,
  };
  private readonly open = new Map<string, OpenEvent>();
  private newestMs = 0;
  private readonly timeoutMs: number;
  private readonly maxOpen: number;
  /** ring of recently closed keys, to mark late records */
  private readonly closedRing: string[] = [];
  private closedPos = 0;
  private readonly closedSet = new Set<string>();

  constructor(private readonly opts: AuditGrouperOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxOpen = Math.max(1, opts.maxOpen ?? 10_000);
  }

  /** the number of events currently open */
  get openCount(): number {
    return this.open.size;
  }

  push(lines: readonly string[], firstLine: number): AuditGroupItem[] {
    const out: AuditGroupItem[] = [];
    for (let n = 0; n < lines.length; n++) {
      const text = lines[n]!;
      const lineNo = firstLine + n;
      this.stats.lines++;
      const r = parseAuditLine(text, lineNo);
      if (r === null) {
        this.stats.skipped++;
        continue;
      }
      if (r.kind === "error") {
        this.problem(out, lineNo, r.message, text);
        continue;
      }
      if (r.issue !== undefined) this.problem(out, lineNo, r.issue, text);
      this.addRecord(r, out);
    }
    return out;
  }

  /** add an already parsed record */
  addRecord(r: AuditRecord, out: AuditGroupItem[]): void {
    this.stats.records++;
    const key = r.node === "" ? r.id : `${r.node} ${r.id}`;
    const timeMs = r.sec * 1000 + r.ms;
    let o = this.open.get(key);
    if (r.type === "EOE") {
      if (o) this.close(key, o, "eoe", out);
      this.advance(timeMs, out);
      return;
    }
    if (!o) {
      const ev: AuditEvent = {
        kind: "audit.event",
        node: r.node,
        id: r.id,
        sec: r.sec,
        ms: r.ms,
        serial: r.serial,
        ts: r.ts,
        records: [],
        closedBy: "end",
      };
      if (this.closedSet.has(key)) {
        ev.late = true;
        this.stats.late++;
      }
      o = { ev, timeMs };
      this.open.set(key, o);
      if (this.open.size > this.maxOpen) {
        const [oldKey, oldest] = this.open.entries().next().value as [string, OpenEvent];
        this.stats.overflow++;
        this.close(oldKey, oldest, "overflow", out);
      }
    }
    o.ev.records.push(r);
    this.advance(timeMs, out);
  }

  end(): AuditGroupItem[] {
    const out: AuditGroupItem[] = [];
    for (const [key, o] of this.open) this.close(key, o, "end", out);
    return out;
  }

  private advance(timeMs: number, out: AuditGroupItem[]): void {
    if (timeMs <= this.newestMs) return;
    this.newestMs = timeMs;
    const limit = timeMs - this.timeoutMs;
    // the map is in arrival order, which is close to time order: close from the head while old enough
    for (const [key, o] of this.open) {
      if (o.timeMs >= limit) break;
      this.close(key, o, "timeout", out);
    }
  }

  private close(key: string, o: OpenEvent, why: AuditEvent["closedBy"], out: AuditGroupItem[]): void {
    this.open.delete(key);
    o.ev.closedBy = why;
    this.remember(key);
    if (o.ev.records.length > 0) {
      this.stats.events++;
      out.push(o.ev);
    }
  }

  private remember(key: string): void {
    if (this.closedSet.has(key)) return;
    const old = this.closedRing[this.closedPos];
    if (old !== undefined) this.closedSet.delete(old);
    this.closedRing[this.closedPos] = key;
    this.closedSet.add(key);
    this.closedPos = (this.closedPos + 1) % RECENT_CLOSED;
  }

  private problem(out: AuditGroupItem[], line: number, message: string, text: string): void {
    this.stats.problems++;
    out.push({
      kind: "problem",
      at: { file: this.opts.file, line },
      message,
      text: text.length > MAX_PROBLEM_TEXT ? `${text.slice(0, MAX_PROBLEM_TEXT)}…` : text,
    });
  }
}
