import type {
  AccessEvent,
  CallEvent,
  FileOp,
  ProvEvent,
  ResourceRef,
  RunContext,
  SocketEvent,
  SourceLocation,
} from "../../events/event-types.js";
import { iovBytes, protocolHint, recognizeDbMessages, straceBytes } from "./db-protocols.js";
import {
  AT_FDCWD,
  cString,
  decorationResource,
  fdArg,
  numArg,
  resolvePath,
  resourceName,
  sockaddr,
  socketKind,
  stringArray,
  varsCount,
} from "./syscall-args.js";
import type { StraceNotice, SyscallRecord } from "./syscall-record.js";

/**
 * SyscallInterpreter: turns SyscallRecords / StraceNotices (strace or ltrace, already joined) into ProvEvents.
 *
 * Rules worth knowing (the "why" of the choices below):
 *
 * - Processes. The first tid ever seen starts the root process (`via: "root"`, or `"attach"` when the caller
 *   says so or when that first record is `restart_syscall`). fork/vfork/clone/clone3 returning a child id > 0
 *   start the child: CLONE_THREAD → `thread.start`, else `process.start` with the caller's thread group as ppid.
 *   A tid is mapped to its thread group so every event carries `pid` = tgid and `tid` = thread.
 * - Unknown tids. strace -f often prints a child's first lines before the parent's clone returns. Records of
 *   a tid nobody announced are held back (a bounded queue per tid) until (a) a clone/fork returns that tid:
 *   the child is started with the right parent (or as a thread), then its queue is replayed; (b) a wait4 in
 *   another process reaps it: it is started with the waiter as parent (`via: "unknown"`); (c) the queue is
 *   full or the input ends: it is started with `ppid: null` (`via: "unknown"`, or `"attach"` in attach mode).
 *   If a clone later returns a tid flushed by (c), a second `process.start` for the same pid carries the
 *   ppid: the graph builder treats a repeated start as an update.
 * - Exits. `+++ exited/killed +++` notices give the exit; for a thread (tid ≠ tgid) nothing is emitted.
 *   exit_group (and exit from the leader) only records the code; it is emitted by the notice, by the parent's
 *   wait4/waitid when the log has no notices (-qq), or at end() — whichever comes first, once.
 * - Files. Paths are resolved against the dirfd's decoration (`AT_FDCWD</cwd>`, `3</dir>`), else the cwd
 *   learnt from those decorations, chdir/fchdir and inheritance, else the RunContext cwd. open uses the
 *   decorated result path (`= 3</usr/lib/…/libc.so.6>`, symlinks resolved) when present. A per-process fd
 *   table (open, creat, dup,fcntl F_DUPFD, pipe, socket, accept, close-on-exec, shared with threads,
 *   copied at fork) names fds when there are no decorations.
 * - create. A tracer that knows whether O_CREAT created the file says so (`SyscallRecord.created`, eBPF's
 *   FMODE_CREATED); strace cannot tell. `create: true` is emitted when the open
 *   succeeded with O_CREAT and: O_EXCL was set; or this run last saw the path absent (a failed lookup with
 *   ENOENT, an unlink, a rename away); or the path was never seen in this run and the open truncates or is
 *   write-only without O_APPEND (`> file`, `touch`). A path seen existing in this run is never "created"
 *   (unless deleted since), nor is a device, /dev, /proc or /sys path. Checked against the kernel oracles of
 *   corpus/fidelity (see test/syscall-interpreter.test.ts).
 * - Every record also yields a `call` event (nothing is dropped: folding happens downstream).
 *   An incomplete record (`= ?`, killed mid-call) yields only its `call` event (ok false), except
 *   exit_group/exit which record the exit code.
 * - connect() failing with EINPROGRESS (non-blocking connect) counts as ok.
 * - Anything unreadable becomes a `problem` event (file + line); nothing here throws on bad input.
 */

export interface SyscallInterpreterOptions {
  file: string;
  ctx: RunContext;
  /** whether the log was written with -y/-yy (decorated fds); the fd table is kept either way */
  decorations: boolean;
  /** the trace began by attaching to running processes (strace -p): roots start `via: "attach"` */
  attach?: boolean;
}

interface FdEntry {
  res: ResourceRef;
  cloexec: boolean;
}

interface Proc {
  pid: number;
  cwd: string | undefined;
  fds: Map<number, FdEntry>;
  exited: boolean;
  /** started before its parent was known (ppid null) */
  orphan: boolean;
  exitCode?: number;
  exitSignal?: string;
  exitTs?: number;
  exitLine?: number;
  hasExec: boolean;
  exe?: string;
}

type Item = SyscallRecord | StraceNotice;
type Handler = (r: SyscallRecord, p: Proc) => void;

const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0x40;
const O_EXCL = 0x80;
const O_TRUNC = 0x200;
const O_APPEND = 0x400;
const O_DIRECTORY = 0x10000;
const O_CLOEXEC = 0x80000;
const CLONE_FILES = 0x400;
const CLONE_THREAD = 0x10000;

/** open flags from `O_WRONLY|O_CREAT|O_TRUNC` (strace) or `0x241` (ltrace) */
function openFlags(t: string | undefined): number {
  if (t === undefined) return 0;
  const c = t.charCodeAt(0);
  if (c >= 48 && c <= 57) {
    const n = numArg(t);
    return Number.isNaN(n) ? 0 : n;
  }
  let f = 0;
  if (t.indexOf("O_WRONLY") >= 0) f |= O_WRONLY;
  if (t.indexOf("O_RDWR") >= 0) f |= O_RDWR;
  if (t.indexOf("O_CREAT") >= 0) f |= O_CREAT;
  if (t.indexOf("O_EXCL") >= 0) f |= O_EXCL;
  if (t.indexOf("O_TRUNC") >= 0) f |= O_TRUNC;
  if (t.indexOf("O_APPEND") >= 0) f |= O_APPEND;
  if (t.indexOf("O_DIRECTORY") >= 0) f |= O_DIRECTORY;
  if (t.indexOf("O_CLOEXEC") >= 0) f |= O_CLOEXEC;
  if (t.indexOf("O_TMPFILE") >= 0) f |= O_DIRECTORY | O_CREAT;
  return f;
}

/** clone flags: symbolic (strace) anywhere in the args, or numeric first argument (ltrace SYS_clone) */
function cloneFlags(r: SyscallRecord): number {
  const a0 = r.args[0];
  if (a0 !== undefined) {
    const c = a0.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      const n = numArg(a0);
      return Number.isNaN(n) ? 0 : n;
    }
  }
  let f = 0;
  for (const a of r.args) {
    if (a.indexOf("CLONE_THREAD") >= 0) f |= CLONE_THREAD;
    if (a.indexOf("CLONE_FILES") >= 0) f |= CLONE_FILES;
  }
  return f;
}

/** ltrace prints pointers where strace decodes strings: such an argument is "unknown", not malformed */
function isPointer(arg: string | undefined): boolean {
  if (arg === undefined) return true;
  const t = arg.trim();
  return t.startsWith("0x") || t === "nil" || t === "NULL" || t === "0";
}

function isSpecialPath(p: string): boolean {
  return p.startsWith("/dev/") || p.startsWith("/proc/") || p.startsWith("/sys/");
}

/** `[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]` / `[{WIFSIGNALED(s) && WTERMSIG(s) == SIGPIPE}]` */
function waitStatus(arg: string | undefined): { code?: number; signal?: string } {
  if (arg === undefined) return {};
  const e = arg.indexOf("WEXITSTATUS(s) == ");
  if (e >= 0) {
    const n = Number.parseInt(arg.slice(e + 18), 10);
    return Number.isNaN(n) ? {} : { code: n };
  }
  const s = arg.indexOf("WTERMSIG(s) == ");
  if (s >= 0) {
    let j = s + 15;
    while (j < arg.length) {
      const c = arg.charCodeAt(j);
      if ((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95) j++;
      else break;
    }
    return { signal: arg.slice(s + 15, j) };
  }
  return {};
}

function field(s: string, name: string): string | undefined {
  const k = s.indexOf(name);
  if (k < 0) return undefined;
  let j = k + name.length;
  const start = j;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 44 || c === 125 || c === 32) break;
    j++;
  }
  return s.slice(start, j);
}

/** library calls (ltrace, layer "lib") interpreted beyond their `call` event: the process tree only */
const LIB_CALLS = new Set([
  "fork",
  "vfork",
  "clone",
  "execve",
  "execv",
  "exit",
  "_exit",
  "wait",
  "waitpid",
  "wait4",
  "__libc_start_main",
]);

/**
 * How many leading arguments the interpreter reads for each system call it handles (0 for the others:
 * only their name and return value matter). Calls not listed here but handled read every argument.
 */
const ARGS_NEEDED = new Map<string, number>();
for (const [n, names] of [
  [
    1,
    [
      "exit_group",
      "exit",
      "_exit",
      "chdir",
      "fchdir",
      "close",
      "read",
      "pread64",
      "pread",
      "readv",
      "preadv",
      "preadv2",
      "recvfrom",
      "recvmsg",
      "recv",
      "recvmmsg",
      "write",
      "pwrite64",
      "pwrite",
      "writev",
      "pwritev",
      "pwritev2",
      "sendmsg",
      "send",
      "sendmmsg",
      "stat",
      "lstat",
      "stat64",
      "lstat64",
      "access",
      "readlink",
      "statfs",
      "getxattr",
      "lgetxattr",
      "fstat",
      "fstat64",
      "fstatfs",
      "fgetxattr",
      "lseek",
      "ioctl",
      "fsync",
      "fdatasync",
      "getdents64",
      "getdents",
      "flock",
      "unlink",
      "rmdir",
      "mkdir",
      "truncate",
      "truncate64",
      "ftruncate",
      "ftruncate64",
      "chmod",
      "fchmod",
      "chown",
      "lchown",
      "chown32",
      "lchown32",
      "fchown",
      "fchown32",
      "getsockname",
      "getpeername",
      "setsockopt",
      "getsockopt",
    ],
  ],
  [
    2,
    [
      "newfstatat",
      "fstatat64",
      "statx",
      "faccessat",
      "faccessat2",
      "readlinkat",
      "utimensat",
      "pipe",
      "pipe2",
      "sendfile",
      "sendfile64",
      "tee",
      "mkdirat",
      "rename",
      "link",
      "symlink",
      "fchmodat",
      "fchmodat2",
      "fchownat",
      "socket",
      "bind",
      "connect",
      "listen",
      "shutdown",
    ],
  ],
  [3, ["open", "openat", "openat2", "creat", "dup", "dup2", "dup3", "fcntl", "fcntl64"]],
  [3, ["wait4", "waitpid", "waitid", "copy_file_range", "splice", "unlinkat", "symlinkat"]],
  [4, ["socketpair", "renameat", "renameat2", "linkat", "accept", "accept4"]],
  [5, ["mmap", "mmap2", "sendto"]],
] as const) {
  for (const name of names) ARGS_NEEDED.set(name, n);
}
const ALL_ARGS = 0x7fffffff;

const PENDING_PER_TID = 512;
const PENDING_TOTAL = 4096;
const DECO_CACHE_MAX = 8192;

interface FdInfo {
  fd: number;
  deco: string | undefined;
  /** the decoration's resource; for AT_FDCWD the directory */
  res: ResourceRef | undefined;
}

/**
 * A copy of `s` that does not share the memory of a bigger string: `s` is often a slice of a whole
 * input batch (about 1 MB), which a long-lived slice (cache key, fd table, path state) keeps alive.
 */
function ownString(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

/**
 * A held item must not keep its input batch alive while it waits (the queue lives across batches):
 * its strings are copied.
 */
function detach(it: Item): Item {
  if ("type" in it) return it;
  const args = new Array<string>(it.args.length);
  for (let i = 0; i < args.length; i++) args[i] = ownString(it.args[i] as string);
  return { ...it, name: ownString(it.name), args, ret: ownString(it.ret) };
}

/** `3` → 3 (plain decimal descriptor, at most 9 digits, no spaces); -1 for anything else */
function plainFd(t: string): number {
  const len = t.length;
  if (len === 0 || len > 9) return -1;
  let v = 0;
  for (let i = 0; i < len; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

export class SyscallInterpreter {
  private readonly file: string;
  private readonly ctx: RunContext;
  private readonly decorations: boolean;
  private readonly attach: boolean;
  private readonly threads = new Map<number, Proc>();
  private readonly pending = new Map<number, Item[]>();
  private pendingTotal = 0;
  private started = false;
  private out: ProvEvent[] = [];
  private readonly handlers = new Map<string, Handler>();
  private readonly argsNeededByName = new Map<string, number>();
  private readonly decoCache = new Map<string, ResourceRef>();
  /** decorated fd text → parsed fd and resource */
  private readonly fdCache = new Map<string, FdInfo>();
  /** path → true (seen existing) / false (seen absent) in this run, for the create heuristic */
  private readonly pathState = new Map<string, boolean>();
  // scratch results of fdRes()
  private sRes: ResourceRef | undefined;
  private sFd = Number.NaN;

  constructor(opts: SyscallInterpreterOptions) {
    this.file = opts.file;
    this.ctx = opts.ctx;
    this.decorations = opts.decorations;
    this.attach = opts.attach === true;
    this.registerHandlers();
    for (const name of this.handlers.keys())
      this.argsNeededByName.set(name, ARGS_NEEDED.get(name) ?? ALL_ARGS);
  }

  /**
   * The number of leading arguments of system call `name` this interpreter reads: a parser may leave
   * the others unsplit. Calls without a handler need none; clone and exec families need all of them.
   */
  argsNeeded(name: string): number {
    return this.argsNeededByName.get(name) ?? 0;
  }

  /** Interpret a batch of records and notices, in log order. */
  feed(items: Array<SyscallRecord | StraceNotice>): ProvEvent[] {
    const out: ProvEvent[] = [];
    this.out = out;
    for (const it of items) {
      try {
        this.item(it);
      } catch (err) {
        out.push({
          kind: "problem",
          at: { file: this.file, line: it.line },
          message: `could not interpret record: ${err instanceof Error ? err.message : String(err)}`,
          text: "name" in it ? it.name : it.type,
        });
      }
    }
    return out;
  }

  /** End of input: start processes whose parent never showed up, emit exits known only from exit_group. */
  end(): ProvEvent[] {
    const out: ProvEvent[] = [];
    this.out = out;
    for (const tid of [...this.pending.keys()]) {
      const q = this.pending.get(tid);
      if (q === undefined) continue;
      const first = q[0];
      this.startOrphan(tid, first?.ts ?? 0, first?.line ?? 0, null, this.attach ? "attach" : "unknown");
    }
    const seen = new Set<Proc>();
    for (const p of this.threads.values()) {
      if (seen.has(p)) continue;
      seen.add(p);
      if (!p.exited && (p.exitCode !== undefined || p.exitSignal !== undefined)) {
        this.emitExit(p, p.exitTs ?? 0, p.exitLine ?? 0, p.exitCode, p.exitSignal, undefined);
      }
    }
    return out;
  }

  /**
   * For endless inputs (the eBPF agent): forget processes that have exited, and the path states
   * when there are more than `maxPaths` of them. Memory then follows the live processes.
   */
  compact(maxPaths = 100_000): void {
    for (const [tid, p] of this.threads) if (p.exited) this.threads.delete(tid);
    if (this.pathState.size > maxPaths) this.pathState.clear();
  }

  // ---------------------------------------------------------------------------------------------------

  private at(line: number): SourceLocation {
    return { file: this.file, line };
  }

  private problem(line: number, message: string, text?: string): void {
    const ev: ProvEvent = { kind: "problem", at: this.at(line), message };
    if (text !== undefined) ev.text = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    this.out.push(ev);
  }

  private newProc(pid: number, cwd: string | undefined, fds: Map<number, FdEntry>): Proc {
    return { pid, cwd, fds, exited: false, orphan: false, hasExec: false };
  }

  private item(it: Item): void {
    const tid = it.tid;
    const p = this.threads.get(tid);
    if (p === undefined) {
      if (!this.started) {
        this.started = true;
        const restart = "name" in it && it.name === "restart_syscall";
        const proc = this.newProc(tid, this.ctx.cwd, new Map());
        this.threads.set(tid, proc);
        this.out.push({
          kind: "process.start",
          ts: it.ts,
          pid: tid,
          at: this.at(it.line),
          ppid: null,
          via: this.attach || restart ? "attach" : "root",
        });
      } else if (this.attach && "type" in it && it.type === "attached") {
        this.startOrphan(tid, it.ts, it.line, null, "attach");
        return;
      } else {
        let q = this.pending.get(tid);
        if (q === undefined) {
          q = [];
          this.pending.set(tid, q);
        }
        q.push(detach(it));
        this.pendingTotal++;
        if (q.length >= PENDING_PER_TID || this.pendingTotal >= PENDING_TOTAL) {
          const first = q[0] as Item;
          this.startOrphan(tid, first.ts, first.line, null, this.attach ? "attach" : "unknown");
        }
        return;
      }
    }
    const proc = this.threads.get(tid) as Proc;
    if ("type" in it) this.notice(it, proc);
    else this.record(it, proc);
  }

  /** Start a tid whose creation was not seen, then replay what was held for it. */
  private startOrphan(
    tid: number,
    ts: number,
    line: number,
    ppid: number | null,
    via: "unknown" | "attach",
  ): void {
    const parent = ppid !== null ? this.threads.get(ppid) : undefined;
    const proc = this.newProc(
      tid,
      parent?.cwd ?? undefined,
      parent !== undefined ? new Map(parent.fds) : new Map(),
    );
    proc.orphan = ppid === null;
    this.threads.set(tid, proc);
    this.out.push({ kind: "process.start", ts, pid: tid, at: this.at(line), ppid, via });
    this.replay(tid);
  }

  private replay(tid: number): void {
    const q = this.pending.get(tid);
    if (q === undefined) return;
    this.pending.delete(tid);
    this.pendingTotal -= q.length;
    // the replayed records must not disturb the call event of the record being handled
    const res = this.curRes;
    const bytes = this.curBytes;
    for (const it of q) this.item(it);
    this.curRes = res;
    this.curBytes = bytes;
  }

  private notice(n: StraceNotice, proc: Proc): void {
    switch (n.type) {
      case "exited":
      case "killed": {
        if (n.tid !== proc.pid) {
          // a thread ended: the process goes on
          this.threads.delete(n.tid);
          return;
        }
        if (n.type === "exited") this.emitExit(proc, n.ts, n.line, n.code, undefined, undefined);
        else this.emitExit(proc, n.ts, n.line, undefined, n.signal, n.coreDumped);
        return;
      }
      case "signal": {
        const ev: ProvEvent = {
          kind: "process.signal",
          ts: n.ts,
          pid: proc.pid,
          at: this.at(n.line),
          signal: n.signal,
        };
        if (n.tid !== proc.pid) ev.tid = n.tid;
        const from = field(n.info, "si_pid=");
        if (from !== undefined) {
          const f = Number.parseInt(from, 10);
          if (!Number.isNaN(f)) ev.from = f;
        }
        const code = field(n.info, "si_code=");
        if (code !== undefined) ev.code = code;
        this.out.push(ev);
        return;
      }
      case "attached":
      case "detached":
        return;
      default:
        this.problem((n as { line: number }).line, "unknown notice");
    }
  }

  private emitExit(
    proc: Proc,
    ts: number,
    line: number,
    code: number | undefined,
    signal: string | undefined,
    core: boolean | undefined,
  ): void {
    if (proc.exited) return;
    proc.exited = true;
    const ev: ProvEvent = { kind: "process.exit", ts, pid: proc.pid, at: this.at(line) };
    if (code !== undefined) ev.code = code;
    if (signal !== undefined) ev.signal = signal;
    if (core !== undefined) ev.coreDumped = core;
    this.out.push(ev);
  }

  private record(r: SyscallRecord, proc: Proc): void {
    this.curRes = "";
    this.curBytes = undefined;
    this.curQueries = undefined;
    const h =
      r.incomplete === true
        ? undefined
        : r.layer === "lib"
          ? LIB_CALLS.has(r.name)
            ? this.handlers.get(r.name)
            : undefined
          : this.handlers.get(r.name);
    if (h !== undefined) h(r, proc);
    else if (r.incomplete && (r.name === "exit_group" || r.name === "exit")) this.onExitGroup(r, proc);
    const ev: CallEvent = {
      kind: "call",
      ts: r.ts,
      pid: proc.pid,
      at: this.recAt(r.line),
      name: r.name,
      resource: this.curRes,
      ok: this.isOk(r),
      ret: r.ret,
    };
    if (r.tid !== proc.pid) ev.tid = r.tid;
    if (this.curBytes !== undefined) ev.bytes = this.curBytes;
    if (r.errno !== undefined) ev.errno = r.errno;
    if (r.dur !== undefined) ev.dur = r.dur;
    if (this.curQueries !== undefined) {
      ev.queries = this.curQueries;
      this.curQueries = undefined;
    }
    this.out.push(ev);
  }

  // resource name, byte count and database queries of the current record, for its call event
  private curRes = "";
  private curBytes: number | undefined;
  private curQueries: string[] | undefined;

  private isOk(r: SyscallRecord): boolean {
    return r.incomplete !== true && r.errno === undefined;
  }

  /** the location of the record being handled, shared by all its events (they are never mutated) */
  private curAt: SourceLocation = { file: "", line: 0 };

  private recAt(line: number): SourceLocation {
    if (this.curAt.line !== line) this.curAt = { file: this.file, line };
    return this.curAt;
  }

  private base(r: SyscallRecord, proc: Proc): { ts: number; pid: number; tid?: number; at: SourceLocation } {
    const b: { ts: number; pid: number; tid?: number; at: SourceLocation } = {
      ts: r.ts,
      pid: proc.pid,
      at: this.recAt(r.line),
    };
    if (r.tid !== proc.pid) b.tid = r.tid;
    return b;
  }

  /** Resolve an fd argument (decorated or via the fd table) into this.sFd / this.sRes. */
  private fdRes(proc: Proc, arg: string | undefined): ResourceRef | undefined {
    if (arg === undefined) {
      this.sFd = Number.NaN;
      this.sRes = undefined;
      return undefined;
    }
    let fd = plainFd(arg);
    if (fd < 0) {
      const a = this.fdInfo(arg);
      fd = a.fd;
      this.sFd = fd;
      if (a.res !== undefined) {
        if (fd === AT_FDCWD) proc.cwd = a.deco;
        this.sRes = a.res;
        return a.res;
      }
      if (fd === AT_FDCWD) {
        this.sRes = proc.cwd !== undefined ? { type: "file", path: proc.cwd } : undefined;
        return this.sRes;
      }
      if (Number.isNaN(fd)) {
        this.sRes = undefined;
        return undefined;
      }
    } else this.sFd = fd;
    const e = proc.fds.get(fd);
    if (e !== undefined) {
      this.sRes = e.res;
      return e.res;
    }
    this.sRes = { type: "unknown", name: fd <= 2 ? `fd:${fd}` : `fd:${fd}@${proc.pid}` };
    return this.sRes;
  }

  /**
   * An fd argument or return value parsed, with its decoration's resource (AT_FDCWD's is the directory).
   * Decorated texts repeat constantly (`3</usr/lib/x86_64-linux-gnu/libc.so.6>`): they are cached.
   */
  private fdInfo(text: string): FdInfo {
    let info = this.fdCache.get(text);
    if (info !== undefined) return info;
    const a = fdArg(text);
    if (a.deco === undefined) return { fd: a.fd, deco: undefined, res: undefined };
    // cached strings are copies: a slice would keep its whole input batch alive
    const deco = ownString(a.deco);
    const res: ResourceRef = a.fd === AT_FDCWD ? { type: "file", path: deco } : this.decoRes(deco);
    info = { fd: a.fd, deco, res };
    if (this.fdCache.size >= DECO_CACHE_MAX) this.fdCache.clear();
    this.fdCache.set(ownString(text), info);
    return info;
  }

  private decoRes(deco: string): ResourceRef {
    let r = this.decoCache.get(deco);
    if (r === undefined) {
      const own = ownString(deco);
      r = decorationResource(own);
      if (this.decoCache.size >= DECO_CACHE_MAX) this.decoCache.clear();
      this.decoCache.set(own, r);
    }
    return r;
  }

  /** Resolve a path argument, relative to a dirfd argument (for *at calls) or the cwd. */
  private pathArg(proc: Proc, dirfd: string | undefined, arg: string | undefined): string | undefined {
    const p = cString(arg);
    if (p === undefined) return undefined;
    if (p.charCodeAt(0) === 47) return resolvePath(undefined, p);
    let base = proc.cwd;
    if (dirfd !== undefined) {
      const d = this.fdRes(proc, dirfd);
      if (d !== undefined && (d.type === "file" || d.type === "device")) base = d.path;
      else if (this.sFd !== AT_FDCWD) base = undefined;
    }
    return resolvePath(base, p);
  }

  private setPath(path: string, exists: boolean): void {
    const old = this.pathState.get(path);
    if (old === exists) return;
    // a new key is copied: a slice would keep its whole input batch alive
    this.pathState.set(old === undefined ? ownString(path) : path, exists);
  }

  private access(
    r: SyscallRecord,
    proc: Proc,
    op: FileOp,
    res: ResourceRef,
    extra?: Partial<AccessEvent>,
  ): AccessEvent {
    const ev = this.baseAccess(r, proc, op, res);
    if (extra !== undefined) Object.assign(ev, extra);
    this.out.push(ev);
    return ev;
  }

  /** read/write-like access without an extra object (the hot path) */
  private accessIo(
    r: SyscallRecord,
    proc: Proc,
    op: FileOp,
    res: ResourceRef,
    bytes: number | undefined,
    fd: number,
  ): void {
    const ev = this.baseAccess(r, proc, op, res);
    if (bytes !== undefined) ev.bytes = bytes;
    if (!Number.isNaN(fd)) ev.fd = fd;
    this.out.push(ev);
  }

  private baseAccess(r: SyscallRecord, proc: Proc, op: FileOp, res: ResourceRef): AccessEvent {
    const ev: AccessEvent = {
      kind: "access",
      ts: r.ts,
      pid: proc.pid,
      at: this.recAt(r.line),
      op,
      res,
      call: r.name,
      ok: this.isOk(r),
    };
    if (r.tid !== proc.pid) ev.tid = r.tid;
    if (r.errno !== undefined) ev.errno = r.errno;
    this.curRes = resourceName(res);
    return ev;
  }

  // --- handlers --------------------------------------------------------------------------------------

  private registerHandlers(): void {
    const h = this.handlers;
    const on = (names: string[], f: Handler) => {
      for (const n of names) h.set(n, f);
    };
    on(["fork", "vfork", "clone", "clone2", "clone3"], (r, p) => this.onClone(r, p));
    on(["execve", "execveat"], (r, p) => this.onExec(r, p));
    on(["exit_group", "exit", "_exit"], (r, p) => this.onExitGroup(r, p));
    on(["__libc_start_main"], (r, p) => this.onLibcStartMain(r, p));
    on(["wait4", "waitpid", "waitid"], (r, p) => this.onWait(r, p));
    on(["chdir"], (r, p) => this.onChdir(r, p, false));
    on(["fchdir"], (r, p) => this.onChdir(r, p, true));
    on(["open", "openat", "openat2", "creat"], (r, p) => this.onOpen(r, p));
    on(["close"], (r, p) => this.onClose(r, p));
    on(["dup", "dup2", "dup3"], (r, p) => this.onDup(r, p));
    on(["fcntl", "fcntl64"], (r, p) => this.onFcntl(r, p));
    on(["pipe", "pipe2"], (r, p) => this.onPipe(r, p));
    on(["socketpair"], (r, p) => this.onSocketpair(r, p));
    on(["read", "pread64", "pread", "readv", "preadv", "preadv2"], (r, p) => this.onIo(r, p, 0, false));
    on(["recvfrom", "recvmsg", "recv", "recvmmsg"], (r, p) => this.onIo(r, p, 0, false));
    on(["write", "pwrite64", "pwrite", "writev", "pwritev", "pwritev2"], (r, p) => this.onIo(r, p, 0, true));
    on(["sendto", "sendmsg", "send", "sendmmsg"], (r, p) => this.onIo(r, p, 0, true));
    on(["sendfile", "sendfile64"], (r, p) => this.onTransfer(r, p, 1, 0));
    on(["copy_file_range", "splice"], (r, p) => this.onTransfer(r, p, 0, 2));
    on(["tee"], (r, p) => this.onTransfer(r, p, 0, 1));
    on(["mmap", "mmap2"], (r, p) => this.onMmap(r, p));
    on(
      ["stat", "lstat", "stat64", "lstat64", "access", "readlink", "statfs", "getxattr", "lgetxattr"],
      (r, p) => this.onProbe(r, p, -1, 0),
    );
    on(["newfstatat", "fstatat64", "statx", "faccessat", "faccessat2", "readlinkat", "utimensat"], (r, p) =>
      this.onProbe(r, p, 0, 1),
    );
    on(
      [
        "fstat",
        "fstat64",
        "fstatfs",
        "fgetxattr",
        "lseek",
        "ioctl",
        "fsync",
        "fdatasync",
        "getdents64",
        "getdents",
        "flock",
      ],
      (r, p) => this.onFdOnly(r, p),
    );
    on(["unlink"], (r, p) => this.onDelete(r, p, -1, 0, false));
    on(["unlinkat"], (r, p) =>
      this.onDelete(
        r,
        p,
        0,
        1,
        (r.args[2] ?? "").indexOf("AT_REMOVEDIR") >= 0 || r.args[2]?.trim() === "0x200",
      ),
    );
    on(["rmdir"], (r, p) => this.onDelete(r, p, -1, 0, true));
    on(["mkdir"], (r, p) => this.onMkdir(r, p, -1, 0));
    on(["mkdirat"], (r, p) => this.onMkdir(r, p, 0, 1));
    on(["rename"], (r, p) => this.onRename(r, p, -1, 0, -1, 1));
    on(["renameat", "renameat2"], (r, p) => this.onRename(r, p, 0, 1, 2, 3));
    on(["link"], (r, p) => this.onLink(r, p, -1, 0, -1, 1));
    on(["linkat"], (r, p) => this.onLink(r, p, 0, 1, 2, 3));
    on(["symlink"], (r, p) => this.onSymlink(r, p, -1, 1));
    on(["symlinkat"], (r, p) => this.onSymlink(r, p, 1, 2));
    on(["truncate", "truncate64"], (r, p) => this.onPathOp(r, p, "truncate", -1, 0));
    on(["ftruncate", "ftruncate64"], (r, p) => this.onFdOp(r, p, "truncate"));
    on(["chmod"], (r, p) => this.onPathOp(r, p, "chmod", -1, 0));
    on(["fchmodat", "fchmodat2"], (r, p) => this.onPathOp(r, p, "chmod", 0, 1));
    on(["fchmod"], (r, p) => this.onFdOp(r, p, "chmod"));
    on(["chown", "lchown", "chown32", "lchown32"], (r, p) => this.onPathOp(r, p, "chown", -1, 0));
    on(["fchownat"], (r, p) => this.onPathOp(r, p, "chown", 0, 1));
    on(["fchown", "fchown32"], (r, p) => this.onFdOp(r, p, "chown"));
    on(["socket"], (r, p) => this.onSocket(r, p));
    on(["bind"], (r, p) => this.onSockOp(r, p, "bind"));
    on(["connect"], (r, p) => this.onSockOp(r, p, "connect"));
    on(["listen"], (r, p) => this.onSockOp(r, p, "listen"));
    on(["shutdown"], (r, p) => this.onSockOp(r, p, "shutdown"));
    on(["accept", "accept4"], (r, p) => this.onAccept(r, p));
    on(["getsockname", "getpeername", "setsockopt", "getsockopt"], (r, p) => this.onFdOnly(r, p));
  }

  private onClone(r: SyscallRecord, proc: Proc): void {
    const child = r.retval;
    if (child === undefined || !(child > 0) || r.errno !== undefined) {
      if (r.errno === undefined && child === undefined)
        this.problem(r.line, `${r.name} without a child id`, r.ret);
      return;
    }
    this.curRes = String(child);
    const flags = r.name === "fork" || r.name === "vfork" ? 0 : cloneFlags(r);
    const known = this.threads.get(child);
    if (flags & CLONE_THREAD) {
      const b = this.base(r, proc);
      this.out.push({ kind: "thread.start", ...b, newTid: child });
      if (known === undefined || known.exited || known.orphan) this.threads.set(child, proc);
      this.replay(child);
      return;
    }
    const via = r.name === "clone2" ? "clone" : (r.name as "fork" | "vfork" | "clone" | "clone3");
    // the same child announced twice (ltrace: the fork() library call and its clone system call)
    if (known !== undefined && !known.orphan && !known.exited && known.pid === child) return;
    if (known?.orphan && !known.exited) {
      // started before its parent was known: a second start carries the parent (an update for the builder)
      known.orphan = false;
      if (known.cwd === undefined) known.cwd = proc.cwd;
      this.out.push({
        kind: "process.start",
        ts: r.ts,
        pid: child,
        at: this.at(r.line),
        ppid: proc.pid,
        via,
      });
      this.replay(child);
      return;
    }
    const fds = flags & CLONE_FILES ? proc.fds : new Map(proc.fds);
    const np = this.newProc(child, proc.cwd, fds);
    np.exe = proc.exe;
    this.threads.set(child, np);
    this.out.push({ kind: "process.start", ts: r.ts, pid: child, at: this.at(r.line), ppid: proc.pid, via });
    this.replay(child);
  }

  private onExec(r: SyscallRecord, proc: Proc): void {
    const at = r.name === "execveat" ? 1 : 0;
    const raw = cString(r.args[at]);
    const ok = this.isOk(r);
    if (raw === undefined) {
      // ltrace SYS_execve(0x…): the path is a pointer; nothing to say but the call
      if (!isPointer(r.args[at])) this.problem(r.line, `${r.name}: unreadable path`, r.args[at]);
      if (!ok) return;
    }
    const exe =
      raw === undefined
        ? (proc.exe ?? "")
        : at === 1
          ? (this.pathArg(proc, r.args[0], r.args[1]) ?? raw)
          : resolvePath(proc.cwd, raw);
    const argvText = r.args[at + 1];
    let argv = stringArray(argvText);
    if (argv === null) {
      if (argvText?.trimStart().startsWith("[")) {
        this.problem(r.line, `${r.name}: unreadable argv`, argvText);
      }
      argv = [];
    }
    const ev: ProvEvent = { kind: "process.exec", ...this.base(r, proc), exe, argv, ok };
    const envText = r.args[at + 2];
    const env = stringArray(envText);
    if (env !== null) {
      ev.env = env;
      ev.envCount = env.length;
    } else {
      const n = varsCount(envText);
      if (n !== undefined) ev.envCount = n;
    }
    if (proc.cwd !== undefined) ev.cwd = proc.cwd;
    if (r.errno !== undefined) ev.errno = r.errno;
    this.out.push(ev);
    this.curRes = exe;
    if (ok) {
      proc.hasExec = true;
      proc.exe = ownString(exe);
      if (exe.length > 0) this.setPath(exe, true);
      const fds = new Map<number, FdEntry>();
      for (const [fd, e] of proc.fds) if (!e.cloexec) fds.set(fd, e);
      proc.fds = fds;
    } else if (r.errno === "ENOENT" && exe.length > 0) this.setPath(exe, false);
  }

  /** ltrace: `__libc_start_main([ "python", "x.py" ] …` gives the argv of a program whose exec was not seen */
  private onLibcStartMain(r: SyscallRecord, proc: Proc): void {
    const argv = stringArray(r.args[0]);
    if (argv === null || proc.hasExec) return;
    proc.hasExec = true;
    const exe = proc.exe ?? argv[0] ?? "";
    const ev: ProvEvent = { kind: "process.exec", ...this.base(r, proc), exe, argv, ok: true };
    if (proc.cwd !== undefined) ev.cwd = proc.cwd;
    this.out.push(ev);
    this.curRes = exe;
  }

  private onExitGroup(r: SyscallRecord, proc: Proc): void {
    if (r.name !== "exit_group" && r.tid !== proc.pid) return;
    const code = numArg(r.args[0]);
    if (!Number.isNaN(code) && proc.exitCode === undefined) {
      proc.exitCode = code & 255;
      proc.exitTs = r.ts;
      proc.exitLine = r.line;
    }
  }

  private onWait(r: SyscallRecord, proc: Proc): void {
    let child = r.retval ?? 0;
    let st: { code?: number; signal?: string } = {};
    if (r.name === "waitid") {
      const info = r.args[2] ?? "";
      const sp = field(info, "si_pid=");
      child = sp !== undefined ? Number.parseInt(sp, 10) : 0;
      const code = field(info, "si_code=");
      const status = field(info, "si_status=");
      if (code === "CLD_EXITED" && status !== undefined) st = { code: Number.parseInt(status, 10) };
      else if ((code === "CLD_KILLED" || code === "CLD_DUMPED") && status !== undefined)
        st = { signal: status };
    } else st = waitStatus(r.args[1]);
    if (!(child > 0) || r.errno !== undefined) return;
    this.curRes = String(child);
    if (this.pending.has(child)) {
      const q = this.pending.get(child) as Item[];
      const first = q[0] as Item;
      this.startOrphan(child, first.ts, first.line, proc.pid, "unknown");
    }
    const ev: ProvEvent = { kind: "process.wait", ...this.base(r, proc), child };
    if (st.code !== undefined) ev.code = st.code;
    if (st.signal !== undefined) ev.signal = st.signal;
    this.out.push(ev);
    const cp = this.threads.get(child);
    if (cp !== undefined && cp.pid === child && !cp.exited) {
      // logs without +++ lines (-qq): the exit is known from the wait status or exit_group
      this.emitExit(
        cp,
        cp.exitTs ?? r.ts,
        cp.exitLine ?? r.line,
        st.code ?? (st.signal === undefined ? cp.exitCode : undefined),
        st.signal,
        undefined,
      );
    }
  }

  private onChdir(r: SyscallRecord, proc: Proc, byFd: boolean): void {
    let dir: string | undefined;
    if (byFd) {
      const res = this.fdRes(proc, r.args[0]);
      if (res !== undefined && res.type === "file") dir = res.path;
    } else dir = this.pathArg(proc, undefined, r.args[0]);
    if (dir !== undefined) this.curRes = dir;
    if (!this.isOk(r) || dir === undefined || dir.charCodeAt(0) !== 47) return;
    proc.cwd = ownString(dir);
    this.out.push({ kind: "process.chdir", ...this.base(r, proc), cwd: dir });
  }

  private onOpen(r: SyscallRecord, proc: Proc): void {
    let path: string | undefined;
    let flags: number;
    const n = r.name;
    if (n === "openat" || n === "openat2") {
      path = this.pathArg(proc, r.args[0], r.args[1]);
      flags = openFlags(r.args[2]);
      if (n === "openat2") {
        const fl = field(r.args[2] ?? "", "flags=");
        flags = openFlags(fl);
      }
    } else if (n === "creat") {
      path = this.pathArg(proc, undefined, r.args[0]);
      flags = O_CREAT | O_WRONLY | O_TRUNC;
    } else {
      path = this.pathArg(proc, undefined, r.args[0]);
      flags = openFlags(r.args[1]);
    }
    const ok = this.isOk(r);
    let res: ResourceRef | undefined;
    const ret = this.fdInfo(r.ret);
    if (ok && ret.deco !== undefined) res = this.decoRes(ret.deco);
    else if (path !== undefined) res = { type: "file", path };
    if (res === undefined) {
      const a = r.args[n === "openat" || n === "openat2" ? 1 : 0];
      if (!isPointer(a)) this.problem(r.line, `${n}: unreadable path`, a);
      return;
    }
    const acc = flags & 3;
    let created = false;
    if (ok && r.created !== undefined) created = r.created;
    else if (ok && flags & O_CREAT && res.type === "file" && !isSpecialPath(res.path)) {
      if (flags & O_EXCL) created = true;
      else {
        const s1 = this.pathState.get(res.path);
        const s2 = path !== undefined ? this.pathState.get(path) : undefined;
        if (s1 === true || s2 === true) created = false;
        else if (s1 === false || s2 === false) created = true;
        else created = (flags & O_TRUNC) !== 0 || (acc === O_WRONLY && (flags & O_APPEND) === 0);
      }
    }
    const extra: Partial<AccessEvent> = {
      read: acc !== O_WRONLY,
      write: acc !== 0,
    };
    if (flags & O_CREAT) extra.create = created;
    if (flags & O_TRUNC) extra.truncate = true;
    if (flags & O_APPEND) extra.append = true;
    // only a successful O_DIRECTORY open proves a directory (a failed one is often a probe of a file)
    if (ok && flags & O_DIRECTORY && (flags & O_CREAT) === 0) extra.directory = true;
    if (ok && !Number.isNaN(ret.fd)) extra.fd = ret.fd;
    this.access(r, proc, "open", res, extra);
    if (ok) {
      if (res.type === "file") this.setPath(res.path, true);
      if (path !== undefined) this.setPath(path, true);
      if (!Number.isNaN(ret.fd) && ret.fd >= 0) {
        proc.fds.set(ret.fd, { res, cloexec: (flags & O_CLOEXEC) !== 0 });
      }
    } else if (r.errno === "ENOENT" && path !== undefined) this.setPath(path, false);
  }

  private onClose(r: SyscallRecord, proc: Proc): void {
    const res = this.fdRes(proc, r.args[0]);
    if (res !== undefined) this.curRes = resourceName(res);
    if (!Number.isNaN(this.sFd)) proc.fds.delete(this.sFd);
  }

  private onDup(r: SyscallRecord, proc: Proc): void {
    const res = this.fdRes(proc, r.args[0]);
    if (res !== undefined) this.curRes = resourceName(res);
    if (!this.isOk(r) || res === undefined) return;
    const nfd = this.fdInfo(r.ret).fd;
    if (Number.isNaN(nfd)) return;
    const cloexec = r.name === "dup3" && (r.args[2] ?? "").indexOf("O_CLOEXEC") >= 0;
    proc.fds.set(nfd, { res, cloexec });
  }

  private onFcntl(r: SyscallRecord, proc: Proc): void {
    const res = this.fdRes(proc, r.args[0]);
    const fd = this.sFd;
    if (res !== undefined) this.curRes = resourceName(res);
    if (!this.isOk(r) || res === undefined) return;
    const cmd = (r.args[1] ?? "").trim();
    if (cmd === "F_DUPFD" || cmd === "F_DUPFD_CLOEXEC" || cmd === "0" || cmd === "1030") {
      const nfd = this.fdInfo(r.ret).fd;
      if (!Number.isNaN(nfd))
        proc.fds.set(nfd, { res, cloexec: cmd === "F_DUPFD_CLOEXEC" || cmd === "1030" });
    } else if (cmd === "F_SETFD" || cmd === "2") {
      const v = (r.args[2] ?? "").trim();
      const cloexec = v === "FD_CLOEXEC" || v === "1";
      const e = proc.fds.get(fd);
      proc.fds.set(fd, { res: e?.res ?? res, cloexec });
    }
  }

  /** `[3<pipe:[123]>, 4<pipe:[123]>]` or `[3, 4]` → two fd args */
  private fdPair(text: string | undefined): [string, string] | undefined {
    if (text === undefined) return undefined;
    const t = text.trim();
    if (!t.startsWith("[") || !t.endsWith("]")) return undefined;
    const inner = t.slice(1, -1);
    // the comma between the two fds is the first one outside angle brackets
    let depth = 0;
    for (let i = 0; i < inner.length; i++) {
      const c = inner.charCodeAt(i);
      if (c === 60) depth++;
      else if (c === 62 && inner.charCodeAt(i - 1) !== 45) depth--;
      else if (c === 44 && depth === 0) return [inner.slice(0, i).trim(), inner.slice(i + 1).trim()];
    }
    return undefined;
  }

  private onPipe(r: SyscallRecord, proc: Proc): void {
    if (!this.isOk(r)) return;
    const pair = this.fdPair(r.args[0]);
    if (pair === undefined) {
      if (!(r.args[0] ?? "").startsWith("0x")) this.problem(r.line, `${r.name}: unreadable fds`, r.args[0]);
      return;
    }
    const a = fdArg(pair[0]);
    const b = fdArg(pair[1]);
    const res: ResourceRef =
      a.deco !== undefined ? this.decoRes(a.deco) : { type: "pipe", inode: `p${proc.pid}t${r.ts}` };
    const cloexec = (r.args[1] ?? "").indexOf("O_CLOEXEC") >= 0;
    proc.fds.set(a.fd, { res, cloexec });
    proc.fds.set(b.fd, { res: b.deco !== undefined ? this.decoRes(b.deco) : res, cloexec });
    this.curRes = resourceName(res);
    this.out.push({ kind: "pipe", ...this.base(r, proc), res, fds: [a.fd, b.fd], call: r.name });
  }

  private onSocketpair(r: SyscallRecord, proc: Proc): void {
    if (!this.isOk(r)) return;
    const pair = this.fdPair(r.args[3]);
    if (pair === undefined) {
      if (!(r.args[3] ?? "").startsWith("0x")) this.problem(r.line, "socketpair: unreadable fds", r.args[3]);
      return;
    }
    const a = fdArg(pair[0]);
    const b = fdArg(pair[1]);
    let res: ResourceRef;
    if (a.deco !== undefined) res = this.decoRes(a.deco);
    else {
      const k = socketKind(r.args[0], r.args[1]) as ResourceRef & { type: "socket" };
      res = { ...k, inode: `p${proc.pid}t${r.ts}` };
    }
    const cloexec = (r.args[1] ?? "").indexOf("SOCK_CLOEXEC") >= 0;
    proc.fds.set(a.fd, { res, cloexec });
    proc.fds.set(b.fd, { res: b.deco !== undefined ? this.decoRes(b.deco) : res, cloexec });
    this.curRes = resourceName(res);
    this.out.push({ kind: "pipe", ...this.base(r, proc), res, fds: [a.fd, b.fd], call: r.name });
  }

  private onIo(r: SyscallRecord, proc: Proc, fdIdx: number, write: boolean): void {
    const res = this.fdRes(proc, r.args[fdIdx]);
    if (res === undefined) return;
    const fd = this.sFd;
    const ok = this.isOk(r);
    const bytes = ok && r.retval !== undefined && r.retval >= 0 ? r.retval : undefined;
    this.curBytes = bytes;
    if (res.type === "socket") {
      const ev: SocketEvent = {
        kind: "socket",
        ...this.base(r, proc),
        op: write ? "send" : "recv",
        res,
        call: r.name,
        ok,
      };
      if (bytes !== undefined) ev.bytes = bytes;
      if (!Number.isNaN(fd)) ev.fd = fd;
      if (r.errno !== undefined) ev.errno = r.errno;
      if (r.name === "sendto") {
        const sa = sockaddr(r.args[4]);
        if (sa?.address !== undefined) ev.address = sa.address;
      }
      if (write && ok && bytes !== undefined && bytes > 0) {
        const queries = this.dbQueries(r, res);
        if (queries !== undefined) {
          ev.queries = queries;
          this.curQueries = queries;
        }
      }
      this.curRes = resourceName(res);
      this.out.push(ev);
      return;
    }
    this.accessIo(r, proc, write ? "write" : "read", res, bytes, fd);
  }

  /** Database queries in the buffer written to a socket (PostgreSQL, MySQL, Redis), when strace printed it. */
  private dbQueries(r: SyscallRecord, res: ResourceRef & { type: "socket" }): string[] | undefined {
    const arg = r.args[1];
    if (arg === undefined) return undefined;
    const buf =
      r.name === "writev" || r.name === "sendmsg" || r.name === "pwritev" ? iovBytes(arg) : straceBytes(arg);
    if (buf === null || buf.bytes.length === 0) return undefined;
    const msgs = recognizeDbMessages(buf.bytes, buf.truncated, protocolHint(res.remote ?? res.path));
    if (msgs.length === 0) return undefined;
    return msgs.map((m) => `${m.protocol}: ${m.text}${m.truncated ? "…" : ""}`);
  }

  private onTransfer(r: SyscallRecord, proc: Proc, inIdx: number, outIdx: number): void {
    const ok = this.isOk(r);
    const bytes = ok && r.retval !== undefined && r.retval >= 0 ? r.retval : undefined;
    const inRes = this.fdRes(proc, r.args[inIdx]);
    const inFd = this.sFd;
    const outRes = this.fdRes(proc, r.args[outIdx]);
    const outFd = this.sFd;
    if (inRes !== undefined) {
      const e: Partial<AccessEvent> = {};
      if (bytes !== undefined) e.bytes = bytes;
      if (!Number.isNaN(inFd)) e.fd = inFd;
      this.access(r, proc, "read", inRes, e);
    }
    if (outRes !== undefined) {
      const e: Partial<AccessEvent> = {};
      if (bytes !== undefined) e.bytes = bytes;
      if (!Number.isNaN(outFd)) e.fd = outFd;
      this.access(r, proc, "write", outRes, e);
    }
    this.curBytes = bytes;
  }

  private onMmap(r: SyscallRecord, proc: Proc): void {
    const prot = r.args[2] ?? "";
    const c = prot.charCodeAt(0);
    const exec = c >= 48 && c <= 57 ? (numArg(prot) & 4) !== 0 : prot.indexOf("PROT_EXEC") >= 0;
    const fdText = r.args[4];
    if (fdText === undefined) return;
    const a = fdArg(fdText);
    if (Number.isNaN(a.fd) || a.fd < 0) return;
    const res = this.fdRes(proc, fdText);
    if (res === undefined) return;
    this.curRes = resourceName(res);
    if (!exec || !this.isOk(r)) return;
    this.access(r, proc, "map", res, { fd: a.fd });
  }

  private onProbe(r: SyscallRecord, proc: Proc, dirIdx: number, pathIdx: number): void {
    const raw = cString(r.args[pathIdx]);
    if (raw === undefined) {
      this.onFdOnly(r, proc);
      return;
    }
    if (raw.length === 0 && dirIdx >= 0) {
      // fstatat(fd, "", AT_EMPTY_PATH): about the fd itself
      const res = this.fdRes(proc, r.args[dirIdx]);
      if (res !== undefined) this.curRes = resourceName(res);
      return;
    }
    const path = this.pathArg(proc, dirIdx >= 0 ? r.args[dirIdx] : undefined, r.args[pathIdx]);
    if (path === undefined) return;
    this.access(r, proc, "probe", { type: "file", path });
    if (this.isOk(r)) this.setPath(path, true);
    else if (r.errno === "ENOENT") this.setPath(path, false);
  }

  private onFdOnly(r: SyscallRecord, proc: Proc): void {
    const res = this.fdRes(proc, r.args[0]);
    if (res !== undefined) this.curRes = resourceName(res);
  }

  private onDelete(r: SyscallRecord, proc: Proc, dirIdx: number, pathIdx: number, dir: boolean): void {
    const path = this.pathArg(proc, dirIdx >= 0 ? r.args[dirIdx] : undefined, r.args[pathIdx]);
    if (path === undefined) {
      if (!isPointer(r.args[pathIdx])) this.problem(r.line, `${r.name}: unreadable path`, r.args[pathIdx]);
      return;
    }
    this.access(r, proc, dir ? "rmdir" : "delete", { type: "file", path });
    if (this.isOk(r) || r.errno === "ENOENT") this.setPath(path, false);
  }

  private onMkdir(r: SyscallRecord, proc: Proc, dirIdx: number, pathIdx: number): void {
    const path = this.pathArg(proc, dirIdx >= 0 ? r.args[dirIdx] : undefined, r.args[pathIdx]);
    if (path === undefined) {
      if (!isPointer(r.args[pathIdx])) this.problem(r.line, `${r.name}: unreadable path`, r.args[pathIdx]);
      return;
    }
    this.access(r, proc, "mkdir", { type: "file", path });
    if (this.isOk(r) || r.errno === "EEXIST") this.setPath(path, true);
  }

  private onRename(r: SyscallRecord, proc: Proc, d1: number, p1: number, d2: number, p2: number): void {
    const from = this.pathArg(proc, d1 >= 0 ? r.args[d1] : undefined, r.args[p1]);
    const to = this.pathArg(proc, d2 >= 0 ? r.args[d2] : undefined, r.args[p2]);
    if (from === undefined || to === undefined) {
      if (!isPointer(r.args[p1])) this.problem(r.line, `${r.name}: unreadable paths`);
      return;
    }
    const ok = this.isOk(r);
    const ev: ProvEvent = { kind: "rename", ...this.base(r, proc), from, to, call: r.name, ok };
    if (r.errno !== undefined) ev.errno = r.errno;
    this.out.push(ev);
    this.curRes = from;
    if (ok) {
      this.setPath(from, false);
      this.setPath(to, true);
    }
  }

  private onLink(r: SyscallRecord, proc: Proc, d1: number, p1: number, d2: number, p2: number): void {
    const target = this.pathArg(proc, d1 >= 0 ? r.args[d1] : undefined, r.args[p1]);
    const name = this.pathArg(proc, d2 >= 0 ? r.args[d2] : undefined, r.args[p2]);
    if (target === undefined || name === undefined) return;
    this.access(r, proc, "link", { type: "file", path: name }, { target });
    if (this.isOk(r)) this.setPath(name, true);
  }

  private onSymlink(r: SyscallRecord, proc: Proc, dirIdx: number, pathIdx: number): void {
    const target = cString(r.args[0]);
    const name = this.pathArg(proc, dirIdx >= 0 ? r.args[dirIdx] : undefined, r.args[pathIdx]);
    if (target === undefined || name === undefined) return;
    this.access(r, proc, "symlink", { type: "file", path: name }, { target });
    if (this.isOk(r)) this.setPath(name, true);
  }

  private onPathOp(r: SyscallRecord, proc: Proc, op: FileOp, dirIdx: number, pathIdx: number): void {
    const path = this.pathArg(proc, dirIdx >= 0 ? r.args[dirIdx] : undefined, r.args[pathIdx]);
    if (path === undefined) return;
    this.access(r, proc, op, { type: "file", path });
  }

  private onFdOp(r: SyscallRecord, proc: Proc, op: FileOp): void {
    const res = this.fdRes(proc, r.args[0]);
    if (res === undefined) return;
    const fd = this.sFd;
    this.access(r, proc, op, res, Number.isNaN(fd) ? undefined : { fd });
  }

  private sockEvent(
    r: SyscallRecord,
    proc: Proc,
    op: SocketEvent["op"],
    res: ResourceRef,
    fd: number,
    address: string | undefined,
  ): void {
    const ok = this.isOk(r) || (op === "connect" && r.errno === "EINPROGRESS");
    const ev: SocketEvent = { kind: "socket", ...this.base(r, proc), op, res, call: r.name, ok };
    if (address !== undefined) ev.address = address;
    if (!Number.isNaN(fd)) ev.fd = fd;
    if (r.errno !== undefined) ev.errno = r.errno;
    this.curRes = resourceName(res);
    this.out.push(ev);
  }

  private onSocket(r: SyscallRecord, proc: Proc): void {
    const ret = this.fdInfo(r.ret);
    let res: ResourceRef;
    if (ret.deco !== undefined) res = this.decoRes(ret.deco);
    else {
      res = socketKind(r.args[0], r.args[1]);
      if (!Number.isNaN(ret.fd) && ret.fd >= 0 && res.type === "socket") {
        res = { ...res, inode: `s${proc.pid}t${r.ts}` };
      }
    }
    this.sockEvent(r, proc, "socket", res, ret.fd, undefined);
    if (this.isOk(r) && !Number.isNaN(ret.fd) && ret.fd >= 0) {
      proc.fds.set(ret.fd, { res, cloexec: (r.args[1] ?? "").indexOf("SOCK_CLOEXEC") >= 0 });
    }
  }

  private onSockOp(r: SyscallRecord, proc: Proc, op: SocketEvent["op"]): void {
    let res = this.fdRes(proc, r.args[0]);
    const fd = this.sFd;
    if (res === undefined) return;
    const sa = op === "bind" || op === "connect" ? sockaddr(r.args[1]) : undefined;
    const address = sa?.address;
    // without decorations, remember the endpoint on the fd table entry
    if (!this.decorations && address !== undefined && res.type === "socket" && this.isOk(r)) {
      res = op === "bind" ? { ...res, local: address } : { ...res, remote: address };
      const e = proc.fds.get(fd);
      if (e !== undefined) proc.fds.set(fd, { res, cloexec: e.cloexec });
    }
    this.sockEvent(r, proc, op, res, fd, address);
    // binding a unix socket to a path creates that file (abstract names, @…, create nothing)
    if (op === "bind" && sa?.family === "unix" && address !== undefined && address.charCodeAt(0) !== 64) {
      const path = resolvePath(proc.cwd, address);
      if (this.isOk(r)) {
        this.access(r, proc, "create", { type: "file", path }, { create: true });
        this.setPath(path, true);
      }
      this.curRes = resourceName(res);
    }
  }

  private onAccept(r: SyscallRecord, proc: Proc): void {
    const listener = this.fdRes(proc, r.args[0]);
    const ret = this.fdInfo(r.ret);
    const sa = sockaddr(r.args[1]);
    let res: ResourceRef | undefined;
    if (ret.deco !== undefined) res = this.decoRes(ret.deco);
    else if (listener !== undefined && listener.type === "socket") {
      res = { ...listener, inode: `s${proc.pid}t${r.ts}` };
      if (sa?.address !== undefined) res.remote = sa.address;
    } else res = listener;
    if (res === undefined) return;
    this.sockEvent(r, proc, "accept", res, ret.fd, sa?.address);
    if (this.isOk(r) && !Number.isNaN(ret.fd) && ret.fd >= 0) {
      proc.fds.set(ret.fd, { res, cloexec: (r.args[3] ?? "").indexOf("SOCK_CLOEXEC") >= 0 });
    }
  }
}
