import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { globRegExp } from "../graph/run-query.js";
import { isoMicros } from "../graph/time-format.js";
import {
  type AuditRecord,
  auditField,
  execveArgv,
  parseAuditLine,
} from "../sources/audit/audit-record-parser.js";
import { syscallName } from "../sources/audit/audit-syscall-names.js";
import { CaptureError } from "../util/errors.js";
import {
  addExitRule,
  auditdLogFile,
  deleteKeyRules,
  type PrivateAuditd,
  readAuditStatus,
  requireAuditTools,
  ruleArches,
  setAuditEnabled,
  startPrivateAuditd,
  stopPrivateAuditd,
} from "./audit-control.js";
import { AuditCaptureFilter, AuditLogTail } from "./audit-log-filter.js";

/**
 * `provflow watch`: new processes of a user or a group, reported as they start. Two sources:
 * - **audit**: rules on execve/execveat scoped to the uid (or gid) under a key of their own, read from
 *   the audit daemon's log (a private auditd when none runs); the rules are removed, the private
 *   auditd stopped and the enabled flag put back when the watch ends, whatever ends it;
 * - **proc**: a poll of /proc every `interval` ms (no root needed; a process that lives shorter than
 *   the interval can be missed, and one that only forks without exec is reported with its program).
 */

export interface WatchedProcess {
  /** UTC ISO time it started (audit: the exec; proc: its start time) */
  time: string;
  source: "audit" | "proc";
  pid: number;
  ppid: number | null;
  uid: number | null;
  user: string | null;
  gid: number | null;
  group: string | null;
  exe: string | null;
  argv: string[];
  cwd: string | null;
}

/** A shell-style pattern (`*`, `?`, `[…]`) as a whole-string regular expression (the one `query` uses). */
export const globToRegExp = globRegExp;

export interface WatchFilter {
  uid?: number;
  gid?: number;
  /** matched against the executable's path and its base name */
  exe?: RegExp;
}

export function exeMatches(exe: string | null, re: RegExp | undefined): boolean {
  if (re === undefined) return true;
  if (exe === null) return false;
  return re.test(exe) || re.test(exe.slice(exe.lastIndexOf("/") + 1));
}

/** Names of users and groups (from /etc/passwd and /etc/group), and ids from names. */
export class AccountNames {
  private readonly users = new Map<number, string>();
  private readonly groups = new Map<number, string>();
  constructor(passwd = "/etc/passwd", group = "/etc/group") {
    for (const [file, map] of [
      [passwd, this.users],
      [group, this.groups],
    ] as const) {
      let text = "";
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue;
      }
      for (const line of text.split("\n")) {
        const f = line.split(":");
        if (f.length >= 3 && /^\d+$/.test(f[2] as string)) map.set(Number(f[2]), f[0] as string);
      }
    }
  }
  user(uid: number | null): string | null {
    return uid === null ? null : (this.users.get(uid) ?? null);
  }
  group(gid: number | null): string | null {
    return gid === null ? null : (this.groups.get(gid) ?? null);
  }
  /** a uid from a number or a user name */
  uidOf(u: string): number | null {
    if (/^\d+$/.test(u)) return Number(u);
    for (const [id, name] of this.users) if (name === u) return id;
    return null;
  }
  gidOf(g: string): number | null {
    if (/^\d+$/.test(g)) return Number(g);
    for (const [id, name] of this.groups) if (name === g) return id;
    return null;
  }
}

// ---------------------------------------------------------------- /proc

interface ProcInfo {
  pid: number;
  ppid: number | null;
  uids: number[];
  gids: number[];
  groups: number[];
  /** clock ticks after boot */
  start: number;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const line = (k: string) =>
      (new RegExp(`^${k}:\\s*(.*)$`, "m").exec(status)?.[1] ?? "").split(/\s+/).filter(Boolean).map(Number);
    return {
      pid,
      ppid: Number(rest[1]),
      uids: line("Uid"),
      gids: line("Gid"),
      groups: line("Groups"),
      start: Number(rest[19]),
    };
  } catch {
    return null;
  }
}

function bootTimeMs(): number {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    return m ? Number(m[1]) * 1000 : 0;
  } catch {
    return 0;
  }
}

/** The real or effective uid / gid (or a supplementary group) matches the filter. */
export function procMatches(p: Pick<ProcInfo, "uids" | "gids" | "groups">, f: WatchFilter): boolean {
  if (f.uid !== undefined && !(p.uids[0] === f.uid || p.uids[1] === f.uid)) return false;
  if (f.gid !== undefined && !(p.gids[0] === f.gid || p.gids[1] === f.gid || p.groups.includes(f.gid)))
    return false;
  return true;
}

/**
 * Polls /proc: each scan reports the matching processes not seen in the previous scan (by pid, start
 * time and executable: an exec since the last scan is new too). The first scan only learns what already runs (unless `existing`). What is
 * remembered is the set of live processes, nothing more.
 */
export class ProcPoller {
  private seen = new Set<string>();
  private primed: boolean;
  private readonly boot = bootTimeMs();
  private readonly ticks = 100;

  constructor(
    private readonly filter: WatchFilter,
    private readonly names: AccountNames,
    existing = false,
  ) {
    this.primed = existing;
  }

  scan(): WatchedProcess[] {
    const now = new Set<string>();
    const out: WatchedProcess[] = [];
    let pids: string[];
    try {
      pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
    } catch {
      return out;
    }
    for (const d of pids) {
      const p = readProc(Number(d));
      if (p === null) continue;
      if (!procMatches(p, this.filter)) continue;
      let exe: string | null = null;
      let cwd: string | null = null;
      let argv: string[] = [];
      try {
        exe = readlinkSync(`/proc/${p.pid}/exe`);
      } catch {
        // a kernel thread, or it ended
      }
      // a process is new when its pid and start time are, or when it exec'd another program since
      const id = `${p.pid}@${p.start}@${exe ?? ""}`;
      now.add(id);
      if (this.seen.has(id) || !this.primed) continue;
      if (!exeMatches(exe, this.filter.exe)) continue;
      try {
        cwd = readlinkSync(`/proc/${p.pid}/cwd`);
      } catch {
        // ended
      }
      try {
        argv = readFileSync(`/proc/${p.pid}/cmdline`, "utf8").split("\0");
        if (argv[argv.length - 1] === "") argv.pop();
      } catch {
        // ended
      }
      const uid = p.uids[1] ?? p.uids[0] ?? null;
      const gid = p.gids[1] ?? p.gids[0] ?? null;
      out.push({
        time: isoMicros(Math.round((this.boot + (p.start * 1000) / this.ticks) * 1000)),
        source: "proc",
        pid: p.pid,
        ppid: p.ppid,
        uid,
        user: this.names.user(uid),
        gid,
        group: this.names.group(gid),
        exe,
        argv,
        cwd,
      });
    }
    this.seen = now;
    this.primed = true;
    return out;
  }
}

// ---------------------------------------------------------------- audit

/** The records of one audit event (one `msg=audit(…)` id) and its time (µs). */
export interface WatchAuditEvent {
  ts: number;
  records: AuditRecord[];
}

/**
 * Groups a live log's kept lines into events: auditd writes no EOE record to disk, so an event ends
 * when a line of another event comes, or when its lines have been quiet for a while (`flush`).
 */
export class LiveAuditEvents {
  private open = new Map<string, { records: AuditRecord[]; at: number }>();

  push(lines: readonly string[], firstLine: number, now = Date.now()): WatchAuditEvent[] {
    const out: WatchAuditEvent[] = [];
    lines.forEach((line, i) => {
      const r = parseAuditLine(line, firstLine + i);
      if (r === null || r.kind !== "record") return;
      const o = this.open.get(r.id);
      if (o) {
        o.records.push(r);
        o.at = now;
        return;
      }
      // a new event: the ones before it are complete
      out.push(...this.flush(Number.POSITIVE_INFINITY));
      this.open.set(r.id, { records: [r], at: now });
    });
    return out;
  }

  /** Events whose last line is older than `quietMs` (all with Infinity). */
  flush(quietMs: number, now = Date.now()): WatchAuditEvent[] {
    const out: WatchAuditEvent[] = [];
    for (const [id, o] of this.open) {
      if (quietMs !== Number.POSITIVE_INFINITY && now - o.at < quietMs) continue;
      this.open.delete(id);
      out.push({ ts: (o.records[0] as AuditRecord).ts, records: o.records });
    }
    return out;
  }
}

/** A successful execve/execveat event of the audit log as a new process (null for anything else). */
export function auditEventProcess(ev: WatchAuditEvent, names: AccountNames): WatchedProcess | null {
  const sc = ev.records.find((r) => r.type === "SYSCALL");
  if (sc === undefined) return null;
  const arch = auditField(sc, "arch") ?? "";
  const nr = Number(auditField(sc, "syscall"));
  const name = syscallName(arch ?? "", nr) ?? sc.enriched?.get("SYSCALL");
  if (name !== "execve" && name !== "execveat") return null;
  if (auditField(sc, "success") !== "yes") return null;
  const num = (k: string) => {
    const v = auditField(sc, k);
    return v === null || v === undefined || !/^\d+$/.test(v) ? null : Number(v);
  };
  const cwdRec = ev.records.find((r) => r.type === "CWD");
  const uid = num("euid") ?? num("uid");
  const gid = num("egid") ?? num("gid");
  return {
    time: isoMicros(ev.ts),
    source: "audit",
    pid: num("pid") ?? -1,
    ppid: num("ppid"),
    uid,
    user: names.user(uid),
    gid,
    group: names.group(gid),
    exe: auditField(sc, "exe") ?? null,
    argv: execveArgv(ev.records).argv,
    cwd: cwdRec ? (auditField(cwdRec, "cwd") ?? null) : null,
  };
}

export interface AuditWatch {
  /** stops following, removes the rules, stops a private auditd, puts the enabled flag back */
  stop(): Promise<void>;
  /** the rules added (auditctl arguments), for the record */
  rules: string[][];
  done: Promise<void>;
}

/**
 * Adds the watch's rules and follows the audit log, calling `onProcess` for each new process. Throws
 * a CaptureError (with nothing left behind) when audit cannot be used here.
 */
export async function startAuditWatch(
  filter: WatchFilter,
  names: AccountNames,
  onProcess: (p: WatchedProcess) => void,
  notice: (m: string) => void = () => {},
): Promise<AuditWatch> {
  requireAuditTools(false);
  const status = readAuditStatus();
  if (status.enabled === 2)
    throw new CaptureError("the audit configuration is locked (enabled 2): rules cannot be added");
  const key = `provflow-watch-${process.pid}-${randomBytes(3).toString("hex")}`;
  const undo: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    while (undo.length > 0) {
      try {
        await undo.pop()?.();
      } catch (e) {
        notice(`cleanup: ${(e as Error).message}`);
      }
    }
  };
  const onExit = () => {
    // last resort when the process exits without stop(): the rules at least
    deleteKeyRules(key);
  };
  process.on("exit", onExit);
  undo.push(() => void process.off("exit", onExit));
  try {
    let log: string;
    if (status.pid === 0) {
      requireAuditTools(true);
      const dir = await mkdtemp(join(tmpdir(), "provflow-watch-"));
      undo.push(() => rm(dir, { recursive: true, force: true }));
      const d: PrivateAuditd = await startPrivateAuditd(dir);
      undo.push(() => stopPrivateAuditd(d));
      log = d.log;
    } else {
      const f = auditdLogFile(status.pid);
      if (f.file === null)
        throw new CaptureError(`cannot find the audit daemon's log: ${f.why ?? "unknown"}`);
      log = f.file;
    }
    if (status.enabled === 0) {
      if (!setAuditEnabled(1)) throw new CaptureError("auditctl -e 1 failed");
      undo.push(() => void setAuditEnabled(0));
    }
    const field = filter.uid !== undefined ? `uid=${filter.uid}` : `gid=${filter.gid}`;
    const rules: string[][] = [];
    undo.push(() => void deleteKeyRules(key));
    for (const ra of ruleArches()) {
      try {
        rules.push(addExitRule(ra, ["execve", "execveat"], field, key, "watch").args);
      } catch (e) {
        if (ra.flag === "b32" && e instanceof CaptureError) continue; // a kernel without 32-bit syscalls
        throw e;
      }
    }
    let start: { ino: number; size: number } | null = null;
    try {
      const st = statSync(log);
      start = { ino: st.ino, size: st.size };
    } catch {
      // the log is not there yet: from its beginning
    }
    const tail = new AuditLogTail({
      path: log,
      start,
      filter: new AuditCaptureFilter({ key, session: -2 }),
      out: "/dev/null",
      pollMs: 50,
    });
    const events = new LiveAuditEvents();
    const take = (list: WatchAuditEvent[]) => {
      for (const ev of list) {
        const p = auditEventProcess(ev, names);
        if (p !== null && exeMatches(p.exe, filter.exe)) onProcess(p);
      }
    };
    const flusher = setInterval(() => take(events.flush(200)), 100);
    const done = (async () => {
      for await (const b of tail.batches()) take(events.push(b.lines, b.firstLine));
      take(events.flush(Number.POSITIVE_INFINITY));
    })();
    let stopped = false;
    return {
      rules,
      done,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        clearInterval(flusher);
        tail.finish();
        await done.catch(() => undefined);
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
