import { basename } from "node:path";
import type { ProvEvent, SourceLocation } from "../../events/event-types.js";
import { splitWindowsCommandLine } from "../../graph/windows-path.js";
import type { LineParser } from "../source-types.js";

/** `Thrd <tid> <caller> Api(in args) [-> ret] [( out args )]`, the line of a logexts text log. */
export const LOGEXTS_LINE = /^Thrd ([0-9a-fA-F]{1,8}) ([0-9a-fA-F]{8,16}) ([A-Za-z_][\w@]*)\((.*)$/;

export interface LogextsCall {
  tid: number;
  api: string;
  args: string[];
  ret: string | null;
}

/** Splits at commas outside double quotes and brackets; blanks trimmed, quotes removed. */
export function splitLogextsArgs(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q = false;
  let depth = 0;
  for (const c of s) {
    if (c === '"') q = !q;
    else if (!q && (c === "[" || c === "(")) depth++;
    else if (!q && (c === "]" || c === ")")) depth--;
    if (c === "," && !q && depth <= 0) {
      out.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  if (cur.trim().length > 0 || out.length > 0) out.push(cur);
  return out.map((a) => {
    const t = a.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
  });
}

/** One logexts line as a call; null when it is not one. */
export function parseLogextsLine(line: string): LogextsCall | null {
  const m = LOGEXTS_LINE.exec(line);
  if (!m) return null;
  const rest = m[4]!;
  // the in-arguments end at the parenthesis that closes the call (quotes may hold parentheses)
  let depth = 1;
  let q = false;
  let end = -1;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (c === '"') q = !q;
    else if (!q && c === "(") depth++;
    else if (!q && c === ")" && --depth === 0) {
      end = i;
      break;
    }
  }
  if (end < 0) return null;
  const after = rest.slice(end + 1);
  const r = /^\s*->\s*(\S+)/.exec(after);
  return {
    tid: Number.parseInt(m[1]!, 16),
    api: m[3]!,
    args: splitLogextsArgs(rest.slice(0, end)),
    ret: r ? r[1]! : null,
  };
}

const FAILED_HANDLE = new Set([
  "INVALID_HANDLE_VALUE",
  "0xFFFFFFFF",
  "0xFFFFFFFFFFFFFFFF",
  "NULL",
  "0x00000000",
]);

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.replace(/^\[|\]$/g, "").trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return Number.parseInt(t, 16);
  if (/^\d+$/.test(t)) return Number(t);
  return undefined;
}

function truthy(ret: string | null): boolean {
  if (ret === null) return true;
  const n = num(ret);
  return ret === "TRUE" || (n !== undefined && n !== 0);
}

/**
 * CDB/WinDbg Logger (`logexts`) text logs, best effort from the documented grammar: one log per
 * process (its name, `notepad.exe.txt`, names the program), no PID and no clock in the lines (the
 * line number stands in for time). CreateFileA/W opens (handle → path table), ReadFile/WriteFile
 * through the handle, CloseHandle, DeleteFileA/W, MoveFileA/W(Ex), CreateProcessA/W (a child with
 * a stand-in PID, since the PID is an out-parameter), connect. Other lines (CDB prompts,
 * ModLoad) are not calls and are left out; a `Thrd` line that cannot be read is a problem.
 */
export class LogextsParser implements LineParser {
  private readonly handles = new Map<string, string>();
  private started = false;
  private readonly pid: number;
  private nextChild: number;
  calls = 0;

  constructor(
    private readonly file: string,
    pid: number | undefined,
  ) {
    this.pid = pid ?? 1;
    this.nextChild = this.pid * 1000 + 1;
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    const out: ProvEvent[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (!line.startsWith("Thrd ")) continue;
      const lineNo = firstLine + i;
      const at: SourceLocation = { file: this.file, line: lineNo };
      const c = parseLogextsLine(line);
      if (!c) {
        out.push({ kind: "problem", at, message: "not a logexts call line", text: line.slice(0, 200) });
        continue;
      }
      this.calls++;
      this.call(c, lineNo, at, out);
    }
    return out;
  }

  private ensureStarted(ts: number, at: SourceLocation, out: ProvEvent[]): void {
    if (this.started) return;
    this.started = true;
    const exe = basename(this.file.replace(/\\/g, "/")).replace(/\.(txt|log)$/i, "");
    out.push({ kind: "process.start", ts, pid: this.pid, ppid: null, via: "root", at });
    out.push({ kind: "process.exec", ts, pid: this.pid, exe, argv: [exe], ok: true, at });
  }

  private call(c: LogextsCall, ts: number, at: SourceLocation, out: ProvEvent[]): void {
    this.ensureStarted(ts, at, out);
    const pid = this.pid;
    const tid = c.tid;
    const api = c.api.replace(/[AW]$/, "");
    const a = c.args;
    switch (api) {
      case "CreateFile": {
        const path = a[0];
        if (!path) return;
        const ok = c.ret !== null && !FAILED_HANDLE.has(c.ret);
        const access = a[1] ?? "";
        const n = num(access) ?? 0;
        const read =
          /GENERIC_READ|FILE_READ|GENERIC_ALL/.test(access) ||
          (n & 0x80000000) !== 0 ||
          (n & 0x10000000) !== 0;
        const write =
          /GENERIC_WRITE|FILE_WRITE|FILE_APPEND|GENERIC_ALL/.test(access) || (n & 0x40000000) !== 0;
        const disp = a[4] ?? "";
        const create = /CREATE_NEW|CREATE_ALWAYS/.test(disp) || num(disp) === 1 || num(disp) === 2;
        const truncate = /TRUNCATE_EXISTING|CREATE_ALWAYS/.test(disp);
        out.push({
          kind: "access",
          op: "open",
          res: { type: "file", path },
          call: c.api,
          ts,
          pid,
          tid,
          at,
          ok,
          read: read || !write,
          write,
          create,
          truncate,
          ...(ok ? {} : { errno: c.ret ?? "failed" }),
        });
        if (ok) this.handles.set(c.ret!, path);
        return;
      }
      case "ReadFile":
      case "WriteFile": {
        const path = this.handles.get(a[0] ?? "");
        if (!path) return;
        out.push({
          kind: "access",
          op: api === "ReadFile" ? "read" : "write",
          res: { type: "file", path },
          call: c.api,
          bytes: num(a[2]) ?? 0,
          ts,
          pid,
          tid,
          at,
          ok: truthy(c.ret),
        });
        return;
      }
      case "CloseHandle":
        this.handles.delete(a[0] ?? "");
        return;
      case "DeleteFile":
        if (a[0])
          out.push({
            kind: "access",
            op: "delete",
            res: { type: "file", path: a[0] },
            call: c.api,
            ts,
            pid,
            tid,
            at,
            ok: truthy(c.ret),
          });
        return;
      case "MoveFile":
      case "MoveFileEx":
        if (a[0] && a[1])
          out.push({
            kind: "rename",
            from: a[0],
            to: a[1],
            call: c.api,
            ts,
            pid,
            tid,
            at,
            ok: truthy(c.ret),
          });
        return;
      case "CreateProcess": {
        if (!truthy(c.ret)) return;
        const cmd = a[1] && a[1] !== "NULL" ? a[1] : (a[0] ?? "");
        const argv = splitWindowsCommandLine(cmd);
        const exe = a[0] && a[0] !== "NULL" ? a[0] : (argv[0] ?? "");
        const child = this.nextChild++;
        out.push({ kind: "process.start", ts, pid: child, ppid: pid, via: "create", at });
        out.push({
          kind: "process.exec",
          ts,
          pid: child,
          exe,
          argv,
          ok: true,
          at,
          attrs: { pidUnknown: true },
        });
        return;
      }
      case "connect": {
        const addr = a[1];
        if (!addr) return;
        out.push({
          kind: "socket",
          op: "connect",
          res: { type: "socket", family: "inet", protocol: "TCP", remote: addr.replace(/^\[|\]$/g, "") },
          call: c.api,
          address: addr,
          ts,
          pid,
          tid,
          at,
          ok: c.ret === "0" || c.ret === "0x00000000" || c.ret === null,
        });
        return;
      }
    }
  }

  end(): ProvEvent[] {
    if (this.calls === 0) {
      return [
        {
          kind: "problem",
          at: { file: this.file, line: 1 },
          message: "no logexts call lines (`Thrd <tid> <addr> Api(...)`) in the input",
        },
      ];
    }
    return [];
  }
}
