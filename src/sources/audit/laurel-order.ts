import type { ProblemEvent } from "../../events/event-types.js";
import type { AuditEvent, AuditGroupItem } from "./audit-event-grouper.js";
import { type AuditParseError, type AuditRecord, parseAuditLine } from "./audit-record-parser.js";
import { isLaurelUserType, LaurelRecord, readLaurelLine } from "./laurel-json.js";

/**
 * Event boundaries and order exactly as laurel 0.5.1 writes them (its coalescing step):
 *
 * - a user-space record (USER_*, CRED_*, SERVICE_*, DAEMON_* …) is an event of its own, written at once;
 *   one whose id was already written (within 120 s of event time) is refused as a duplicate;
 * - kernel records are collected per (node, id) until the event's EOE, or until the event is more than
 *   5 s of event time older than the record being read; that check runs once per 1 s of event time
 *   (before the record is added), and the expired events are written sorted by (node, time, serial);
 * - a kernel record whose event was already written starts a second event with the same id (`late`);
 * - an EOE of an id already written is a duplicate, one of an unknown id is refused;
 * - at the end of input every event still open is written, sorted the same way;
 * - lines laurel cannot parse (comments, blank lines, free-text bodies, no `msg=audit(…)`) are skipped
 *   and reported as problems.
 */

const EXPIRE_PERIOD = 1000;
const EXPIRE_INFLIGHT_TIMEOUT = 5000;
const EXPIRE_DONE_TIMEOUT = 120_000;
const MAX_PROBLEM_TEXT = 200;

export interface LaurelOrderStats {
  lines: number;
  records: number;
  events: number;
  problems: number;
  /** blank and `#` comment lines (laurel refuses them too, without output) */
  skipped: number;
  /** kernel records that arrived after their event had been written */
  late: number;
}

interface Inflight {
  ev: AuditEvent;
  timeMs: number;
}

function compareInflight(a: Inflight, b: Inflight): number {
  if (a.ev.node !== b.ev.node) return a.ev.node < b.ev.node ? -1 : 1;
  if (a.timeMs !== b.timeMs) return a.timeMs - b.timeMs;
  return a.ev.serial - b.ev.serial;
}

export class LaurelEventOrderer {
  readonly stats: LaurelOrderStats = { lines: 0, records: 0, events: 0, problems: 0, skipped: 0, late: 0 };
  private readonly inflight = new Map<string, Inflight>();
  /** keys written recently → their event time in ms */
  private readonly done = new Map<string, number>();
  private nextExpire: number | undefined;
  /** the keys of `done` filed by the second of their event time */
  private readonly doneBySecond = new Map<number, string[]>();

  constructor(private readonly opts: { file: string }) {}

  push(lines: readonly string[], firstLine: number): AuditGroupItem[] {
    const out: AuditGroupItem[] = [];
    for (let n = 0; n < lines.length; n++) {
      const text = lines[n]!;
      const lineNo = firstLine + n;
      this.take(readLaurelLine(text, lineNo), lineNo, text, out);
    }
    return out;
  }

  /** one line read by readLaurelLine; `text` is the raw line, quoted in problem reports */
  private take(
    r: AuditRecord | AuditParseError | null,
    lineNo: number,
    text: string,
    out: AuditGroupItem[],
  ): void {
    this.stats.lines++;
    if (r === null) {
      this.stats.skipped++;
      return;
    }
    if (r.kind === "error") {
      this.problem(out, lineNo, r.message, text);
      return;
    }
    this.addRecord(r, out, text);
  }

  /**
   * The last line of the input when it has no newline: laurel 0.5.1 refuses it (its parser wants the
   * newline), so it is reported and skipped.
   */
  pushUnterminated(line: string, lineNo: number): AuditGroupItem[] {
    this.stats.lines++;
    const out: AuditGroupItem[] = [];
    if (parseAuditLine(line, lineNo) === null) this.stats.skipped++;
    else this.problem(out, lineNo, "last line has no newline (laurel refuses it)", line);
    return out;
  }

  /** add an already parsed record (`text` is only used in problem reports) */
  addRecord(r: AuditRecord, out: AuditGroupItem[], text = ""): void {
    this.stats.records++;
    const timeMs = r.sec * 1000 + r.ms;
    if (this.nextExpire === undefined) this.nextExpire = timeMs + EXPIRE_PERIOD;
    else if (this.nextExpire < timeMs) {
      this.expireInflight(timeMs, out);
      this.expireDone(timeMs);
      this.nextExpire = timeMs + EXPIRE_PERIOD;
    }
    const key = r.node === "" ? r.id : `${r.node} ${r.id}`;
    const lj = r instanceof LaurelRecord ? r.lj : null;
    if (lj !== null ? lj.name === "EOE" : r.type === "EOE") {
      if (this.done.has(key)) {
        this.problem(out, r.line, `duplicate event id ${r.id}`, text);
        return;
      }
      const o = this.inflight.get(key);
      if (o === undefined) {
        this.problem(out, r.line, `EOE of unknown event id ${r.id}`, text);
        return;
      }
      this.inflight.delete(key);
      o.ev.closedBy = "eoe";
      this.emit(key, o, out);
      return;
    }
    if (lj !== null ? lj.user : isLaurelUserType(r.type)) {
      if (this.done.has(key)) {
        this.problem(out, r.line, `duplicate event id ${r.id}`, text);
        return;
      }
      const ev = this.newEvent(r);
      ev.records.push(r);
      ev.closedBy = "eoe";
      this.emit(key, { ev, timeMs }, out);
      return;
    }
    let o = this.inflight.get(key);
    if (o === undefined) {
      const ev = this.newEvent(r);
      if (this.done.has(key)) {
        ev.late = true;
        this.stats.late++;
      }
      o = { ev, timeMs };
      this.inflight.set(key, o);
    }
    o.ev.records.push(r);
  }

  end(): AuditGroupItem[] {
    const out: AuditGroupItem[] = [];
    const all = [...this.inflight.entries()];
    this.inflight.clear();
    all.sort((a, b) => compareInflight(a[1], b[1]));
    for (const [key, o] of all) this.emit(key, o, out);
    return out;
  }

  private newEvent(r: AuditRecord): AuditEvent {
    return {
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
  }

  private expireInflight(now: number, out: AuditGroupItem[]): void {
    const expired: Array<[string, Inflight]> = [];
    for (const e of this.inflight) if (e[1].timeMs + EXPIRE_INFLIGHT_TIMEOUT < now) expired.push(e);
    if (expired.length === 0) return;
    expired.sort((a, b) => compareInflight(a[1], b[1]));
    for (const [key, o] of expired) {
      this.inflight.delete(key);
      o.ev.closedBy = "timeout";
      this.emit(key, o, out);
    }
  }

  /** forget the written events older than 120 s of event time (each key is looked at once per second it is kept under) */
  private expireDone(now: number): void {
    const limit = now - EXPIRE_DONE_TIMEOUT; // laurel: t + 120 s < now
    for (const [sec, keys] of this.doneBySecond) {
      if (sec * 1000 >= limit) continue;
      const whole = sec * 1000 + 999 < limit;
      let kept: string[] | null = null;
      for (const key of keys) {
        const t = this.done.get(key);
        if (t === undefined || Math.floor(t / 1000) !== sec) continue; // written again since: filed elsewhere
        if (whole || t < limit) this.done.delete(key);
        else {
          kept ??= [];
          kept.push(key);
        }
      }
      if (kept === null) this.doneBySecond.delete(sec);
      else this.doneBySecond.set(sec, kept);
    }
  }

  private emit(k: string, o: Inflight, out: AuditGroupItem[]): void {
    // the key is remembered for 120 s of event time: a copy of its own, so that it does not keep the
    // whole input chunk it was cut from alive (V8 cuts substrings of 13 characters or more as views)
    const key = ` ${k}`.slice(1);
    this.done.set(key, o.timeMs);
    const sec = Math.floor(o.timeMs / 1000);
    const list = this.doneBySecond.get(sec);
    if (list === undefined) this.doneBySecond.set(sec, [key]);
    else list.push(key);
    this.stats.events++;
    out.push(o.ev);
  }

  private problem(out: AuditGroupItem[], line: number, message: string, text: string): void {
    this.stats.problems++;
    const p: ProblemEvent = {
      kind: "problem",
      at: { file: this.opts.file, line },
      message,
      text: text.length > MAX_PROBLEM_TEXT ? `${text.slice(0, MAX_PROBLEM_TEXT)}…` : text,
    };
    out.push(p);
  }
}
