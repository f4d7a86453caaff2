// Worker entry of WorkerStore (src/store/worker-store.ts): owns one SqliteStore and runs the requests
// it receives one after another, in the order they were posted.
import { parentPort, workerData } from "node:worker_threads";
import type { PackedBatch } from "./packed-batch.js";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";
import { StoreError } from "./store-error.js";
import type { LineageQuery, PathQuery, Step } from "./store-types.js";

/** What the main thread asks. `detached`: nobody waits for this one (a fire-and-forget batch). */
export interface WorkerRequest {
  id: number;
  op: string;
  args: unknown[];
  detached?: boolean;
}

/** An error as it crosses the thread boundary (rebuilt as a StoreError on the other side). */
export interface WireError {
  message: string;
  dbPath: string | null;
  /** the request was refused because an earlier detached write failed */
  poisoned: boolean;
}

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError };

export interface StoreWorkerData {
  path: string;
}

const READ_OPS = new Set([
  "findRun",
  "latestRun",
  "listRuns",
  "getNodes",
  "getEdges",
  "getNodeColumns",
  "getEdgeEnds",
  "getProblems",
  "getChanges",
  "currentSeq",
  "listMachines",
  "lineage",
  "paths",
]);

function toWire(err: unknown, poisoned: boolean): WireError {
  if (err instanceof StoreError) return { message: err.message, dbPath: err.dbPath, poisoned };
  return { message: err instanceof Error ? err.message : String(err), dbPath: null, poisoned };
}

function serve(): void {
  const port = parentPort;
  if (port === null) throw new Error("store-worker.js must run in a worker thread");
  const { path } = workerData as StoreWorkerData;
  let store: SqliteStore | null = null;
  let openError: unknown = null;
  try {
    store = openSqliteStore(path);
  } catch (err) {
    openError = err;
  }
  /** the error of a detached write: every later request is refused with it until "clear" */
  let poison: WireError | null = null;
  const iterators = new Map<number, AsyncIterator<Step[]>>();

  const run = async (s: SqliteStore, req: WorkerRequest): Promise<unknown> => {
    const a = req.args;
    switch (req.op) {
      case "appendBatch":
        return s.appendBatch(a[0] as number, a[1] as Parameters<SqliteStore["appendBatch"]>[1]);
      case "appendPacked":
        return s.appendPacked(a[0] as number, a[1] as PackedBatch);
      case "createRun":
        return s.createRun(a[0] as Parameters<SqliteStore["createRun"]>[0]);
      case "updateRun":
        return s.updateRun(a[0] as number, a[1] as Parameters<SqliteStore["updateRun"]>[1]);
      case "deleteRun":
        return s.deleteRun(a[0] as number);
      case "findRun":
        return s.findRun(a[0] as string | number);
      case "latestRun":
        return s.latestRun();
      case "listRuns":
        return s.listRuns();
      case "getNodes":
        return s.getNodes(a[0] as number, a[1] as Parameters<SqliteStore["getNodes"]>[1]);
      case "getEdges":
        return s.getEdges(a[0] as number, a[1] as Parameters<SqliteStore["getEdges"]>[1]);
      case "getNodeColumns":
        return s.getNodeColumns(a[0] as number, a[1] as number, a[2] as number);
      case "getEdgeEnds":
        return s.getEdgeEnds(a[0] as number, a[1] as number, a[2] as number);
      case "getChanges":
        return s.getChanges(a[0] as number, a[1] as Parameters<SqliteStore["getChanges"]>[1]);
      case "currentSeq":
        return s.currentSeq();
      case "lineage":
        return s.lineage(a[0] as LineageQuery);
      case "paths":
        return s.paths(a[0] as PathQuery);
      case "getProblems":
        return s.getProblems(a[0] as number, a[1] as number | undefined);
      case "openMachineRun":
        return s.openMachineRun(a[0] as Parameters<SqliteStore["openMachineRun"]>[0]);
      case "appendMachineBatch":
        return s.appendMachineBatch(a[0] as Parameters<SqliteStore["appendMachineBatch"]>[0]);
      case "closeMachineRun":
        return s.closeMachineRun(a[0] as number, a[1] as number | null);
      case "noteMachine":
        return s.noteMachine(a[0] as string, a[1] as number, a[2] as boolean);
      case "listMachines":
        return s.listMachines();
      case "iterStart": {
        const it = s.iterateSteps(a[0] as number, a[1] as number | undefined)[Symbol.asyncIterator]();
        iterators.set(req.id, it);
        return req.id;
      }
      case "iterNext": {
        const it = iterators.get(a[0] as number);
        if (it === undefined) return null;
        const r = await it.next();
        if (r.done === true) {
          iterators.delete(a[0] as number);
          return null;
        }
        return r.value;
      }
      case "iterReturn": {
        const it = iterators.get(a[0] as number);
        iterators.delete(a[0] as number);
        await it?.return?.();
        return null;
      }
      default:
        throw new Error(`unknown store request ${req.op}`);
    }
  };

  const handle = async (req: WorkerRequest): Promise<void> => {
    if (req.op === "clear") {
      poison = null;
      return;
    }
    if (req.op === "close") {
      iterators.clear();
      let reply: WorkerReply = { id: req.id, ok: true, value: null };
      try {
        await store?.close();
      } catch (err) {
        reply = { id: req.id, ok: false, error: toWire(err, false) };
      }
      port.postMessage(reply);
      port.close();
      return;
    }
    let reply: WorkerReply;
    if (store === null) {
      reply = { id: req.id, ok: false, error: toWire(openError, false) };
    } else if (poison !== null && !READ_OPS.has(req.op) && req.op !== "iterReturn") {
      reply = { id: req.id, ok: false, error: { ...poison, poisoned: true } };
    } else {
      try {
        reply = { id: req.id, ok: true, value: await run(store, req) };
      } catch (err) {
        const wire = toWire(err, false);
        if (req.detached === true) poison = wire;
        reply = { id: req.id, ok: false, error: wire };
      }
    }
    // a detached batch is acknowledged without its (void) value
    port.postMessage(reply);
  };

  let queue: Promise<void> = Promise.resolve();
  port.on("message", (req: WorkerRequest) => {
    queue = queue.then(() => handle(req));
  });
}

serve();
