import type { ProvEvent, RunContext } from "../../events/event-types.js";
import { type LocalToUtc, localToUtcConverter } from "../../util/time-zone.js";
import type { LineParser, ParserOptions } from "../source-types.js";
import { splitArgs } from "../strace/strace-args.js";
import { errnoName } from "../syscalls/errno-names.js";
import { SyscallInterpreter } from "../syscalls/syscall-interpreter.js";
import type { StraceNotice, SyscallRecord } from "../syscalls/syscall-record.js";

/**
 * ltrace log lines → SyscallRecords / notices → SyscallInterpreter (no fd decorations).
 *
 * Handles Debian ltrace 0.7.3 (`26354 02:27:26.687662 SYS_brk(0) = 0x… <0.000079>`, `sh->getenv(…`) and
 * Fedora 0.7.91 (`[pid 21366] 08:… brk@SYS(nil) = 0x…`, `libc.so.6->getenv(`), with or without pid and
 * clock, `<unfinished ...>` / `<... f resumed>` pairs, `<no return ...>`, `--- SIGCHLD (Child exited) ---`,
 * `--- Called exec() ---`, `+++ exited (status N) +++`, `+++ killed by SIGX +++`. `#` lines are comments.
 *
 * System calls (`SYS_x`, `x@SYS`) are layer "sys": a return of -1…-4095 is an errno (ltrace prints the raw
 * kernel value). Library calls are layer "lib". An execve without return (`<no return ...>`, or unfinished and
 * followed by `--- Called exec() ---`) succeeded; other calls left without return are incomplete.
 */

/** A called function as ltrace names it: `SYS_openat`, `openat@SYS`, `sh->getenv`, `getenv`. */
export function ltraceCallee(text: string): { name: string; layer: "sys" | "lib" } {
  if (text.startsWith("SYS_")) return { name: text.slice(4), layer: "sys" };
  if (text.endsWith("@SYS")) return { name: text.slice(0, -4), layer: "sys" };
  const arrow = text.lastIndexOf("->");
  if (arrow >= 0) return { name: text.slice(arrow + 2), layer: "lib" };
  const at = text.indexOf("@");
  if (at > 0) return { name: text.slice(0, at), layer: "lib" };
  return { name: text, layer: "lib" };
}

interface Pending {
  name: string;
  layer: "sys" | "lib";
  args: string;
  ts: number;
  line: number;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Parse `HH:MM:SS[.frac]` or `SECONDS.frac` at `s[i]`; returns [µs, index after, kind] or null. */
function readClock(s: string, i: number): [number, number, "tod" | "epoch"] | null {
  let j = i;
  while (j < s.length && isDigit(s.charCodeAt(j))) j++;
  if (j === i) return null;
  if (s.charCodeAt(j) === 58 && j - i === 2) {
    // HH:MM:SS(.uuuuuu)
    if (s.charCodeAt(j + 3) !== 58) return null;
    const h = Number(s.slice(i, j));
    const m = Number(s.slice(j + 1, j + 3));
    const sec = Number(s.slice(j + 4, j + 6));
    let k = j + 6;
    let frac = 0;
    if (s.charCodeAt(k) === 46) {
      const f0 = k + 1;
      k = f0;
      while (k < s.length && isDigit(s.charCodeAt(k))) k++;
      frac = Math.round(Number(`0.${s.slice(f0, k)}`) * 1e6);
    }
    if (s.charCodeAt(k) !== 32 || Number.isNaN(h + m + sec)) return null;
    return [((h * 60 + m) * 60 + sec) * 1e6 + frac, k + 1, "tod"];
  }
  if (s.charCodeAt(j) === 46 && j - i >= 9) {
    let k = j + 1;
    while (k < s.length && isDigit(s.charCodeAt(k))) k++;
    if (s.charCodeAt(k) !== 32) return null;
    return [Number(s.slice(i, j)) * 1e6 + Math.round(Number(`0.${s.slice(j + 1, k)}`) * 1e6), k + 1, "epoch"];
  }
  return null;
}

const DAY_US = 86_400_000_000;

export class LtraceParser implements LineParser {
  private readonly file: string;
  private readonly interp: SyscallInterpreter;
  private readonly defaultPid: number;
  private readonly dayBase: number;
  /** -t/-tt times are local time of the capture machine's zone (`--tz`); null: UTC */
  private readonly toUtc: LocalToUtc | null;
  private lastUtc: number | undefined;
  private lastTod = -1;
  private dayOffset = 0;
  private readonly pending = new Map<string, Pending>();
  private rootCommand: { exe: string; argv: string[] } | undefined;
  /** threads whose SYS_execve ran without return, until `--- Called exec() ---` */
  private readonly sysExec = new Set<number>();
  /** execve calls left unfinished: a following `--- Called exec() ---` completes them */
  private items: Array<SyscallRecord | StraceNotice> = [];
  private problems: ProvEvent[] = [];
  /** counts, for tests and reports */
  readonly stats = {
    lines: 0,
    records: 0,
    notices: 0,
    problems: 0,
    comments: 0,
    orphanResumed: 0,
    outputLines: 0,
  };

  constructor(opts: ParserOptions) {
    this.file = opts.file;
    const ctx: RunContext = opts.ctx;
    this.interp = new SyscallInterpreter({ file: opts.file, ctx, decorations: false });
    let pid = opts.pid;
    if (pid === undefined) {
      const m = /\.ltrace\.(\d+)\.log$/.exec(opts.file);
      if (m) pid = Number(m[1]);
    }
    this.defaultPid = pid ?? 0;
    this.rootCommand = ctx.rootCommand;
    this.dayBase = ctx.date !== undefined ? Date.parse(`${ctx.date}T00:00:00Z`) * 1000 : 0;
    if (Number.isNaN(this.dayBase)) this.dayBase = 0;
    this.toUtc = ctx.tz === undefined ? null : localToUtcConverter(ctx.tz);
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    this.items = [];
    this.problems = [];
    for (let i = 0; i < lines.length; i++) this.line(lines[i] as string, firstLine + i);
    if (this.rootCommand !== undefined && this.items.length > 0) this.injectRootExec();
    const events = this.interp.feed(this.items);
    this.items = [];
    if (this.problems.length === 0) return events;
    const out = this.problems;
    this.problems = [];
    for (const e of events) out.push(e);
    return out;
  }

  end(): ProvEvent[] {
    this.items = [];
    this.problems = [];
    // calls still waiting for their return: the process died or the log was cut
    for (const [key, p] of this.pending) {
      const tid = Number(key.slice(0, key.indexOf(":")));
      this.items.push(this.makeRecord(tid, p, p.args, "?", true));
    }
    this.pending.clear();
    if (this.partial !== undefined) {
      this.problem(
        this.partial.p.line,
        "call cut by program output, its return never came",
        this.partial.text,
      );
      this.partial = undefined;
    }
    const out = this.problems;
    for (const e of this.interp.feed(this.items)) out.push(e);
    for (const e of this.interp.end()) out.push(e);
    this.items = [];
    this.problems = [];
    return out;
  }

  /**
   * ltrace starts the command itself and prints no execve for it: when provflow ran ltrace, it
   * knows the program, and the first process gets it as a successful exec before its first call.
   */
  private injectRootExec(): void {
    const root = this.rootCommand!;
    this.rootCommand = undefined;
    const first = this.items[0]!;
    const q = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
    this.items.unshift({
      tid: first.tid,
      ts: first.ts,
      name: "execve",
      args: [q(root.exe), `[${root.argv.map(q).join(", ")}]`, "0x0"],
      ret: "0",
      retval: 0,
      layer: "sys",
      line: first.line,
    });
  }

  private problem(line: number, message: string, text: string): void {
    this.stats.problems++;
    this.problems.push({
      kind: "problem",
      at: { file: this.file, line },
      message,
      text: text.length > 200 ? `${text.slice(0, 200)}…` : text,
    });
  }

  private clock(us: number, kind: "tod" | "epoch"): number {
    if (kind === "epoch") return us;
    // time of day: add the run's date, and a day at each midnight roll-over
    if (this.lastTod >= 0 && us + DAY_US / 2 < this.lastTod) this.dayOffset += DAY_US;
    this.lastTod = us;
    const local = this.dayBase + this.dayOffset + us;
    if (this.toUtc === null) return local;
    this.lastUtc = this.toUtc(local, this.lastUtc);
    return this.lastUtc;
  }

  private line(text: string, lineNo: number): void {
    this.stats.lines++;
    let s = text;
    if (s.length > 0 && s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1);
    let i = 0;
    while (i < s.length && s.charCodeAt(i) === 32) i++;
    if (i >= s.length) return;
    if (s.charCodeAt(i) === 35) {
      this.stats.comments++;
      return;
    }
    let tid = this.defaultPid;
    // prefix: "[pid N] " or "N " (then a clock or a call)
    if (s.startsWith("[pid ", i)) {
      const close = s.indexOf("]", i);
      const v = Number(s.slice(i + 5, close).trim());
      if (close < 0 || Number.isNaN(v)) {
        this.problem(lineNo, "unreadable [pid N] prefix", text);
        return;
      }
      tid = v;
      i = close + 1;
      while (s.charCodeAt(i) === 32) i++;
    } else if (isDigit(s.charCodeAt(i))) {
      let j = i;
      while (j < s.length && isDigit(s.charCodeAt(j))) j++;
      if (s.charCodeAt(j) === 32) {
        // "PID " unless it is a clock (HH:… has a colon right after two digits, epoch has a dot)
        tid = Number(s.slice(i, j));
        i = j;
        while (s.charCodeAt(i) === 32) i++;
      }
    }
    let ts = lineNo;
    const ck = readClock(s, i);
    if (ck !== null) {
      ts = this.clock(ck[0], ck[2]);
      i = ck[1];
      while (s.charCodeAt(i) === 32) i++;
    }
    const body = i === 0 ? s : s.slice(i);
    this.body(body, tid, ts, lineNo, text);
  }

  /**
   * A call line cut by the traced program's own output (ltrace writing to the terminal): the call's text,
   * waiting for the line that starts with `)` and carries ` = RET`. Lines in between are program output.
   */
  private partial: { tid: number; p: Pending; text: string; lines: number } | undefined;

  private body(b: string, tid: number, ts: number, lineNo: number, text: string): void {
    const part = this.partial;
    if (part !== undefined) {
      const t = text.trimStart();
      if (t.charCodeAt(0) === 41 && t.indexOf(" = ") > 0) {
        this.partial = undefined;
        this.complete(part.tid, { ...part.p, args: "" }, `${part.p.args})${t.slice(1)}`, lineNo, text, true);
        return;
      }
      if (!this.looksLikeCall(b)) {
        part.lines++;
        this.stats.outputLines++;
        if (part.lines < 10000) return;
      }
      this.partial = undefined;
      this.problem(part.p.line, "call cut by program output, its return never came", part.text);
    }
    this.body2(b, tid, ts, lineNo, text);
  }

  /** a line ltrace itself wrote (a call, a resumed half, a notice) rather than program output */
  private looksLikeCall(b: string): boolean {
    if (b.startsWith("--- ") || b.startsWith("+++ ") || b.startsWith("<... ")) return true;
    const paren = b.indexOf("(");
    return paren > 0 && b.slice(0, paren).indexOf(" ") < 0 && (b.indexOf(" = ") > 0 || b.endsWith("...>"));
  }

  private body2(b: string, tid: number, ts: number, lineNo: number, text: string): void {
    if (b.startsWith("--- ")) {
      if (b.startsWith("--- Called exec() ---")) {
        this.calledExec(tid, ts, lineNo);
        return;
      }
      const sp = b.indexOf(" ", 4);
      const end = b.lastIndexOf(" ---");
      if (sp < 0 || end < sp) {
        this.problem(lineNo, "unreadable signal line", text);
        return;
      }
      this.stats.notices++;
      this.items.push({
        type: "signal",
        tid,
        ts,
        signal: b.slice(4, sp),
        info: b.slice(sp + 1, end),
        line: lineNo,
      });
      return;
    }
    if (b.startsWith("+++ ")) {
      if (b.startsWith("+++ exited (status ")) {
        const code = Number.parseInt(b.slice(19), 10);
        if (!Number.isNaN(code)) {
          this.stats.notices++;
          this.items.push({ type: "exited", tid, ts, code, line: lineNo });
          return;
        }
      } else if (b.startsWith("+++ killed by ")) {
        let j = 14;
        while (j < b.length && b.charCodeAt(j) !== 32) j++;
        this.stats.notices++;
        this.items.push({
          type: "killed",
          tid,
          ts,
          signal: b.slice(14, j),
          coreDumped: b.indexOf("core dumped") > 0,
          line: lineNo,
        });
        return;
      }
      this.problem(lineNo, "unreadable exit line", text);
      return;
    }
    if (b.startsWith("<... ")) {
      const close = b.indexOf(" resumed>", 5);
      if (close < 0) {
        this.problem(lineNo, "unreadable resumed line", text);
        return;
      }
      const callee = ltraceCallee(b.slice(5, close));
      const key = `${tid}:${callee.name}`;
      let p = this.pending.get(key);
      if (p === undefined) {
        // ltrace prints the child's side of fork/clone, and some resumed halves after an exec, alone:
        // the call and its return are still known
        this.stats.orphanResumed++;
        p = { name: callee.name, layer: callee.layer, args: "", ts, line: lineNo };
      } else this.pending.delete(key);
      this.complete(tid, p, b.slice(close + 9), lineNo, text);
      return;
    }
    const paren = b.indexOf("(");
    if (paren <= 0) {
      this.problem(lineNo, "unrecognised ltrace line", text);
      return;
    }
    const calleeText = b.slice(0, paren);
    if (calleeText.indexOf(" ") >= 0) {
      this.problem(lineNo, "unrecognised ltrace line", text);
      return;
    }
    const callee = ltraceCallee(calleeText);
    const p: Pending = { name: callee.name, layer: callee.layer, args: "", ts, line: lineNo };
    if (b.endsWith(" <unfinished ...>")) {
      p.args = b.slice(paren + 1, b.length - 17);
      if (callee.name === "__libc_start_main") {
        // never returns (it calls main then exit): take it now, its argv names the program
        this.items.push(this.makeRecord(tid, p, p.args, "?", false));
        return;
      }
      const key = `${tid}:${callee.name}`;
      const old = this.pending.get(key);
      if (old !== undefined) this.items.push(this.makeRecord(tid, old, old.args, "?", true));
      this.pending.set(key, p);
      return;
    }
    if (b.endsWith(" <no return ...>")) {
      const args = b.slice(paren + 1, b.length - 16);
      if (callee.name === "execve" || callee.name === "execveat") {
        if (callee.layer === "sys") this.sysExec.add(tid);
        this.items.push(this.makeRecord(tid, p, args, "0", false));
      } else this.items.push(this.makeRecord(tid, p, args, "?", true));
      return;
    }
    this.complete(tid, p, b.slice(paren + 1), lineNo, text);
  }

  /** `ARGS) = RET <dur>` (the text after the call's opening parenthesis, or after `resumed>`) */
  private complete(
    tid: number,
    p: Pending,
    rest: string,
    lineNo: number,
    text: string,
    joined = false,
  ): void {
    const eq = rest.lastIndexOf(" = ");
    if (eq < 0) {
      if (!joined) {
        this.partial = { tid, p: { ...p, args: p.args + rest }, text, lines: 0 };
        return;
      }
      this.problem(lineNo, "call without return value", text);
      return;
    }
    // a " = " inside program output glued to the line is not the return: a return is a number, nil,
    // <void>, a string, a struct, or one word
    const r0 = rest.charCodeAt(eq + 3);
    if (
      !joined &&
      ((r0 >= 65 && r0 <= 90) || (r0 >= 97 && r0 <= 122)) &&
      /[ (]/.test(rest.slice(eq + 3).replace(/ <[\d.]+>$/, ""))
    ) {
      this.partial = { tid, p: { ...p, args: p.args + rest }, text, lines: 0 };
      return;
    }
    const close = rest.lastIndexOf(")", eq);
    if (close < 0) {
      this.problem(lineNo, "call without closing parenthesis", text);
      return;
    }
    const args = p.args.length > 0 ? `${p.args}${rest.slice(0, close)}` : rest.slice(0, close);
    let ret = rest.slice(eq + 3).trim();
    let dur: number | undefined;
    if (ret.endsWith(">")) {
      const lt = ret.lastIndexOf(" <");
      if (lt > 0) {
        const d = Number(ret.slice(lt + 2, -1));
        if (!Number.isNaN(d)) {
          dur = Math.round(d * 1e6);
          ret = ret.slice(0, lt).trim();
        }
      }
    }
    const r = this.makeRecord(tid, p, args, ret, false);
    if (dur !== undefined) r.dur = dur;
    this.items.push(r);
  }

  private makeRecord(
    tid: number,
    p: Pending,
    argsText: string,
    ret: string,
    incomplete: boolean,
  ): SyscallRecord {
    this.stats.records++;
    const t = argsText.trim();
    const r: SyscallRecord = {
      tid,
      ts: p.ts,
      name: p.name,
      args: t.length > 0 ? splitArgs(t) : [],
      ret,
      layer: p.layer,
      line: p.line,
    };
    if (incomplete) {
      r.incomplete = true;
      return r;
    }
    const c = ret.charCodeAt(0);
    if (isDigit(c) || c === 45) {
      const v = ret.startsWith("0x") ? Number.parseInt(ret.slice(2), 16) : Number.parseInt(ret, 10);
      if (!Number.isNaN(v)) {
        r.retval = v;
        if (p.layer === "sys" && v < 0 && v >= -4095) r.errno = errnoName(-v);
      }
    }
    return r;
  }

  private calledExec(tid: number, ts: number, lineNo: number): void {
    // with -S the kernel's execve (with its path) was already taken: the library call wrapping it
    // is the same exec, not a second one
    const sysDone = this.sysExec.delete(tid);
    for (const name of ["execve", "execveat"]) {
      const key = `${tid}:${name}`;
      const p = this.pending.get(key);
      if (p !== undefined) {
        this.pending.delete(key);
        if (!sysDone) this.items.push(this.makeRecord(tid, p, p.args, "0", false));
        return;
      }
    }
    void ts;
    void lineNo;
  }
}
