import type { ProvEvent, RunContext, SourceLocation } from "../../events/event-types.js";
import { type LocalToUtc, localToUtcConverter } from "../../util/time-zone.js";
import type { LineParser } from "../source-types.js";
import {
  isMappedOperation,
  ProcmonMapper,
  type ProcmonRecord,
  parseProcmonDate,
  parseTimeOfDay,
} from "../windows/procmon-record.js";

/** Columns read, by their header names (any order; only Time of Day, PID and Operation are required). */
const COLUMNS = {
  time: "Time of Day",
  date: "Date & Time",
  name: "Process Name",
  pid: "PID",
  op: "Operation",
  path: "Path",
  result: "Result",
  detail: "Detail",
  image: "Image Path",
  cmd: "Command Line",
  ppid: "Parent PID",
  user: "User",
  integrity: "Integrity",
} as const;
type Col = keyof typeof COLUMNS;

/** A record longer than this (a quoted field never closed) is given up. */
const MAX_RECORD_CHARS = 16 << 20;

/**
 * Splits one CSV record (RFC 4180: quoted fields, `""` for a quote) into its fields. Null when a
 * quote is left open.
 */
export function splitCsvRecord(rec: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = rec.length;
  for (;;) {
    if (i < n && rec.charCodeAt(i) === 34) {
      let v = "";
      let j = i + 1;
      for (;;) {
        const q = rec.indexOf('"', j);
        if (q < 0) return null;
        v += rec.slice(j, q);
        if (rec.charCodeAt(q + 1) === 34) {
          v += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      // garbage between the closing quote and the comma is kept, as lenient readers do
      const comma = rec.indexOf(",", i);
      if (comma < 0) return out;
      i = comma + 1;
    } else {
      const comma = rec.indexOf(",", i);
      if (comma < 0) {
        out.push(rec.slice(i));
        return out;
      }
      out.push(rec.slice(i, comma));
      i = comma + 1;
    }
  }
}

function countQuotes(s: string): number {
  let c = 0;
  let i = s.indexOf('"');
  while (i >= 0) {
    c++;
    i = s.indexOf('"', i + 1);
  }
  return c;
}

/**
 * Process Monitor's CSV export (`procmon /SaveAs x.csv`, File > Save > CSV): a header naming the
 * columns, then one record a row, every field quoted; records may span lines (Process Start's
 * Environment holds CRs). Timestamps: `Date & Time` gives the day, `Time of Day` the time to
 * 100 ns (local time of the capture machine: of `--tz`'s zone, else read as UTC; without a Date
 * column the run's --date, else 1970-01-01). Rows that cannot be read are problems at their file:line.
 */
export class ProcmonCsvParser implements LineParser {
  private readonly file: string;
  private readonly mapper = new ProcmonMapper();
  private header: Record<Col, number> | null = null;
  private ncols = 0;
  private pending: string | null = null;
  private pendingLine = 0;
  private pendingQuotes = 0;
  private readonly defaultDay: number;
  /** times are local time of the capture machine's zone (`--tz`); null: read as UTC */
  private readonly toUtc: LocalToUtc | null;
  private lastUtc: number | undefined;
  private lastTs = 0;
  private lastDateText = "";
  private lastDay = 0;
  private badTimes = 0;
  private lastAt: SourceLocation;
  rows = 0;
  private unread = 0;

  constructor(file: string, ctx: RunContext) {
    this.file = file;
    this.defaultDay = ctx.date ? (parseProcmonDate(ctx.date) ?? 0) : 0;
    this.toUtc = ctx.tz === undefined ? null : localToUtcConverter(ctx.tz);
    this.lastAt = { file, line: 1 };
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    const out: ProvEvent[] = [];
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k]!;
      const lineNo = firstLine + k;
      if (this.pending !== null) {
        this.pending += `\n${line}`;
        this.pendingQuotes += countQuotes(line);
        if ((this.pendingQuotes & 1) === 0) {
          const rec = this.pending;
          this.pending = null;
          this.record(rec, this.pendingLine, out);
        } else if (this.pending.length > MAX_RECORD_CHARS) {
          out.push({
            kind: "problem",
            at: { file: this.file, line: this.pendingLine },
            message: `a quoted field opened here is not closed within ${MAX_RECORD_CHARS} characters: record skipped`,
          });
          this.pending = null;
        }
        continue;
      }
      if (line.length === 0) continue;
      if (this.header === null && line.charCodeAt(0) === 0xfeff) {
        this.record(line.slice(1), lineNo, out);
        continue;
      }
      const q = countQuotes(line);
      if (q & 1) {
        this.pending = line;
        this.pendingLine = lineNo;
        this.pendingQuotes = q;
        continue;
      }
      // fast path: every field quoted, no quote inside a field
      if (
        this.header !== null &&
        q === this.ncols * 2 &&
        line.charCodeAt(0) === 34 &&
        line.charCodeAt(line.length - 1) === 34
      ) {
        const fields = line.slice(1, -1).split('","');
        if (fields.length === this.ncols) {
          this.row(fields, lineNo, out);
          continue;
        }
      }
      this.record(line, lineNo, out);
    }
    return out;
  }

  private record(rec: string, lineNo: number, out: ProvEvent[]): void {
    const fields = splitCsvRecord(rec);
    if (fields === null) {
      out.push({
        kind: "problem",
        at: { file: this.file, line: lineNo },
        message: "unclosed quote",
        text: rec.slice(0, 200),
      });
      return;
    }
    if (this.header === null) {
      this.readHeader(fields, lineNo, out);
      return;
    }
    if (fields.length !== this.ncols && this.ncols >= 0) {
      out.push({
        kind: "problem",
        at: { file: this.file, line: lineNo },
        message: `${fields.length} fields where the header names ${this.ncols}`,
        text: rec.slice(0, 200),
      });
      return;
    }
    this.row(fields, lineNo, out);
  }

  private readHeader(fields: string[], lineNo: number, out: ProvEvent[]): void {
    if (fields.length > 0 && fields[0]!.charCodeAt(0) === 0xfeff) fields[0] = fields[0]!.slice(1);
    const idx = {} as Record<Col, number>;
    for (const [k, name] of Object.entries(COLUMNS) as Array<[Col, string]>) idx[k] = fields.indexOf(name);
    if (idx.time < 0 || idx.pid < 0 || idx.op < 0) {
      out.push({
        kind: "problem",
        at: { file: this.file, line: lineNo },
        message: "not a Process Monitor CSV header (it needs the columns Time of Day, PID and Operation)",
        text: fields.join(",").slice(0, 200),
      });
      // the rest is read as rows of a file without a usable header: each becomes a problem
      this.header = idx;
      this.ncols = -1;
      return;
    }
    this.header = idx;
    this.ncols = fields.length;
  }

  private row(f: string[], lineNo: number, out: ProvEvent[]): void {
    const h = this.header!;
    if (this.ncols < 0) {
      this.unread++;
      this.lastAt = { file: this.file, line: lineNo };
      return;
    }
    this.rows++;
    const op = f[h.op]!;
    const pid = Number(f[h.pid]);
    const at: SourceLocation = { file: this.file, line: lineNo };
    this.lastAt = at;
    if (!Number.isInteger(pid) || f[h.pid]!.length === 0) {
      out.push({ kind: "problem", at, message: `PID is not a number: ${f[h.pid]}` });
      return;
    }
    // rows of operations not mapped, of a process already known, add nothing: not even their time is read
    const mapped = isMappedOperation(op);
    if (!mapped && this.mapper.knows(pid)) {
      this.mapper.skipped++;
      return;
    }
    const local = this.time(f, at, out);
    const ts = this.toUtc === null ? local : this.toUtc(local, this.lastUtc);
    this.lastUtc = ts;
    const rec: ProcmonRecord = {
      ts,
      pid,
      operation: op,
      path: h.path >= 0 ? f[h.path]! : "",
      result: h.result >= 0 ? f[h.result]! : "SUCCESS",
      detail: h.detail >= 0 && mapped ? f[h.detail]! : "",
      at,
    };
    if (h.name >= 0) rec.processName = f[h.name]!;
    if (h.image >= 0 && f[h.image]) rec.imagePath = f[h.image]!;
    if (h.cmd >= 0 && f[h.cmd]) rec.commandLine = f[h.cmd]!;
    if (h.ppid >= 0 && f[h.ppid]) {
      const pp = Number(f[h.ppid]);
      if (Number.isInteger(pp)) rec.parentPid = pp;
    }
    if (h.user >= 0 && f[h.user]) rec.user = f[h.user]!;
    if (h.integrity >= 0 && f[h.integrity]) rec.integrity = f[h.integrity]!;
    this.mapper.map(rec, out);
  }

  private time(f: string[], at: SourceLocation, out: ProvEvent[]): number {
    const h = this.header!;
    const tod = parseTimeOfDay(f[h.time]!);
    if (tod === null) {
      this.badTimes++;
      if (this.badTimes <= 10) {
        out.push({
          kind: "problem",
          at,
          message: `Time of Day ${JSON.stringify(f[h.time])} is not a time (an export re-saved by a spreadsheet?): the previous row's time is used`,
        });
      }
      return this.lastTs;
    }
    let day = this.defaultDay;
    if (h.date >= 0) {
      const d = f[h.date]!;
      if (d === this.lastDateText) day = this.lastDay;
      else {
        const parsed = parseProcmonDate(d);
        if (parsed !== null) {
          day = parsed;
          this.lastDateText = d;
          this.lastDay = parsed;
        }
      }
    }
    let ts = day + tod;
    // a capture that runs past midnight without a Date column: the clock going back by hours
    if (h.date < 0 && ts + 12 * 3600e6 < this.lastTs) ts += 24 * 3600e6;
    this.lastTs = ts;
    return ts;
  }

  end(): ProvEvent[] {
    const out: ProvEvent[] = [];
    if (this.pending !== null) {
      out.push({
        kind: "problem",
        at: { file: this.file, line: this.pendingLine },
        message: "the log ends inside a quoted field (truncated?): last record skipped",
      });
      this.pending = null;
    }
    if (this.header === null) {
      out.push({
        kind: "problem",
        at: { file: this.file, line: 1 },
        message: "no Process Monitor CSV header (the input is empty)",
      });
    } else if (this.ncols < 0 && this.unread > 0) {
      out.push({
        kind: "problem",
        at: this.lastAt,
        message: `${this.unread} rows not read: the header names no Time of Day, PID or Operation column`,
      });
    }
    if (this.badTimes > 10) {
      out.push({
        kind: "problem",
        at: this.lastAt,
        message: `${this.badTimes} rows in all had a Time of Day that is not a time`,
      });
    }
    this.mapper.end(out, this.lastTs, this.lastAt);
    return out;
  }
}
