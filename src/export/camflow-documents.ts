import type { ProvEvent, ResourceRef } from "../events/event-types.js";
import { isoMicros } from "../graph/time-format.js";
import { resourceName } from "../sources/syscalls/syscall-args.js";

/**
 * Events → W3C PROV-JSON documents in CamFlow's flavour, one document per batch of events, as
 * camflowd publishes them (provflow's CamFlow source reads them back: src/sources/camflow):
 *
 * - a process is a `task` activity (cf:pid, cf:vpid, cf:uid when known, the exe and argv of its last
 *   exec), a file a `file` entity named by a `path` entity (`named`, wasDerivedFrom, as CamFlow ≥ 0.4),
 *   a directory `directory`, a pipe `pipe`, a socket `socket` (with its addresses);
 * - relations carry CamFlow's types: `clone` (wasInformedBy), `exec`, `open`, `read`, `receive`,
 *   `accept`, `mmap_exec` (used), `write`, `inode_create`, `unlink`, `rename`, `link`, `symlink`,
 *   `setattr`, `send`, `connect`, `bind`, `listen` (wasGeneratedBy), `rename` (wasDerivedFrom);
 * - identifiers have CamFlow's binary layout (type, object id, boot id, machine id, version; base64),
 *   derived from the object (a path, a pid and its start), so that documents describe the same node
 *   alike and a node named again in a later document is the same node;
 * - every document describes the nodes its relations name: documents can be read in any order.
 *
 * Memory: the nodes and relations of the current document, and a bounded table of the live
 * processes' ids (dropped at their exit).
 */

export interface CamflowWriterOptions {
  /** CamFlow's numeric machine id (u32) */
  machineId: number;
  /** CamFlow's numeric boot id (u32) */
  bootId: number;
}

type Rec = Record<string, unknown>;

const TYPE_TASK = 1n;
const TYPE_FILE = 2n;
const TYPE_PATH = 3n;
const TYPE_DIR = 4n;
const TYPE_PIPE = 5n;
const TYPE_SOCKET = 6n;
const TYPE_ARGV = 7n;
const TYPE_RELATION = 0x8000_0000_0000_0000n;

const MAX_TASKS = 65_536;

/** FNV-1a, 64 bits: an object's id from its name */
export function fnv64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/** 32 bits of a string: CamFlow's machine and boot ids are numbers */
export function u32Of(s: string): number {
  if (/^\d+$/.test(s) && Number(s) <= 0xffffffff) return Number(s);
  return Number(fnv64(s) & 0xffffffffn);
}

export class CamflowDocumentWriter {
  private readonly machine: number;
  private readonly boot: number;
  private activity: Record<string, Rec> = {};
  private entity: Record<string, Rec> = {};
  private readonly relations: Record<string, Record<string, Rec>> = {};
  private count = 0;
  private relSeq: bigint;
  /** pid → the id of its task (live processes only) */
  private readonly tasks = new Map<number, { id: string; rec: Rec }>();
  private readonly idCache = new Map<string, string>();

  constructor(private readonly opts: CamflowWriterOptions) {
    this.machine = opts.machineId >>> 0;
    this.boot = opts.bootId >>> 0;
    // relation ids: unique across restarts of the agent
    this.relSeq = BigInt(Date.now()) * 1000n;
  }

  /** records (nodes and relations) in the current document */
  size(): number {
    return this.count;
  }

  add(events: ProvEvent[]): void {
    for (const e of events) this.event(e);
  }

  /** The current document as one line of JSON, or null when it is empty; starts the next one. */
  take(): string | null {
    if (this.count === 0) return null;
    const doc: Rec = {
      prefix: { prov: "http://www.w3.org/ns/prov#", cf: "http://www.camflow.org" },
      activity: this.activity,
      entity: this.entity,
    };
    for (const [k, v] of Object.entries(this.relations)) doc[k] = v;
    this.activity = {};
    this.entity = {};
    for (const k of Object.keys(this.relations)) delete this.relations[k];
    this.count = 0;
    return JSON.stringify(doc);
  }

  // ---------------------------------------------------------------------------------------------

  private id(type: bigint, object: bigint): string {
    const b = Buffer.alloc(32);
    b.writeBigUInt64LE(type, 0);
    b.writeBigUInt64LE(object, 8);
    b.writeUInt32LE(this.boot, 16);
    b.writeUInt32LE(this.machine, 20);
    b.writeUInt32LE(0, 24);
    return `cf:${b.toString("base64")}`;
  }

  /** the node id of an object named `key` of a type, and its object id (CamFlow's cf:id, decimal) */
  private cachedId(type: bigint, key: string): string {
    const k = `${type}:${key}`;
    let id = this.idCache.get(k);
    if (id === undefined) {
      id = this.id(type, fnv64(k));
      if (this.idCache.size >= 50_000) this.idCache.clear();
      this.idCache.set(k, id);
    }
    return id;
  }

  /** cf:id of a node id: its object id, in decimal */
  private objectId(id: string): string {
    return Buffer.from(id.slice(3), "base64").readBigUInt64LE(8).toString();
  }

  private base(type: string, objectId: string, ts: number | undefined): Rec {
    const r: Rec = {
      "cf:id": objectId,
      "prov:type": type,
      "cf:boot_id": this.boot,
      "cf:machine_id": `cf:${this.machine}`,
      "cf:version": 0,
    };
    if (ts !== undefined && ts > 0) r["cf:date"] = isoMicros(ts);
    return r;
  }

  private task(pid: number, ts: number | undefined, start = false): string {
    let t = this.tasks.get(pid);
    if (t === undefined || start) {
      const id = this.id(TYPE_TASK, fnv64(`task:${pid}:${start ? (ts ?? 0) : 0}`));
      const rec = this.base("task", this.objectId(id), ts);
      rec["cf:pid"] = pid;
      rec["cf:vpid"] = pid;
      rec["prov:label"] = `[task] ${pid}`;
      t = { id, rec };
      if (this.tasks.size >= MAX_TASKS) this.tasks.clear();
      this.tasks.set(pid, t);
    }
    if (!(t.id in this.activity)) {
      this.activity[t.id] = t.rec;
      this.count++;
    }
    return t.id;
  }

  private node(section: "entity", id: string, rec: Rec): void {
    if (id in this[section]) return;
    this[section][id] = rec;
    this.count++;
  }

  /** a file: its `file` entity, named by its `path` entity */
  private file(path: string, ts: number, directory = false): string {
    const fid = this.cachedId(directory ? TYPE_DIR : TYPE_FILE, path);
    if (fid in this.entity) return fid;
    const rec = this.base(directory ? "directory" : "file", this.objectId(fid), ts);
    rec["cf:pathname"] = path;
    rec["prov:label"] = `[${directory ? "directory" : "file"}] ${path}`;
    this.node("entity", fid, rec);
    const pid = this.cachedId(TYPE_PATH, path);
    const prec = this.base("path", this.objectId(pid), ts);
    prec["cf:pathname"] = path;
    prec["prov:label"] = `[path] ${path}`;
    this.node("entity", pid, prec);
    this.relation("wasDerivedFrom", "named", ts, {
      "prov:generatedEntity": fid,
      "prov:usedEntity": pid,
    });
    return fid;
  }

  private resource(r: ResourceRef, ts: number, directory = false): string | null {
    switch (r.type) {
      case "file":
      case "device":
        return this.file(r.path, ts, directory);
      case "pipe": {
        const id = this.cachedId(TYPE_PIPE, r.inode);
        const rec = this.base("pipe", this.objectId(id), ts);
        rec["prov:label"] = `[pipe] ${r.inode}`;
        this.node("entity", id, rec);
        return id;
      }
      case "socket": {
        const name = resourceName(r);
        const id = this.cachedId(TYPE_SOCKET, name);
        if (id in this.entity) return id;
        const rec = this.base("socket", this.objectId(id), ts);
        rec["prov:label"] = `[socket] ${name}`;
        rec["cf:family"] = r.family;
        rec["cf:protocol"] = r.protocol;
        if (r.local !== undefined) rec["cf:local"] = r.local;
        if (r.remote !== undefined) rec["cf:remote"] = r.remote;
        if (r.path !== undefined) rec["cf:pathname"] = r.path;
        this.node("entity", id, rec);
        return id;
      }
      default:
        return null;
    }
  }

  private relation(section: string, type: string, ts: number, ends: Rec, extra?: Rec): void {
    this.relSeq++;
    const id = this.id(TYPE_RELATION, this.relSeq);
    const rec: Rec = {
      "cf:id": this.relSeq.toString(),
      "prov:type": type,
      "cf:boot_id": this.boot,
      "cf:machine_id": `cf:${this.machine}`,
      ...ends,
    };
    if (ts > 0) rec["cf:date"] = isoMicros(ts);
    if (extra !== undefined) Object.assign(rec, extra);
    let s = this.relations[section];
    if (s === undefined) {
      s = {};
      this.relations[section] = s;
    }
    s[id] = rec;
    this.count++;
  }

  private used(task: string, entity: string, type: string, ts: number, extra?: Rec): void {
    this.relation("used", type, ts, { "prov:activity": task, "prov:entity": entity }, extra);
  }

  private generated(task: string, entity: string, type: string, ts: number, extra?: Rec): void {
    this.relation("wasGeneratedBy", type, ts, { "prov:entity": entity, "prov:activity": task }, extra);
  }

  private event(e: ProvEvent): void {
    switch (e.kind) {
      case "process.start": {
        const child = this.task(e.pid, e.ts, true);
        if (e.ppid !== null) {
          const parent = this.task(e.ppid, e.ts);
          this.relation("wasInformedBy", "clone", e.ts, { "prov:informed": child, "prov:informant": parent });
        }
        return;
      }
      case "process.exec": {
        if (!e.ok) return;
        const t = this.task(e.pid, e.ts);
        const rec = this.activity[t] as Rec;
        rec["cf:exe"] = e.exe;
        rec["cf:argv"] = e.argv;
        if (e.cwd !== undefined) rec["cf:cwd"] = e.cwd;
        rec["prov:label"] = `[task] ${e.pid} ${e.exe.slice(e.exe.lastIndexOf("/") + 1)}`;
        if (e.exe !== "") this.used(t, this.file(e.exe, e.ts), "exec", e.ts);
        const argvId = this.id(TYPE_ARGV, fnv64(`argv:${e.pid}:${e.ts}`));
        const a = this.base("argv", this.objectId(argvId), e.ts);
        a["cf:value"] = e.argv.join(" ");
        a["prov:label"] = `[argv] ${e.argv.join(" ").slice(0, 200)}`;
        this.node("entity", argvId, a);
        this.used(t, argvId, "exec", e.ts);
        return;
      }
      case "process.exit": {
        const t = this.task(e.pid, e.ts);
        const rec = this.activity[t] as Rec;
        if (e.code !== undefined) rec["cf:exit_code"] = e.code;
        if (e.signal !== undefined) rec["cf:exit_signal"] = e.signal;
        rec["cf:end"] = isoMicros(e.ts);
        this.tasks.delete(e.pid);
        return;
      }
      case "process.chdir": {
        const t = this.task(e.pid, e.ts);
        (this.activity[t] as Rec)["cf:cwd"] = e.cwd;
        return;
      }
      case "access": {
        if (!e.ok || e.op === "probe") return;
        const dir = e.op === "mkdir" || e.op === "rmdir" || e.directory === true;
        const r = this.resource(e.res, e.ts, dir);
        if (r === null) return;
        const t = this.task(e.pid, e.ts);
        const bytes = e.bytes !== undefined ? { "cf:bytes": e.bytes } : undefined;
        switch (e.op) {
          case "open":
            this.used(t, r, "open", e.ts);
            if (e.create === true) this.generated(t, r, "inode_create", e.ts);
            if (e.truncate === true && e.create !== true) this.generated(t, r, "setattr", e.ts);
            return;
          case "read":
            this.used(t, r, "read", e.ts, bytes);
            return;
          case "write":
            this.generated(t, r, "write", e.ts, bytes);
            return;
          case "create":
          case "mkdir":
            this.generated(t, r, "inode_create", e.ts);
            return;
          case "delete":
          case "rmdir":
            this.generated(t, r, "unlink", e.ts);
            return;
          case "link":
          case "symlink":
            this.generated(t, r, e.op, e.ts, e.target !== undefined ? { "cf:target": e.target } : undefined);
            return;
          case "truncate":
          case "chmod":
          case "chown":
            this.generated(t, r, "setattr", e.ts);
            return;
          case "map":
            this.used(t, r, "mmap_exec", e.ts);
            return;
          case "execute":
            this.used(t, r, "exec", e.ts);
            return;
          default:
            return;
        }
      }
      case "rename": {
        if (!e.ok) return;
        const t = this.task(e.pid, e.ts);
        const from = this.file(e.from, e.ts);
        const to = this.file(e.to, e.ts);
        this.generated(t, to, "rename", e.ts, { "cf:from": e.from });
        this.relation("wasDerivedFrom", "rename", e.ts, {
          "prov:generatedEntity": to,
          "prov:usedEntity": from,
        });
        return;
      }
      case "pipe": {
        const t = this.task(e.pid, e.ts);
        const r = this.resource(e.res, e.ts);
        if (r !== null)
          this.generated(t, r, e.res.type === "pipe" ? "inode_create" : "socket_pair_create", e.ts);
        return;
      }
      case "socket": {
        if (!e.ok || e.op === "shutdown") return;
        const r = this.resource(e.res, e.ts);
        if (r === null) return;
        const t = this.task(e.pid, e.ts);
        const extra: Rec = {};
        if (e.address !== undefined) extra["cf:address"] = e.address;
        if (e.bytes !== undefined) extra["cf:bytes"] = e.bytes;
        if (e.op === "recv") this.used(t, r, "receive", e.ts, extra);
        else if (e.op === "accept") this.used(t, r, "accept", e.ts, extra);
        else if (e.op === "socket") this.generated(t, r, "socket_create", e.ts);
        else this.generated(t, r, e.op, e.ts, extra);
        return;
      }
      default:
        return;
    }
  }
}
