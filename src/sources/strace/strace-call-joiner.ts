/**
 * Stateful stage after the line parser: joins `<unfinished ...>` with `<... NAME resumed>` per
 * tid, stitches lines cut by program output or by a spliced `strace: Process N attached`
 * (stderr style), learns the pid of the unprefixed first process, and emits SyscallRecord /
 * StraceNotice / problems in order of completion.
 */
import type { StraceNotice, SyscallRecord } from "../syscalls/syscall-record.js";
import { splitArgs } from "./strace-args.js";
import type { MergedLine } from "./strace-ff-merge.js";
import {
  type ClockStyle,
  createLineState,
  type LineStyleState,
  NO_PID,
  parseLineInto,
  RawLine,
} from "./strace-line-parser.js";

/** pid given to the unprefixed first process when the log never reveals it */
export const UNKNOWN_TOP_PID = 0;
/** internal stand-in while the first process's pid is being learned */
const PLACEHOLDER = -2;

export interface StraceProblem {
  type: "problem";
  line: number;
  message: string;
  /** the offending text, at most 200 characters */
  text: string;
  file?: string;
}

export type JoinerItem = SyscallRecord | StraceNotice | StraceProblem;

/** true for SyscallRecord (notices and problems carry a `type`) */
export function isSyscallRecord(item: JoinerItem): item is SyscallRecord {
  return (item as { type?: unknown }).type === undefined;
}

export interface JoinerOptions {
  /** YYYY-MM-DD added to -t/-tt timestamps */
  date?: string;
  /** the capture machine's zone: -t/-tt timestamps are its local time (default UTC) */
  tz?: string;
  /** pid of the first process when known (dockit .ini `TopProcessId=`); the log wins if it shows another */
  topPid?: number;
  /** -ff file: every line without a pid belongs to this one */
  ffPid?: number;
  /** items held back at most while the first process's pid is unknown (default 50,000) */
  maxHold?: number;
  /** file name put in problems */
  file?: string;
  /**
   * How many leading arguments of a call named `name` its consumer reads; the rest are not split
   * (records then carry only those). Default: every argument.
   */
  argLimit?: (name: string) => number;
}

const ALL_ARGS = 0x7fffffff;

export interface JoinerStats {
  lines: number;
  records: number;
  notices: number;
  problems: number;
  /** `<... x resumed>` without its unfinished half (attach mode) */
  orphanResumed: number;
  /** unfinished calls flushed as incomplete (process died, end of log, detach) */
  incompleteFlushed: number;
  /** lines put back together after a cut */
  stitched: number;
}

interface Pending {
  name: string;
  args: string;
  ts: number;
  line: number;
}

interface Carry {
  text: string;
  line: number;
  ts: number;
  /** cut by a spliced strace message (else by program output) */
  spliced: boolean;
  /** lines appended so far */
  appended: number;
  /** other records seen since the cut */
  age: number;
  file: string | undefined;
}

const CLONE_NAMES = new Set(["clone", "clone3", "fork", "vfork"]);
const MAX_CARRY_LINES = 10_000;
const MAX_CARRY_AGE = 64;
const MAX_CARRY_CHARS = 1 << 20;

function cut(text: string): string {
  return text.length > 200 ? text.slice(0, 200) : text;
}

function joinArgs(a: string, b: string): string {
  let ae = a.length;
  while (ae > 0 && a.charCodeAt(ae - 1) === 32) ae--;
  let bs = 0;
  while (bs < b.length && b.charCodeAt(bs) === 32) bs++;
  if (ae === 0) return bs === 0 ? b : b.slice(bs);
  if (bs === b.length) return ae === a.length ? a : a.slice(0, ae);
  return `${a.slice(0, ae)} ${b.slice(bs)}`;
}

/** `46dot - graphviz version…` → `46`: program output glued to the last (numeric) argument */
function trimGluedNumber(arg: string): string {
  let i = 0;
  if (arg.charCodeAt(0) === 45) i = 1;
  const d0 = i;
  if (arg.charCodeAt(i) === 48 && arg.charCodeAt(i + 1) === 120) {
    i += 2;
    while (i < arg.length && /[0-9a-fA-F]/.test(arg[i] as string)) i++;
  } else {
    while (i < arg.length && arg.charCodeAt(i) >= 48 && arg.charCodeAt(i) <= 57) i++;
  }
  if (i === d0 || i === arg.length) return arg;
  const c = arg.charCodeAt(i);
  if (c === 60 /* < */ || c === 32 || c === 47 /* comment */) return arg;
  return arg.slice(0, i);
}

export class StraceCallJoiner {
  readonly state: LineStyleState;
  readonly stats: JoinerStats = {
    lines: 0,
    records: 0,
    notices: 0,
    problems: 0,
    orphanResumed: 0,
    incompleteFlushed: 0,
    stitched: 0,
  };
  private readonly pending = new Map<number, Pending>();
  private out: JoinerItem[] = [];
  private carry: Carry | null = null;
  private readonly ffPid: number | undefined;
  private readonly givenTop: number | undefined;
  private readonly maxHold: number;
  private readonly file: string | undefined;
  private readonly argLimit: ((name: string) => number) | undefined;
  /** resolved pid of the unprefixed process */
  private top: number | undefined;
  /** held items while `top` is unknown; null when not holding */
  private hold: JoinerItem[] | null = null;
  private sawUnprefixed = false;
  private sawBracket = false;
  /** the log has -T durations */
  private sawDur = false;
  private readonly children = new Set<number>();
  /** after giving up learning: a pid seen later as the top maps to the one already used */
  private aliasFrom = NO_PID;
  private aliasTo = NO_PID;
  private curFile: string | undefined;
  private readonly raw = new RawLine();
  private readonly raw2 = new RawLine();

  constructor(opts: JoinerOptions = {}) {
    this.state = createLineState(opts.date, opts.tz);
    this.ffPid = opts.ffPid;
    this.givenTop = opts.topPid;
    this.maxHold = opts.maxHold ?? 50_000;
    this.file = opts.file;
    this.argLimit = opts.argLimit;
    this.curFile = opts.file;
    if (opts.ffPid !== undefined) this.top = opts.ffPid;
  }

  /** the clock the log uses ("none" until a timestamp is seen) */
  get clock(): ClockStyle {
    return this.state.clock ?? "none";
  }

  /** the pid of the first (unprefixed) process once known */
  get topPid(): number | undefined {
    return this.top;
  }

  /** Feed a batch of lines; `firstLine` is the 1-based number of lines[0]. */
  push(lines: readonly string[], firstLine: number): JoinerItem[] {
    this.out = [];
    for (let k = 0; k < lines.length; k++) this.feed(lines[k] as string, firstLine + k, NO_PID);
    return this.out;
  }

  /**
   * Feed lines that carry their pid apart from the text (merged -ff files). `pids[k]` is used
   * for lines without a prefix; `files[k]` names the file in problems.
   */
  pushWithPids(
    lines: readonly string[],
    lineNos: readonly number[],
    pids: readonly number[],
    files?: readonly string[],
  ): JoinerItem[] {
    this.out = [];
    for (let k = 0; k < lines.length; k++) {
      if (files !== undefined) this.curFile = files[k];
      this.feed(lines[k] as string, lineNos[k] as number, pids[k] as number);
    }
    return this.out;
  }

  /** Feed a batch from `mergeFfFiles` (the pid of each line comes from its file name). */
  pushMerged(batch: readonly MergedLine[]): JoinerItem[] {
    this.out = [];
    for (let k = 0; k < batch.length; k++) {
      const m = batch[k] as MergedLine;
      this.curFile = m.file;
      this.feed(m.line, m.lineNo, m.pid);
    }
    return this.out;
  }

  /** End of input: cut lines, unfinished calls (as incomplete) and held items. */
  end(): JoinerItem[] {
    this.out = [];
    if (this.carry !== null) {
      this.problem(this.carry.line, "call line cut and never completed (truncated log?)", this.carry.text);
      this.carry = null;
    }
    for (const [tid, p] of this.pending) this.flushPending(tid, p);
    this.pending.clear();
    if (this.hold !== null) this.resolveTop(this.givenTop ?? UNKNOWN_TOP_PID, false);
    return this.out;
  }

  // ---------------------------------------------------------------------------------------------

  private feed(text: string, lineNo: number, pidOverride: number): void {
    this.stats.lines++;
    const r = this.raw;
    parseLineInto(text, this.state, lineNo, r);
    if (pidOverride !== NO_PID && r.pid === NO_PID && r.kind !== "attached" && r.kind !== "detached") {
      r.pid = pidOverride;
    }
    const carry = this.carry;
    if (carry !== null) {
      if (r.kind === "garbage") {
        this.continueCarry(carry, text, lineNo, pidOverride);
        return;
      }
      if (r.kind !== "empty" && ++carry.age > MAX_CARRY_AGE) {
        this.problem(carry.line, "call line cut and never completed", carry.text);
        this.carry = null;
      }
    }
    if (r.kind === "partial") {
      if (this.carry !== null) {
        this.problem(this.carry.line, "call line cut and never completed", this.carry.text);
      }
      this.carry = {
        text: r.text,
        line: lineNo,
        ts: r.ts,
        spliced: r.splicedWhat !== "",
        appended: 0,
        age: 0,
        file: this.curFile,
      };
      if (r.splicedWhat !== "") this.spliced(r.splicedWhat, r.splicedPid, r.ts, lineNo);
      return;
    }
    this.handle(r, lineNo, false);
  }

  /** a line that continues the cut call line (or program output inside it) */
  private continueCarry(carry: Carry, text: string, lineNo: number, pidOverride: number): void {
    carry.text += text;
    carry.appended++;
    const c0 = text.charCodeAt(0);
    // a cut by program output ends with `) = N` (after the output's last line)
    if (!carry.spliced && c0 !== 41 && text.indexOf(" = ") < 0) {
      this.checkCarryLimits(carry);
      return;
    }
    const re = this.raw2;
    const relSave = this.state.relUs;
    parseLineInto(carry.text, this.state, carry.line, re);
    this.state.relUs = relSave;
    if (re.kind === "partial") {
      if (re.splicedWhat !== "") {
        carry.text = re.text;
        carry.spliced = true;
        this.spliced(re.splicedWhat, re.splicedPid, re.ts, lineNo);
      }
      this.checkCarryLimits(carry);
      return;
    }
    // program output that looks like a call end (`… = 32`) without the -T duration the log has
    if (
      !carry.spliced &&
      c0 !== 41 &&
      this.sawDur &&
      (re.kind === "call" || re.kind === "resumed") &&
      re.dur < 0
    ) {
      this.checkCarryLimits(carry);
      return;
    }
    this.carry = null;
    if (re.kind === "garbage") {
      this.problem(carry.line, re.message, carry.text);
      return;
    }
    if (pidOverride !== NO_PID && re.pid === NO_PID) re.pid = pidOverride;
    re.ts = carry.ts;
    this.stats.stitched++;
    this.handle(re, carry.line, !carry.spliced);
  }

  private checkCarryLimits(carry: Carry): void {
    if (carry.appended > MAX_CARRY_LINES || carry.text.length > MAX_CARRY_CHARS) {
      this.problem(carry.line, "call line cut and never completed", carry.text);
      this.carry = null;
    }
  }

  private spliced(what: "attached" | "detached", pid: number, ts: number, lineNo: number): void {
    const m = new RawLine();
    m.kind = what;
    m.pid = pid;
    m.ts = ts;
    this.handle(m, lineNo, false);
  }

  private resolvePid(pid: number): number {
    if (pid === NO_PID) return this.top ?? PLACEHOLDER;
    if (pid === this.aliasFrom) return this.aliasTo;
    return pid;
  }

  /** learning the unprefixed process's pid from a line with a pid */
  private learnFromPrefixed(r: RawLine): void {
    const pid = r.pid;
    if (r.kind === "attached") {
      if (!this.sawUnprefixed && !this.sawBracket) {
        if (this.top === undefined) this.top = pid;
      } else this.children.add(pid);
      return;
    }
    this.sawBracket = true;
    if (!this.sawUnprefixed || this.top !== undefined || this.children.has(pid)) return;
    const ph = this.pending.get(PLACEHOLDER);
    if (r.kind === "resumed") {
      if (ph !== undefined && ph.name === r.name && !this.pending.has(pid)) this.resolveTop(pid, true);
      return;
    }
    // a clone in flight in the first process: its child may speak before the parent returns
    if (ph !== undefined && CLONE_NAMES.has(ph.name)) return;
    this.resolveTop(pid, true);
  }

  private resolveTop(pid: number, learned: boolean): void {
    if (this.top !== undefined) {
      if (learned && pid !== this.top) {
        this.aliasFrom = pid;
        this.aliasTo = this.top;
      }
      return;
    }
    this.top = pid;
    const p = this.pending.get(PLACEHOLDER);
    if (p !== undefined) {
      this.pending.delete(PLACEHOLDER);
      this.pending.set(pid, p);
    }
    const held = this.hold;
    this.hold = null;
    if (held !== null) {
      for (const item of held) {
        if ((item as { tid?: number }).tid === PLACEHOLDER) (item as { tid: number }).tid = pid;
        this.out.push(item);
      }
    }
  }

  private emit(item: JoinerItem): void {
    if (this.hold !== null) {
      this.hold.push(item);
      if (this.hold.length > this.maxHold) {
        // give up learning: use the given pid (or the unknown one) from now on
        this.resolveTop(this.givenTop ?? UNKNOWN_TOP_PID, false);
      }
    } else this.out.push(item);
  }

  private problem(line: number, message: string, text: string): void {
    this.stats.problems++;
    const p: StraceProblem = { type: "problem", line, message, text: cut(text) };
    const file = this.curFile ?? this.file;
    if (file !== undefined) p.file = file;
    this.emit(p);
  }

  private flushPending(tid: number, p: Pending): void {
    this.stats.incompleteFlushed++;
    this.record(tid, p.ts, p.name, p.args, "?", Number.NaN, "", -1, true, p.line, false);
  }

  private record(
    tid: number,
    ts: number,
    name: string,
    argsText: string,
    ret: string,
    retval: number,
    errno: string,
    dur: number,
    incomplete: boolean,
    line: number,
    fixLast: boolean,
  ): void {
    // a stitched line's last argument may need trimming: split it whole
    const max = fixLast || this.argLimit === undefined ? ALL_ARGS : this.argLimit(name);
    const args = splitArgs(argsText, 0, argsText.length, max);
    if (fixLast && args.length > 0) {
      const last = args.length - 1;
      args[last] = trimGluedNumber(args[last] as string);
    }
    if (dur >= 0) this.sawDur = true;
    // one object shape for every record (absent optional fields are undefined)
    const rec: SyscallRecord = {
      tid,
      ts,
      name,
      args,
      ret,
      retval: Number.isNaN(retval) ? undefined : retval,
      errno: errno === "" ? undefined : errno,
      dur: dur < 0 ? undefined : dur,
      incomplete: incomplete ? true : undefined,
      line,
    };
    this.stats.records++;
    this.emit(rec);
  }

  private notice(n: StraceNotice): void {
    this.stats.notices++;
    this.emit(n);
  }

  private handle(r: RawLine, lineNo: number, fixLast: boolean): void {
    if (r.kind === "empty") return;
    if (r.kind === "garbage") {
      this.problem(lineNo, r.message, r.text);
      return;
    }
    if (r.kind === "message") return;
    if (this.top === undefined) {
      if (r.pid === NO_PID) {
        if (r.kind !== "attached" && r.kind !== "detached") {
          this.sawUnprefixed = true;
          if (this.hold === null) this.hold = [];
        }
      } else this.learnFromPrefixed(r);
    }
    const tid = r.kind === "attached" || r.kind === "detached" ? r.pid : this.resolvePid(r.pid);
    switch (r.kind) {
      case "call": {
        if (tid === PLACEHOLDER && r.retval > 0 && CLONE_NAMES.has(r.name)) this.children.add(r.retval);
        this.record(
          tid,
          r.ts,
          r.name,
          r.args,
          r.ret,
          r.retval,
          r.errno,
          r.dur,
          r.incomplete,
          lineNo,
          fixLast,
        );
        return;
      }
      case "unfinished": {
        if (r.detached) {
          this.stats.incompleteFlushed++;
          this.record(tid, r.ts, r.name, r.args, "?", Number.NaN, "", -1, true, lineNo, fixLast);
          return;
        }
        const old = this.pending.get(tid);
        if (old !== undefined) {
          this.problem(old.line, `unfinished ${old.name} never resumed before another call`, old.name);
          this.flushPending(tid, old);
        }
        this.pending.set(tid, { name: r.name, args: r.args, ts: r.ts, line: lineNo });
        return;
      }
      case "resumed": {
        const p = this.pending.get(tid);
        if (p !== undefined && p.name === r.name) {
          const args = joinArgs(p.args, r.args);
          if (r.unfinished) {
            p.args = args;
            return;
          }
          this.pending.delete(tid);
          if (tid === PLACEHOLDER && r.retval > 0 && CLONE_NAMES.has(r.name)) this.children.add(r.retval);
          this.record(
            tid,
            p.ts,
            r.name,
            args,
            r.ret,
            r.retval,
            r.errno,
            r.dur,
            r.incomplete,
            p.line,
            fixLast,
          );
          return;
        }
        if (p !== undefined) {
          this.problem(lineNo, `${r.name} resumed while ${p.name} was unfinished`, r.name);
          this.pending.delete(tid);
          this.flushPending(tid, p);
        }
        this.stats.orphanResumed++;
        if (r.unfinished) {
          this.pending.set(tid, { name: r.name, args: r.args, ts: r.ts, line: lineNo });
          return;
        }
        this.record(
          tid,
          r.ts,
          r.name,
          r.args,
          r.ret,
          r.retval,
          r.errno,
          r.dur,
          r.incomplete,
          lineNo,
          fixLast,
        );
        return;
      }
      case "signal":
        this.notice({ type: "signal", tid, ts: r.ts, signal: r.signal, info: r.info, line: lineNo });
        return;
      case "exited":
      case "killed": {
        const p = this.pending.get(tid);
        if (p !== undefined) {
          this.pending.delete(tid);
          this.flushPending(tid, p);
        }
        if (r.kind === "exited") {
          this.notice({ type: "exited", tid, ts: r.ts, code: r.code, line: lineNo });
        } else {
          this.notice({
            type: "killed",
            tid,
            ts: r.ts,
            signal: r.signal,
            coreDumped: r.coreDumped,
            line: lineNo,
          });
        }
        return;
      }
      case "superseded": {
        // the execve of thread byPid completes as the leader `tid`
        const own = this.pending.get(tid);
        if (own !== undefined) {
          this.pending.delete(tid);
          this.flushPending(tid, own);
        }
        const other = this.pending.get(r.byPid);
        if (other !== undefined) {
          this.pending.delete(r.byPid);
          this.pending.set(tid, other);
        }
        return;
      }
      case "attached":
        this.notice({ type: "attached", tid, ts: r.ts, line: lineNo });
        return;
      case "detached": {
        const p = this.pending.get(tid);
        if (p !== undefined) {
          this.pending.delete(tid);
          this.flushPending(tid, p);
        }
        this.notice({ type: "detached", tid, ts: r.ts, line: lineNo });
        return;
      }
      case "partial":
        // only reached for a stitched line that is still cut: cannot happen (feed handles it)
        this.problem(lineNo, "call line cut", r.text);
        return;
    }
  }
}
