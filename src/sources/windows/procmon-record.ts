import type { AccessEvent, FileOp, ProvEvent, SourceLocation } from "../../events/event-types.js";
import { splitWindowsCommandLine } from "../../graph/windows-path.js";

/**
 * One Process Monitor event as every ProcMon export carries it (CSV row, XML `<event>`, PML record),
 * reduced to what provenance needs. The three readers fill it; `ProcmonMapper` turns it into events.
 */
export interface ProcmonRecord {
  /** µs since the epoch */
  ts: number;
  pid: number;
  /**
   * the process instance when the export tells instances apart (XML ProcessIndex, PML process
   * index): a PID reused by a later process is then a new process even without Process Start
   */
  instance?: string;
  operation: string;
  path: string;
  result: string;
  /** `Key: value, …` as ProcMon prints it, or the keys already split (PML) */
  detail: string | Map<string, string>;
  processName?: string;
  imagePath?: string;
  commandLine?: string;
  parentPid?: number;
  user?: string;
  integrity?: string;
  at: SourceLocation;
}

/** What the export says about a process instance besides its events (XML process list, PML process table). */
export interface ProcmonProcessInfo {
  pid: number;
  parentPid?: number;
  /** the parent's instance key, when known */
  parentInstance?: string;
  imagePath?: string;
  commandLine?: string;
  user?: string;
  integrity?: string;
  /** µs; null when unknown */
  start: number | null;
  end: number | null;
}

/**
 * Keys ProcMon writes in Detail for the operations mapped here. Values may hold `, ` (flag lists,
 * command lines), so Detail is split only where `, <known key>: ` follows.
 */
const DETAIL_KEYS = [
  "Desired Access",
  "Disposition",
  "Options",
  "Attributes",
  "ShareMode",
  "AllocationSize",
  "OpenResult",
  "Offset",
  "Length",
  "I/O Flags",
  "Priority",
  "PID",
  "Command line",
  "Parent PID",
  "Current directory",
  "Environment",
  "Exit Status",
  "User Time",
  "Kernel Time",
  "Private Bytes",
  "Peak Private Bytes",
  "Working Set",
  "Peak Working Set",
  "Image Base",
  "Image Size",
  "Thread ID",
  "ReplaceIfExists",
  "FileName",
  "Delete",
  "Flags",
  "EndOfFile",
  "Type",
  "Data",
  "Index",
  "Name",
  "Query",
  "mss",
  "sackopt",
  "tsopt",
  "wsopt",
  "rcvwin",
  "rcvwinscale",
  "sndwinscale",
  "seqnum",
  "connid",
  "startime",
  "endtime",
];
const DETAIL_KEY_SET = new Set(DETAIL_KEYS);
const FIRST_KEY_RE = /^([A-Za-z][\w /]*?): /;

/** Splits ProcMon's Detail text at its known keys (`Desired Access: Read, Write, Disposition: Open`). */
export function parseDetail(detail: string): Map<string, string> {
  const out = new Map<string, string>();
  if (detail.length === 0) return out;
  const first = FIRST_KEY_RE.exec(detail);
  if (!first) return out;
  let key = first[1]!;
  let valueStart = first[0].length;
  let search = valueStart;
  for (;;) {
    const comma = detail.indexOf(", ", search);
    if (comma < 0 || key === "Environment") {
      out.set(key, detail.slice(valueStart));
      return out;
    }
    const colon = detail.indexOf(": ", comma + 2);
    const candidate = colon > 0 && colon - comma < 40 ? detail.slice(comma + 2, colon) : "";
    if (candidate && DETAIL_KEY_SET.has(candidate)) {
      out.set(key, detail.slice(valueStart, comma));
      key = candidate;
      valueStart = colon + 2;
      search = valueStart;
    } else {
      search = comma + 2;
    }
  }
}

/** A ProcMon number: `3,762,343`, `4 697` (U+00A0 or space separators), `0x41000`. */
export function procmonNumber(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (/^-?0x[0-9a-f]+$/i.test(t)) return Number.parseInt(t, 16);
  const clean = t.replace(/[,\u00a0\u202f .'](?=\d{3}(?:\D|$))/g, "");
  if (!/^-?\d+$/.test(clean)) return undefined;
  return Number(clean);
}

/** Operations read as file-system reads/writes/etc; the rest of the File System class is left out. */
const REG_READ = new Set([
  "RegOpenKey",
  "RegQueryValue",
  "RegEnumValue",
  "RegEnumKey",
  "RegQueryMultipleValueKey",
]);
const REG_DELETE = new Set(["RegDeleteKey", "RegDeleteValue"]);
const RENAME_OPS = new Set([
  "SetRenameInformationFile",
  "SetRenameInformationEx",
  "SetRenameInformationExBypassAccessCheck",
]);
const NET_OPS: Readonly<Record<string, "connect" | "accept" | "send" | "recv">> = {
  Connect: "connect",
  Accept: "accept",
  Send: "send",
  Receive: "recv",
};

/** Every operation the mapper reads (the others are counted as skipped). */
export function isMappedOperation(op: string): boolean {
  switch (op) {
    case "Process Create":
    case "Process Start":
    case "Process Exit":
    case "Load Image":
    case "CreateFile":
    case "ReadFile":
    case "WriteFile":
    case "SetDispositionInformationFile":
    case "SetDispositionInformationEx":
    case "SetEndOfFileInformationFile":
    case "RegCreateKey":
    case "RegSetValue":
      return true;
  }
  if (REG_READ.has(op) || REG_DELETE.has(op) || RENAME_OPS.has(op)) return true;
  return op.startsWith("TCP ") || op.startsWith("UDP ");
}

const READ_ACCESS = /Generic Read|Read Data|All Access|Generic All|Generic Execute|Execute\/Traverse/;
const WRITE_ACCESS = /Write Data|Append Data|Generic Write|Read\/Write|All Access|Generic All/;

/** One network endpoint pair `host:port -> host:port` (names as ProcMon resolved them). */
function splitEndpoints(path: string): [string, string] | null {
  const arrow = path.indexOf(" -> ");
  if (arrow < 0) return null;
  return [path.slice(0, arrow).trim(), path.slice(arrow + 4).trim()];
}

interface PendingChild {
  exe: string;
  commandLine: string;
}

/**
 * ProcMon records → provflow events. Processes: Process Create (in the parent: the child's PID and
 * command line) starts the child, Process Start (the child's first event: current directory and
 * environment) gives its program, Process Exit ends it with its exit status. A PID first seen on any
 * other row becomes a process from the per-row columns (Image Path, Command Line, Parent PID), since
 * a capture starts mid-run. Rows of a PID after its Process Exit are reported, not given to a new
 * process. Files, registry and network as in docs/data-model.md; failed operations (Result other
 * than SUCCESS) are attempts.
 */
export class ProcmonMapper {
  /** live pids → instance key ("" when the export has none) */
  private readonly live = new Map<number, string>();
  /** pids whose process exited → the instance key it had */
  private readonly exited = new Map<number, string>();
  private readonly lateReported = new Set<number>();
  private readonly pendingChild = new Map<number, PendingChild>();
  private readonly processInfo: Map<string, ProcmonProcessInfo> | null;
  skipped = 0;
  mapped = 0;

  constructor(processInfo?: Map<string, ProcmonProcessInfo>) {
    this.processInfo = processInfo ?? null;
  }

  /**
   * Whether a row of this pid (from an export without instances) that is not mapped would add
   * nothing: its process is live, or ended (a late row, left out).
   */
  knows(pid: number): boolean {
    return this.live.get(pid) === "" || this.exited.get(pid) !== undefined;
  }

  map(r: ProcmonRecord, out: ProvEvent[]): void {
    const op = r.operation;
    if (!isMappedOperation(op)) {
      this.skipped++;
      // a process seen only through rows left out still exists
      const liveKey = this.live.get(r.pid);
      if (liveKey === undefined ? !this.isLate(r) : r.instance !== undefined && liveKey !== r.instance) {
        this.ensureProcess(r, out);
      }
      return;
    }
    this.mapped++;
    if (op === "Process Create") {
      this.processCreate(r, out);
      return;
    }
    if (op === "Process Start") {
      this.processStart(r, out);
      return;
    }
    if (!this.ensureProcess(r, out)) return;
    const ok = r.result === "SUCCESS";
    const ts = r.ts;
    const pid = r.pid;
    const at = r.at;
    if (op === "Process Exit") {
      const d = this.detail(r);
      const code = procmonNumber(d.get("Exit Status"));
      out.push({ kind: "process.exit", ts, pid, at, ...(code !== undefined ? { code } : {}) });
      this.exited.set(pid, this.live.get(pid) ?? r.instance ?? "");
      this.live.delete(pid);
      this.lateReported.delete(pid);
      return;
    }
    const path = r.path;
    if (op.startsWith("Reg")) {
      this.registry(r, ok, out);
      return;
    }
    if (op.startsWith("TCP ") || op.startsWith("UDP ")) {
      this.network(r, ok, out);
      return;
    }
    if (path.length === 0) return;
    const errno = ok ? undefined : r.result;
    /** an access to the row's path by the row's process */
    const access = (fileOp: FileOp, extra: Partial<AccessEvent> = {}) =>
      out.push({
        kind: "access",
        op: fileOp,
        res: { type: "file", path },
        call: op,
        ts,
        pid,
        at,
        ok,
        ...(errno ? { errno } : {}),
        ...extra,
      });
    switch (op) {
      case "Load Image":
        access("map");
        return;
      case "CreateFile": {
        const d = this.detail(r);
        // "Directory" (or "Directory File") among the options; "Non-Directory File" is a file
        const directory = /(?:^|, )Directory(?: File)?(?:,|$)/.test(d.get("Options") ?? "");
        if (!ok) {
          access("open", { directory });
          return;
        }
        const result = d.get("OpenResult") ?? "";
        const create = result === "Created";
        const truncate = result === "Overwritten" || result === "Superseded";
        const desired = d.get("Desired Access") ?? "";
        const read = READ_ACCESS.test(desired);
        const write = WRITE_ACCESS.test(desired) || create || truncate;
        if (!read && !write) access("probe", { directory });
        else access(directory && create ? "mkdir" : "open", { read, write, create, truncate, directory });
        return;
      }
      case "ReadFile":
      case "WriteFile":
        access(op === "ReadFile" ? "read" : "write", {
          bytes: procmonNumber(this.detail(r).get("Length")) ?? 0,
        });
        return;
      case "SetDispositionInformationFile":
      case "SetDispositionInformationEx": {
        const d = this.detail(r);
        const del =
          op === "SetDispositionInformationFile"
            ? d.get("Delete") === "True"
            : (d.get("Flags") ?? "").includes("FILE_DISPOSITION_DELETE");
        if (del) access("delete");
        return;
      }
      case "SetEndOfFileInformationFile":
        access(procmonNumber(this.detail(r).get("EndOfFile")) === 0 ? "truncate" : "write", { bytes: 0 });
        return;
    }
    if (RENAME_OPS.has(op)) {
      const to = this.detail(r).get("FileName");
      if (!to) {
        out.push({ kind: "problem", at, message: `${op} of ${path} names no FileName in its Detail` });
        return;
      }
      out.push({ kind: "rename", from: path, to, call: op, ts, pid, at, ok, ...(errno ? { errno } : {}) });
    }
  }

  /** Process Create, in the parent: starts the child (its program comes with its Process Start). */
  private processCreate(r: ProcmonRecord, out: ProvEvent[]): void {
    this.ensureProcess(r, out);
    if (r.result !== "SUCCESS") return;
    const d = this.detail(r);
    const child = procmonNumber(d.get("PID"));
    if (child === undefined) {
      out.push({
        kind: "problem",
        at: r.at,
        message: "Process Create without the child's PID in its Detail",
      });
      return;
    }
    if (this.live.has(child)) this.endInstance(child, r.ts, r, out);
    this.exited.delete(child);
    out.push({ kind: "process.start", ts: r.ts, pid: child, ppid: r.pid, via: "create", at: r.at });
    this.live.set(child, "");
    this.pendingChild.set(child, { exe: r.path, commandLine: d.get("Command line") ?? "" });
  }

  /** Process Start, the child's first event: its program, command line, directory and environment. */
  private processStart(r: ProcmonRecord, out: ProvEvent[]): void {
    const d = this.detail(r);
    const pending = this.pendingChild.get(r.pid);
    this.pendingChild.delete(r.pid);
    const key = r.instance ?? "";
    if (!pending) {
      if (this.live.has(r.pid) && this.live.get(r.pid) !== key) this.endInstance(r.pid, r.ts, r, out);
      if (!this.live.has(r.pid)) {
        this.exited.delete(r.pid);
        const ppid = procmonNumber(d.get("Parent PID")) ?? r.parentPid ?? null;
        out.push({ kind: "process.start", ts: r.ts, pid: r.pid, ppid, via: "create", at: r.at });
      }
    }
    this.live.set(r.pid, key);
    const cmd = d.get("Command line") ?? pending?.commandLine ?? r.commandLine ?? "";
    const exe = pending?.exe || r.imagePath || splitWindowsCommandLine(cmd)[0] || r.processName || "";
    const env = d.get("Environment");
    out.push({
      kind: "process.exec",
      ts: r.ts,
      pid: r.pid,
      exe,
      argv: splitWindowsCommandLine(cmd),
      ...(d.get("Current directory") ? { cwd: d.get("Current directory")! } : {}),
      ...(env !== undefined
        ? { env: env.split(";\t").filter((e) => e.length > 0 && !e.startsWith("=")) }
        : {}),
      ok: true,
      at: r.at,
      attrs: this.processAttrs(r),
    });
  }

  private processAttrs(r: ProcmonRecord): Record<string, unknown> {
    const a: Record<string, unknown> = {};
    if (r.user) a.user = r.user;
    if (r.integrity) a.integrity = r.integrity;
    if (r.processName) a.processName = r.processName;
    if (r.instance !== undefined) a.processIndex = r.instance;
    return a;
  }

  /** The pid's instance ended without a Process Exit (its PID now names another process). */
  private endInstance(pid: number, ts: number, r: ProcmonRecord, out: ProvEvent[]): void {
    out.push({ kind: "process.exit", ts, pid, at: r.at });
    this.live.delete(pid);
  }

  /**
   * Makes sure the row's process exists: a PID seen first on an ordinary row is a process already
   * running when the capture began. False when the row comes after the process's exit.
   */
  private ensureProcess(r: ProcmonRecord, out: ProvEvent[]): boolean {
    const pid = r.pid;
    const key = r.instance ?? "";
    const liveKey = this.live.get(pid);
    if (liveKey !== undefined && (r.instance === undefined || liveKey === key || liveKey === "")) {
      if (liveKey === "" && r.instance !== undefined) this.live.set(pid, key);
      return true;
    }
    if (liveKey !== undefined) {
      // the PID now names another instance (the export's process list tells them apart)
      this.endInstance(pid, r.ts, r, out);
    } else if (this.isLate(r)) {
      if (!this.lateReported.has(pid)) {
        this.lateReported.add(pid);
        out.push({
          kind: "problem",
          at: r.at,
          message: `${r.operation} of pid ${pid} after its Process Exit: rows of an ended process are left out`,
        });
      }
      return false;
    }
    this.exited.delete(pid);
    const info = r.instance !== undefined ? this.processInfo?.get(r.instance) : undefined;
    const ppid = info?.parentPid ?? r.parentPid ?? null;
    // the process list's start time (often long before the capture) is an attribute: the process
    // enters the graph when the capture first sees it, as it does from a CSV export
    out.push({
      kind: "process.start",
      ts: r.ts,
      pid,
      ppid,
      via: "attach",
      at: r.at,
    });
    this.live.set(pid, key);
    const cmd = info?.commandLine ?? r.commandLine ?? "";
    const exe = info?.imagePath ?? r.imagePath ?? "";
    if (cmd || exe) {
      out.push({
        kind: "process.exec",
        ts: r.ts,
        pid,
        exe: exe || splitWindowsCommandLine(cmd)[0] || "",
        argv: splitWindowsCommandLine(cmd),
        ok: true,
        at: r.at,
        attrs: {
          ...this.processAttrs(r),
          ...(info?.user ? { user: info.user } : {}),
          ...(info?.integrity ? { integrity: info.integrity } : {}),
          startedBeforeCapture: true,
          ...(info?.start ? { createTime: info.start } : {}),
        },
      });
    }
    return true;
  }

  /** A row of a process after its Process Exit (the same instance, or an export without instances). */
  private isLate(r: ProcmonRecord): boolean {
    const key = this.exited.get(r.pid);
    return key !== undefined && (r.instance === undefined || key === r.instance);
  }

  private detail(r: ProcmonRecord): Map<string, string> {
    return typeof r.detail === "string" ? parseDetail(r.detail) : r.detail;
  }

  private registry(r: ProcmonRecord, ok: boolean, out: ProvEvent[]): void {
    const op = r.operation;
    if (r.path.length === 0) return;
    const res = { type: "registry" as const, key: r.path };
    const base = { kind: "access" as const, res, call: op, ts: r.ts, pid: r.pid, at: r.at, ok };
    const errno = ok ? {} : { errno: r.result };
    if (REG_READ.has(op)) out.push({ ...base, op: "read", ...errno });
    else if (REG_DELETE.has(op)) out.push({ ...base, op: "delete", ...errno });
    else if (op === "RegSetValue") {
      const bytes = procmonNumber(this.detail(r).get("Length")) ?? 0;
      out.push({ ...base, op: "write", bytes, ...errno });
    } else if (op === "RegCreateKey") {
      const created = (this.detail(r).get("Disposition") ?? "").includes("REG_CREATED_NEW_KEY");
      out.push({ ...base, op: created ? "create" : "read", ...errno });
    }
  }

  private network(r: ProcmonRecord, ok: boolean, out: ProvEvent[]): void {
    const [proto, verb] = [r.operation.slice(0, 3), r.operation.slice(4)];
    const op = NET_OPS[verb];
    if (!op) return;
    const ends = splitEndpoints(r.path);
    if (!ends) {
      out.push({
        kind: "problem",
        at: r.at,
        message: `${r.operation} path is not "local -> remote"`,
        text: r.path,
      });
      return;
    }
    const family = ends[0].startsWith("[") || ends[1].startsWith("[") ? "inet6" : "inet";
    const bytes = procmonNumber(this.detail(r).get("Length")) ?? 0;
    out.push({
      kind: "socket",
      op,
      res: { type: "socket", family, protocol: proto, local: ends[0], remote: ends[1] },
      call: r.operation,
      ...(op === "connect" ? { address: ends[1] } : {}),
      bytes,
      ts: r.ts,
      pid: r.pid,
      at: r.at,
      ok,
      ...(ok ? {} : { errno: r.result }),
    });
  }

  /** End of input: children created but never started in the capture still get their program. */
  end(out: ProvEvent[], ts: number, at: SourceLocation): void {
    for (const [pid, c] of this.pendingChild) {
      out.push({
        kind: "process.exec",
        ts,
        pid,
        exe: c.exe,
        argv: splitWindowsCommandLine(c.commandLine),
        ok: true,
        at,
      });
    }
    this.pendingChild.clear();
  }
}

// ------------------------------------------------------------------ time

const TIME_RE = /^(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,7}))?(?:\s*([AaPp])\.?[Mm]\.?)?$/;

/** Time of Day (`10:05:49.2746117 PM`, `16:53:03,6001516`) as µs after midnight; null if not a time. */
export function parseTimeOfDay(s: string): number | null {
  const m = TIME_RE.exec(s.trim());
  if (!m) return null;
  let h = Number(m[1]);
  const min = Number(m[2]);
  const sec = Number(m[3]);
  if (m[5]) {
    const pm = m[5] === "P" || m[5] === "p";
    if (h === 12) h = pm ? 12 : 0;
    else if (pm) h += 12;
  }
  if (h > 23 || min > 59 || sec > 60) return null;
  const frac = m[4] ? Number(m[4].padEnd(7, "0")) / 10 : 0;
  return ((h * 60 + min) * 60 + sec) * 1e6 + Math.floor(frac);
}

/**
 * The date of a `Date & Time` value as µs since the epoch at midnight UTC: `10/20/2021 …` (US,
 * month first, unless the first number is over 12), `20.10.2021 …`, `2021-10-20 …`. Null if none.
 */
export function parseProcmonDate(s: string): number | null {
  const t = s.trim();
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})/.exec(t);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) * 1000;
  m = /^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})/.exec(t);
  if (!m) return null;
  let a = Number(m[1]);
  let b = Number(m[3]);
  // month first with slashes (US), day first with dots or dashes, or when the first number cannot be a month
  if (m[2] !== "/" || a > 12) [a, b] = [b, a];
  if (a < 1 || a > 12 || b < 1 || b > 31) return null;
  return Date.UTC(Number(m[4]), a - 1, b) * 1000;
}
