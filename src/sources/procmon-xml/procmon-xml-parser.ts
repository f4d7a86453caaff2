import type { SaxesTagPlain } from "saxes";
import type { ProvEvent, RunContext, SourceLocation } from "../../events/event-types.js";
import { type LocalToUtc, localToUtcConverter } from "../../util/time-zone.js";
import type { LineParser } from "../source-types.js";
import { filetimeMicros } from "../windows/filetime.js";
import {
  isMappedOperation,
  ProcmonMapper,
  type ProcmonProcessInfo,
  type ProcmonRecord,
  parseProcmonDate,
  parseTimeOfDay,
} from "../windows/procmon-record.js";
import { XmlElementStream } from "../windows/xml-element-stream.js";

/**
 * Process Monitor's XML export: `<procmon><processlist>` (one `<process>` per process instance,
 * with ProcessIndex, ProcessId, ParentProcessId, CreateTime/FinishTime as FILETIME, ImagePath,
 * CommandLine, Owner, Integrity) then `<eventlist>` (one `<event>` per row, the CSV columns as
 * elements with `_` for every other character: `Date___Time`). Events name their process by
 * ProcessIndex, so a reused PID is told apart. Read as it streams (saxes); malformed XML is one
 * problem with its line and the rest of the input is skipped.
 */
export class ProcmonXmlParser implements LineParser {
  private readonly xml: XmlElementStream;
  private readonly processes = new Map<string, ProcmonProcessInfo>();
  private readonly mapper = new ProcmonMapper(this.processes);
  private out: ProvEvent[] = [];
  private section: "process" | "event" | null = null;
  private depth = 0;
  private fields: Record<string, string> = {};
  private itemLine = 0;
  private started = false;
  private sawRoot = false;
  private lastTs = 0;
  private lastAt: SourceLocation;
  private readonly defaultDay: number;
  /** times are local time of the capture machine's zone (`--tz`); null: read as UTC */
  private readonly toUtc: LocalToUtc | null;
  private lastUtc: number | undefined;
  events = 0;

  constructor(
    private readonly file: string,
    ctx: RunContext,
  ) {
    this.defaultDay = ctx.date ? (parseProcmonDate(ctx.date) ?? 0) : 0;
    this.toUtc = ctx.tz === undefined ? null : localToUtcConverter(ctx.tz);
    this.lastAt = { file, line: 1 };
    this.xml = new XmlElementStream(
      file,
      { open: (t, line) => this.open(t, line), close: (t, text) => this.close(t, text) },
      this.out,
    );
  }

  push(lines: string[], _firstLine: number): ProvEvent[] {
    if (lines.length === 0 || this.xml.broken) return this.take();
    let text = lines.join("\n");
    if (!this.started && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    text = this.started ? `\n${text}` : text;
    this.started = true;
    this.xml.write(text);
    return this.take();
  }

  end(): ProvEvent[] {
    if (this.started) this.xml.close();
    if (!this.sawRoot && !this.xml.broken) {
      this.out.push({
        kind: "problem",
        at: { file: this.file, line: 1 },
        message: "no <procmon> document in the input",
      });
    }
    this.mapper.end(this.out, this.lastTs, this.lastAt);
    return this.take();
  }

  private take(): ProvEvent[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  private open(t: SaxesTagPlain, line: number): void {
    this.depth++;
    if (t.name === "procmon") this.sawRoot = true;
    if (this.section === null && (t.name === "process" || t.name === "event") && this.depth === 3) {
      this.section = t.name;
      this.fields = {};
      this.itemLine = line;
    }
  }

  private close(t: SaxesTagPlain, text: string): void {
    this.depth--;
    if (this.section === null) return;
    if (this.depth === 2 && t.name === this.section) {
      if (this.section === "process") this.process();
      else this.event();
      this.section = null;
      return;
    }
    // only the item's own children (a process's modulelist is left out)
    if (this.depth === 3) this.fields[t.name] = text;
  }

  private process(): void {
    const f = this.fields;
    const at = { file: this.file, line: this.itemLine };
    const index = f.ProcessIndex;
    const pid = Number(f.ProcessId);
    if (!index || !Number.isInteger(pid)) {
      this.out.push({ kind: "problem", at, message: "a <process> without ProcessIndex or ProcessId" });
      return;
    }
    const ft = (s: string | undefined) => (s && /^\d+$/.test(s) ? filetimeMicros(BigInt(s)) : null);
    const info: ProcmonProcessInfo = { pid, start: ft(f.CreateTime), end: ft(f.FinishTime) };
    const ppid = Number(f.ParentProcessId);
    if (Number.isInteger(ppid)) info.parentPid = ppid;
    if (f.ParentProcessIndex) info.parentInstance = f.ParentProcessIndex;
    if (f.ImagePath) info.imagePath = f.ImagePath;
    if (f.CommandLine) info.commandLine = f.CommandLine;
    if (f.Owner) info.user = f.Owner;
    if (f.Integrity) info.integrity = f.Integrity;
    this.processes.set(index, info);
  }

  private event(): void {
    const f = this.fields;
    const at = { file: this.file, line: this.itemLine };
    this.lastAt = at;
    this.events++;
    const pid = Number(f.PID);
    const op = f.Operation ?? "";
    if (!Number.isInteger(pid) || !f.PID) {
      this.out.push({
        kind: "problem",
        at,
        message: `an <event> whose PID is not a number: ${f.PID ?? "(none)"}`,
      });
      return;
    }
    let ts = this.lastTs;
    const tod = parseTimeOfDay(f.Time_of_Day ?? "");
    if (tod === null) {
      this.out.push({
        kind: "problem",
        at,
        message: `Time_of_Day ${JSON.stringify(f.Time_of_Day ?? "")} is not a time`,
      });
    } else {
      const day = (f.Date___Time ? parseProcmonDate(f.Date___Time) : null) ?? this.defaultDay;
      ts = day + tod;
      this.lastTs = ts;
    }
    if (this.toUtc !== null) {
      ts = this.toUtc(ts, this.lastUtc);
      this.lastUtc = ts;
    }
    const rec: ProcmonRecord = {
      ts,
      pid,
      operation: op,
      path: f.Path ?? "",
      result: f.Result ?? "SUCCESS",
      detail: isMappedOperation(op) ? (f.Detail ?? "") : "",
      at,
    };
    if (f.ProcessIndex) rec.instance = f.ProcessIndex;
    if (f.Process_Name) rec.processName = f.Process_Name;
    if (f.Image_Path) rec.imagePath = f.Image_Path;
    if (f.Command_Line) rec.commandLine = f.Command_Line;
    if (f.Parent_PID && /^\d+$/.test(f.Parent_PID)) rec.parentPid = Number(f.Parent_PID);
    if (f.User) rec.user = f.User;
    if (f.Integrity) rec.integrity = f.Integrity;
    this.mapper.map(rec, this.out);
  }
}
