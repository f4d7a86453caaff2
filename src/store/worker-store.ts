import { Worker } from "node:worker_threads";
import type { GraphEdge, GraphNode } from "../graph/prov-types.js";
import { startThread } from "../util/threads.js";
import { type PackedBatch, packBatch, packedBuffers } from "./packed-batch.js";
import { StoreError } from "./store-error.js";
import type {
  Batch,
  ChangeQuery,
  ChangeSet,
  EdgeEnds,
  EdgeFilter,
  GraphStore,
  LineageQuery,
  LineageResult,
  MachinePart,
  MachinePartResult,
  MachineRecord,
  MachineRunInfo,
  NewRun,
  NodeColumns,
  NodeFilter,
  PathQuery,
  PathResult,
  Problem,
  RunPatch,
  RunRecord,
  Step,
} from "./store-types.js";
import type { StoreWorkerData, WireError, WorkerReply, WorkerRequest } from "./store-worker.js";

export interface WorkerStoreOptions {
  /** batches posted and not yet written before appendBatch waits for the oldest (default 2) */
  maxInFlight?: number;
  /** the worker entry (default: store-worker.js beside this module, or the .ts source under tsx) */
  workerUrl?: URL;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: StoreError) => void;
}

/** The worker beside this module: dist/store-worker.js in the bundle, src/store/store-worker.ts from source. */
function startWorker(path: string, url: URL | undefined): Worker {
  const workerData: StoreWorkerData = { path };
  if (url !== undefined) return new Worker(url, { workerData });
  return startThread("store-worker", import.meta.url, workerData);
}

/**
 * GraphStore whose SQLite writes run in a worker thread, so that parsing (main thread) and writing
 * (worker) overlap. appendBatch posts the batch (structured clone: a snapshot at call time) and
 * returns at once while fewer than `maxInFlight` batches wait; a write that fails in the worker
 * rejects the next call. Every request, reads included, is served by the worker in the order it was
 * made, so a read sees every write made before it.
 */
export class WorkerStore implements GraphStore {
  readonly engine = "sqlite" as const;
  readonly path: string;
  private readonly worker: Worker;
  private readonly maxInFlight: number;
  private readonly pending = new Map<number, Pending>();
  /** runs known to exist (created here, or written to once): their batches need no round trip */
  private readonly knownRuns = new Set<number>();
  private nextId = 1;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  /** a detached write failed: thrown by the next call */
  private failure: StoreError | null = null;
  /** the worker is gone (closed or crashed) */
  private dead: StoreError | null = null;
  private closing: Promise<void> | null = null;
  private referenced = true;

  constructor(path: string, opts: WorkerStoreOptions = {}) {
    this.path = path;
    this.maxInFlight = Math.max(1, Math.floor(opts.maxInFlight ?? 2));
    this.worker = startWorker(path, opts.workerUrl);
    this.worker.on("message", (reply: WorkerReply) => this.onReply(reply));
    this.worker.on("error", (err) => this.onGone(new StoreError(path, "store worker failed", err)));
    this.worker.on("exit", (code) => {
      if (this.dead === null) this.onGone(new StoreError(path, `store worker exited (code ${code})`));
    });
    this.setRef();
  }

  private rebuild(e: WireError): StoreError {
    if (e.dbPath === null) return new StoreError(this.path, "store worker failed", new Error(e.message));
    const err = new StoreError(e.dbPath, "");
    err.message = e.message;
    return err;
  }

  private onReply(reply: WorkerReply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return;
    this.pending.delete(reply.id);
    this.setRef();
    if (reply.ok) p.resolve(reply.value);
    else p.reject(this.rebuild(reply.error));
  }

  private onGone(err: StoreError): void {
    this.dead = err;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) p.reject(err);
    this.wake();
    this.setRef();
  }

  /** Keep the process alive only while the worker owes an answer. */
  private setRef(): void {
    const want = this.pending.size > 0;
    if (want === this.referenced) return;
    this.referenced = want;
    if (want) this.worker.ref();
    else this.worker.unref();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Throw the failure of an earlier detached write (once), or that the worker is gone. */
  private check(): void {
    const f = this.failure;
    if (f !== null) {
      this.failure = null;
      this.worker.postMessage({ id: 0, op: "clear", args: [] } satisfies WorkerRequest);
      throw f;
    }
    if (this.dead !== null) throw this.dead;
  }

  /** `transfer`: memory moved to the worker, not copied (unusable here afterwards) */
  private send(
    op: string,
    args: unknown[],
    detached = false,
    transfer: ArrayBuffer[] = [],
  ): Promise<unknown> {
    const id = this.nextId++;
    const done = new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
    });
    this.setRef();
    this.worker.postMessage({ id, op, args, detached } satisfies WorkerRequest, transfer);
    return done;
  }

  /** A request whose answer the caller waits for. */
  private async call(op: string, args: unknown[], transfer: ArrayBuffer[] = []): Promise<unknown> {
    this.check();
    try {
      return await this.send(op, args, false, transfer);
    } catch (err) {
      // refused because an earlier detached write failed: that failure is now reported
      if (this.failure !== null && err instanceof StoreError) {
        const f = this.failure;
        this.failure = null;
        this.worker.postMessage({ id: 0, op: "clear", args: [] } satisfies WorkerRequest);
        throw f;
      }
      throw err;
    }
  }

  async createRun(run: NewRun): Promise<number> {
    const id = (await this.call("createRun", [run])) as number;
    this.knownRuns.add(id);
    return id;
  }

  async updateRun(id: number, patch: RunPatch): Promise<void> {
    await this.call("updateRun", [id, patch]);
  }

  async appendBatch(runId: number, batch: Batch): Promise<void> {
    this.check();
    // packed here, on the caller's thread: what crosses is flat arrays, attributes serialized
    let packed: PackedBatch;
    try {
      packed = packBatch(batch, { packSteps: true });
    } catch (err) {
      throw new StoreError(this.path, `cannot append batch to run ${runId}`, err);
    }
    if (!this.knownRuns.has(runId)) {
      // first batch of a run this store did not create: wait, so that a missing run is reported here
      await this.call("appendPacked", [runId, packed], packedBuffers(packed));
      this.knownRuns.add(runId);
      return;
    }
    this.check();
    // the batch is packed (copied) already: the caller may mutate its objects as soon as we return
    this.inFlight++;
    this.send("appendPacked", [runId, packed], true, packedBuffers(packed)).then(
      () => this.acked(),
      (err: StoreError) => {
        if (this.failure === null && this.dead === null) this.failure = err;
        this.acked();
      },
    );
    while (this.inFlight >= this.maxInFlight && this.failure === null && this.dead === null) {
      await new Promise<void>((r) => this.waiters.push(r));
    }
    this.check();
  }

  private acked(): void {
    this.inFlight--;
    this.wake();
  }

  async findRun(ref: string | number): Promise<RunRecord | null> {
    return (await this.call("findRun", [ref])) as RunRecord | null;
  }

  async latestRun(): Promise<RunRecord | null> {
    return (await this.call("latestRun", [])) as RunRecord | null;
  }

  async listRuns(): Promise<RunRecord[]> {
    return (await this.call("listRuns", [])) as RunRecord[];
  }

  async getNodes(runId: number, filter?: NodeFilter): Promise<GraphNode[]> {
    return (await this.call("getNodes", [runId, filter])) as GraphNode[];
  }

  async getEdges(runId: number, filter?: EdgeFilter): Promise<GraphEdge[]> {
    return (await this.call("getEdges", [runId, filter])) as GraphEdge[];
  }

  async *iterateSteps(runId: number, batchSize?: number): AsyncIterable<Step[]> {
    const iter = (await this.call("iterStart", [runId, batchSize])) as number;
    let done = false;
    try {
      for (;;) {
        const steps = (await this.call("iterNext", [iter])) as Step[] | null;
        if (steps === null) {
          done = true;
          return;
        }
        yield steps;
      }
    } finally {
      if (!done && this.dead === null && this.closing === null) {
        this.send("iterReturn", [iter]).catch(() => {});
      }
    }
  }

  async getNodeColumns(runId: number, afterId: number, limit: number): Promise<NodeColumns> {
    return (await this.call("getNodeColumns", [runId, afterId, limit])) as NodeColumns;
  }

  async getEdgeEnds(runId: number, afterId: number, limit: number): Promise<EdgeEnds> {
    return (await this.call("getEdgeEnds", [runId, afterId, limit])) as EdgeEnds;
  }

  async lineage(q: LineageQuery): Promise<LineageResult> {
    return (await this.call("lineage", [q])) as LineageResult;
  }

  async paths(q: PathQuery): Promise<PathResult> {
    return (await this.call("paths", [q])) as PathResult;
  }

  async getProblems(runId: number, limit?: number): Promise<Problem[]> {
    return (await this.call("getProblems", [runId, limit])) as Problem[];
  }

  async getChanges(runId: number, query?: ChangeQuery): Promise<ChangeSet> {
    return (await this.call("getChanges", [runId, query])) as ChangeSet;
  }

  async currentSeq(): Promise<number> {
    return (await this.call("currentSeq", [])) as number;
  }

  async deleteRun(id: number): Promise<void> {
    await this.call("deleteRun", [id]);
    this.knownRuns.delete(id);
  }

  async openMachineRun(info: MachineRunInfo): Promise<number> {
    const id = (await this.call("openMachineRun", [info])) as number;
    this.knownRuns.add(id);
    return id;
  }

  /** Waits for the answer: the caller acknowledges messages only once they are written. */
  async appendMachineBatch(parts: MachinePart[]): Promise<MachinePartResult[]> {
    return (await this.call("appendMachineBatch", [parts])) as MachinePartResult[];
  }

  async closeMachineRun(runId: number, end?: number | null): Promise<void> {
    await this.call("closeMachineRun", [runId, end ?? null]);
  }

  async noteMachine(machineId: string, seen: number, announced?: boolean): Promise<void> {
    await this.call("noteMachine", [machineId, seen, announced === true]);
  }

  async listMachines(): Promise<MachineRecord[]> {
    return (await this.call("listMachines", [])) as MachineRecord[];
  }

  /** Waits for every write posted before, closes the database and stops the worker. */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    let err: unknown = null;
    if (this.dead === null) {
      try {
        await this.send("close", []);
      } catch (e) {
        err = e;
      }
      this.dead = new StoreError(this.path, "closed");
    }
    await this.worker.terminate();
    const f = this.failure ?? err;
    this.failure = null;
    if (f !== null) throw f;
  }
}

/** Open `path` for a writing command (ingest, trace): SQLite writes in a worker thread. */
export function openWorkerStore(path: string, opts: WorkerStoreOptions = {}): WorkerStore {
  return new WorkerStore(path, opts);
}
