import type { AuditEvent } from "./audit-event-grouper.js";
import type { AuditRecord } from "./audit-record-parser.js";
import { syscallName } from "./audit-syscall-names.js";

/**
 * A shadow process table built from the audit log itself, for laurel-style enrichment (`SYSCALL.PPID`,
 * `SYSCALL.PID`, `PARENT_INFO`, `SYSCALL.SPAWNED_BY`, labels, container ids).
 *
 * laurel seeds its table from the /proc of the machine running it and, every second of event time,
 * forgets every process that is not alive there: replaying an archived log, a parent is forgotten after
 * 1–2 s. Here the log alone drives the table:
 *
 * - an `execve`/`execveat` that succeeded starts a new instance of its pid (the program that now runs);
 * - a `clone`/`fork`/`vfork`/`clone3` that returned a child pid (not a thread: `CLONE_THREAD`) creates
 *   the child, with the caller's comm, exe, labels and container;
 * - the first event of a pid the table does not know (a process started before the log) creates an
 *   instance "observed" at that event; so does an event whose `exe` differs from the known one (a pid
 *   reused after an exit the log does not show);
 * - `exit_group` marks the instance ended; it stays for `exitGraceMs` of event time (children may still
 *   name it as their parent for a moment), then goes.
 *
 * Each instance is named by the id of the event that started it (`EVENT_ID`). Memory is bounded by the
 * number of live pids (one instance per pid and node; `maxProcesses` caps it, oldest first).
 *
 * With `laurel051` the table behaves as laurel 0.5.1's (used to check our output against laurel's):
 * entries only from execve records (whether they succeeded or not), nothing from fork, exit or
 * first-seen events, and across an exec only the parent's labels propagate. `forget()` then empties it as
 * laurel's pruning against an empty /proc does.
 */

export type ProcessOrigin = "exec" | "fork" | "observed";

/** who started a program (a copy of the spawning instance's names, so no chain of ancestors is kept) */
export interface ProcessRef {
  readonly pid: number;
  readonly eventId: string;
  readonly comm: string | null;
  readonly exe: string | null;
}

export interface AuditProcess {
  readonly node: string;
  readonly pid: number;
  /** the parent pid when the instance started */
  readonly ppid: number;
  /** "SECONDS.MILLIS:SERIAL" of the event that started this instance */
  readonly eventId: string;
  /** event time of that event, ms since the epoch */
  readonly timeMs: number;
  readonly origin: ProcessOrigin;
  /** as decoded from the record (null when absent or `(null)`) */
  readonly comm: string | null;
  readonly exe: string | null;
  /**
   * The instance that started this program: the parent for a fork and for fork+exec, the pre-exec
   * image for an exec without fork (laurel 0.8's SPAWNED_BY).
   */
  spawner: ProcessRef | null;
  /** labels in the order they were given, null when none */
  labels: string[] | null;
  /** container id (64 hex digits), inherited from the parent */
  container: string | null;
  /** event time of its exit_group, null while it runs */
  exitMs: number | null;
  /** free slot for the enricher (the executable's hash, computed once per instance) */
  exeHash?: string | null;
}

/** the processes an event's SYSCALL record names */
export interface ProcessContext {
  /** the process that made the call (after the event is applied: for an exec, the new program) */
  self: AuditProcess | null;
  /** the process named by `ppid`, as it was before the event */
  parent: AuditProcess | null;
  /** the SYSCALL record, null when the event has none */
  syscall: AuditRecord | null;
  /** the event is an exec (as laurel counts it: the syscall name contains "execve") */
  exec: boolean;
}

export interface AuditProcessTableOptions {
  /** behave exactly as laurel 0.5.1's table (see above) */
  laurel051?: boolean;
  /** labels that children (and, except with laurel051, a program after exec) inherit */
  propagate?: ((label: string) => boolean) | null;
  /** labels given to a program when it is exec'd */
  labelsForExe?: ((exe: string) => readonly string[]) | null;
  /** how long an ended process stays findable as a parent, in ms of event time (default 10 s) */
  exitGraceMs?: number;
  /** most instances kept (default 262,144, some 80 MB at most); the oldest go first */
  maxProcesses?: number;
}

const CLONE_THREAD = 0x10000n;
const CLONE_PARENT = 0x8000n;

const NO_CONTEXT: ProcessContext = Object.freeze({ self: null, parent: null, syscall: null, exec: false });

/**
 * A copy of a string that does not keep its source alive: values parsed from a line are slices of the
 * whole chunk that was read (256 KB), and the table keeps them for as long as the process lives.
 */
export function ownString<T extends string | null>(s: T): T {
  if (s === null || s.length <= 12) return s; // V8 copies short slices anyway
  return Buffer.from(s, "utf8").toString("utf8") as T;
}

function int(v: string | null | undefined): number {
  if (v === null || v === undefined || v === "") return Number.NaN;
  return Number(v);
}

export class AuditProcessTable {
  readonly stats = { execs: 0, forks: 0, observed: 0, exits: 0, removed: 0 };
  /** node → pid → instance */
  private readonly nodes = new Map<string, Map<number, AuditProcess>>();
  private size = 0;
  private readonly exited: AuditProcess[] = [];
  private exitedHead = 0;
  private nowMs = 0;
  private readonly laurel051: boolean;
  private readonly propagate: ((label: string) => boolean) | null;
  private readonly labelsForExe: ((exe: string) => readonly string[]) | null;
  private readonly exitGraceMs: number;
  private readonly maxProcesses: number;

  constructor(opts: AuditProcessTableOptions = {}) {
    this.laurel051 = opts.laurel051 === true;
    this.propagate = opts.propagate ?? null;
    this.labelsForExe = opts.labelsForExe ?? null;
    this.exitGraceMs = opts.exitGraceMs ?? 10_000;
    this.maxProcesses = opts.maxProcesses ?? 1 << 18;
  }

  /** instances held */
  get count(): number {
    return this.size;
  }

  get(node: string, pid: number): AuditProcess | null {
    return this.nodes.get(node)?.get(pid) ?? null;
  }

  /** forget every process (what laurel's pruning does with an empty /proc) */
  forget(): void {
    this.nodes.clear();
    this.size = 0;
    this.exited.length = 0;
    this.exitedHead = 0;
  }

  addLabel(p: AuditProcess, label: string): void {
    if (p.labels === null) p.labels = [ownString(label)];
    else if (!p.labels.includes(label)) p.labels.push(ownString(label));
  }

  /**
   * Applies an event to the table and tells which processes its SYSCALL record names. Call it once per
   * event, in the order events are written.
   */
  observe(ev: AuditEvent): ProcessContext {
    let sc: AuditRecord | null = null;
    for (const r of ev.records) {
      if (r.type === "SYSCALL") {
        sc = r;
        break;
      }
    }
    if (sc === null) return NO_CONTEXT;
    const f = sc.fields;
    const pid = int(f.get("pid"));
    const ppid = int(f.get("ppid"));
    if (!Number.isInteger(pid)) return { self: null, parent: null, syscall: sc, exec: false };
    const timeMs = ev.sec * 1000 + ev.ms;
    if (timeMs > this.nowMs) {
      this.nowMs = timeMs;
      this.dropExited();
    }
    const arch = f.get("arch");
    const nr = int(f.get("syscall"));
    const name = arch && Number.isInteger(nr) ? (syscallName(arch, nr) ?? "") : "";
    const exec = name.includes("execve");
    const node = ev.node;
    const parent = Number.isInteger(ppid) ? this.get(node, ppid) : null;
    let current = this.get(node, pid);
    const comm = f.get("comm") ?? null;
    const exe = f.get("exe") ?? null;

    if (this.laurel051) {
      if (exec && Number.isInteger(ppid)) {
        const p = this.put(node, pid, ppid, ev.id, timeMs, "exec", comm, exe, parent);
        p.labels = this.inherited(parent, null);
        this.stats.execs++;
      }
      return { self: this.get(node, pid), parent, syscall: sc, exec };
    }

    if (current !== null && current.exitMs !== null) current = null; // an ended process: the pid is reused
    const success = f.get("success");
    if (exec && success !== "no") {
      // the pre-exec image: a forked child that had not exec'd yet stands for its parent
      const before = current;
      const spawner =
        before === null ? parent : before.origin === "fork" ? (before.spawner ?? parent) : before;
      const p = this.put(node, pid, ppid, ev.id, timeMs, "exec", comm, exe, spawner);
      p.labels = this.inherited(parent, before);
      p.container = before?.container ?? parent?.container ?? null;
      if (exe !== null && this.labelsForExe !== null)
        for (const l of this.labelsForExe(exe)) this.addLabel(p, l);
      this.stats.execs++;
      return { self: p, parent, syscall: sc, exec };
    }

    if (current === null || (exe !== null && current.exe !== null && exe !== current.exe)) {
      current = this.put(node, pid, ppid, ev.id, timeMs, "observed", comm, exe, parent);
      current.labels = this.inherited(parent, null);
      current.container = parent?.container ?? null;
      this.stats.observed++;
    }

    if (success === "yes" && (name === "clone" || name === "fork" || name === "vfork" || name === "clone3")) {
      const child = int(f.get("exit"));
      if (Number.isInteger(child) && child > 0 && !this.isThread(name, f.get("a0"))) {
        this.forked(node, child, current, ev.id, timeMs, name, f.get("a0"));
      }
    } else if (name === "exit_group" && current.exitMs === null) {
      current.exitMs = timeMs;
      this.exited.push(current);
      this.stats.exits++;
    }
    return { self: current, parent, syscall: sc, exec };
  }

  private isThread(name: string, a0: string | null | undefined): boolean {
    if (name !== "clone" || !a0) return false;
    try {
      return (BigInt(`0x${a0}`) & CLONE_THREAD) !== 0n;
    } catch {
      return false;
    }
  }

  private forked(
    node: string,
    child: number,
    caller: AuditProcess,
    eventId: string,
    timeMs: number,
    name: string,
    a0: string | null | undefined,
  ): void {
    const existing = this.get(node, child);
    // the child may already be known: a vfork is logged when the parent resumes, after the child's exec
    // or exit; an instance that started at or after the fork is the child (or its successor)
    if (existing !== null && existing.timeMs >= timeMs) {
      if (existing.spawner === null && existing.ppid === caller.pid)
        existing.spawner = { pid: caller.pid, eventId: caller.eventId, comm: caller.comm, exe: caller.exe };
      return;
    }
    let ppid = caller.pid;
    if (name === "clone" && a0) {
      try {
        if ((BigInt(`0x${a0}`) & CLONE_PARENT) !== 0n) ppid = caller.ppid;
      } catch {
        // not a number: keep the caller as parent
      }
    }
    const p = this.put(node, child, ppid, eventId, timeMs, "fork", caller.comm, caller.exe, caller);
    p.labels = this.inherited(caller, null);
    p.container = caller.container;
    this.stats.forks++;
  }

  /** the labels a new instance inherits from its parent (and, across an exec, from its former self) */
  private inherited(parent: AuditProcess | null, before: AuditProcess | null): string[] | null {
    const keep = this.propagate;
    if (keep === null) return null;
    let out: string[] | null = null;
    for (const src of [parent, before]) {
      if (src === null || src.labels === null) continue;
      for (const l of src.labels) {
        if (!keep(l)) continue;
        if (out === null) out = [l];
        else if (!out.includes(l)) out.push(l);
      }
    }
    return out;
  }

  private put(
    node: string,
    pid: number,
    ppid: number,
    eventId: string,
    timeMs: number,
    origin: ProcessOrigin,
    comm: string | null,
    exe: string | null,
    spawner: ProcessRef | null,
  ): AuditProcess {
    node = ownString(node);
    let m = this.nodes.get(node);
    if (m === undefined) {
      m = new Map();
      this.nodes.set(node, m);
    }
    const p: AuditProcess = {
      node,
      pid,
      ppid: Number.isInteger(ppid) ? ppid : 0,
      eventId: ownString(eventId),
      timeMs,
      origin,
      comm: ownString(comm),
      exe: ownString(exe),
      spawner:
        spawner === null
          ? null
          : { pid: spawner.pid, eventId: spawner.eventId, comm: spawner.comm, exe: spawner.exe },
      labels: null,
      container: null,
      exitMs: null,
    };
    // re-inserting moves the pid to the end, so the oldest instances are evicted first
    if (m.delete(pid)) this.size--;
    m.set(pid, p);
    this.size++;
    if (this.size > this.maxProcesses) this.evictOldest();
    return p;
  }

  private evictOldest(): void {
    for (const m of this.nodes.values()) {
      const first = m.keys().next();
      if (!first.done) {
        m.delete(first.value);
        this.size--;
        this.stats.removed++;
        return;
      }
    }
  }

  private dropExited(): void {
    const q = this.exited;
    while (this.exitedHead < q.length) {
      const p = q[this.exitedHead]!;
      if (p.exitMs! + this.exitGraceMs >= this.nowMs) break;
      this.exitedHead++;
      const m = this.nodes.get(p.node);
      if (m !== undefined && m.get(p.pid) === p) {
        m.delete(p.pid);
        this.size--;
        this.stats.removed++;
      }
    }
    if (this.exitedHead > 1024 && this.exitedHead * 2 > q.length) {
      q.splice(0, this.exitedHead);
      this.exitedHead = 0;
    }
  }
}
