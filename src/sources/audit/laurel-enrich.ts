import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import type { AuditEvent } from "./audit-event-grouper.js";
import {
  type AuditProcess,
  AuditProcessTable,
  ownString,
  type ProcessContext,
  type ProcessRef,
} from "./audit-process-table.js";
import type { AuditRecord } from "./audit-record-parser.js";
import {
  type Json,
  type LaurelExtras,
  laurelBytesText,
  laurelEventJson,
  laurelFieldValue,
} from "./laurel-json.js";

/**
 * Enrichment, labels and filters on top of laurel's JSON layout (laurel-json.ts), all off by default:
 *
 * - `pid`: `SYSCALL.PPID {EVENT_ID, comm, exe, ppid}` and `SYSCALL.PID {EVENT_ID}` as laurel 0.5.1's
 *   `enrich.pid`, plus `X.OPID {ID, exe, ppid}` for the other `*pid` fields of non-SYSCALL records
 *   (OBJ_PID's `opid`); `parentInfo`: top-level `PARENT_INFO {ID, comm, exe, ppid}` (laurel 0.5.1's
 *   `enrich.parent-info`); `spawnedBy`: `SYSCALL.SPAWNED_BY {EVENT_ID, pid, comm, exe}` (laurel 0.8).
 *   Processes come from the log (audit-process-table.ts), never from this machine's /proc.
 * - `argvStr`: `EXECVE.ARGV_STR`, the arguments joined by spaces (laurel's `execve-argv = "string"`).
 * - labels: `labelKeys` (an audit rule key that becomes a label of the process), `labelExe` (a regular
 *   expression on the executable of an exec), `propagate` (labels children inherit) → `SYSCALL.LABELS`.
 * - filters (events are still applied to the process table): `filterKeys` (SYSCALL.key, each of the keys
 *   when the rule gave several), `filterNullKeys` (a SYSCALL without key), `filterLabels` (a label of the
 *   calling process), `filterTypes` (the event holds a record of that type).
 * - `container`: a 64-hex container id found in a `cgroup=` field of the log (docker-ID.scope, libpod-ID.scope,
 *   cri-containerd-ID.scope, a bare ID), inherited by children → top-level `CONTAINER_INFO {ID}`.
 * - `exeHash`: `SYSCALL.EXE_HASH`, the SHA-256 of the file at `exe` on THIS machine (for live use),
 *   when it is a readable regular file of at most 10 MB; computed once per process, cached by
 *   (device, inode, mtime, size).
 * - `userDb`: laurel's `translate.user-db`: every `*uid`/`*gid` field also as its upper-case name with the
 *   user or group name ("root", "unknown(1000)", "unset" for 4294967295), from passwd/group files given
 *   here (not NSS). With it, the ENRICHED suffix of the input is dropped, as laurel does.
 *
 * Members go where laurel 0.5.1 puts them: SYSCALL ends with `…, ARGV, <names>, ARCH, SYSCALL, PPID,
 * PID, SPAWNED_BY, LABELS, EXE_HASH`; top level ends with `PARENT_INFO, CONTAINER_INFO`; names and OPID
 * close the other records. Events that only need SYSCALL and top-level members are written through
 * laurelEventJson's hook; the others are re-built from its JSON.
 */

export interface LabelExeRule {
  re: RegExp;
  label: string;
}

export interface UserDb {
  users: Map<number, string>;
  groups: Map<number, string>;
}

export interface LaurelEnrichOptions {
  pid?: boolean;
  parentInfo?: boolean;
  spawnedBy?: boolean;
  argvStr?: boolean;
  labelKeys?: readonly string[];
  labelExe?: readonly LabelExeRule[];
  /** labels children inherit; true: all of them */
  propagateLabels?: readonly string[] | true;
  filterKeys?: readonly string[];
  filterNullKeys?: boolean;
  filterLabels?: readonly string[];
  filterTypes?: readonly string[];
  container?: boolean;
  exeHash?: boolean;
  /** largest executable hashed, bytes (default 10 MB) */
  exeHashLimit?: number;
  userDb?: UserDb | null;
  /** laurel 0.5.1's process table (exec only), to compare with laurel's own output */
  laurel051?: boolean;
}

/** whether any option asks for work beyond the plain layout */
export function enrichmentActive(o: LaurelEnrichOptions): boolean {
  return Boolean(
    o.pid ||
      o.parentInfo ||
      o.spawnedBy ||
      o.argvStr ||
      o.labelKeys?.length ||
      o.labelExe?.length ||
      o.filterKeys?.length ||
      o.filterNullKeys ||
      o.filterLabels?.length ||
      o.filterTypes?.length ||
      o.container ||
      o.exeHash ||
      o.userDb,
  );
}

/** `REGEX=LABEL` (split at the last `=`) */
export function parseLabelExe(spec: string): LabelExeRule {
  const eq = spec.lastIndexOf("=");
  if (eq <= 0 || eq === spec.length - 1) throw new Error(`expected REGEX=LABEL, got ${spec}`);
  return { re: new RegExp(spec.slice(0, eq)), label: spec.slice(eq + 1) };
}

function parseIdFile(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(":");
    if (parts.length < 3) continue;
    const id = Number(parts[2]);
    // the first entry wins, as getpwuid/getgrgid answer
    if (Number.isInteger(id) && !m.has(id)) m.set(id, parts[0]!);
  }
  return m;
}

/** users and groups from passwd(5) and group(5) files */
export function loadUserDb(passwdFile = "/etc/passwd", groupFile = "/etc/group"): UserDb {
  return {
    users: parseIdFile(readFileSync(passwdFile, "utf8")),
    groups: parseIdFile(readFileSync(groupFile, "utf8")),
  };
}

function isHex64At(s: string, from: number): boolean {
  for (let i = from; i < from + 64; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

/**
 * The container id in a cgroup path, as laurel finds it in /proc/PID/cgroup: the first path component
 * (without `.scope`) that ends or starts with 64 hex digits (`docker-ID.scope`, `libpod-ID.scope`,
 * `cri-containerd-ID.scope`, `/docker/ID`, `/kubepods/…/ID`).
 */
export function containerIdFromCgroup(path: string): string | null {
  for (let frag of path.split("/")) {
    if (frag.endsWith(".scope")) frag = frag.slice(0, -6);
    if (frag.length < 64) continue;
    if (isHex64At(frag, frag.length - 64)) return frag.slice(-64).toLowerCase();
    if (isHex64At(frag, 0)) return frag.slice(0, 64).toLowerCase();
  }
  return null;
}

interface HashEntry {
  dev: number;
  ino: number;
  mtimeMs: number;
  size: number;
  hash: string | null;
}

/** SHA-256 of executables, cached by path and checked against (dev, inode, mtime, size) */
export class ExeHasher {
  private readonly cache = new Map<string, HashEntry>();
  constructor(
    private readonly limit = 10_000_000,
    private readonly maxEntries = 1024,
  ) {}

  hash(path: string): string | null {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return null;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > this.limit) return null;
      const hit = this.cache.get(path);
      if (
        hit !== undefined &&
        hit.dev === st.dev &&
        hit.ino === st.ino &&
        hit.mtimeMs === st.mtimeMs &&
        hit.size === st.size
      ) {
        this.cache.delete(path);
        this.cache.set(path, hit);
        return hit.hash;
      }
      const h = createHash("sha256");
      const buf = Buffer.allocUnsafe(Math.min(st.size, 1 << 20) || 1);
      let left = st.size;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, left), null);
        if (n <= 0) break;
        h.update(n === buf.length ? buf : buf.subarray(0, n));
        left -= n;
      }
      const hash = h.digest("hex");
      this.cache.set(path, { dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, hash });
      if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      return hash;
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  }
}

type Obj = { [k: string]: Json };

function isDec(v: string | null | undefined): v is string {
  if (!v) return false;
  let i = v.charCodeAt(0) === 45 ? 1 : 0;
  if (i >= v.length) return false;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Frequent record types that never carry a `*pid` or `cgroup` field: their fields are not looked at
 * (reading them costs a parse of the line).
 */
const PLAIN_TYPES = new Set([
  "PATH",
  "CWD",
  "EXECVE",
  "PROCTITLE",
  "SOCKADDR",
  "MMAP",
  "FD_PAIR",
  "BPRM_FCAPS",
  "IPC",
  "URINGOP",
  "NETFILTER_CFG",
  "EOE",
]);

function splitKeys(key: string): string[] {
  // several keys of one rule are joined by 0x01
  return key.includes("\x01") ? key.split("\x01") : [key];
}

function rendered(v: string | null, field: "comm" | "exe"): Json {
  return v === null ? null : laurelFieldValue("SYSCALL", field, v);
}

export interface LaurelEnrichStats {
  /** events dropped by a filter */
  filtered: number;
  /** events re-built to add members inside records (names, OPID, ARGV_STR) */
  rebuilt: number;
}

export class LaurelEnricher {
  readonly stats: LaurelEnrichStats = { filtered: 0, rebuilt: 0 };
  readonly table: AuditProcessTable | null;
  private readonly o: LaurelEnrichOptions;
  private readonly labelKeys: Set<string> | null;
  private readonly filterKeys: Set<string> | null;
  private readonly filterLabels: Set<string> | null;
  private readonly filterTypes: Set<string> | null;
  private readonly hasher: ExeHasher | null;
  private readonly genericPid: boolean;

  constructor(opts: LaurelEnrichOptions) {
    this.o = opts;
    const set = (a: readonly string[] | undefined) => (a && a.length > 0 ? new Set(a) : null);
    this.labelKeys = set(opts.labelKeys);
    this.filterKeys = set(opts.filterKeys);
    this.filterLabels = set(opts.filterLabels);
    this.filterTypes = set(opts.filterTypes);
    this.hasher = opts.exeHash ? new ExeHasher(opts.exeHashLimit) : null;
    this.genericPid = opts.pid === true;
    const needTable =
      opts.pid ||
      opts.parentInfo ||
      opts.spawnedBy ||
      this.labelKeys !== null ||
      (opts.labelExe?.length ?? 0) > 0 ||
      this.filterLabels !== null ||
      opts.container ||
      opts.exeHash;
    const prop = opts.propagateLabels;
    let propagate: ((label: string) => boolean) | null = null;
    if (prop === true) propagate = () => true;
    else if (prop && prop.length > 0) {
      const keep = new Set(prop);
      propagate = (l) => keep.has(l);
    }
    const rules = opts.labelExe ?? [];
    this.table = needTable
      ? new AuditProcessTable({
          laurel051: opts.laurel051,
          propagate,
          labelsForExe:
            rules.length > 0 ? (exe) => rules.filter((r) => r.re.test(exe)).map((r) => r.label) : null,
        })
      : null;
  }

  /** the JSON text of an event (without newline), or null when a filter drops it */
  json(ev: AuditEvent): string | null {
    const ctx = this.table !== null ? this.table.observe(ev) : null;
    const sc = ctx !== null ? ctx.syscall : firstSyscall(ev);
    const self = ctx?.self ?? null;
    const key = sc !== null ? sc.fields.get("key") : undefined;

    if (self !== null) {
      if (this.labelKeys !== null && key) {
        for (const k of splitKeys(key)) if (this.labelKeys.has(k)) this.table!.addLabel(self, k);
      }
      if (this.o.laurel051 && ctx!.exec && self.exe !== null && this.o.labelExe) {
        for (const r of this.o.labelExe) if (r.re.test(self.exe)) this.table!.addLabel(self, r.label);
      }
      if (this.o.container) {
        for (const r of ev.records) {
          if (PLAIN_TYPES.has(r.type)) continue;
          const cg = r.fields.get("cgroup");
          if (cg) {
            const id = containerIdFromCgroup(cg);
            if (id !== null && id !== self.container) self.container = ownString(id);
          }
        }
      }
    }

    if (this.dropped(ev, sc, key, self)) {
      this.stats.filtered++;
      return null;
    }

    let syscall: Obj | undefined;
    let top: Obj | undefined;
    if (sc !== null && ctx !== null) {
      syscall = this.syscallMembers(ctx, self);
      top = this.topMembers(ctx, self);
    }
    const extras: LaurelExtras | undefined =
      syscall !== undefined || top !== undefined ? { syscall, top } : undefined;
    if (this.needsRebuild(ev)) return this.rebuilt(ev, extras);
    return laurelEventJson(ev, extras);
  }

  private dropped(
    ev: AuditEvent,
    sc: AuditRecord | null,
    key: string | null | undefined,
    self: AuditProcess | null,
  ): boolean {
    if (this.filterTypes !== null) for (const r of ev.records) if (this.filterTypes.has(r.type)) return true;
    if (sc !== null) {
      if (this.filterKeys !== null && key) {
        for (const k of splitKeys(key)) if (this.filterKeys.has(k)) return true;
      }
      if (this.o.filterNullKeys && !key) return true;
    }
    if (this.filterLabels !== null && self !== null && self.labels !== null) {
      for (const l of self.labels) if (this.filterLabels.has(l)) return true;
    }
    return false;
  }

  private syscallMembers(ctx: ProcessContext, self: AuditProcess | null): Obj | undefined {
    const m: Obj = {};
    let any = false;
    const parent = ctx.parent;
    if (this.o.pid && parent !== null) {
      const pp: Obj = { EVENT_ID: parent.eventId };
      if (parent.comm !== null) pp.comm = rendered(parent.comm, "comm");
      if (parent.exe !== null) pp.exe = rendered(parent.exe, "exe");
      if (parent.ppid !== 0) pp.ppid = parent.ppid;
      m.PPID = pp;
      any = true;
    }
    if (self !== null) {
      if (this.o.pid) {
        m.PID = { EVENT_ID: self.eventId };
        any = true;
      }
      if (this.o.spawnedBy && self.spawner !== null) {
        m.SPAWNED_BY = spawnerJson(self.spawner);
        any = true;
      }
      if (self.labels !== null && self.labels.length > 0) {
        m.LABELS = [...self.labels];
        any = true;
      }
      if (this.hasher !== null && self.exe !== null) {
        if (self.exeHash === undefined) self.exeHash = this.hasher.hash(self.exe);
        if (self.exeHash !== null) {
          m.EXE_HASH = self.exeHash;
          any = true;
        }
      }
    }
    return any ? m : undefined;
  }

  private topMembers(ctx: ProcessContext, self: AuditProcess | null): Obj | undefined {
    const m: Obj = {};
    let any = false;
    const parent = ctx.parent;
    if (this.o.parentInfo && parent !== null) {
      const pi: Obj = { ID: parent.eventId };
      if (parent.comm !== null) pi.comm = rendered(parent.comm, "comm");
      if (parent.exe !== null) pi.exe = rendered(parent.exe, "exe");
      pi.ppid = parent.ppid;
      m.PARENT_INFO = pi;
      any = true;
    }
    if (this.o.container && self !== null && self.container !== null) {
      m.CONTAINER_INFO = { ID: self.container };
      any = true;
    }
    return any ? m : undefined;
  }

  /** whether members must go inside records other than SYSCALL */
  private needsRebuild(ev: AuditEvent): boolean {
    if (this.o.userDb) return true;
    for (const r of ev.records) {
      if (this.o.argvStr && r.type === "EXECVE") return true;
      if (this.genericPid && r.type !== "SYSCALL" && this.hasPidMember(r)) return true;
    }
    return false;
  }

  /** whether a record has a `*pid` field (not pid/ppid) naming a known process */
  private hasPidMember(r: AuditRecord): boolean {
    if (PLAIN_TYPES.has(r.type)) return false;
    for (const [k, v] of r.fields) if (this.pidMember(r.node, k, v) !== null) return true;
    return false;
  }

  /** laurel's `OPID {ID, exe, ppid}` for a `*pid` field (not pid/ppid) naming a known process */
  private pidMember(node: string, k: string, v: string | null): Obj | null {
    if (this.table === null || k === "pid" || k === "ppid" || !k.endsWith("pid") || !isDec(v)) return null;
    const p = this.table.get(node, Number(v));
    if (p === null) return null;
    const o: Obj = { ID: p.eventId };
    if (p.exe !== null) o.exe = rendered(p.exe, "exe");
    if (p.ppid !== 0) o.ppid = p.ppid;
    return o;
  }

  private idName(k: string, v: string | null | undefined): string | null {
    const db = this.o.userDb;
    if (!db || !isDec(v)) return null;
    const isUid = k.endsWith("uid");
    if (!isUid && !k.endsWith("gid")) return null;
    const n = Number(v);
    if (n === 0xffffffff) return "unset";
    const name = (isUid ? db.users : db.groups).get(n);
    return laurelBytesText(Buffer.from(name ?? `unknown(${v})`, "utf8"));
  }

  /** the event's JSON re-built with members inside its records */
  private rebuilt(ev: AuditEvent, extras: LaurelExtras | undefined): string {
    this.stats.rebuilt++;
    const o = JSON.parse(laurelEventJson(ev, extras)) as Obj;
    const seen = new Map<string, number>();
    const dropEnriched = Boolean(this.o.userDb);
    for (const r of ev.records) {
      const idx = seen.get(r.type) ?? 0;
      seen.set(r.type, idx + 1);
      const v = o[r.type];
      let target: Obj | undefined;
      if (Array.isArray(v)) target = v[idx] as Obj | undefined;
      else if (idx === 0 && v !== null && typeof v === "object") target = v;
      if (target === undefined || r.type === "EXECVE" || r.type === "PROCTITLE") continue;
      const add: Array<[string, Json]> = [];
      if (r.type !== "SOCKADDR") {
        for (const [k, val] of r.fields) {
          const name = r.type === "SYSCALL" || !dropEnriched ? null : this.idName(k, val);
          if (name !== null) {
            add.push([k.toUpperCase(), name]);
            continue;
          }
          if (this.genericPid && r.type !== "SYSCALL") {
            const pm = this.pidMember(r.node, k, val);
            if (pm !== null) add.push([k.toUpperCase(), pm]);
          }
        }
      }
      if (r.type === "SYSCALL") {
        const names: Array<[string, Json]> = [];
        if (dropEnriched)
          for (const [k, val] of r.fields) {
            const name = this.idName(k, val);
            if (name !== null) names.push([k.toUpperCase(), name]);
          }
        o.SYSCALL = rebuildSyscall(target, dropEnriched ? r.enriched : undefined, names);
        continue;
      }
      if (dropEnriched && r.enriched) for (const k of r.enriched.keys()) delete target[k];
      for (const [k, val] of add) target[k] = val;
    }
    if (this.o.argvStr) {
      const ex = o.EXECVE;
      if (ex !== null && typeof ex === "object" && !Array.isArray(ex) && Array.isArray(ex.ARGV))
        ex.ARGV_STR = ex.ARGV.join(" ");
    }
    return JSON.stringify(o);
  }
}

function firstSyscall(ev: AuditEvent): AuditRecord | null {
  for (const r of ev.records) if (r.type === "SYSCALL") return r;
  return null;
}

function spawnerJson(s: ProcessRef): Obj {
  const o: Obj = { EVENT_ID: s.eventId, pid: s.pid };
  if (s.comm !== null) o.comm = rendered(s.comm, "comm");
  if (s.exe !== null) o.exe = rendered(s.exe, "exe");
  return o;
}

/** SYSCALL with the ENRICHED suffix removed and the id names right after ARGV, as laurel writes them */
function rebuildSyscall(
  sc: Obj,
  enriched: Map<string, string> | undefined,
  names: Array<[string, Json]>,
): Obj {
  const out: Obj = {};
  for (const k of Object.keys(sc)) {
    if (enriched?.has(k) && k !== "ARCH" && k !== "SYSCALL") continue;
    out[k] = sc[k]!;
    if (k === "ARGV") for (const [nk, nv] of names) out[nk] = nv;
  }
  return out;
}
