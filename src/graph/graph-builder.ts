import path from "node:path";
import { compactAttrs, dropAttrsJson } from "../events/attrs-text.js";
import type {
  AccessEvent,
  CallEvent,
  EventBase,
  ExecEvent,
  ExitEvent,
  PipeEvent,
  ProcessStartEvent,
  ProvClass,
  ProvEvent,
  ProvNodeEvent,
  ProvRelationEvent,
  RenameEvent,
  ResourceRef,
  RunContext,
  SocketEvent,
  WaitEvent,
} from "../events/event-types.js";
import type { Batch, Problem } from "../store/store-types.js";
import { categorizePath, type FileCategory, isDataCategory } from "./file-category.js";
import type {
  GraphEdge,
  GraphNode,
  NodeAttrs,
  NodeKind,
  NodeType,
  RelationOp,
  RelationType,
} from "./prov-types.js";
import { StepFolder } from "./step-folder.js";
import {
  isWindowsPath,
  joinWindowsPath,
  normalizeRegistryKey,
  normalizeWindowsPath,
} from "./windows-path.js";

/**
 * Per-path access summary. It is kept on the VERSION 0 node of every path (`attrs.access`) and
 * covers all versions of the path, so a reader finds everything about a path on one node.
 */
export interface FileAccess {
  read?: boolean;
  written?: boolean;
  /** the run brought the path into existence (open with O_CREAT on a path not known to exist, creat, mkdir, link, symlink, unix socket bind) */
  created?: boolean;
  /** removed by unlink/rmdir (not by being renamed away or replaced by a rename) */
  deleted?: boolean;
  executed?: boolean;
  mapped?: boolean;
  truncated?: boolean;
  /** a failed or stat-like look-up (PATH probing, stat, access) */
  probed?: boolean;
  renamedTo?: string;
  renamedFrom?: string;
  bytesRead?: number;
  bytesWritten?: number;
}

export interface GraphBuilderOptions {
  ctx: RunContext;
  user?: { uid: number; name?: string };
  /** problems kept between drains before the rest are only counted (default 10000) */
  maxPendingProblems?: number;
  /**
   * Describe the machine the run was recorded on as an agent (default true). PROV sources describe
   * their own machines (CamFlow) or none (PROV-JSON documents, SPADE): the agent is then made only if
   * a system-call source of the same run needs it.
   */
  machineAgent?: boolean;
  /**
   * PROV sources: relations kept waiting for a node not described yet (default 250000); beyond that
   * the oldest waiting relation is given up and reported.
   */
  maxPendingRelations?: number;
  /**
   * The attributes of PROV relations that carry the JSON text they were read as (CamFlow's,
   * events/attrs-text.ts) are kept as that text alone until they are drained (compactAttrs): far less
   * for the garbage collector to copy and promote. For a caller whose store takes the text
   * (takeAttrsJson) and that reads no attributes of the drained edges (runPipeline). Default false.
   */
  textAttrs?: boolean;
}

export interface BuilderStats {
  processes: number;
  generations: number;
  threads: number;
  files: number;
  directories: number;
  devices: number;
  sockets: number;
  pipes: number;
  registry: number;
  nodes: number;
  edges: number;
  problems: number;
  problemsDropped: number;
  events: number;
  calls: number;
  steps: number;
  [key: string]: number;
}

const EXISTS_UNKNOWN = 0;
const EXISTS_YES = 1;
const EXISTS_NO = 2;

interface Proc {
  pid: number;
  gen0: GraphNode;
  node: GraphNode;
  alive: boolean;
  cwd: string | undefined;
  lastTs: number;
  parentLinked: boolean;
  /** data files read by the current generation: file → version node id read (bounded, newest kept) */
  reads: Map<FileState, number> | null;
  /** bumped whenever `reads` changes */
  readSeq: number;
}

interface FileState {
  path: string;
  type: "file" | "directory" | "device";
  category: FileCategory;
  node: GraphNode;
  v0: GraphNode;
  access: FileAccess;
  /** id of the activity that generated the current version (0: none) */
  genBy: number;
  exists: number;
  /** the current version has a relation other than a probe */
  touched: boolean;
  /** copy derivations already made: version node id, by which activity, for which read set */
  copyNode: number;
  copyBy: number;
  copySeq: number;
}

const MAX_COPY_SOURCES = 32;

/** A registry key or value: one node per name (not versioned), with what the run did to it. */
interface RegistryState {
  node: GraphNode;
  access: FileAccess;
}

/**
 * A copy of `s` that does not keep alive the big string it was cut from. V8 makes substrings of 13
 * characters or more "sliced strings" pointing into their parent: a path sliced out of a 1 MB read
 * chunk would keep the whole chunk in memory for as long as the graph keeps the path.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

const TYPE_CODE: Record<RelationType, number> = {
  used: 0,
  wasGeneratedBy: 1,
  wasInformedBy: 2,
  wasDerivedFrom: 3,
  wasAssociatedWith: 4,
  wasAttributedTo: 5,
  wasInvalidatedBy: 6,
  actedOnBehalfOf: 7,
  // PROV sources add their relations one by one, never through edge(): these codes are never keyed
  wasInfluencedBy: 8,
  wasStartedBy: 9,
  wasEndedBy: 10,
  specializationOf: 11,
  alternateOf: 12,
  hadMember: 13,
  mentionOf: 14,
};
const OP_CODE: Record<RelationOp, number> = {
  read: 0,
  write: 1,
  create: 2,
  truncate: 3,
  execute: 4,
  map: 5,
  probe: 6,
  open: 7,
  delete: 8,
  rename: 9,
  link: 10,
  version: 11,
  copy: 12,
  fork: 13,
  vfork: 14,
  clone: 15,
  exec: 16,
  wait: 17,
  signal: 18,
  pipe: 19,
  connect: 20,
  accept: 21,
  bind: 22,
  listen: 23,
  send: 24,
  recv: 25,
  associated: 26,
  attributed: 27,
  mkdir: 28,
  rmdir: 29,
  chdir: 30,
  other: 31,
  "same-as": 32,
};

/** A PROV relation waiting for the description of one or both of its nodes. */
interface PendingRelation {
  ev: ProvRelationEvent;
  /** keys it still waits for (one, or two different ones) */
  waiting: number;
}

/** Node types with a counter of their own in the run statistics (counted once per gid). */
const COUNTED_TYPES: Partial<Record<NodeType, string>> = {
  process: "processes",
  file: "files",
  directory: "directories",
  device: "devices",
  socket: "sockets",
  pipe: "pipes",
};

function forkOp(via: string): RelationOp {
  return via === "vfork" ? "vfork" : via === "clone" || via === "clone3" ? "clone" : "fork";
}

function commandLabel(argv: string[] | undefined, exe: string | undefined): string {
  const s = argv && argv.length > 0 ? argv.join(" ") : (exe ?? "");
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

function socketProto(protocol: string, family: string): string {
  const p = protocol.toLowerCase();
  if (p.startsWith("tcp")) return "tcp";
  if (p.startsWith("udp")) return "udp";
  if (p.startsWith("unix") || family === "unix") return "unix";
  if (p.startsWith("netlink") || family === "netlink") return "netlink";
  return p || family;
}

/**
 * Turns ProvEvents into the PROV graph incrementally. Keeps only the graph (current nodes of
 * processes and paths, aggregated edges, lookup maps) — never the events or calls. `drain()` hands
 * over what changed since the last drain; objects are handed over live, so write them before
 * adding more events.
 */
export class GraphBuilder {
  private readonly ctx: RunContext;
  private readonly host: string;
  private readonly boot: string;
  private readonly maxPendingProblems: number;
  private nextNodeId = 1;
  private nextEdgeId = 1;
  private machineNode: GraphNode | null = null;
  private readonly user: GraphNode | null;
  /** live processes by pid (a process leaves at its exit) */
  private readonly procs = new Map<number, Proc>();
  /**
   * pid → node id of the last generation of an ended process, for the relations later events make
   * to it (wait4 from the parent, SIGCHLD's si_pid). Bounded by the pid space: a new process with
   * the pid replaces the entry.
   */
  private readonly ended = new Map<number, number>();
  /** edges whose map key is an entity node, by the process generation they are final with */
  private readonly owned = new Map<number, GraphEdge[]>();
  /** generations ended since the last drain: their edges are evicted at the drain */
  private retired: number[] = [];
  /** pids with an open step but no live process (late calls of a dead process) */
  private readonly strayStepPids = new Set<number>();
  private readonly tidToPid = new Map<number, number>();
  /** by path; Windows paths by their normalised form (case and separators do not matter) */
  private readonly files = new Map<string, FileState>();
  /** Windows registry keys and values by their normalised name */
  private readonly registry = new Map<string, RegistryState>();
  /** registry keys and Windows paths as written → their state: spellings seen again skip normalising */
  private readonly registryByName = new Map<string, RegistryState>();
  private readonly windowsKeys = new Map<string, string>();
  private readonly pipes = new Map<string, GraphNode>();
  private readonly sockets = new Map<string, GraphNode>();
  private readonly socketByInode = new Map<string, GraphNode>();
  private readonly edges = new Map<number, Map<number, GraphEdge>>();
  private dirtyNodes = new Set<GraphNode>();
  private dirtyEdges = new Set<GraphEdge>();
  private problems: Problem[] = [];
  private readonly steps = new StepFolder();
  private rootPid: number | null = null;
  private rootProc: Proc | null = null;
  // PROV sources (PROV-JSON, CamFlow, SPADE): their nodes by the source's key, and the relations
  // waiting for a node not described yet, by that node's key and in arrival order (oldest first)
  private readonly provNodes = new Map<string, GraphNode>();
  private readonly provWaiting = new Map<string, PendingRelation[]>();
  private readonly provPending = new Set<PendingRelation>();
  private readonly provCounted = new Set<string>();
  private readonly maxPendingRelations: number;
  private readonly textAttrs: boolean;
  private first: number | null = null;
  private last: number | null = null;
  readonly stats: BuilderStats = {
    processes: 0,
    generations: 0,
    threads: 0,
    files: 0,
    directories: 0,
    devices: 0,
    sockets: 0,
    pipes: 0,
    registry: 0,
    nodes: 0,
    edges: 0,
    problems: 0,
    problemsDropped: 0,
    events: 0,
    calls: 0,
    steps: 0,
  };

  constructor(opts: GraphBuilderOptions) {
    this.ctx = opts.ctx;
    this.host = opts.ctx.host || "localhost";
    this.boot = opts.ctx.bootId || "-";
    this.maxPendingProblems = opts.maxPendingProblems ?? 10_000;
    this.maxPendingRelations = opts.maxPendingRelations ?? 250_000;
    this.textAttrs = opts.textAttrs === true;
    if (opts.machineAgent !== false) this.machineNode = this.newMachine();
    this.user = opts.user
      ? this.newNode(
          "agent",
          "user",
          `user://${this.host}/${opts.user.uid}`,
          0,
          opts.user.name ?? `uid ${opts.user.uid}`,
          null,
          { uid: opts.user.uid, host: this.host, ...(opts.user.name ? { name: opts.user.name } : {}) },
        )
      : null;
  }

  /** The agent of the machine the run was recorded on (made when first needed without machineAgent). */
  private get machine(): GraphNode {
    if (!this.machineNode) this.machineNode = this.newMachine();
    return this.machineNode;
  }

  private newMachine(): GraphNode {
    return this.newNode("agent", "machine", `machine://${this.host}`, 0, this.host, null, {
      host: this.host,
      ...(this.ctx.machineId ? { machineId: this.ctx.machineId } : {}),
      ...(this.ctx.bootId ? { bootId: this.ctx.bootId } : {}),
      ...(this.ctx.mounts?.length ? { networkMounts: this.ctx.mounts } : {}),
      ...(this.ctx.os
        ? { osImage: this.ctx.os.image, ...(this.ctx.os.name ? { osName: this.ctx.os.name } : {}) }
        : {}),
    });
  }

  // ---------------------------------------------------------------- public API

  add(events: ProvEvent[]): void {
    for (const ev of events) {
      this.stats.events++;
      if (ev.kind === "problem") {
        this.stats.problems++;
        if (this.problems.length < this.maxPendingProblems) {
          this.problems.push({
            file: ev.at.file,
            line: ev.at.line,
            message: ev.message,
            text: ev.text ?? null,
          });
        } else this.stats.problemsDropped++;
        continue;
      }
      if (ev.kind === "prov.node") {
        this.provActive = true;
        this.onProvNode(ev);
        continue;
      }
      if (ev.kind === "prov.relation") {
        this.provActive = true;
        this.onProvRelation(ev);
        continue;
      }
      const ts = ev.ts;
      if (this.first === null || ts < this.first) this.first = ts;
      if (this.last === null || ts > this.last) this.last = ts;
      switch (ev.kind) {
        case "process.start":
          this.onStart(ev);
          break;
        case "thread.start": {
          const p = this.proc(this.pidOf(ev), ts);
          this.addThread(p, ev.newTid);
          break;
        }
        case "process.exec":
          this.onExec(ev);
          break;
        case "process.exit":
          this.onExit(ev);
          break;
        case "process.wait":
          this.onWait(ev);
          break;
        case "process.signal": {
          const p = this.proc(this.pidOf(ev), ts);
          if (ev.from !== undefined && ev.from > 0) {
            const s = this.procNodeId(ev.from);
            if (s !== undefined && s !== p.node.id) this.edge("wasInformedBy", "signal", p.node.id, s, ts, 0);
          }
          break;
        }
        case "process.chdir": {
          const p = this.proc(this.pidOf(ev), ts);
          p.cwd = ownString(ev.cwd);
          break;
        }
        case "access":
          this.onAccess(ev);
          break;
        case "rename":
          this.onRename(ev);
          break;
        case "pipe":
          this.onPipe(ev);
          break;
        case "socket":
          this.onSocket(ev);
          break;
        case "call":
          this.onCall(ev);
          break;
      }
    }
  }

  drain(): Batch {
    const nodes = [...this.dirtyNodes].sort((a, b) => a.id - b.id);
    const edges = [...this.dirtyEdges].sort((a, b) => a.id - b.id);
    this.dirtyNodes = new Set();
    this.dirtyEdges = new Set();
    // the relations of ended generations are handed out above: they can no longer change
    for (const id of this.retired) this.evict(id);
    this.retired = [];
    const problems = this.problems;
    this.problems = [];
    for (const pid of this.strayStepPids) this.steps.closePid(pid);
    this.strayStepPids.clear();
    const steps = this.steps.take();
    this.stats.steps = this.steps.count;
    if (this.provActive) this.syncProvStats();
    return { nodes, edges, steps, problems };
  }

  /** End of input: closes open steps and ends processes never seen exiting (attrs.unfinished). */
  finish(endTs?: number): Batch {
    if (this.provPending.size > 0) this.settlePendingRelations();
    for (const p of this.procs.values()) {
      if (!p.alive) continue;
      p.alive = false;
      const end = Math.max(p.lastTs, p.node.start ?? p.lastTs);
      p.node.end = Number.isFinite(end) ? end : (endTs ?? this.last);
      p.node.attrs.unfinished = true;
      this.dirtyNodes.add(p.node);
    }
    for (const p of [...this.procs.values()]) this.endProcess(p, true);
    const steps = this.steps.finish();
    const batch = this.drain();
    batch.steps = steps.concat(batch.steps);
    this.stats.steps = this.steps.count;
    return batch;
  }

  /** Sizes of the builder's working state (what stays in memory between drains). */
  memory(): Record<string, number> {
    let ownedEdges = 0;
    for (const list of this.owned.values()) ownedEdges += list.length;
    let edgesKept = 0;
    for (const m of this.edges.values()) edgesKept += m.size;
    return {
      liveProcesses: this.procs.size,
      endedPids: this.ended.size,
      threads: this.tidToPid.size,
      files: this.files.size,
      pipes: this.pipes.size,
      sockets: this.sockets.size,
      edgeSources: this.edges.size,
      edgesKept,
      ownedEdges,
      openSteps: this.steps.openCount,
      ...(this.provNodes.size > 0 || this.provPending.size > 0
        ? { provNodes: this.provNodes.size, provPendingRelations: this.provPending.size }
        : {}),
    };
  }

  firstTs(): number | null {
    return this.first;
  }

  lastTs(): number | null {
    return this.last;
  }

  /** Exit of the run's first process (its last generation), when seen. */
  rootExit(): { code: number | null; signal: string | null } | null {
    const p = this.rootProc;
    if (!p) return null;
    const a = p.node.attrs;
    if (a.exitCode === undefined && a.exitSignal === undefined) return null;
    return { code: a.exitCode ?? null, signal: a.exitSignal ?? null };
  }

  // ---------------------------------------------------------------- nodes and edges

  private newNode(
    kind: NodeKind,
    type: NodeType,
    gid: string,
    version: number,
    label: string,
    start: number | null,
    attrs: NodeAttrs,
  ): GraphNode {
    const node: GraphNode = {
      id: this.nextNodeId++,
      kind,
      type,
      gid,
      version,
      label,
      start,
      end: null,
      attrs,
    };
    this.stats.nodes++;
    this.dirtyNodes.add(node);
    return node;
  }

  private touch(node: GraphNode): void {
    this.dirtyNodes.add(node);
  }

  private edge(
    type: RelationType,
    op: RelationOp,
    from: number,
    to: number,
    ts: number | null,
    bytes: number,
    attrs?: Record<string, unknown>,
    /**
     * the process generation with whose end the relation becomes final: the acting process (the
     * subject, or the activity an entity was generated or invalidated by, or for a derivation the
     * generator of the derived version)
     */
    owner = type === "wasGeneratedBy" || type === "wasInvalidatedBy" ? to : from,
  ): GraphEdge {
    let byTo = this.edges.get(from);
    if (!byTo) {
      byTo = new Map();
      this.edges.set(from, byTo);
    }
    const key = to * 512 + TYPE_CODE[type] * 64 + OP_CODE[op];
    let e = byTo.get(key);
    if (e) {
      e.count++;
      e.bytes += bytes;
      if (ts !== null) {
        if (e.ts === null || ts < e.ts) e.ts = ts;
        if (e.tsEnd === null || ts > e.tsEnd) e.tsEnd = ts;
      }
    } else {
      e = { id: this.nextEdgeId++, type, op, from, to, ts, tsEnd: ts, count: 1, bytes, attrs: attrs ?? {} };
      byTo.set(key, e);
      this.stats.edges++;
      if (owner !== from) {
        const list = this.owned.get(owner);
        if (list) list.push(e);
        else this.owned.set(owner, [e]);
      }
    }
    this.dirtyEdges.add(e);
    return e;
  }

  /**
   * Forget the relations of an ended process generation: those keyed by its node, and those keyed by
   * an entity that only it could still extend (generated/invalidated by it, derived while it was the
   * generator of the version). No event can add to them any more.
   */
  private evict(genId: number): void {
    this.edges.delete(genId);
    const list = this.owned.get(genId);
    if (!list) return;
    this.owned.delete(genId);
    for (const e of list) {
      const byTo = this.edges.get(e.from);
      if (!byTo) continue;
      byTo.delete(e.to * 512 + TYPE_CODE[e.type] * 64 + OP_CODE[e.op]);
      if (byTo.size === 0) this.edges.delete(e.from);
    }
  }

  /** The process ended (exit, wait status, folded into another as a thread): drop its state. */
  private endProcess(p: Proc, keepPid: boolean): void {
    p.alive = false;
    p.reads = null;
    if (this.procs.get(p.pid) === p) this.procs.delete(p.pid);
    if (keepPid) this.ended.set(p.pid, p.node.id);
    this.retired.push(p.node.id);
  }

  /** Node id of the process a pid or tid stands for: the live one, else the last one that ended. */
  private procNodeId(pidOrTid: number): number | undefined {
    const pid = this.tidToPid.get(pidOrTid) ?? pidOrTid;
    return this.procs.get(pid)?.node.id ?? this.ended.get(pid);
  }

  private associate(node: GraphNode, ts: number): void {
    if (this.user) this.edge("wasAssociatedWith", "associated", node.id, this.user.id, ts, 0);
    this.edge("wasAssociatedWith", "associated", node.id, this.machine.id, ts, 0);
  }

  // ---------------------------------------------------------------- processes

  private pidOf(ev: EventBase): number {
    const m = this.tidToPid.get(ev.pid);
    if (m !== undefined) return m;
    if (ev.tid !== undefined && ev.tid !== ev.pid && !this.tidToPid.has(ev.tid)) {
      const p = this.procs.get(ev.pid);
      if (p) this.addThread(p, ev.tid);
    }
    return ev.pid;
  }

  /**
   * The live process for a pid, created implicitly (via "unknown") when never seen or when the last
   * process of that pid ended (the pid was reused by a process whose start was not traced).
   */
  private proc(pid: number, ts: number): Proc {
    let p = this.procs.get(pid);
    if (!p) p = this.newProcess(pid, null, "unknown", ts, undefined);
    if (ts > p.lastTs) p.lastTs = ts;
    return p;
  }

  private newProcess(
    pid: number,
    ppid: number | null,
    via: string,
    ts: number,
    parent: Proc | undefined,
  ): Proc {
    const attrs: NodeAttrs = { pid, ppid, generation: 0, via };
    const cwd = parent ? parent.cwd : this.rootPid === null ? this.ctx.cwd : undefined;
    if (cwd) attrs.cwd = cwd;
    // a fork runs its parent's program until it execs; a Windows process is created with its own
    const inherits = parent !== undefined && via !== "create";
    if (inherits && parent.node.attrs.exe) attrs.exe = parent.node.attrs.exe;
    if (inherits && parent.node.attrs.argv) attrs.argv = parent.node.attrs.argv;
    const label = inherits ? parent.node.label : `pid ${pid}`;
    const node = this.newNode(
      "activity",
      "process",
      `proc://${this.host}/${this.boot}/${pid}@${ts}`,
      0,
      label,
      ts,
      attrs,
    );
    const p: Proc = {
      pid,
      gen0: node,
      node,
      alive: true,
      cwd,
      lastTs: ts,
      parentLinked: false,
      reads: null,
      readSeq: 0,
    };
    this.procs.set(pid, p);
    if (this.ended.delete(pid)) {
      // a new process never continues the calls of an earlier one with the same pid
      this.steps.closePid(pid);
      this.strayStepPids.delete(pid);
    }
    this.tidToPid.delete(pid);
    this.stats.processes++;
    this.stats.generations++;
    if (this.rootPid === null) {
      this.rootPid = pid;
      this.rootProc = p;
    }
    this.associate(node, ts);
    if (parent) {
      this.edge("wasInformedBy", forkOp(via), node.id, parent.node.id, ts, 0);
      p.parentLinked = true;
    }
    return p;
  }

  private onStart(ev: ProcessStartEvent): void {
    const existing = this.procs.get(ev.pid);
    const parent =
      ev.ppid !== null && ev.ppid !== ev.pid
        ? this.procs.get(this.tidToPid.get(ev.ppid) ?? ev.ppid)
        : undefined;
    if (existing?.alive) {
      // announced again (a child seen before its parent's clone returned): complete what is known
      if (ev.ts > existing.lastTs) existing.lastTs = ev.ts;
      if (ev.ppid === null || existing.gen0.attrs.ppid === ev.ppid) return;
      for (const n of new Set([existing.gen0, existing.node])) {
        n.attrs.ppid = ev.ppid;
        if (n === existing.gen0 && (n.attrs.via === "unknown" || n.attrs.via === undefined))
          n.attrs.via = ev.via;
        this.touch(n);
      }
      if (parent && !existing.parentLinked) {
        existing.parentLinked = true;
        this.edge("wasInformedBy", forkOp(ev.via), existing.gen0.id, parent.node.id, ev.ts, 0);
        // generation 0 already ended (exec'd): its relations are final again at the next drain
        if (existing.gen0 !== existing.node) this.retired.push(existing.gen0.id);
        if (existing.cwd === undefined && parent.cwd !== undefined) {
          existing.cwd = parent.cwd;
          existing.gen0.attrs.cwd = parent.cwd;
        }
        if (
          existing.gen0 === existing.node &&
          existing.node.attrs.exe === undefined &&
          parent.node.attrs.exe
        ) {
          existing.node.attrs.exe = parent.node.attrs.exe;
          existing.node.attrs.argv = parent.node.attrs.argv;
          existing.node.label = parent.node.label;
        }
      }
      return;
    }
    const p = this.newProcess(ev.pid, ev.ppid, ev.via, ev.ts, parent);
    if (ev.attrs) Object.assign(p.node.attrs, ev.attrs);
  }

  private addThread(p: Proc, tid: number): void {
    if (tid === p.pid || this.tidToPid.get(tid) === p.pid) return;
    // a thread announced after its own events made it look like a process: fold it in
    const ghost = this.procs.get(tid);
    if (ghost?.alive && ghost.node === ghost.gen0 && ghost !== p) {
      ghost.node.end = ghost.lastTs;
      ghost.node.attrs.threadOf = p.pid;
      this.touch(ghost.node);
      this.endProcess(ghost, false);
      this.steps.closePid(tid);
    }
    this.tidToPid.set(tid, p.pid);
    const tids = p.node.attrs.tids ?? [];
    if (!tids.includes(tid)) tids.push(tid);
    p.node.attrs.tids = tids;
    this.touch(p.node);
    this.stats.threads++;
  }

  private onExec(ev: ExecEvent): void {
    const p = this.proc(this.pidOf(ev), ev.ts);
    const exePath = ownString(this.abs(p, ev.exe));
    if (!ev.ok) {
      const f = this.file(exePath, "file");
      this.probe(p, f, ev.ts, ev.errno);
      return;
    }
    const old = p.node;
    old.end = ev.ts;
    this.touch(old);
    const generation = (old.attrs.generation ?? 0) + 1;
    const cwd = ev.cwd !== undefined ? ownString(ev.cwd) : p.cwd;
    if (ev.cwd) p.cwd = cwd;
    const attrs: NodeAttrs = {
      pid: p.pid,
      ppid: old.attrs.ppid ?? null,
      generation,
      via: "exec",
      exe: exePath,
    };
    attrs.argv = ev.argv.map(ownString);
    if (ev.env) attrs.env = ev.env.map(ownString);
    if (ev.envCount !== undefined) attrs.envCount = ev.envCount;
    if (cwd) attrs.cwd = cwd;
    if (ev.attrs) Object.assign(attrs, ev.attrs);
    const node = this.newNode(
      "activity",
      "process",
      `${p.gen0.gid}#${generation}`,
      0,
      commandLabel(attrs.argv, exePath),
      ev.ts,
      attrs,
    );
    this.stats.generations++;
    p.node = node;
    this.retired.push(old.id);
    p.reads = null;
    p.readSeq++;
    this.associate(node, ev.ts);
    this.edge("wasInformedBy", "exec", node.id, old.id, ev.ts, 0);
    const f = this.file(exePath, "file");
    f.exists = EXISTS_YES;
    f.access.executed = true;
    this.touch(f.v0);
    this.used(p, f, "execute", ev.ts, 0);
  }

  private onExit(ev: ExitEvent): void {
    const mapped = this.tidToPid.get(ev.pid);
    if (mapped !== undefined || (ev.tid !== undefined && ev.tid !== ev.pid)) {
      // a thread ended; the process goes on
      if (mapped !== undefined) {
        const p = this.procs.get(mapped);
        if (p && ev.ts > p.lastTs) p.lastTs = ev.ts;
        this.tidToPid.delete(ev.pid);
        this.steps.closePid(ev.pid);
      }
      return;
    }
    // a second report of an exit already seen (wait status first, then the exit line): nothing new
    if (!this.procs.has(ev.pid) && this.ended.has(ev.pid)) return;
    const p = this.proc(ev.pid, ev.ts);
    const n = p.node;
    n.end = ev.ts;
    if (ev.code !== undefined) n.attrs.exitCode = ev.code;
    if (ev.signal !== undefined) n.attrs.exitSignal = ev.signal;
    if (ev.coreDumped) n.attrs.coreDumped = true;
    this.touch(n);
    this.endProcess(p, true);
    this.steps.closePid(p.pid);
  }

  private onWait(ev: WaitEvent): void {
    const p = this.proc(this.pidOf(ev), ev.ts);
    const c = this.procs.get(ev.child);
    if (c === p) return;
    if (!c) {
      const endedId = this.ended.get(ev.child);
      if (endedId !== undefined) this.edge("wasInformedBy", "wait", p.node.id, endedId, ev.ts, 0);
      return;
    }
    this.edge("wasInformedBy", "wait", p.node.id, c.node.id, ev.ts, 0);
    if (ev.code !== undefined || ev.signal !== undefined) {
      // exit lines suppressed (strace -qq): the wait status tells how the child ended
      const n = c.node;
      if (n.end === null) n.end = Math.max(c.lastTs, n.start ?? c.lastTs);
      if (ev.code !== undefined) n.attrs.exitCode = ev.code;
      if (ev.signal !== undefined) n.attrs.exitSignal = ev.signal;
      this.touch(n);
      this.endProcess(c, true);
      this.steps.closePid(c.pid);
    }
  }

  private onCall(ev: CallEvent): void {
    this.stats.calls++;
    const pid = this.pidOf(ev);
    const p = this.procs.get(pid);
    if (p) {
      if (ev.ts > p.lastTs) p.lastTs = ev.ts;
    } else if (this.ended.has(pid)) this.strayStepPids.add(pid);
    this.steps.add(ev, pid);
  }

  // ---------------------------------------------------------------- files

  private abs(p: Proc | undefined, file: string): string {
    if (file.startsWith("/") || isWindowsPath(file)) return file;
    const base = p?.cwd ?? this.ctx.cwd ?? "/";
    if (isWindowsPath(base)) return joinWindowsPath(base, file);
    return path.posix.join(base, file);
  }

  private file(filePath: string, type: "file" | "directory" | "device"): FileState {
    const windows = filePath.charCodeAt(0) !== 47 /* / */ && isWindowsPath(filePath);
    let key = filePath;
    if (windows) {
      const k = this.windowsKeys.get(filePath);
      if (k !== undefined) key = k;
      else {
        key = ownString(normalizeWindowsPath(filePath));
        this.windowsKeys.set(ownString(filePath), key);
      }
    }
    let f = this.files.get(key);
    if (f) {
      if (type === "directory" && f.type === "file") {
        f.type = "directory";
        for (const n of new Set([f.v0, f.node])) {
          n.type = "directory";
          this.touch(n);
        }
        this.stats.directories++;
        this.stats.files--;
      }
      return f;
    }
    filePath = ownString(filePath);
    const isDev = type === "device" || (filePath.startsWith("/dev/") && !filePath.startsWith("/dev/shm/"));
    const t = isDev ? "device" : type;
    const category = categorizePath(filePath, this.ctx.cwd);
    const access: FileAccess = {};
    const gid = windows ? `file://${this.host}/${key}` : `file://${this.host}${filePath}`;
    const node = this.newNode("entity", t, gid, 0, filePath, null, {
      path: filePath,
      category,
      access,
    });
    f = {
      path: filePath,
      type: t,
      category,
      node,
      v0: node,
      access,
      genBy: 0,
      exists: EXISTS_UNKNOWN,
      touched: false,
      copyNode: 0,
      copyBy: 0,
      copySeq: 0,
    };
    // the path as owned (not a slice of a read chunk), or its normal form
    this.files.set(windows ? key : filePath, f);
    if (t === "directory") this.stats.directories++;
    else if (t === "device") this.stats.devices++;
    else this.stats.files++;
    return f;
  }

  private resFile(p: Proc, res: ResourceRef, hintDir: boolean): FileState | null {
    if (res.type === "file") return this.file(this.abs(p, res.path), hintDir ? "directory" : "file");
    if (res.type === "device") return this.file(this.abs(p, res.path), "device");
    return null;
  }

  private used(p: Proc, f: FileState, op: RelationOp, ts: number, bytes: number): void {
    this.edge("used", op, p.node.id, f.node.id, ts, bytes);
    if (op !== "probe") f.touched = true;
    if ((op === "read" || op === "open") && f.type === "file" && isDataCategory(f.category)) {
      let reads = p.reads;
      if (!reads) {
        reads = new Map();
        p.reads = reads;
      }
      if (reads.get(f) !== f.node.id) {
        reads.delete(f);
        reads.set(f, f.node.id);
        if (reads.size > MAX_COPY_SOURCES) {
          const oldest = reads.keys().next().value;
          if (oldest) reads.delete(oldest);
        }
        p.readSeq++;
      }
    }
  }

  private probe(p: Proc, f: FileState, ts: number, errno: string | undefined): void {
    this.edge("used", "probe", p.node.id, f.node.id, ts, 0);
    if (!f.access.probed) {
      f.access.probed = true;
      this.touch(f.v0);
    }
    if (errno === "ENOENT" || errno === "ENOTDIR") {
      if (f.exists !== EXISTS_NO) f.exists = EXISTS_NO;
    } else if (errno === undefined) f.exists = EXISTS_YES;
  }

  /**
   * P modifies the path: a new version generated by P, derived from the previous one, unless P
   * generated the current version already. `creating`: the path did not exist before.
   */
  private generate(
    p: Proc,
    f: FileState,
    op: RelationOp,
    ts: number,
    bytes: number,
    creating: boolean,
  ): void {
    const pid = p.node.id;
    if (f.type === "device") {
      this.edge("wasGeneratedBy", op, f.node.id, pid, ts, bytes);
      f.touched = true;
      return;
    }
    if (!(f.genBy === pid && f.exists === EXISTS_YES)) {
      const existed = !creating && f.exists !== EXISTS_NO;
      if (f.touched || existed) {
        const prev = this.newVersion(f, ts);
        if (existed) this.edge("wasDerivedFrom", "version", f.node.id, prev.id, ts, 0, undefined, pid);
      } else if (f.node.start === null) {
        f.node.start = ts;
        this.touch(f.node);
      }
      f.genBy = pid;
    }
    f.exists = EXISTS_YES;
    f.touched = true;
    this.edge("wasGeneratedBy", op, f.node.id, pid, ts, bytes);
    if (
      (op === "write" || op === "create") &&
      p.reads &&
      !(f.copyNode === f.node.id && f.copyBy === pid && f.copySeq === p.readSeq)
    ) {
      for (const [src, nid] of p.reads) {
        if (src !== f) this.edge("wasDerivedFrom", "copy", f.node.id, nid, ts, 0, undefined, pid);
      }
      f.copyNode = f.node.id;
      f.copyBy = pid;
      f.copySeq = p.readSeq;
    }
  }

  private newVersion(f: FileState, ts: number): GraphNode {
    const prev = f.node;
    const attrs: NodeAttrs = { path: f.path, category: f.category };
    const node = this.newNode("entity", f.type, prev.gid, prev.version + 1, f.path, ts, attrs);
    f.node = node;
    f.touched = false;
    f.genBy = 0;
    return prev;
  }

  private markAccess(
    f: FileState,
    key: "read" | "written" | "created" | "deleted" | "executed" | "mapped" | "truncated",
  ): void {
    if (!f.access[key]) {
      f.access[key] = true;
      this.touch(f.v0);
    }
  }

  private addBytes(f: FileState, key: "bytesRead" | "bytesWritten", bytes: number | undefined): void {
    if (bytes && bytes > 0) {
      f.access[key] = (f.access[key] ?? 0) + bytes;
      this.touch(f.v0);
    }
  }

  private invalidate(
    p: Proc,
    f: FileState,
    op: RelationOp,
    ts: number,
    attrs?: Record<string, unknown>,
  ): void {
    this.edge("wasInvalidatedBy", op, f.node.id, p.node.id, ts, 0, attrs);
    f.touched = true;
    f.exists = EXISTS_NO;
    f.genBy = 0;
    if (f.node.end === null) f.node.end = ts;
    this.touch(f.node);
  }

  private onAccess(ev: AccessEvent): void {
    const p = this.proc(this.pidOf(ev), ev.ts);
    const res = ev.res;
    if (res.type === "pipe") {
      this.onPipeIo(p, ev.res as { type: "pipe"; inode: string }, ev.op, ev.ts, ev.bytes ?? 0);
      return;
    }
    if (res.type === "registry") {
      this.onRegistry(p, ev, res.key);
      return;
    }
    if (res.type === "socket") {
      const s = this.socketNode(p, res, undefined, ev.op === "write" ? "send" : "recv");
      if (!s) return;
      if (ev.op === "write") this.edge("wasGeneratedBy", "send", s.id, p.node.id, ev.ts, ev.bytes ?? 0);
      else if (ev.op === "read") this.edge("used", "recv", p.node.id, s.id, ev.ts, ev.bytes ?? 0);
      return;
    }
    const dirHint =
      ev.op === "mkdir" || ev.op === "rmdir" || ev.call.startsWith("getdents") || ev.directory === true;
    const f = this.resFile(p, res, dirHint);
    if (!f) return;
    const ts = ev.ts;
    if (!ev.ok) {
      if (ev.op === "mkdir" && ev.errno === "EEXIST") {
        f.exists = EXISTS_YES;
        return;
      }
      if (ev.op === "open" && ev.create && ev.errno === "EEXIST") f.exists = EXISTS_YES;
      this.probe(p, f, ts, ev.errno);
      return;
    }
    const bytes = ev.bytes ?? 0;
    switch (ev.op) {
      case "open": {
        const creating = ev.create === true && f.exists !== EXISTS_YES && f.type !== "device";
        if (creating) {
          this.markAccess(f, "created");
          this.generate(p, f, "create", ts, 0, true);
        } else if (ev.truncate && f.type !== "directory") {
          this.markAccess(f, "truncated");
          this.generate(p, f, "truncate", ts, 0, false);
        } else if (ev.write || ev.append) {
          this.generate(p, f, "write", ts, 0, false);
        }
        if (ev.write || ev.append || creating) this.markAccess(f, "written");
        f.exists = EXISTS_YES;
        if (ev.read || (!ev.write && !ev.append && !creating)) {
          this.markAccess(f, "read");
          this.used(p, f, "open", ts, 0);
        }
        break;
      }
      case "read":
        f.exists = EXISTS_YES;
        this.markAccess(f, "read");
        this.addBytes(f, "bytesRead", bytes);
        this.used(p, f, "read", ts, bytes);
        break;
      case "write":
        this.markAccess(f, "written");
        this.addBytes(f, "bytesWritten", bytes);
        this.generate(p, f, "write", ts, bytes, false);
        break;
      case "create": {
        const creating = f.exists !== EXISTS_YES;
        if (creating) this.markAccess(f, "created");
        this.markAccess(f, "written");
        this.generate(p, f, creating ? "create" : "truncate", ts, 0, creating);
        break;
      }
      case "truncate":
        this.markAccess(f, "truncated");
        this.generate(p, f, "truncate", ts, 0, false);
        break;
      case "delete":
      case "rmdir":
        this.markAccess(f, "deleted");
        f.node.attrs.deleted = true;
        this.invalidate(p, f, ev.op, ts);
        break;
      case "mkdir":
        if (f.exists !== EXISTS_YES) this.markAccess(f, "created");
        this.generate(p, f, "mkdir", ts, 0, f.exists !== EXISTS_YES);
        break;
      case "execute":
        f.exists = EXISTS_YES;
        this.markAccess(f, "executed");
        this.used(p, f, "execute", ts, 0);
        break;
      case "map":
        f.exists = EXISTS_YES;
        this.markAccess(f, "mapped");
        this.used(p, f, "map", ts, 0);
        break;
      case "probe":
        this.probe(p, f, ts, undefined);
        break;
      case "link":
      case "symlink": {
        const creating = f.exists !== EXISTS_YES;
        if (creating) this.markAccess(f, "created");
        this.generate(p, f, "create", ts, 0, creating);
        if (ev.target !== undefined) {
          if (ev.op === "symlink") {
            f.node.attrs.symlinkTo = ev.target;
            this.touch(f.node);
          } else {
            const t = this.file(this.abs(p, ev.target), "file");
            this.edge("wasDerivedFrom", "link", f.node.id, t.node.id, ts, 0, undefined, p.node.id);
          }
        }
        break;
      }
      case "chmod":
      case "chown":
        f.exists = EXISTS_YES;
        break;
    }
  }

  private onRename(ev: RenameEvent): void {
    const p = this.proc(this.pidOf(ev), ev.ts);
    if (!ev.ok) return;
    const ts = ev.ts;
    const src = this.file(this.abs(p, ev.from), "file");
    const dstPath = this.abs(p, ev.to);
    const dst = this.file(dstPath, src.type === "directory" ? "directory" : "file");
    if (src === dst) return;
    const srcVersion = src.node;
    // the target's old content, if any, is replaced (not deleted: the kernel reports no removal)
    if (dst.exists === EXISTS_YES || dst.touched) {
      if (dst.exists !== EXISTS_NO) this.invalidate(p, dst, "rename", ts, { replaced: true });
      this.newVersion(dst, ts);
    } else if (dst.node.start === null) {
      dst.node.start = ts;
    }
    dst.genBy = p.node.id;
    dst.exists = EXISTS_YES;
    dst.touched = true;
    this.edge("wasGeneratedBy", "rename", dst.node.id, p.node.id, ts, 0);
    this.edge("wasDerivedFrom", "rename", dst.node.id, srcVersion.id, ts, 0, undefined, p.node.id);
    this.invalidate(p, src, "rename", ts);
    src.node.attrs.renamedTo = dstPath;
    dst.node.attrs.renamedFrom = src.path;
    this.touch(dst.node);
    if (src.access.renamedTo !== dstPath) {
      src.access.renamedTo = dstPath;
      this.touch(src.v0);
    }
    if (dst.access.renamedFrom !== src.path) {
      dst.access.renamedFrom = src.path;
      this.touch(dst.v0);
    }
  }

  // ---------------------------------------------------------------- Windows registry

  private registryNode(key: string): RegistryState {
    const known = this.registryByName.get(key);
    if (known) return known;
    const norm = normalizeRegistryKey(key);
    let r = this.registry.get(norm);
    if (!r) {
      const access: FileAccess = {};
      const node = this.newNode(
        "entity",
        "registry",
        `registry://${this.host}/${norm.replace(/\\/g, "/")}`,
        0,
        ownString(key),
        null,
        { path: ownString(key), category: "registry", access },
      );
      r = { node, access };
      this.registry.set(ownString(norm), r);
      this.stats.registry++;
    }
    this.registryByName.set(ownString(key), r);
    return r;
  }

  /**
   * A registry operation: reads are `used`, writes and creations `wasGeneratedBy`, deletions
   * `wasInvalidatedBy`; failed ones are probes (attempts), as failed file calls are. Registry
   * entities are not versioned: the relations' times tell the order.
   */
  private onRegistry(p: Proc, ev: AccessEvent, key: string): void {
    const r = this.registryNode(key);
    const n = r.node;
    const ts = ev.ts;
    if (n.start === null) {
      n.start = ts;
      this.touch(n);
    }
    const mark = (k: keyof FileAccess) => {
      if (r.access[k] !== true) {
        (r.access as Record<string, unknown>)[k] = true;
        this.touch(n);
      }
    };
    if (!ev.ok) {
      this.edge("used", "probe", p.node.id, n.id, ts, 0);
      mark("probed");
      return;
    }
    const bytes = ev.bytes ?? 0;
    switch (ev.op) {
      case "create":
        mark("created");
        this.edge("wasGeneratedBy", "create", n.id, p.node.id, ts, bytes);
        break;
      case "write":
        mark("written");
        this.edge("wasGeneratedBy", "write", n.id, p.node.id, ts, bytes);
        break;
      case "delete":
        mark("deleted");
        this.edge("wasInvalidatedBy", "delete", n.id, p.node.id, ts, 0);
        break;
      case "probe":
        mark("probed");
        this.edge("used", "probe", p.node.id, n.id, ts, 0);
        break;
      default:
        mark("read");
        this.edge("used", "read", p.node.id, n.id, ts, bytes);
        break;
    }
  }

  // ---------------------------------------------------------------- pipes and sockets

  private pipeNode(inode: string): GraphNode {
    let n = this.pipes.get(inode);
    if (!n) {
      n = this.newNode(
        "entity",
        "pipe",
        `pipe://${this.host}/${this.boot}/${inode}`,
        0,
        `pipe:[${inode}]`,
        null,
        {
          inode,
          category: "pipe",
        },
      );
      this.pipes.set(inode, n);
      this.stats.pipes++;
    }
    return n;
  }

  private onPipeIo(p: Proc, res: { inode: string }, op: string, ts: number, bytes: number): void {
    const n = this.pipeNode(res.inode);
    if (n.start === null) {
      n.start = ts;
      this.touch(n);
    }
    if (op === "write") this.edge("wasGeneratedBy", "write", n.id, p.node.id, ts, bytes);
    else if (op === "read") this.edge("used", "read", p.node.id, n.id, ts, bytes);
  }

  private onPipe(ev: PipeEvent): void {
    const p = this.proc(this.pidOf(ev), ev.ts);
    if (ev.res.type === "pipe") {
      const n = this.pipeNode(ev.res.inode);
      if (n.start === null) n.start = ev.ts;
      this.edge("wasGeneratedBy", "create", n.id, p.node.id, ev.ts, 0);
    } else if (ev.res.type === "socket") {
      const s = this.socketNode(p, ev.res, undefined, "socket");
      if (s) this.edge("wasGeneratedBy", "create", s.id, p.node.id, ev.ts, 0);
    }
  }

  /** The socket entity for a resource; null when nothing identifies it yet (a bare socket()). */
  private socketNode(
    p: Proc,
    res: Extract<ResourceRef, { type: "socket" }>,
    address: string | undefined,
    op: string,
  ): GraphNode | null {
    const proto = socketProto(res.protocol, res.family);
    const isUnix = proto === "unix";
    let local = res.local;
    let remote = res.remote;
    let sockPath = res.path;
    if (isUnix && sockPath && !sockPath.startsWith("/") && !sockPath.startsWith("@"))
      sockPath = this.abs(p, sockPath);
    if (op === "connect" && address && !remote)
      remote = isUnix && !address.startsWith("@") ? this.abs(p, address) : address;
    if (op === "bind" && address && !local)
      local = isUnix && !address.startsWith("@") ? this.abs(p, address) : address;
    if (isUnix && !sockPath && op === "bind" && local) sockPath = local;
    const inodeKey = res.inode ?? (isUnix && local && /^\d+$/.test(local) ? local : undefined);
    let n = inodeKey ? this.socketByInode.get(`${proto}:${inodeKey}`) : undefined;
    if (!n) {
      let key: string | null = null;
      if (local && remote) key = `${local}->${remote}`;
      else if (isUnix && sockPath && !remote) key = sockPath;
      else if (local) key = local;
      else if (inodeKey) key = `${this.boot}/${inodeKey}`;
      else if (remote) key = `?->${remote}`;
      if (key === null) return null;
      const gid = `${proto}://${this.host}${key.startsWith("/") ? "" : "/"}${key}`;
      n = this.sockets.get(gid);
      if (!n && local && remote) {
        n = this.sockets.get(`${proto}://${this.host}/${remote}->${local}`);
      }
      if (!n) {
        const attrs: NodeAttrs = { family: res.family, protocol: res.protocol, category: "socket" };
        if (local) attrs.local = local;
        if (remote) attrs.remote = remote;
        if (sockPath) attrs.path = sockPath;
        if (res.inode) attrs.inode = res.inode;
        attrs.role = remote ? "connected" : op === "listen" || op === "accept" ? "listening" : "unconnected";
        n = this.newNode("entity", "socket", gid, 0, `${res.protocol} ${key}`, null, attrs);
        this.sockets.set(gid, n);
        this.stats.sockets++;
      }
    }
    if (inodeKey) this.socketByInode.set(`${proto}:${inodeKey}`, n);
    const a = n.attrs;
    let changed = false;
    if (remote && a.remote === undefined) {
      a.remote = remote;
      a.role = "connected";
      changed = true;
    }
    if (local && a.local === undefined) {
      a.local = local;
      changed = true;
    }
    if ((op === "listen" || op === "accept") && a.role === "unconnected" && !a.remote) {
      a.role = "listening";
      changed = true;
    }
    if (changed) this.touch(n);
    return n;
  }

  private onSocket(ev: SocketEvent): void {
    const p = this.proc(this.pidOf(ev), ev.ts);
    if (!ev.ok || ev.res.type !== "socket") return;
    const s = this.socketNode(p, ev.res, ev.address, ev.op);
    if (!s) return;
    const ts = ev.ts;
    if (s.start === null) {
      s.start = ts;
      this.touch(s);
    }
    const bytes = ev.bytes ?? 0;
    switch (ev.op) {
      case "send": {
        const e = this.edge("wasGeneratedBy", "send", s.id, p.node.id, ts, bytes);
        if (ev.queries !== undefined) addQueries(e, ev.queries);
        break;
      }
      case "recv":
        this.edge("used", "recv", p.node.id, s.id, ts, bytes);
        break;
      case "bind": {
        this.edge("used", "bind", p.node.id, s.id, ts, 0);
        const sp = s.attrs.path;
        if (typeof sp === "string" && sp.startsWith("/")) {
          // binding a unix socket creates its file
          const f = this.file(sp, "file");
          const creating = f.exists !== EXISTS_YES;
          if (creating) this.markAccess(f, "created");
          this.generate(p, f, "create", ts, 0, creating);
        }
        break;
      }
      case "connect":
      case "accept":
      case "listen":
        this.edge("used", ev.op, p.node.id, s.id, ts, 0);
        break;
      default:
        break;
    }
  }
  // ---------------------------------------------------------------- PROV sources

  /**
   * The PROV sources' counters, copied into `stats` at each drain (only once a PROV event came, so
   * the statistics of other runs keep their keys).
   */
  private readonly provCounts: Record<string, number> = {};
  private provActive = false;

  private count(key: string): void {
    this.provCounts[key] = (this.provCounts[key] ?? 0) + 1;
  }

  private syncProvStats(): void {
    Object.assign(this.stats, this.provCounts);
  }

  private provProblem(at: ProvNodeEvent["at"], message: string, text?: string): void {
    this.stats.problems++;
    if (this.problems.length < this.maxPendingProblems) {
      this.problems.push({ file: at.file, line: at.line, message, text: text ?? null });
    } else this.stats.problemsDropped++;
  }

  private seenTime(ts: number | null): void {
    if (ts === null || !Number.isFinite(ts)) return;
    if (this.first === null || ts < this.first) this.first = ts;
    if (this.last === null || ts > this.last) this.last = ts;
  }

  /** A node described by a PROV source: new, or more about one described before (attributes merged). */
  private onProvNode(ev: ProvNodeEvent): void {
    this.seenTime(ev.start);
    this.seenTime(ev.end);
    const known = this.provNodes.get(ev.key);
    if (known) {
      this.count("provDescriptions");
      mergeProvNode(known, ev);
      if (known.kind !== ev.cls) {
        this.provProblem(
          ev.at,
          `${docWhere(ev.at)}${String(ev.attrs.sourceId ?? ev.key)} is described as ${ev.cls} and as ${known.kind}: kept as ${known.kind}`,
        );
      }
      this.touch(known);
      return;
    }
    const node = this.newNode(ev.cls, ev.type, ev.gid, ev.version, ev.label, ev.start, ev.attrs);
    node.end = ev.end;
    this.registerProvNode(ev.key, node);
    this.count("provDescriptions");
  }

  private registerProvNode(key: string, node: GraphNode): void {
    this.provNodes.set(key, node);
    const counter = COUNTED_TYPES[node.type];
    if (counter && !this.provCounted.has(node.gid)) {
      this.provCounted.add(node.gid);
      this.stats[counter] = (this.stats[counter] ?? 0) + 1;
    }
    const waiting = this.provWaiting.get(key);
    if (!waiting) return;
    this.provWaiting.delete(key);
    for (const p of waiting) {
      p.waiting--;
      if (p.waiting === 0) {
        this.provPending.delete(p);
        this.provEdge(p.ev, this.provNodes.get(p.ev.from!)!, this.provNodes.get(p.ev.to!)!);
      }
    }
  }

  private onProvRelation(ev: ProvRelationEvent): void {
    this.seenTime(ev.ts);
    if (ev.from === null || ev.to === null) {
      // PROV-JSON allows a relation that names one end only ("generated at time t"): not an edge
      this.count("provRelationsWithoutEnd");
      return;
    }
    const from = this.provNodes.get(ev.from);
    const to = this.provNodes.get(ev.to);
    if (from && to) {
      this.provEdge(ev, from, to);
      return;
    }
    // a waiting relation keeps no text of its record (it may share memory with the input read)
    dropAttrsJson(ev.attrs);
    const p: PendingRelation = { ev, waiting: 0 };
    for (const key of from ? [ev.to] : to || ev.from === ev.to ? [ev.from] : [ev.from, ev.to]) {
      if (this.provNodes.has(key)) continue;
      p.waiting++;
      const list = this.provWaiting.get(key);
      if (list) list.push(p);
      else this.provWaiting.set(key, [p]);
    }
    this.provPending.add(p);
    this.count("provRelationsDeferred");
    if (this.provPending.size > this.maxPendingRelations) {
      const oldest = this.provPending.values().next().value as PendingRelation;
      this.dropPending(oldest);
      this.count("provPendingOverflow");
      this.reportDangling(oldest.ev, `more than ${this.maxPendingRelations} relations were waiting`);
    }
    if (this.provPending.size > (this.provCounts.provPendingMax ?? 0)) {
      this.provCounts.provPendingMax = this.provPending.size;
    }
  }

  private dropPending(p: PendingRelation): void {
    this.provPending.delete(p);
    for (const key of [p.ev.from, p.ev.to]) {
      if (key === null) continue;
      const list = this.provWaiting.get(key);
      if (!list) continue;
      const i = list.indexOf(p);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.provWaiting.delete(key);
    }
  }

  private reportDangling(ev: ProvRelationEvent, why: string): void {
    this.count("danglingRelations");
    const ends: string[] = [];
    if (ev.from !== null && !this.provNodes.has(ev.from)) ends.push(`from ${ev.from}`);
    if (ev.to !== null && ev.to !== ev.from && !this.provNodes.has(ev.to)) ends.push(`to ${ev.to}`);
    const id = ev.attrs.sourceId;
    this.provProblem(
      ev.at,
      `${docWhere(ev.at)}dangling ${ev.type} relation${id !== undefined ? ` ${String(id)}` : ""}: ${ends.join(" and ")} never described${why ? ` (${why})` : ""}`,
      ev.attrs.sourceType !== undefined ? String(ev.attrs.sourceType) : undefined,
    );
  }

  /** End of input: what PROV-JSON only referred to becomes a node; what CamFlow/SPADE left dangling is reported. */
  private settlePendingRelations(): void {
    for (const p of [...this.provPending]) {
      if (!this.provPending.has(p)) continue;
      const ev = p.ev;
      if (!ev.implicit) {
        this.dropPending(p);
        this.reportDangling(ev, "");
        continue;
      }
      const ends: Array<[string | null, ProvClass, string]> = [
        [ev.from, ev.implicit.from, ev.implicit.fromGid],
        [ev.to, ev.implicit.to, ev.implicit.toGid],
      ];
      for (const [key, cls, gid] of ends) {
        if (key === null || this.provNodes.has(key)) continue;
        const node = this.newNode(cls, "other", gid, 0, gid, null, { implicit: true, sourceId: gid });
        this.count("implicitNodes");
        // registering resolves every relation waiting for it, this one included once both ends exist
        this.registerProvNode(key, node);
      }
    }
  }

  private provEdge(ev: ProvRelationEvent, from: GraphNode, to: GraphNode): void {
    const e: GraphEdge = {
      id: this.nextEdgeId++,
      type: ev.type,
      op: ev.op,
      from: from.id,
      to: to.id,
      ts: ev.ts,
      tsEnd: ev.ts,
      count: ev.count ?? 1,
      bytes: ev.bytes ?? 0,
      // written at the next drain: the text may stay a slice of the input until then
      attrs: this.textAttrs ? compactAttrs(ev.attrs) : ev.attrs,
    };
    this.stats.edges++;
    this.count("provRelations");
    this.dirtyEdges.add(e);
  }
}

/** "document N: " for problems in a stream of documents. */
function docWhere(at: ProvNodeEvent["at"]): string {
  return at.doc !== undefined ? `document ${at.doc}: ` : "";
}

function sameValue(a: unknown, b: unknown): boolean {
  return (
    a === b || (typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b))
  );
}

/**
 * A later description of a node adds to the first: new attributes are added; a different value of an
 * attribute already there makes the attribute a list of its values (PROV-JSON's way to write
 * several values), a list gains the values it lacks.
 */
function mergeProvNode(node: GraphNode, ev: ProvNodeEvent): void {
  const a = node.attrs;
  dropAttrsJson(a);
  for (const [k, v] of Object.entries(ev.attrs)) {
    const old = a[k];
    if (old === undefined) {
      a[k] = v;
      continue;
    }
    if (sameValue(old, v)) continue;
    const values: unknown[] = Array.isArray(old) ? old : [old];
    for (const x of Array.isArray(v) ? v : [v]) if (!values.some((y) => sameValue(x, y))) values.push(x);
    a[k] = values;
  }
  if (node.type === "other" && ev.type !== "other") node.type = ev.type;
  if (!node.label && ev.label) node.label = ev.label;
  if (ev.start !== null && (node.start === null || ev.start < node.start)) node.start = ev.start;
  if (ev.end !== null && (node.end === null || ev.end > node.end)) node.end = ev.end;
}

/** Queries kept on one relation at most; the rest are counted in `queriesDropped`. */
export const MAX_EDGE_QUERIES = 64;

/** Database queries a send carried, on its relation: `queries` (protocol: text) and `protocol`. */
function addQueries(e: GraphEdge, queries: readonly string[]): void {
  const list = (Array.isArray(e.attrs.queries) ? e.attrs.queries : []) as string[];
  for (const q of queries) {
    if (list.length < MAX_EDGE_QUERIES) list.push(q);
    else e.attrs.queriesDropped = ((e.attrs.queriesDropped as number | undefined) ?? 0) + 1;
  }
  e.attrs.queries = list;
  const protocol = queries[0]?.slice(0, queries[0].indexOf(":"));
  if (protocol) e.attrs.protocol = protocol;
}
