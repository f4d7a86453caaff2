import { categorizePath } from "../graph/file-category.js";
import { NORMALIZE_RULES, type NormalizeRule, pathNormalizer } from "../graph/run-diff.js";
import type { DetectNode, DetectTriple } from "./detect-types.js";

/**
 * (executable, operation, resource class) behaviours of a provenance graph, the vocabulary of the
 * explainable detector. A behaviour is a short normalised key: what changes between two runs of the
 * same work (pids, dates, temporary names, ephemeral ports, /proc/PID, the working directory — the
 * rules of `provflow diff`, src/graph/run-diff.ts) is normalised away, so that a key seen in a normal
 * run is seen again in the next normal run.
 *
 * Names are resolved as they are learnt: provflow's own graphs carry paths and executables on their
 * nodes; CamFlow's name an inode by a `named` relation to a path node and a task by `named_process`
 * or the `exec` of a file, so a {@link NameBook} remembers those (bounded) while the relations pass.
 */

export type BehaviourKind = "exec" | "spawn" | "read" | "write" | "delete" | "net" | "listen";

export interface Behaviour {
  kind: BehaviourKind;
  /** the normalised key: `kind|actor|resource` */
  key: string;
  actor: string;
  resource: string;
}

/** Files whose mere reading is a behaviour of its own (credential access, discovery). */
const SENSITIVE_READ =
  /^(?:\/etc\/(?:shadow|gshadow|sudoers|passwd|group|ssh\/)|\/root\/|\/home\/[^/]+\/\.(?:ssh|gnupg|aws|docker|kube|netrc|pgpass|my\.cnf|bash_history)|\/proc\/<pid>\/(?:environ|maps|mem|cmdline)|\/var\/lib\/)/;

const EPHEMERAL = 32768;

/** A bounded map that forgets its oldest entries (insertion order) beyond `max`. */
export class BoundedMap<K, V> {
  private readonly m = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    return this.m.get(k);
  }
  set(k: K, v: V): void {
    if (this.m.has(k)) this.m.delete(k);
    else if (this.m.size >= this.max) {
      const first = this.m.keys().next();
      if (!first.done) this.m.delete(first.value);
    }
    this.m.set(k, v);
  }
  delete(k: K): void {
    this.m.delete(k);
  }
  get size(): number {
    return this.m.size;
  }
}

function str(v: unknown): string | undefined {
  if (typeof v === "string" && v.length > 0) return v;
  if (Array.isArray(v) && typeof v[0] === "string") return v[0];
  return undefined;
}

/** CamFlow's address object ({type, host, serv} / {family, addr, port}…) or a plain string, as host:port. */
function addressText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const host = o.host ?? o.addr ?? o.ip ?? o.path;
    const port = o.serv ?? o.port;
    if (host !== undefined) return port !== undefined ? `${String(host)}:${String(port)}` : String(host);
  }
  return undefined;
}

/** host:port with an ephemeral port hidden. */
export function normalizeEndpoint(ep: string): string {
  const m = /^(.*):(\d+)$/.exec(ep);
  if (m && Number(m[2]) >= EPHEMERAL) return `${m[1]}:<ephemeral>`;
  return ep;
}

/** A random-looking name part: 6..16 letters and digits mixing cases with digits or inner capitals. */
function randomTail(t: string): boolean {
  if (t.length < 6 || t.length > 16 || !/^[A-Za-z0-9]+$/.test(t)) return false;
  // lower case with digits inside: two digit-to-letter turns (git's t5wnx9b; not utf8, sha256sum)
  if ((t.match(/[0-9][A-Za-z]/g)?.length ?? 0) >= 2) return true;
  if (!/[a-z]/.test(t) || !/[A-Z]/.test(t)) return false;
  return /[0-9]/.test(t) || (t.slice(1).match(/[A-Z]/g)?.length ?? 0) >= 2;
}

/**
 * What `provflow diff`'s rules leave that still changes between two runs of the same work: numbered
 * directories (pids, CamFlow's procfs-relative `/6400/status`), content hashes (git objects and their
 * fan-out directories), and random name tails of any length (`pfw.XcPHkTnx`, git's `tmp_obj_kxOyVu`).
 */
export function unrandom(path: string): string {
  const segs = path.split("/");
  return segs
    .map((seg, i) => {
      const next = segs[i + 1];
      // a content-addressed fan-out directory (git's objects/3f/<38 hex>)
      if (
        /^[0-9a-f]{2}$/.test(seg) &&
        next !== undefined &&
        (/^[0-9a-f]{12,}$/.test(next) || next.startsWith("tmp_obj_"))
      )
        return "<xx>";
      if (/^\d+$/.test(seg)) return "<n>";
      if (/^[0-9a-f]{12,}$/.test(seg)) return "<hash>";
      const m = /^(.*[._-])?([^._-]+)$/.exec(seg);
      const pre = m?.[1] ?? "";
      const tail = m?.[2] ?? "";
      // after a temporary prefix (git's tmp_obj_, .tmp-), any 6..16 letters and digits are random
      const tmp = /(?:^|[._-])te?mp(?:_obj)?[._-]$/i.test(pre) && /^[A-Za-z0-9]{6,16}$/.test(tail);
      if (m && (tmp || randomTail(tail))) return `${pre}XXXXXX`;
      return seg;
    })
    .join("/");
}

/** Paths and executables of nodes that do not carry them (CamFlow), learnt from the relations. */
export class NameBook {
  private readonly names: BoundedMap<string, string>;
  private readonly exes: BoundedMap<string, string>;
  constructor(maxEntries = 200_000) {
    this.names = new BoundedMap(maxEntries);
    this.exes = new BoundedMap(maxEntries);
  }

  /** Learn what a relation says about names; true when it was only about naming. */
  learn(t: DetectTriple): boolean {
    const st = t.edge.type;
    if (t.to.type === "path" || t.to.type === "address") {
      const name = this.pathOf(t.to);
      if (name !== undefined) {
        if (t.from.kind === "activity") this.exes.set(t.from.gid, name);
        else this.names.set(t.from.gid, name);
      }
      return true;
    }
    if (st === "used" && t.edge.op === "exec" && t.from.kind === "activity") {
      const exe = this.pathOf(t.to);
      if (exe !== undefined) this.exes.set(t.from.gid, exe);
    }
    if (st === "wasInformedBy" && t.from.kind === "activity" && t.to.kind === "activity") {
      // a new version or a clone of a task runs the same program until it execs
      if (this.exes.get(t.from.gid) === undefined) {
        const e = this.exes.get(t.to.gid);
        if (e !== undefined) this.exes.set(t.from.gid, e);
      }
    }
    return false;
  }

  pathOf(n: DetectNode): string | undefined {
    const a = n.attrs;
    const p = str(a.path) ?? str(a["cf:pathname"]);
    if (p !== undefined) return p;
    const addr = addressText(a["cf:address"]);
    if (addr !== undefined) return addr;
    return this.names.get(n.gid);
  }

  exeOf(n: DetectNode): string | undefined {
    return str(n.attrs.exe) ?? this.exes.get(n.gid);
  }
}

export interface BehaviourOptions {
  /** the normalisation rules (default: all of `provflow diff`'s) */
  rules?: readonly NormalizeRule[];
  /** the run's working directory, replaced by `.` */
  cwd?: string | null;
}

/** Extracts behaviours from triples; one per run (or per machine of a stream). */
export class BehaviourExtractor {
  readonly book: NameBook;
  private readonly norm: (s: string) => string;
  constructor(opts: BehaviourOptions = {}, book = new NameBook()) {
    this.book = book;
    this.norm = pathNormalizer(opts.cwd ?? null, new Set(opts.rules ?? NORMALIZE_RULES));
  }

  /** The program a process runs (normalised), or what is known of it. */
  actor(n: DetectNode): string {
    const exe = this.book.exeOf(n);
    if (exe !== undefined) return unrandom(this.norm(exe));
    const ctx = str(n.attrs["cf:secctx"]);
    if (ctx !== undefined) return `secctx:${ctx}`;
    const uid = n.attrs.uid ?? n.attrs["cf:uid"];
    return uid !== undefined ? `uid:${String(uid)}` : `?${n.type}`;
  }

  /** A resource as a class: files by path (directory area for writes), sockets by peer, else by type. */
  resource(n: DetectNode, area: boolean): string {
    if (n.type === "socket" || n.type === "address") {
      const a = n.attrs;
      const remote = str(a.remote) ?? this.book.pathOf(n);
      if (remote !== undefined) return `${str(a.family) ?? "socket"} ${normalizeEndpoint(this.norm(remote))}`;
      const local = str(a.local);
      if (local !== undefined) return `${str(a.family) ?? "socket"} local ${normalizeEndpoint(local)}`;
      const cf = str(a["prov:type"]);
      return `socket${cf ? ` ${cf}` : ""}`;
    }
    if (n.type === "pipe") return "pipe";
    const path = this.book.pathOf(n);
    if (path === undefined) {
      const t = str(n.attrs["prov:type"]) ?? n.type;
      const mode = str(n.attrs["cf:mode"]);
      return `${t}${mode ? ` mode ${mode}` : ""}`;
    }
    const p = unrandom(this.norm(path));
    if (!area) return p;
    const i = p.lastIndexOf("/");
    return i > 0 ? `${p.slice(0, i)}/` : i === 0 ? "/" : p;
  }

  /** The behaviours a relation shows (none for relations between entities, agents…). */
  extract(t: DetectTriple): Behaviour[] {
    if (this.book.learn(t)) return [];
    const { edge, from, to } = t;
    const out: Behaviour[] = [];
    const add = (kind: BehaviourKind, actor: string, resource: string) =>
      out.push({ kind, actor, resource, key: `${kind}|${actor}|${resource}` });
    switch (edge.type) {
      case "used": {
        if (from.kind !== "activity" || to.kind === "activity") break;
        const actor = this.actor(from);
        if (edge.op === "execute" || edge.op === "exec") add("exec", "*", this.resource(to, false));
        else if (to.type === "socket" || to.type === "address") {
          if (edge.op === "connect" || edge.op === "recv" || edge.op === "accept" || edge.op === "read")
            add(
              "net",
              actor,
              `${edge.op === "accept" ? "accept" : edge.op === "connect" ? "out" : "in"} ${this.resource(to, false)}`,
            );
          else if (edge.op === "listen" || edge.op === "bind") add("listen", actor, this.resource(to, false));
        } else if (edge.op === "read" || edge.op === "open" || edge.op === "map") {
          if (to.type !== "file" && to.type !== "device") break;
          const path = this.resource(to, false);
          // every file read is a behaviour, but libraries and locale data by area only
          const cat = path.startsWith("/") ? categorizePath(path) : "other";
          if (SENSITIVE_READ.test(path)) add("read", actor, path);
          else if (cat === "shared-library" || cat === "system-data" || cat === "kernel")
            add("read", actor, this.resource(to, true));
          else add("read", actor, path);
        }
        break;
      }
      case "wasGeneratedBy":
      case "wasInvalidatedBy": {
        if (to.kind !== "activity" || from.kind === "activity") break;
        const actor = this.actor(to);
        if (from.type === "socket" || from.type === "address") {
          if (edge.op === "connect" || edge.op === "send" || edge.op === "write")
            add("net", actor, `out ${this.resource(from, false)}`);
          else if (edge.op === "bind" || edge.op === "listen")
            add("listen", actor, this.resource(from, false));
          break;
        }
        if (from.type === "pipe") break;
        if (edge.type === "wasInvalidatedBy" || edge.op === "delete")
          add("delete", actor, this.resource(from, true));
        else if (
          edge.op === "write" ||
          edge.op === "create" ||
          edge.op === "truncate" ||
          edge.op === "rename" ||
          edge.op === "mkdir" ||
          edge.op === "link"
        )
          add("write", actor, this.resource(from, true));
        break;
      }
      case "wasInformedBy": {
        if (from.kind !== "activity" || to.kind !== "activity") break;
        if (edge.op === "fork" || edge.op === "vfork" || edge.op === "clone" || edge.op === "exec") {
          const parent = this.actor(to);
          const child = this.actor(from);
          if (parent !== child) add("spawn", parent, child);
        }
        break;
      }
      default:
        break;
    }
    return out;
  }
}
