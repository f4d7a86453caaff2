import { constants as osConstants } from "node:os";
import type { ProvEvent, RunContext } from "../../events/event-types.js";
import { formatIpv6 } from "../audit/audit-sockaddr.js";
import type { LineParser, ParserOptions } from "../source-types.js";
import { errnoName } from "../syscalls/errno-names.js";
import { SyscallInterpreter } from "../syscalls/syscall-interpreter.js";
import type { StraceNotice, SyscallRecord } from "../syscalls/syscall-record.js";
import { type EbpfArch, syscallName } from "./ebpf-syscalls.js";

/**
 * The eBPF source: lines of provflow's bpftrace program (share/provflow.bt, where the line kinds are
 * described) → the same call records strace gives → the syscall interpreter (fd tables, cwd, path
 * resolution, process tree) → events.
 *
 * - Order. bpftrace reads one buffer per CPU, so lines of a thread that moved between CPUs can come
 *   out of order. Lines are held back for HOLD_NS of the program's clock and released sorted by time
 *   (stable: one CPU's lines keep their order); the rest is released at the end of the input.
 * - Joining. An `S` line opens a call of its thread, the next `E` line of that thread closes it; `A`
 *   (argv), `P` (second path) and `N` (address) lines belong to that thread's next call. A `C` line
 *   is a whole call printed when it returned (close, fcntl: one line instead of two), an `O` line
 *   an open.
 * - Reads and writes arrive summed per process and fd (`R` lines, and a close's `C` line for the fd it
 *   closes): each becomes one read and one write record on that fd, named like strace's (the
 *   interpreter resolves the fd through its table), before the close.
 * - `Lost N events` (bpftrace: the kernel's buffer was full) is counted (`lost` in the run's
 *   statistics) and reported as a problem: the trace is incomplete.
 */

const HOLD_NS = 300_000_000;
const MAX_HELD = 200_000;
const AT_FDCWD = -100;
const AT_REMOVEDIR = 0x200;
const O_CLOEXEC = 0x80000;
const SOCK_CLOEXEC = 0x80000;

/** A line held back for ordering: its text is split into fields only when it is released. */
interface Raw {
  ns: number;
  seq: number;
  line: number;
  text: string;
}

/** A call: its raw argument registers and path (an S line waiting for its E line, or an O/C line). */
interface Open {
  name: string;
  x0: string | undefined;
  x1: string | undefined;
  x2: string | undefined;
  path: string;
  ns: number;
  line: number;
  argv: string[] | undefined;
  second: { dirfd: string; path: string } | undefined;
  addr: [string, string] | undefined;
}

interface Pending {
  argv?: string[];
  second?: { dirfd: string; path: string };
  addr?: [string, string];
}

const SIGNALS = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.signals as Record<string, number>)) {
  if (!SIGNALS.has(n) && name !== "SIGIOT" && name !== "SIGPOLL") SIGNALS.set(n, name);
}

/** a C string literal as strace prints it (the interpreter's cString reads it back) */
export function quoteC(s: string): string {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92) {
      plain = false;
      break;
    }
  }
  if (plain) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) out += '\\"';
    else if (c === 92) out += "\\\\";
    else if (c === 10) out += "\\n";
    else if (c === 9) out += "\\t";
    else if (c < 32) out += `\\${c.toString(8).padStart(3, "0")}`;
    else out += s[i];
  }
  return `${out}"`;
}

function hexBytesLE(hex: string, n: number): number[] {
  let v = BigInt(`0x${hex || "0"}`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

function port(netOrder: string): number {
  const p = Number.parseInt(netOrder, 10) & 0xffff;
  return ((p & 0xff) << 8) | (p >> 8);
}

/** family, port and path fields (+ the N line's words) → strace's sockaddr text */
function sockaddrText(
  fam: number,
  portField: string,
  path: string,
  addr: [string, string] | undefined,
): string {
  if (fam === 1) return `{sa_family=AF_UNIX, sun_path=${quoteC(path)}}`;
  if (fam === 2) {
    const b = hexBytesLE(addr?.[0] ?? "0", 4);
    return `{sa_family=AF_INET, sin_port=htons(${port(portField)}), sin_addr=inet_addr("${b.join(".")}")}`;
  }
  if (fam === 10) {
    const b = Uint8Array.from([...hexBytesLE(addr?.[0] ?? "0", 8), ...hexBytesLE(addr?.[1] ?? "0", 8)]);
    return `{sa_family=AF_INET6, sin6_port=htons(${port(portField)}), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "${formatIpv6(b, 0)}", &sin6_addr)}`;
  }
  if (fam === 16) return "{sa_family=AF_NETLINK}";
  return fam === 0 ? "NULL" : `{sa_family=${fam}}`;
}

function domainText(d: number): string {
  return d === 1
    ? "AF_UNIX"
    : d === 2
      ? "AF_INET"
      : d === 10
        ? "AF_INET6"
        : d === 16
          ? "AF_NETLINK"
          : String(d);
}

function sockTypeText(t: number): string {
  const base = t & 0xf;
  const name =
    base === 1
      ? "SOCK_STREAM"
      : base === 2
        ? "SOCK_DGRAM"
        : base === 3
          ? "SOCK_RAW"
          : base === 5
            ? "SOCK_SEQPACKET"
            : String(base);
  return t & SOCK_CLOEXEC ? `${name}|SOCK_CLOEXEC` : name;
}

/** a register printed as an unsigned number → its low 32 bits as a signed C int, as text */
function int32(s: string | undefined): string {
  if (s === undefined || s === "") return "0";
  const n = Number(s);
  if (!Number.isFinite(n)) return s;
  return String(n <= 0xffffffff && n >= -0x80000000 ? n | 0 : Number(BigInt.asIntN(32, BigInt(s))));
}

function num(s: string | undefined): number {
  if (s === undefined) return Number.NaN;
  return Number.parseInt(s, 10);
}

const byTime = (a: Raw, b: Raw): number => a.ns - b.ns || a.seq - b.seq;

/** a directory fd argument as strace prints it */
function dirText(d: string): string {
  return num(d) === AT_FDCWD ? "AT_FDCWD" : d;
}

/** fields `from`… of a split line joined back (a path may hold tabs), "" when there are none */
function rest(f: string[], from: number): string {
  return f.length === from + 1 ? (f[from] as string) : f.length > from + 1 ? f.slice(from).join("\t") : "";
}

/**
 * The time field of a record line (`K\tNS\t…`): its digits read in place, without splitting the
 * line; anything but plain digits is left to Number, as before. NaN: no time.
 */
function lineNs(line: string): number {
  let end = line.indexOf("\t", 2);
  if (end < 0) end = line.length;
  let n = 0;
  for (let i = 2; i < end; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number(line.slice(2, end));
    n = n * 10 + d;
  }
  // a number of 16 or more digits may be past 2^53: Number rounds it as the split line's field did
  return end - 2 >= 16 || end === 2 ? Number(line.slice(2, end)) : n;
}

export class EbpfLogParser implements LineParser {
  private readonly file: string;
  private readonly ctx: RunContext;
  private readonly attach: boolean;
  private interp: SyscallInterpreter | null = null;
  private arch: EbpfArch = "x64";
  private offsetUs = 0;
  private headerSeen = false;
  private held: Raw[] = [];
  private maxNs = 0;
  private seq = 0;
  private readonly open = new Map<number, Open>();
  private readonly pending = new Map<number, Pending>();
  private items: Array<SyscallRecord | StraceNotice> = [];
  private out: ProvEvent[] = [];
  private lost = 0;
  private lastNs = 0;
  /** live: working directories asked for when a process's first line was read */
  private readonly cwds = new Map<number, string | null>();
  /** attached: the threads whose start (or attachment) was announced */
  private readonly known = new Set<number>();
  /** the call of an O or C line, while it is turned into its record */
  private readonly call: Open = {
    name: "",
    x0: undefined,
    x1: undefined,
    x2: undefined,
    path: "",
    ns: 0,
    line: 0,
    argv: undefined,
    second: undefined,
    addr: undefined,
  };

  /**
   * `cwdOf`: live capture only (the agent), the working directory of a running process, for the
   * processes that were running before the capture began (their chdir was never seen).
   */
  constructor(
    opts: ParserOptions,
    private readonly cwdOf?: (pid: number) => string | null,
  ) {
    this.file = opts.file;
    this.ctx = opts.ctx;
    this.attach = opts.attach === true;
  }

  /** extra statistics of the run: events the kernel dropped */
  runStats(): Record<string, number> {
    return { lost: this.lost };
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    this.out = [];
    for (let i = 0; i < lines.length; i++) this.scan(lines[i] as string, firstLine + i);
    if (this.held.length > 0) {
      const watermark = this.maxNs - HOLD_NS;
      this.release(this.held.length > MAX_HELD ? Number.POSITIVE_INFINITY : watermark, false);
    }
    this.flushItems();
    return this.out;
  }

  /** Everything held back for ordering, now (the agent, when no line came for a while). */
  drain(): ProvEvent[] {
    this.out = [];
    this.release(Number.POSITIVE_INFINITY, true);
    this.flushItems();
    return this.out;
  }

  /** For endless inputs (the agent): forget the processes that have exited. */
  compact(): void {
    this.interp?.compact();
  }

  end(): ProvEvent[] {
    this.out = [];
    this.release(Number.POSITIVE_INFINITY, true);
    this.flushItems();
    if (this.interp !== null) for (const e of this.interp.end()) this.out.push(e);
    return this.out;
  }

  // ---------------------------------------------------------------------------------------------

  private problem(line: number, message: string, text?: string): void {
    const ev: ProvEvent = { kind: "problem", at: { file: this.file, line }, message };
    if (text !== undefined) ev.text = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    this.out.push(ev);
  }

  private scan(line: string, no: number): void {
    if (line.length === 0) return;
    const c = line.charCodeAt(0);
    // S E C O A P N R F X H Z: one tab-separated record
    if (line.charCodeAt(1) === 9 && c >= 65 && c <= 90) {
      if (c === 72) {
        this.header(line.split("\t"), no);
        return;
      }
      // held as text until released (fewer objects kept alive across collections)
      const ns = lineNs(line);
      if (!Number.isFinite(ns)) {
        this.problem(no, "eBPF line without a time", line);
        return;
      }
      if (ns > this.maxNs) this.maxNs = ns;
      this.held.push({ ns, seq: this.seq++, line: no, text: line });
      // live: the working directory of a process that ran before the capture, asked while it runs
      if (this.cwdOf !== undefined && c !== 65 && c !== 80 && c !== 78)
        this.noteCwd(Number(line.split("\t")[3]));
      return;
    }
    if (line.startsWith("Lost ")) {
      const n = Number.parseInt(line.slice(5), 10);
      if (!Number.isNaN(n)) {
        this.lost += n;
        this.problem(
          no,
          `the kernel dropped ${n} events (bpftrace's buffer was full): the trace is incomplete`,
          line,
        );
        return;
      }
    }
    if (line.startsWith("@rb[") || line.startsWith("@wb[")) {
      // what was never flushed, printed by bpftrace at the end: `@rb[PID, FD]: BYTES`
      const m = /^@([rw])b\[(\d+), (-?\d+)\]: (\d+)$/.exec(line);
      if (m) {
        const ns = this.maxNs + 1;
        const pid = m[2] as string;
        const text =
          m[1] === "r"
            ? `R\t${ns}\t${pid}\t${pid}\t${m[3]}\t${m[4]}\t0`
            : `R\t${ns}\t${pid}\t${pid}\t${m[3]}\t0\t${m[4]}`;
        this.held.push({ ns, seq: this.seq++, line: no, text });
        return;
      }
    }
    if (line.startsWith("Attaching ") || line.trim() === "") return;
    this.problem(no, "not a line of provflow's eBPF program", line);
  }

  private header(f: string[], no: number): void {
    const off = f[1] ?? "";
    if (/^-?\d+$/.test(off)) this.offsetUs = Number(BigInt(off) / 1000n);
    else this.problem(no, "eBPF header without a clock offset: times are since boot", f.join("\t"));
    const arch = f[3] === "1" ? "x64" : f[3] === "2" ? "arm64" : f[3];
    if (arch === "x64" || arch === "arm64") this.arch = arch;
    else if (arch !== undefined) this.problem(no, `unknown architecture ${arch} in the eBPF header`);
    this.headerSeen = true;
    const cwd = f[4];
    if (this.interp === null) {
      const ctx = cwd?.startsWith("/") ? { ...this.ctx, cwd } : this.ctx;
      this.interp = new SyscallInterpreter({ file: this.file, ctx, decorations: false, attach: this.attach });
    }
  }

  /**
   * The held lines at or before the watermark, in (time, arrival) order. Only those are sorted: a
   * trace read as it is written comes in thousands of small pushes, and sorting everything held at
   * each (as before) sorted each line many times over.
   */
  private release(watermark: number, all: boolean): void {
    const held = this.held;
    if (held.length === 0) return;
    let ready = held;
    if (all) this.held = [];
    else {
      let n = 0;
      for (let i = 0; i < held.length; i++) if ((held[i] as Raw).ns <= watermark) n++;
      if (n === 0) return;
      if (n < held.length) {
        ready = [];
        const keep: Raw[] = [];
        for (let i = 0; i < held.length; i++) {
          const r = held[i] as Raw;
          if (r.ns <= watermark) ready.push(r);
          else keep.push(r);
        }
        this.held = keep;
      } else this.held = [];
    }
    ready.sort(byTime);
    for (let i = 0; i < ready.length; i++) this.line(ready[i] as Raw);
  }

  private us(ns: number): number {
    return this.offsetUs + Math.floor(ns / 1000);
  }

  private pend(tid: number): Pending {
    let p = this.pending.get(tid);
    if (p === undefined) {
      p = {};
      this.pending.set(tid, p);
    }
    return p;
  }

  private line(r: Raw): void {
    const f = r.text.split("\t");
    const kind = f[0];
    if (kind === "Z") return;
    const tid = num(f[2]);
    if (Number.isNaN(tid)) {
      this.problem(r.line, "eBPF line without a thread id", f.join("\t"));
      return;
    }
    if (r.ns > this.lastNs) this.lastNs = r.ns;
    if (
      this.attach &&
      (kind === "S" || kind === "C" || kind === "O" || kind === "R" || kind === "F" || kind === "X") &&
      !this.known.has(tid)
    ) {
      this.attached(tid, num(f[3]), r.ns, r.line);
    }
    switch (kind) {
      case "S": {
        const nr = num(f[4]);
        const name = syscallName(this.arch, nr);
        if (name === undefined) {
          this.problem(r.line, `unknown system call number ${f[4]}`, f.join("\t"));
          return;
        }
        const p = this.pending.get(tid);
        this.pending.delete(tid);
        this.unfinished(tid);
        this.open.set(tid, {
          name,
          x0: f[5],
          x1: f[6],
          x2: f[7],
          path: rest(f, 8),
          ns: r.ns,
          line: r.line,
          argv: p?.argv,
          second: p?.second,
          addr: p?.addr,
        });
        return;
      }
      case "O":
      case "C":
        this.printed(r, f, tid, kind === "O");
        return;
      case "A": {
        const p = this.pend(tid);
        const i = num(f[3]);
        if (p.argv === undefined || i === 0) p.argv = [];
        p.argv[i] = f.slice(4).join("\t");
        return;
      }
      case "P": {
        const o = this.open.get(tid);
        const second = { dirfd: int32(f[3]), path: f.slice(4).join("\t") };
        if (o !== undefined) o.second = second;
        else this.pend(tid).second = second;
        return;
      }
      case "N":
        this.pend(tid).addr = [f[3] ?? "0", f[4] ?? "0"];
        return;
      case "E": {
        const o = this.open.get(tid);
        // a call begun before the trace (the gate's kill, an attached process's pending read)
        if (o === undefined) return;
        this.open.delete(tid);
        const p = this.pending.get(tid);
        if (p?.addr !== undefined && o.addr === undefined) o.addr = p.addr;
        this.pending.delete(tid);
        this.finish(tid, o, f[4], f[5], f[6], f);
        return;
      }
      case "R": {
        const fd = int32(f[4]);
        const rb = num(f[5]);
        const wb = num(f[6]);
        const ts = this.us(r.ns);
        if (rb > 0) this.items.push(this.rec(tid, ts, "read", [fd], String(rb), rb, r.line));
        if (wb > 0) this.items.push(this.rec(tid, ts, "write", [fd], String(wb), wb, r.line));
        return;
      }
      case "F": {
        const child = num(f[4]);
        if (this.attach) this.know(child);
        const flags = `0x${f[5] ?? "0"}`;
        const name = (Number.parseInt(f[5] ?? "0", 16) & 0x4000) !== 0 ? "vfork" : "clone";
        this.items.push(
          this.rec(tid, this.us(r.ns), name, name === "vfork" ? [] : [flags], String(child), child, r.line),
        );
        return;
      }
      case "X": {
        this.unfinished(tid);
        this.pending.delete(tid);
        this.known.delete(tid);
        const code = num(f[4]);
        const ts = this.us(r.ns);
        if (Number.isNaN(code)) {
          this.problem(r.line, "exit without a status", f.join("\t"));
          return;
        }
        const sig = code & 0x7f;
        if (sig !== 0) {
          const signal = SIGNALS.get(sig) ?? `SIG${sig}`;
          this.items.push({ type: "killed", tid, ts, signal, coreDumped: (code & 0x80) !== 0, line: r.line });
        } else this.items.push({ type: "exited", tid, ts, code: (code >> 8) & 0xff, line: r.line });
        return;
      }
      default:
        this.problem(r.line, `unknown eBPF line kind ${kind}`, f.join("\t"));
    }
  }

  /**
   * A call printed once, when it returned: `C ns tid pid nr x0 x1 x2 ret` (close: x1 and x2 the fd's
   * read and write bytes; fcntl), `O ns tid pid nr dirfd flags ret created path` (an open). Apart from
   * line(), so that line() stays small for the compiler: these are most of the lines.
   */
  private printed(r: Raw, f: string[], tid: number, open: boolean): void {
    const nr = num(f[4]);
    const name = syscallName(this.arch, nr);
    if (name === undefined) {
      this.problem(r.line, `unknown system call number ${f[4]}`, f.join("\t"));
      return;
    }
    this.unfinished(tid);
    this.pending.delete(tid);
    if (!open && name === "close") {
      // the fd's read and write sums ride on the close (x1, x2): they come before it
      const rb = num(f[6]);
      const wb = num(f[7]);
      if (rb > 0 || wb > 0) {
        const fd = int32(f[5]);
        const ts = this.us(r.ns);
        if (rb > 0) this.items.push(this.rec(tid, ts, "read", [fd], String(rb), rb, r.line));
        if (wb > 0) this.items.push(this.rec(tid, ts, "write", [fd], String(wb), wb, r.line));
      }
    }
    // one call object reused: finish keeps none of it
    const call = this.call;
    call.name = name;
    call.x0 = f[5] ?? "";
    call.x1 = f[6] ?? "";
    call.x2 = open ? "0" : (f[7] ?? "");
    call.path = open ? rest(f, 9) : "";
    call.ns = r.ns;
    call.line = r.line;
    if (open) this.finish(tid, call, "open", f[7] ?? "", f[8] ?? "", null);
    else this.finish(tid, call, "-", f[8] ?? "", "", null);
  }

  /** The thread's call still waiting for its end (it exited, or began another call, first) → a record. */
  private unfinished(tid: number): void {
    const o = this.open.get(tid);
    if (o === undefined) return;
    this.open.delete(tid);
    this.finish(tid, o, undefined, "", "", null);
  }

  private know(tid: number): void {
    if (this.known.size >= 1_000_000) this.known.clear();
    this.known.add(tid);
  }

  /**
   * Attached (provflow trace -p, the agent): a thread first seen without its creation was running
   * before the trace began. Its process starts as attached; a thread of it is announced by a clone
   * of its process with CLONE_THREAD, so that it is not taken for a process.
   */
  private attached(tid: number, pid: number, ns: number, line: number): void {
    const ts = this.us(ns);
    if (!Number.isNaN(pid) && pid !== tid && pid > 0) {
      if (!this.known.has(pid)) {
        this.items.push({ type: "attached", tid: pid, ts, line });
        this.attachedCwd(pid, ts, line);
        this.know(pid);
      }
      this.items.push(this.rec(pid, ts, "clone", ["0x10000"], String(tid), tid, line));
    } else {
      this.items.push({ type: "attached", tid, ts, line });
      this.attachedCwd(tid, ts, line);
    }
    this.know(tid);
  }

  private noteCwd(pid: number): void {
    if (!(pid > 0) || this.known.has(pid) || this.cwds.has(pid)) return;
    const cwd = this.cwdOf?.(pid) ?? null;
    if (this.cwds.size >= 100_000) this.cwds.clear();
    this.cwds.set(pid, cwd);
  }

  private attachedCwd(pid: number, ts: number, line: number): void {
    const cwd = this.cwds.get(pid) ?? this.cwdOf?.(pid);
    this.cwds.delete(pid);
    if (cwd?.startsWith("/")) this.items.push(this.rec(pid, ts, "chdir", [quoteC(cwd)], "0", 0, line));
  }

  private rec(
    tid: number,
    ts: number,
    name: string,
    args: string[],
    ret: string,
    retval: number | undefined,
    line: number,
  ): SyscallRecord {
    const r: SyscallRecord = { tid, ts, name, args, ret, line };
    if (retval !== undefined) r.retval = retval;
    return r;
  }

  /**
   * A call and how it ended → a record. `end`: the E line's kind (`-`, `open`, `pair`, `accept`;
   * undefined: the thread exited, or began another call, first), `ret` and `e6` its fifth and sixth
   * fields, `e` the whole E line when there is one (pair and accept read further fields).
   */
  private finish(
    tid: number,
    o: Open,
    end: string | undefined,
    ret: string | undefined,
    e6: string | undefined,
    e: string[] | null,
  ): void {
    // the program prints arguments as the raw 64-bit registers: C ints are their low 32 bits
    const x0 = int32(o.x0);
    const x1 = int32(o.x1);
    const x2 = int32(o.x2);
    const ts = this.us(o.ns);
    const retNum = end !== undefined ? Number(ret) : Number.NaN;
    const rec: SyscallRecord = { tid, ts, name: o.name, args: [], ret: "?", line: o.line };
    if (end === undefined || Number.isNaN(retNum)) rec.incomplete = true;
    else if (retNum < 0 && retNum > -4096) {
      rec.ret = "-1";
      rec.retval = -1;
      rec.errno = errnoName(-retNum);
    } else {
      rec.ret = String(retNum);
      rec.retval = retNum;
    }
    const name = o.name;
    rec.args =
      name === "openat"
        ? [dirText(x0), quoteC(o.path), x1]
        : name === "close"
          ? [x0]
          : this.args(o, x0, x1, x2, end, e6, e);
    if (end === "open" && rec.retval !== undefined && rec.retval >= 0) {
      rec.created = e6 === "1";
    }
    this.items.push(rec);
  }

  /** The arguments of a record as strace prints them (finish: all calls but openat and close). */
  private args(
    o: Open,
    x0: string,
    x1: string,
    x2: string,
    end: string | undefined,
    e6: string | undefined,
    e: string[] | null,
  ): string[] {
    const path = o.path;
    const dir = dirText;
    switch (o.name) {
      case "openat":
        return [dir(x0), quoteC(path), x1];
      case "openat2":
        return [dir(x0), quoteC(path), `{flags=${x1}, mode=0, resolve=0}`];
      case "open":
        return [quoteC(path), x1];
      case "creat":
        return [quoteC(path)];
      case "unlink":
      case "rmdir":
      case "mkdir":
      case "chdir":
      case "truncate":
        return [quoteC(path)];
      case "unlinkat":
        return [dir(x0), quoteC(path), num(x1) & AT_REMOVEDIR ? "AT_REMOVEDIR" : "0"];
      case "mkdirat":
        return [dir(x0), quoteC(path), "0777"];
      case "ftruncate":
      case "fchdir":
      case "dup":
      case "close":
        return [x0];
      case "listen":
        return [x0, x1];
      case "rename":
      case "link":
      case "symlink":
        if (o.second === undefined) this.problem(o.line, `${o.name} without its second path`);
        return [quoteC(path), quoteC(o.second?.path ?? "")];
      case "renameat":
      case "renameat2":
      case "linkat":
        if (o.second === undefined) this.problem(o.line, `${o.name} without its second path`);
        return [dir(x0), quoteC(path), dir(o.second?.dirfd ?? "-100"), quoteC(o.second?.path ?? ""), "0"];
      case "symlinkat":
        if (o.second === undefined) this.problem(o.line, `${o.name} without its second path`);
        return [quoteC(path), dir(o.second?.dirfd ?? "-100"), quoteC(o.second?.path ?? "")];
      case "execve":
      case "execveat": {
        const argv = o.argv ?? [];
        const text = `[${argv.map((a) => quoteC(a ?? "")).join(", ")}${argv.length >= 48 ? ", ..." : ""}]`;
        return o.name === "execve" ? [quoteC(path), text] : [dir(x0), quoteC(path), text, "NULL", "0"];
      }
      case "dup2":
        return [x0, x1];
      case "dup3":
        return [x0, x1, num(x2) & O_CLOEXEC ? "O_CLOEXEC" : "0"];
      case "fcntl":
        return [x0, x1, x2];
      case "pipe":
      case "pipe2": {
        const fds = e !== null && end === "pair" ? `[${e6}, ${e[7]}]` : "0x0";
        return [fds, num(x0) & O_CLOEXEC ? "O_CLOEXEC" : "0"];
      }
      case "socketpair": {
        const fds = e !== null && end === "pair" ? `[${e6}, ${e[7]}]` : "0x0";
        return [domainText(num(x0)), sockTypeText(num(x1)), x2, fds];
      }
      case "socket":
        return [domainText(num(x0)), sockTypeText(num(x1)), x2];
      case "connect":
      case "bind":
        return [x0, sockaddrText(num(x1), x2, path, o.addr), "16"];
      case "accept":
      case "accept4": {
        const sa =
          e !== null && end === "accept"
            ? sockaddrText(num(e6), e[7] ?? "0", e.slice(8).join("\t"), o.addr)
            : "NULL";
        return [x0, sa, "NULL", num(x1) & SOCK_CLOEXEC ? "SOCK_CLOEXEC" : "0"];
      }
      default:
        return [x0, x1, x2];
    }
  }

  private flushItems(): void {
    if (this.items.length === 0) return;
    if (this.interp === null) {
      if (!this.headerSeen) {
        this.problem(this.items[0]?.line ?? 0, "eBPF log without its header line (H): times are since boot");
        this.headerSeen = true;
      }
      this.interp = new SyscallInterpreter({
        file: this.file,
        ctx: this.ctx,
        decorations: false,
        attach: this.attach,
      });
    }
    for (const e of this.interp.feed(this.items)) this.out.push(e);
    this.items = [];
  }
}
