import { posix } from "node:path";
import type {
  AccessEvent,
  CallEvent,
  ExecEvent,
  FileOp,
  ProblemEvent,
  ProvEvent,
  ResourceRef,
  SocketEvent,
} from "../../events/event-types.js";
import { errnoName } from "../syscalls/errno-names.js";
import type { AuditEvent, AuditGroupItem } from "./audit-event-grouper.js";
import { type AuditRecord, execveArgv, proctitleArgv } from "./audit-record-parser.js";
import { type AuditSockaddr, decodeSockaddr } from "./audit-sockaddr.js";
import { archIsBigEndian, syscallName } from "./audit-syscall-names.js";

/**
 * Turns grouped audit events (a SYSCALL record with its PATH, CWD, EXECVE, PROCTITLE and SOCKADDR
 * records) into provenance events. The kernel says what it did: PATH `nametype=CREATE` / `DELETE`
 * items are the truth about created and removed names, `exe=` is the program really run. Names
 * relative to a directory fd are resolved through the inode of the PARENT item, remembered from
 * directories seen earlier with a resolvable name (the kernel prints no usable parent name then).
 * Events without a SYSCALL record (user-space, CONFIG_CHANGE…) carry no process activity and are
 * skipped; kernel records left without their SYSCALL are reported as problems.
 */

export interface AuditInterpreterOptions {
  /** file name for problem reports */
  file: string;
  /** working directory to resolve relative names when an event has no CWD record */
  cwd?: string;
}

export interface AuditInterpreterStats {
  events: number;
  syscalls: number;
  problems: number;
  /** PATH names that could not be made absolute (dirfd-relative with an unknown directory) */
  unresolved: number;
}

interface PathItem {
  item: number;
  name: string | null;
  nametype: string;
  dir: boolean;
  /** "dev inode", "" when absent */
  key: string;
  path: string | null;
  rec: AuditRecord;
}

const AT_FDCWD = "ffffff9c";
const O_ACCMODE = 3;
const O_CREAT = 0x40;
const O_TRUNC = 0x200;
const O_APPEND = 0x400;
const CLONE_THREAD = 0x10000;
const AT_REMOVEDIR = 0x200;
const MAX_TEXT = 200;

/** the argument holding the directory fd of the (first) name, per call */
const DIRFD_ARG: Record<string, string> = {
  openat: "a0",
  openat2: "a0",
  unlinkat: "a0",
  renameat: "a0",
  renameat2: "a0",
  mkdirat: "a0",
  mknodat: "a0",
  linkat: "a2",
  symlinkat: "a1",
  execveat: "a0",
  fchmodat: "a0",
  fchmodat2: "a0",
  fchownat: "a0",
  utimensat: "a0",
  newfstatat: "a0",
  faccessat: "a0",
  faccessat2: "a0",
};

/** the low 32 bits of a hex register value (flags live there) */
function hexLow(v: string | null | undefined): number {
  if (v === null || v === undefined || v === "") return Number.NaN;
  return Number.parseInt(v.length > 8 ? v.slice(-8) : v, 16) >>> 0;
}

function sockAddress(sa: AuditSockaddr): string | undefined {
  if (sa.family === "inet") return sa.addr === undefined ? undefined : `${sa.addr}:${sa.port ?? 0}`;
  if (sa.family === "inet6") return sa.addr === undefined ? undefined : `[${sa.addr}]:${sa.port ?? 0}`;
  if (sa.family === "unix") return sa.path === undefined || sa.path === "" ? undefined : sa.path;
  return undefined;
}

function sockProtocol(sa: AuditSockaddr): string {
  switch (sa.family) {
    case "unix":
      return "UNIX";
    case "netlink":
      return "NETLINK";
    case "inet":
      return "INET";
    case "inet6":
      return "INET6";
    default:
      return "OTHER";
  }
}

export class AuditInterpreter {
  readonly stats: AuditInterpreterStats = { events: 0, syscalls: 0, problems: 0, unresolved: 0 };
  /** pids announced (started or seen) and not exited */
  private readonly known = new Set<number>();
  /** clone3 children not seen yet: a process or a thread, the record does not say */
  private readonly pendingClone3 = new Map<number, { ppid: number; ts: number }>();
  /** "dev inode" of directories → their absolute path */
  private readonly dirByInode = new Map<string, string>();
  private readonly cwdByPid = new Map<number, string>();
  /** pids that exited lately → when: a clone record logged after its child's exit must not start it again */
  private readonly exited = new Map<number, number>();
  private lastTs = 0;

  constructor(private readonly opts: AuditInterpreterOptions) {}

  /** interpret a batch of grouper output; problems pass through */
  feed(items: readonly AuditGroupItem[], out: ProvEvent[] = []): ProvEvent[] {
    for (const it of items) {
      if (it.kind === "problem") {
        out.push(it);
        continue;
      }
      this.event(it, out);
    }
    return out;
  }

  /** whether `pid` exited within the 10 s before `ts` (µs) */
  private recentlyExited(pid: number, ts: number): boolean {
    const at = this.exited.get(pid);
    return at !== undefined && at <= ts && ts - at < 10_000_000;
  }

  /** end of input: clone3 children never seen were threads of a still running process */
  end(out: ProvEvent[] = []): ProvEvent[] {
    for (const [tid, c] of this.pendingClone3) {
      if (this.known.has(c.ppid)) out.push({ kind: "thread.start", ts: c.ts, pid: c.ppid, newTid: tid });
    }
    this.pendingClone3.clear();
    return out;
  }

  private problem(out: ProvEvent[], rec: AuditRecord, message: string): void {
    this.stats.problems++;
    const text = `type=${rec.type} msg=audit(${rec.id})`;
    const p: ProblemEvent = {
      kind: "problem",
      at: { file: this.opts.file, line: rec.line },
      message,
      text: text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text,
    };
    out.push(p);
  }

  private event(ev: AuditEvent, out: ProvEvent[]): void {
    this.stats.events++;
    let sc: AuditRecord | undefined;
    let needsSyscall: AuditRecord | undefined;
    for (const r of ev.records) {
      if (r.type === "SYSCALL") {
        sc ??= r;
      } else if (
        needsSyscall === undefined &&
        (r.type === "PATH" || r.type === "CWD" || r.type === "EXECVE" || r.type === "SOCKADDR")
      ) {
        needsSyscall = r;
      }
    }
    if (sc === undefined) {
      if (needsSyscall !== undefined) {
        this.problem(
          out,
          needsSyscall,
          ev.late
            ? `audit event ${ev.id}: records arrived after the event was closed`
            : `audit event ${ev.id} has ${needsSyscall.type} records but no SYSCALL record`,
        );
      }
      return;
    }
    try {
      this.syscall(ev, sc, out);
    } catch (e) {
      this.problem(out, sc, `cannot interpret audit event ${ev.id}: ${(e as Error).message}`);
    }
  }

  private syscall(ev: AuditEvent, sc: AuditRecord, out: ProvEvent[]): void {
    const f = sc.fields;
    const pid = Number(f.get("pid"));
    const nr = Number(f.get("syscall"));
    if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(nr) || nr < 0) {
      this.problem(out, sc, "SYSCALL record without a valid pid= or syscall=");
      return;
    }
    this.stats.syscalls++;
    const arch = f.get("arch") ?? "";
    const name = syscallName(arch, nr) ?? `syscall_${nr}`;
    const ppidRaw = Number(f.get("ppid"));
    const ppid = Number.isInteger(ppidRaw) && ppidRaw >= 0 ? ppidRaw : null;
    const ts = ev.ts;
    if (ts > this.lastTs) this.lastTs = ts;
    const at = { file: this.opts.file, line: sc.line };
    const success = f.get("success");
    const exitRaw = f.get("exit");
    const exitNum = exitRaw === undefined || exitRaw === null ? Number.NaN : Number(exitRaw);
    const ok = success === "no" ? false : success === "yes" ? true : !(exitNum < 0);
    const errno = !ok && exitNum < 0 ? errnoName(-exitNum) : undefined;

    // the other records of the event
    let cwdRec: string | undefined;
    let paths: PathItem[] | null = null;
    let sockRec: AuditRecord | undefined;
    let hasExecve = false;
    let proctitle: AuditRecord | undefined;
    for (const r of ev.records) {
      switch (r.type) {
        case "CWD": {
          const c = r.fields.get("cwd");
          if (typeof c === "string" && c.startsWith("/")) cwdRec = c;
          break;
        }
        case "PATH": {
          paths ??= [];
          const mode = r.fields.get("mode");
          const inode = r.fields.get("inode");
          paths.push({
            item: Number(r.fields.get("item") ?? paths.length),
            name: r.fields.get("name") ?? null,
            nametype: r.fields.get("nametype") ?? "",
            dir: typeof mode === "string" && mode.startsWith("04"),
            key: inode ? `${r.fields.get("dev") ?? ""} ${inode}` : "",
            path: null,
            rec: r,
          });
          break;
        }
        case "SOCKADDR":
          sockRec ??= r;
          break;
        case "EXECVE":
          hasExecve = true;
          break;
        case "PROCTITLE":
          proctitle = r;
          break;
      }
    }
    const cwd = cwdRec ?? this.cwdByPid.get(pid) ?? this.opts.cwd;
    if (cwdRec !== undefined) this.cwdByPid.set(pid, cwdRec);

    // the process itself: announced the first time it is seen
    if (!this.known.has(pid)) {
      const pending = this.pendingClone3.get(pid);
      if (pending !== undefined) {
        this.pendingClone3.delete(pid);
        out.push({ kind: "process.start", ts: pending.ts, pid, ppid: pending.ppid, via: "clone3", at });
      } else {
        out.push({ kind: "process.start", ts, pid, ppid, via: "unknown", at });
      }
      this.known.add(pid);
      this.exited.delete(pid);
    }

    if (paths !== null) {
      const declared = Number(f.get("items"));
      if (Number.isInteger(declared) && paths.length < declared) {
        this.problem(
          out,
          sc,
          `incomplete audit event ${ev.id}: items=${declared} but ${paths.length} PATH records`,
        );
      }
      if (paths.length > 1) paths.sort((a, b) => a.item - b.item);
      this.resolvePaths(name, f, paths, cwd);
    }
    let resource = "";

    switch (name) {
      case "execve":
      case "execveat": {
        const item0 = paths?.find((p) => p.nametype !== "PARENT") ?? null;
        const exeField = f.get("exe");
        const exe = ok && typeof exeField === "string" && exeField !== "" ? exeField : (item0?.path ?? null);
        if (exe === null) {
          this.problem(out, sc, `${name} without exe= or PATH name`);
          break;
        }
        resource = exe;
        const x: ExecEvent = { kind: "process.exec", ts, pid, at, exe, argv: [], ok };
        if (hasExecve) {
          const a = execveArgv(ev.records);
          x.argv = a.argv;
          if (!a.complete) this.problem(out, sc, `${name}: EXECVE arguments incomplete (argc=${a.argc})`);
        } else if (proctitle !== undefined) {
          x.argv = proctitleArgv(proctitle.fields.get("proctitle"));
        }
        if (cwd !== undefined) x.cwd = cwd;
        if (errno !== undefined) x.errno = errno;
        out.push(x);
        break;
      }
      case "clone":
      case "fork":
      case "vfork":
      case "clone3": {
        if (!ok || !(exitNum > 0)) break;
        const child = exitNum;
        resource = String(child);
        if (name === "clone" && (hexLow(f.get("a0")) & CLONE_THREAD) !== 0) {
          out.push({ kind: "thread.start", ts, pid, newTid: child, at });
        } else if (this.known.has(child) || this.recentlyExited(child, ts)) {
          // the child's own events came first (the kernel logs a syscall when it returns, and the
          // child may run before its parent returns from clone; a vfork parent waits until the child
          // has exec'd or exited): it was announced then, with this parent from its ppid field
        } else if (name === "clone3") {
          this.pendingClone3.set(child, { ppid: pid, ts });
        } else {
          out.push({ kind: "process.start", ts, pid: child, ppid: pid, via: name, at });
          this.known.add(child);
          this.exited.delete(child);
        }
        break;
      }
      case "exit_group": {
        const code = hexLow(f.get("a0"));
        out.push({ kind: "process.exit", ts, pid, at, ...(Number.isNaN(code) ? {} : { code: code & 0xff }) });
        this.known.delete(pid);
        this.cwdByPid.delete(pid);
        this.exited.set(pid, ts);
        if (this.exited.size > 4096) this.exited.delete(this.exited.keys().next().value!);
        break;
      }
      case "open":
      case "openat":
      case "openat2":
      case "creat": {
        const target = lastNonParent(paths);
        if (target === null || target.path === null) break;
        resource = target.path;
        const flags =
          name === "open"
            ? hexLow(f.get("a1"))
            : name === "openat"
              ? hexLow(f.get("a2"))
              : name === "creat"
                ? 0x241
                : Number.NaN;
        const created = paths!.some((p) => p.nametype === "CREATE");
        const a = this.access(ts, pid, at, "open", target, name, ok, errno);
        if (!Number.isNaN(flags)) {
          const acc = flags & O_ACCMODE;
          a.read = acc === 0 || acc === 2;
          a.write = acc === 1 || acc === 2;
          if (flags & O_TRUNC) a.truncate = true;
          if (flags & O_APPEND) a.append = true;
          if (flags & O_CREAT && !ok) a.create = true;
          // O_DIRECTORY is not used as a hint: a failed probe with it (cp, mv) names a file to be
          // created; the PATH mode says what the name really is
        } else {
          a.read = true;
          a.write = created;
        }
        if (ok) a.create = created;
        if (ok && exitNum >= 0) a.fd = exitNum;
        out.push(a);
        break;
      }
      case "truncate": {
        const target = lastNonParent(paths);
        if (target === null || target.path === null) break;
        resource = target.path;
        out.push(this.access(ts, pid, at, "truncate", target, name, ok, errno));
        break;
      }
      case "unlink":
      case "unlinkat":
      case "rmdir": {
        const removeDir =
          name === "rmdir" || (name === "unlinkat" && (hexLow(f.get("a2")) & AT_REMOVEDIR) !== 0);
        const dels = paths?.filter((p) => p.nametype === "DELETE" && p.path !== null) ?? [];
        if (dels.length === 0) {
          const t = ok ? null : lastNonParent(paths);
          if (t?.path) {
            resource = t.path;
            out.push(this.access(ts, pid, at, removeDir ? "rmdir" : "delete", t, name, ok, errno));
          }
          break;
        }
        for (const d of dels) {
          resource = d.path!;
          out.push(this.access(ts, pid, at, d.dir || removeDir ? "rmdir" : "delete", d, name, ok, errno));
        }
        break;
      }
      case "rename":
      case "renameat":
      case "renameat2": {
        const from = paths?.find((p) => p.nametype === "DELETE" && p.path !== null);
        const to = paths?.findLast((p) => p.nametype === "CREATE" && p.path !== null);
        if (from === undefined || to === undefined) {
          if (ok)
            this.problem(out, sc, `${name} succeeded but its DELETE/CREATE names are missing or unresolved`);
          break;
        }
        resource = from.path!;
        out.push({ kind: "rename", ts, pid, at, from: from.path!, to: to.path!, call: name, ok });
        break;
      }
      case "mkdir":
      case "mkdirat": {
        const t = paths?.find((p) => p.nametype === "CREATE") ?? (ok ? null : lastNonParent(paths));
        if (!t?.path) break;
        resource = t.path;
        const a = this.access(ts, pid, at, "mkdir", t, name, ok, errno);
        a.directory = true;
        out.push(a);
        break;
      }
      case "link":
      case "linkat":
      case "symlink":
      case "symlinkat": {
        const t = paths?.find((p) => p.nametype === "CREATE");
        if (!t?.path) break;
        resource = t.path;
        const isSym = name.startsWith("symlink");
        const a = this.access(ts, pid, at, isSym ? "symlink" : "link", t, name, ok, errno);
        if (!isSym) {
          const old = paths!.find((p) => p !== t && p.nametype !== "PARENT" && p.path !== null);
          if (old) a.target = old.path!;
        }
        out.push(a);
        break;
      }
      case "mknod":
      case "mknodat": {
        const t = paths?.find((p) => p.nametype === "CREATE");
        if (!t?.path || t.dir) break;
        resource = t.path;
        out.push(this.access(ts, pid, at, "create", t, name, ok, errno));
        break;
      }
      case "chdir": {
        const t = lastNonParent(paths);
        if (ok && t?.path) {
          resource = t.path;
          this.cwdByPid.set(pid, t.path);
          out.push({ kind: "process.chdir", ts, pid, at, cwd: t.path });
        }
        break;
      }
      case "connect":
      case "bind":
      case "accept":
      case "accept4": {
        if (sockRec === undefined) break;
        const hex = sockRec.fields.get("saddr");
        const sa = typeof hex === "string" ? decodeSockaddr(hex, archIsBigEndian(arch)) : null;
        if (sa === null) {
          this.problem(out, sockRec, `${name}: SOCKADDR without a readable saddr=`);
          break;
        }
        if (sa.family === "netlink" || sa.family === "other") break;
        const address = sockAddress(sa);
        const op = name === "accept4" ? "accept" : (name as "connect" | "bind" | "accept");
        const res: ResourceRef = { type: "socket", family: sa.family, protocol: sockProtocol(sa) };
        if (sa.family === "unix" && address !== undefined && op !== "accept") res.path = address;
        const s: SocketEvent = {
          kind: "socket",
          ts,
          pid,
          at,
          op,
          res,
          call: name,
          ok: ok || errno === "EINPROGRESS",
        };
        if (address !== undefined && op !== "accept") s.address = address;
        if (op === "accept" && address !== undefined) res.remote = address;
        const fd = hexLow(f.get("a0"));
        if (!Number.isNaN(fd)) s.fd = fd;
        if (errno !== undefined) s.errno = errno;
        resource = address ?? "";
        out.push(s);
        break;
      }
    }

    const call: CallEvent = { kind: "call", ts, pid, at, name, resource, ok };
    if (exitRaw !== undefined && exitRaw !== null) call.ret = exitRaw;
    if (errno !== undefined) call.errno = errno;
    out.push(call);
  }

  private access(
    ts: number,
    pid: number,
    at: { file: string; line: number },
    op: FileOp,
    item: PathItem,
    call: string,
    ok: boolean,
    errno: string | undefined,
  ): AccessEvent {
    const a: AccessEvent = {
      kind: "access",
      ts,
      pid,
      at,
      op,
      res: { type: "file", path: item.path! },
      call,
      ok,
    };
    if (item.dir) a.directory = true;
    if (errno !== undefined) a.errno = errno;
    return a;
  }

  /**
   * Make every PATH name absolute: names relative to AT_FDCWD against CWD, names relative to a
   * directory fd through the PARENT item's inode (the kernel prints the process's cwd, not the
   * directory, as that PARENT's name). For rename/link the second PARENT is the new name's directory.
   */
  private resolvePaths(
    name: string,
    f: Map<string, string | null>,
    paths: PathItem[],
    cwd: string | undefined,
  ): void {
    const isRename = name === "renameat" || name === "renameat2";
    const isLink = name === "linkat";
    const mainArg = DIRFD_ARG[name];
    const relTo = (arg: string | undefined): boolean => {
      if (arg === undefined) return false;
      const v = f.get(arg);
      return typeof v === "string" && v !== AT_FDCWD && v !== "ffffffffffffff9c";
    };
    let parentDir: string | null = null;
    let parents = 0;
    let children = 0;
    for (const p of paths) {
      // which directory fd names this item: rename's second side uses a2, linkat's old name a0
      let rel: boolean;
      if (isRename)
        rel = relTo(p.nametype === "PARENT" ? (parents === 0 ? "a0" : "a2") : children === 0 ? "a0" : "a2");
      else if (isLink && p.nametype !== "PARENT" && p.nametype !== "CREATE") rel = relTo("a0");
      else rel = relTo(mainArg);
      if (p.nametype === "PARENT") {
        parents++;
        let dir: string | null = null;
        if (rel) dir = (p.key !== "" ? this.dirByInode.get(p.key) : undefined) ?? null;
        else if (p.name !== null) dir = this.abs(p.name, cwd);
        if (dir !== null && p.key !== "") this.dirByInode.set(p.key, dir);
        parentDir = dir;
        p.path = dir;
        continue;
      }
      if ((isRename || name === "rename") && children === 1 && parents > 1) {
        // the new side: its PARENT is the second one
        const second = paths.filter((q) => q.nametype === "PARENT")[1];
        if (second) parentDir = second.path;
      }
      children++;
      let path: string | null = null;
      if (p.name !== null && p.name !== "") {
        if (p.name.startsWith("/")) path = posix.normalize(p.name);
        else if (rel) path = parentDir !== null ? posix.join(parentDir, posix.basename(p.name)) : null;
        else path = this.abs(p.name, cwd);
      }
      if (path === null && p.dir && p.key !== "") path = this.dirByInode.get(p.key) ?? null;
      if (path === null) this.stats.unresolved++;
      else if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
      if (path !== null && p.dir && p.key !== "") this.dirByInode.set(p.key, path);
      p.path = path;
    }
  }

  private abs(name: string, cwd: string | undefined): string | null {
    if (name.startsWith("/")) return stripSlash(posix.normalize(name));
    if (cwd === undefined) return null;
    return stripSlash(posix.join(cwd, name));
  }
}

function stripSlash(p: string): string {
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

function lastNonParent(paths: PathItem[] | null): PathItem | null {
  if (paths === null) return null;
  for (let i = paths.length - 1; i >= 0; i--) {
    const p = paths[i]!;
    if (p.nametype !== "PARENT") return p;
  }
  return null;
}
