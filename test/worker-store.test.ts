import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runIngest } from "../src/ingest/run-ingest.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { StoreError } from "../src/store/store-error.js";
import type { GraphStore, Step } from "../src/store/store-types.js";
import { openWorkerStore, WorkerStore } from "../src/store/worker-store.js";
import { defineStoreContract, fileNode, newRun, processNode } from "./store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "provflow-worker-"));
let counter = 0;
let current = "";

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function freshPath(): string {
  counter += 1;
  return join(dir, `store-${counter}.db`);
}

const empty = { nodes: [], edges: [], steps: [], problems: [] };

defineStoreContract(
  "sqlite in a worker thread",
  async () => {
    current = freshPath();
    return openWorkerStore(current);
  },
  async () => {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(current + suffix, { force: true });
  },
);

async function allSteps(store: GraphStore, runId: number): Promise<Step[]> {
  const out: Step[] = [];
  for await (const b of store.iterateSteps(runId)) out.push(...b);
  return out;
}

describe("WorkerStore", () => {
  it("snapshots a batch when it is posted: later mutations of its objects are not written", async () => {
    const store = openWorkerStore(freshPath());
    const id = await store.createRun(newRun("snap"));
    const p = processNode(1, 4242, ["/bin/cat"], 1, null);
    const batch = { ...empty, nodes: [p] };
    await store.appendBatch(id, batch);
    // the graph builder keeps mutating the nodes it handed over
    p.end = 99;
    p.label = "changed";
    expect((await store.getNodes(id))[0]).toMatchObject({ end: null, label: "/bin/cat" });
    await store.close();
  });

  it("keeps the order of writes, bounds the batches in flight and lets reads see every earlier write", async () => {
    const path = freshPath();
    const store = openWorkerStore(path, { maxInFlight: 2 });
    const id = await store.createRun(newRun("order"));
    for (let b = 0; b < 50; b++) {
      const nodes = Array.from({ length: 200 }, (_, i) => fileNode(b * 200 + i + 1, `/f${b}/${i}`, b));
      await store.appendBatch(id, { ...empty, nodes });
    }
    // the same node written again: the later write wins
    await store.appendBatch(id, { ...empty, nodes: [fileNode(1, "/again", 7)] });
    await store.updateRun(id, { status: "complete" });
    const run = await store.findRun(id);
    expect(run).toMatchObject({ status: "complete", nodeCount: 10_000 });
    expect((await store.getNodes(id, { ids: [1] }))[0]).toMatchObject({ label: "/again", version: 7 });
    await store.close();
    // what the worker wrote is on disk for another connection
    const reader = openSqliteStore(path, { readonly: true });
    expect((await reader.findRun(id))?.nodeCount).toBe(10_000);
    await reader.close();
  });

  it("reports a write that failed in the worker on the next call, once, and refuses writes until then", async () => {
    const path = freshPath();
    const store = openWorkerStore(path);
    const id = await store.createRun(newRun("fails"));
    // label is NOT NULL in the nodes table: the insert fails in the worker, after appendBatch returned
    const bad = { ...fileNode(1, "/bad"), label: null as unknown as string };
    await store.appendBatch(id, { ...empty, nodes: [bad] });
    const err = await store.updateRun(id, { status: "complete" }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).dbPath).toBe(path);
    expect((err as StoreError).exitCode).toBe(5);
    expect((err as StoreError).message).toContain(path);
    expect((err as StoreError).message).toMatch(
      /cannot append batch to run \d+: NOT NULL constraint failed: nodes\.label/,
    );
    // the run was not marked complete after the lost batch
    expect((await store.findRun(id))?.status).toBe("running");
    // reported once: the store goes on working
    await store.appendBatch(id, { ...empty, nodes: [fileNode(2, "/good")] });
    await store.updateRun(id, { status: "incomplete" });
    expect(await store.findRun(id)).toMatchObject({ status: "incomplete", nodeCount: 1 });
    await store.close();
  });

  it("rejects close with a write failure nobody has seen yet, and stops the worker anyway", async () => {
    const store = openWorkerStore(freshPath());
    const id = await store.createRun(newRun("close"));
    await store.appendBatch(id, {
      ...empty,
      nodes: [{ ...fileNode(1, "/x"), gid: null as unknown as string }],
    });
    await expect(store.close()).rejects.toThrow(/NOT NULL constraint failed: nodes\.gid/);
    await expect(store.listRuns()).rejects.toThrow(/closed/);
  });

  it("reports a database it cannot open on the first call", async () => {
    const path = join(dir, "not-a-db.db");
    writeFileSync(path, "this is not SQLite, just text long enough to be looked at as a header.....");
    const store = openWorkerStore(path);
    await expect(store.createRun(newRun("x"))).rejects.toThrow(
      /not a SQLite database|file is not a database/,
    );
    await store.close();
  });

  it("ingests the gitlab bench_data.strace log to the same graph as the direct store", async () => {
    const log = resolve(
      import.meta.dirname,
      "../../shared/corpus/strace/gitlab-strace-parser/bench_data.strace",
    );
    const direct = openSqliteStore(freshPath());
    const worker = openWorkerStore(freshPath());
    const a = await runIngest({ store: direct, files: [log], quiet: true });
    const b = await runIngest({ store: worker, files: [log], quiet: true });
    const ra = await direct.findRun(a.runId);
    const rb = await worker.findRun(b.runId);
    // 5001 lines (wc -l); 37 distinct pids (first column) + 11 successful execve (a new generation each)
    expect(rb?.stats.lines).toBe(5001);
    expect(rb?.status).toBe("complete");
    expect(rb?.stats).toEqual(ra?.stats);
    expect(rb?.nodeCount).toBe(ra?.nodeCount);
    expect((await worker.getNodes(b.runId, { types: ["process"] })).length).toBe(48);
    expect(await worker.getNodes(b.runId)).toEqual(await direct.getNodes(a.runId));
    expect(await worker.getEdges(b.runId)).toEqual(await direct.getEdges(a.runId));
    expect(await allSteps(worker, b.runId)).toEqual(await allSteps(direct, a.runId));
    expect(await worker.getProblems(b.runId)).toEqual(await direct.getProblems(a.runId));
    await direct.close();
    await worker.close();
  });

  it("runs the bundled worker beside dist/provflow.js (npm test builds it first)", async () => {
    const store = new WorkerStore(freshPath(), {
      workerUrl: new URL("../dist/store-worker.js", import.meta.url),
    });
    const id = await store.createRun(newRun("dist"));
    await store.appendBatch(id, { ...empty, nodes: [fileNode(1, "/d")] });
    expect((await store.findRun(id))?.nodeCount).toBe(1);
    await store.close();
  });
});

describe("WorkerStore killed mid-run", () => {
  const workerModule = resolve(import.meta.dirname, "../src/store/worker-store.ts");

  function waitForLine(child: ChildProcess, re: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolvePromise, reject) => {
      let out = "";
      let err = "";
      child.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
      });
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = out.match(re);
        if (m !== null) resolvePromise(m);
      });
      child.on("exit", (code, signal) => reject(new Error(`child exited ${code ?? signal}: ${err}${out}`)));
    });
  }

  it("leaves the database readable and the run incomplete after SIGKILL", async () => {
    const path = freshPath();
    const script = join(dir, "killed-child.mts");
    writeFileSync(
      script,
      `import { openWorkerStore } from ${JSON.stringify(workerModule)};
const store = openWorkerStore(${JSON.stringify(path)});
const id = await store.createRun({ name: "killed", source: "strace", command: ["x"], host: "h" });
let n = 0;
for (let b = 0; b < 10; b++) {
  const nodes = [];
  for (let i = 0; i < 100; i++) {
    n += 1;
    nodes.push({ id: n, kind: "entity", type: "file", gid: "file://h/f" + n, version: 0, label: "/f" + n,
      start: null, end: null, attrs: { path: "/f" + n } });
  }
  await store.appendBatch(id, { nodes, edges: [], steps: [], problems: [] });
}
// a read is served after every write posted before it
const run = await store.findRun(id);
console.log("ready " + id + " " + run.nodeCount);
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: resolve(import.meta.dirname, ".."),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const m = await waitForLine(child, /ready (\d+) (\d+)/);
    const runId = Number(m[1]);
    expect(Number(m[2])).toBe(1000);
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    child.kill("SIGKILL");
    await exited;
    expect(child.signalCode).toBe("SIGKILL");
    const reader = openSqliteStore(path, { readonly: true });
    expect(await reader.findRun("killed")).toMatchObject({
      id: runId,
      status: "incomplete",
      nodeCount: 1000,
    });
    await reader.close();
    const store = openWorkerStore(path);
    expect(await store.findRun(runId)).toMatchObject({ status: "incomplete", nodeCount: 1000 });
    expect((await store.getNodes(runId, { ids: [1000] }))[0]?.label).toBe("/f1000");
    await store.close();
  });
});
