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

export interface NodeFilter {
  types?: NodeType[];
  ids?: number[];
  limit?: number;
  offset?: number;
}

export interface EdgeFilter {
  types?: RelationType[];
  /** edges touching any of these node ids */
  nodeIds?: number[];
  limit?: number;
  offset?: number;
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
  /** steps in order, handed over in batches so a big run never sits in memory whole */
  iterateSteps(runId: number, batchSize?: number): AsyncIterable<Step[]>;
  getProblems(runId: number, limit?: number): Promise<Problem[]>;
  deleteRun(id: number): Promise<void>;
  close(): Promise<void>;
}
