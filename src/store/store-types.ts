import type { GraphEdge, GraphNode, NodeType, RelationType } from "../graph/prov-types.js";

export type RunStatus = "running" | "complete" | "incomplete";

/** Counters every ingest keeps; sources add their own keys. */
export interface RunStats {
  lines: number;
  bytes: number;
  events: number;
  calls: number;
  problems: number;
  [key: string]: number;
}

export interface NewRun {
  name: string;
  /** strace, strace-ff, strace-stderr, ltrace, … */
  source: string;
  /** the traced command's argv, or the ingested files */
  command: string[];
  /** the exact tracer command line, when provflow ran the tracer */
  tracerCommand?: string[] | null;
  host: string;
  machineId?: string | null;
  bootId?: string | null;
  cwd?: string | null;
  user?: string | null;
  /** µs since epoch */
  start?: number | null;
}

export interface RunRecord {
  id: number;
  name: string;
  source: string;
  command: string[];
  tracerCommand: string[] | null;
  host: string;
  machineId: string | null;
  bootId: string | null;
  cwd: string | null;
  user: string | null;
  start: number | null;
  end: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  status: RunStatus;
  stats: RunStats;
  nodeCount: number;
  edgeCount: number;
}

export interface RunPatch {
  /** the traced command, once a replay has found it (the first process's argv) */
  command?: string[];
  start?: number | null;
  end?: number | null;
  exitCode?: number | null;
  exitSignal?: string | null;
  status?: RunStatus;
  stats?: RunStats;
  cwd?: string | null;
}

/** A logical step of the calls log: consecutive calls of one process on one resource. */
export interface Step {
  /** order within the run, 1..n */
  seq: number;
  pid: number;
  call: string;
  resource: string;
  count: number;
  bytes: number;
  errors: number;
  start: number;
  end: number;
  /** summed -T durations in µs */
  dur: number;
  /** return of the last call of the step */
  ret: string | null;
  /** database queries the step's socket writes carried (`protocol: text`), at most 16 */
  queries?: string[];
}

/** A bad input reported with where it was. */
export interface Problem {
  file: string;
  line: number;
  message: string;
  text: string | null;
}

/**
 * One write batch: nodes and edges are upserts by (run, id) — a node seen again (a process that
 * ended, a count that grew) is written again whole. Everything in one batch is one transaction.
 */
export interface Batch {
  nodes: GraphNode[];
  edges: GraphEdge[];
  steps: Step[];
  problems: Problem[];
}

/** A node of a machine's stream, named by its source's key (CamFlow's id) instead of a per-run id. */
export interface KeyedNode {
  /** the source's identifier of the node, unique in the run (one node per key, as the graph builder) */
  key: string;
  kind: GraphNode["kind"];
  type: NodeType;
  gid: string;
  version: number;
  label: string;
  start: number | null;
  end: number | null;
  attrs: Record<string, unknown>;
}

/** A relation of a machine's stream: its ends are node keys, which may be described in a later message. */
export interface KeyedEdge {
  /** the relation's own identity in the run (type and source id, or message digest and position) */
  key: string;
  type: RelationType;
  op: GraphEdge["op"];
  from: string;
  to: string;
  ts: number | null;
  tsEnd: number | null;
  count: number;
  bytes: number;
  attrs: Record<string, unknown>;
}

/** What one machine's messages of a batch bring. */
export interface MachinePart {
  runId: number;
  machineId: string;
  nodes: KeyedNode[];
  edges: KeyedEdge[];
  problems: Problem[];
  /** messages (packets) these rows came from, and how many of them could not be decoded or parsed */
  packets: number;
  errors: number;
  /** when the last of them was received (µs since the epoch) */
  seen: number;
}

/** New rows a keyed batch stored for one run (redelivered rows are not new). */
export interface MachinePartResult {
  runId: number;
  machineId: string;
  nodes: number;
  edges: number;
}

/** One machine in the registry of `provflow mqtt`. */
export interface MachineRecord {
  machineId: string;
  /** the machine's run (null: announced, nothing received yet) */
  runId: number | null;
  /** µs since the epoch */
  firstSeen: number;
  lastSeen: number;
  packets: number;
  nodes: number;
  edges: number;
  /** relations stored and waiting for a node not described yet */
  waiting: number;
  errors: number;
  /** the machine announced itself (older two-topic protocol) */
  announced: boolean;
}

export interface MachineRunInfo {
  machineId: string;
  /** run name (default `mqtt-MACHINE`) */
  name?: string;
  /** e.g. mqtt://broker:1883/camflow/provenance/MACHINE */
  command?: string[];
  host?: string | null;
  /** µs since the epoch */
  start?: number | null;
}

export interface NodeFilter {
  types?: NodeType[];
  ids?: number[];
  /** keyset pagination: only nodes with a greater id */
  afterId?: number;
  /** file categories (attrs.category, src/graph/file-category.ts) */
  categories?: string[];
  /** time window (µs): nodes whose [start, end ?? start] overlaps [from, to]; nodes without a start are left out */
  from?: number;
  to?: number;
  /** substring (case-insensitive for ASCII) of the label (path, command line) or of the executable */
  match?: string;
  /** nodes with one of these global ids (every version) */
  gids?: string[];
  /** nodes whose `attrs.path` is one of these (files, directories, CamFlow's path nodes…) */
  paths?: string[];
  /** activities whose `attrs.pid` is one of these (every exec generation, every CamFlow version) */
  pids?: number[];
  limit?: number;
  offset?: number;
}

export interface EdgeFilter {
  types?: RelationType[];
  /** edges touching any of these node ids */
  nodeIds?: number[];
  /** keyset pagination: only edges with a greater id */
  afterId?: number;
  /** time window (µs): edges whose [ts, tsEnd ?? ts] overlaps [from, to]; edges without a time are left out */
  from?: number;
  to?: number;
  limit?: number;
  offset?: number;
}

/** Ancestors follow PROV's direction (what a node was generated by, used, was derived from, was
 * informed by); descendants the reverse (what it went on to affect). */
export type LineageDirection = "ancestors" | "descendants";

/** A lineage question: everything within `depth` relations of the start nodes, one way. */
export interface LineageQuery {
  runId: number;
  /** node ids to start from (depth 0) */
  start: number[];
  direction: LineageDirection;
  /** relations from a start node, at most (1..MAX_LINEAGE_DEPTH) */
  depth: number;
  /** nodes returned at most (default DEFAULT_LINEAGE_LIMIT); more makes the result `truncated` */
  limit?: number;
  /** relation types followed (default DEFAULT_LINEAGE_RELATIONS: not agents', not invalidations) */
  relations?: RelationType[];
  /**
   * keep time order: only relations that could carry the start node's content (going down) or into
   * it (going up) at the time they happened, as src/store/causal-walk.ts says (default false)
   */
  causal?: boolean;
}

/** A node of a lineage, with its distance from the nearest start node. */
export interface LineageNode extends GraphNode {
  depth: number;
}

export interface LineageResult {
  /** the start nodes (depth 0) first, then by depth and id */
  nodes: LineageNode[];
  /** the relations among the nodes that the walk followed, by id */
  edges: GraphEdge[];
  /** the limit cut the walk short: nodes further away (or at the last depth) may be missing */
  truncated: boolean;
}

/** Chains from `from` (upstream) to `to` (downstream): how something in `from` went on to affect `to`. */
export interface PathQuery {
  runId: number;
  from: number[];
  to: number[];
  /** relations in a chain, at most */
  depth: number;
  /** chains returned at most (default 10), shortest first */
  maxPaths?: number;
  relations?: RelationType[];
  /** chains in time order: each hop at or after the time the content got to its start (default false) */
  causal?: boolean;
}

/** One chain: its node ids from upstream to downstream, and every followed relation between consecutive nodes. */
export interface LineagePath {
  nodes: number[];
  edges: number[];
}

export interface PathResult {
  paths: LineagePath[];
  /** every node and relation of the chains */
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** more chains exist than maxPaths, or the search budget ran out before all were seen */
  truncated: boolean;
}

/**
 * What changed in a run since a cursor. Every node and edge written (inserted or written again: a
 * process that ended, a count that grew) is stamped with the next value of one change sequence of
 * the database; a cursor is such a value (0: from the beginning).
 */
export interface ChangeQuery {
  /** changes after this cursor (default 0: everything) */
  since?: number;
  /** nodes + edges at most in one answer (default 5000); 0: none, only the cursor of now (read it
   * before reading a run another way, then follow the changes from it) */
  limit?: number;
}

export interface ChangeSet {
  /** nodes and edges in change order, each once (the last write of it) */
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** give it as `since` to get what comes next */
  cursor: number;
  /** more changes are already there (the answer was cut at `limit`) */
  more: boolean;
}

/** A page of a run's nodes, one array per field, for drawing the graph (GraphStore.getNodeColumns). */
export interface NodeColumns {
  id: number[];
  type: NodeType[];
  label: string[];
  /** a file's category (attrs.category), else null */
  category: (string | null)[];
  start: (number | null)[];
  end: (number | null)[];
}

/** A page of a run's relations, their ends only, for drawing the graph (GraphStore.getEdgeEnds). */
export interface EdgeEnds {
  id: number[];
  type: RelationType[];
  op: string[];
  from: number[];
  to: number[];
}

/**
 * The store contract. SQLite (embedded default) implements it now, PostgreSQL next; one test suite
 * (test/store-contract.ts) runs against every implementation.
 */
export interface GraphStore {
  readonly engine: "sqlite" | "postgres";
  createRun(run: NewRun): Promise<number>;
  updateRun(id: number, patch: RunPatch): Promise<void>;
  appendBatch(runId: number, batch: Batch): Promise<void>;
  /** by numeric id or by name (the newest run of that name) */
  findRun(ref: string | number): Promise<RunRecord | null>;
  latestRun(): Promise<RunRecord | null>;
  listRuns(): Promise<RunRecord[]>;
  getNodes(runId: number, filter?: NodeFilter): Promise<GraphNode[]>;
  getEdges(runId: number, filter?: EdgeFilter): Promise<GraphEdge[]>;
  /** Nodes after `afterId` in id order, at most `limit`, as columns of what a drawing needs (no attrs parsed). */
  getNodeColumns(runId: number, afterId: number, limit: number): Promise<NodeColumns>;
  /** Relations after `afterId` in id order, at most `limit`, their ends and kind only. */
  getEdgeEnds(runId: number, afterId: number, limit: number): Promise<EdgeEnds>;
  /** steps in order, handed over in batches so a big run never sits in memory whole */
  iterateSteps(runId: number, batchSize?: number): AsyncIterable<Step[]>;
  getProblems(runId: number, limit?: number): Promise<Problem[]>;
  /**
   * Nodes and edges of a run written after the cursor, in change order, cut at `limit`. A change is
   * only handed out once no writer still in progress can commit an older one, so following the
   * cursors never misses a row (PostgreSQL with several writers included).
   */
  getChanges(runId: number, query?: ChangeQuery): Promise<ChangeSet>;
  /** The highest change sequence of the whole database: cheap, for watching whether anything was written. */
  currentSeq(): Promise<number>;
  deleteRun(id: number): Promise<void>;
  /** Ancestors or descendants of nodes, found in the database (recursive query), depth- and size-bounded. */
  lineage(q: LineageQuery): Promise<LineageResult>;
  /** Chains between two sets of nodes, shortest first, found in the database. */
  paths(q: PathQuery): Promise<PathResult>;

  // --- machines streaming into the store (provflow mqtt) ---
  /**
   * The run of a machine (one run per machine, created the first time), marked `running` for this
   * writer; several writers may hold it at once (PostgreSQL). Registers the machine.
   */
  openMachineRun(info: MachineRunInfo): Promise<number>;
  /**
   * Writes machines' keyed rows in one transaction, idempotently: a node key or a relation key
   * already stored is not stored again (a second description adds to the node's attributes).
   * Relations whose ends are not stored yet wait in the store, and are made edges by the batch that
   * brings their last end. The registry counts the messages, errors and new rows.
   */
  appendMachineBatch(parts: MachinePart[]): Promise<MachinePartResult[]>;
  /** This writer is done with the machine's run: `complete` (with its end) unless another writer holds it. */
  closeMachineRun(runId: number, end?: number | null): Promise<void>;
  /** A machine announced itself (or was seen): registered, with its first and last time seen. */
  noteMachine(machineId: string, seen: number, announced?: boolean): Promise<void>;
  listMachines(): Promise<MachineRecord[]>;
  close(): Promise<void>;
}
