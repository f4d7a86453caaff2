import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { resolveDbPath } from "../src/store/db-path.js";
import { migrations, SCHEMA_VERSION } from "../src/store/sqlite-schema.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { StoreError } from "../src/store/store-error.js";
import type { Step } from "../src/store/store-types.js";
import { defineStoreContract, fileNode, newRun, processNode } from "./store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "provflow-sqlite-"));
let counter = 0;
let current = "";

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function freshPath(): string {
  counter += 1;
  return join(dir, `store-${counter}.db`);
}

defineStoreContract(
  "sqlite",
  async () => {
    current = freshPath();
    return openSqliteStore(current);
  },
  async () => {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(current + suffix, { force: true });
  },
);

const storeModule = resolve(import.meta.dirname, "../src/store/sqlite-store.ts");

/** Run a TypeScript snippet in a child node process (through tsx) with the store module imported. */
function spawnChild(body: string): ChildProcess {
  counter += 1;
  const script = join(dir, `child-${counter}.mts`);
  writeFileSync(script, `import { openSqliteStore } from ${JSON.stringify(storeModule)};\n${body}\n`);
  return spawn(process.execPath, ["--import", "tsx", script], {
    cwd: resolve(import.meta.dirname, ".."),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Resolve with the first stdout line matching `re`; reject when the child exits first. */
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

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.on("exit", () => r());
  });
}

describe("SqliteStore specifics", () => {
  it("resolves the database path from --db, then PROVFLOW_DB, then ./provflow.db", () => {
    const saved = process.env.PROVFLOW_DB;
    try {
      process.env.PROVFLOW_DB = "/var/lib/pf.db";
      expect(resolveDbPath("/x/cli.db")).toBe("/x/cli.db");
      expect(resolveDbPath()).toBe("/var/lib/pf.db");
      delete process.env.PROVFLOW_DB;
      expect(resolveDbPath()).toBe("./provflow.db");
    } finally {
      if (saved === undefined) delete process.env.PROVFLOW_DB;
      else process.env.PROVFLOW_DB = saved;
    }
  });

  it("uses WAL, records the schema version and stamps an increasing change seq on every write", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const id = await store.createRun(newRun("seq"));
    expect(await store.currentSeq()).toBe(0);
    await store.appendBatch(id, {
      nodes: [fileNode(1, "/a"), fileNode(2, "/b")],
      edges: [],
      steps: [],
      problems: [],
    });
    expect(await store.currentSeq()).toBe(2);
    await store.appendBatch(id, {
      nodes: [fileNode(1, "/a", 0, { deleted: true })],
      edges: [],
      steps: [],
      problems: [],
    });
    expect(await store.currentSeq()).toBe(3);
    await store.close();

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(raw.prepare("SELECT max(version) FROM schema_version").pluck().get()).toBe(SCHEMA_VERSION);
    expect(raw.prepare("SELECT id, seq FROM nodes ORDER BY id").all()).toEqual([
      { id: 1, seq: 3 },
      { id: 2, seq: 2 },
    ]);
    expect(raw.prepare("SELECT attrs FROM nodes WHERE id = 1").pluck().get()).toBe(
      '{"path":"/a","deleted":true}',
    );
    raw.close();

    // reopening migrates nothing and keeps the data and the counter
    const again = openSqliteStore(path);
    expect(await again.currentSeq()).toBe(3);
    expect((await again.findRun("seq"))?.nodeCount).toBe(2);
    await again.close();
  });

  it("writes the rows of one batch out of order, an id twice (the last wins) and null times as given", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const id = await store.createRun(newRun("packed"));
    const edge = (
      eid: number,
      from: number,
      to: number,
      ts: number | null,
      attrs: Record<string, unknown>,
    ) => ({
      id: eid,
      type: "used" as const,
      op: "read" as const,
      from,
      to,
      ts,
      tsEnd: ts === null ? null : ts + 5,
      count: 2,
      bytes: 1.5e15,
      attrs,
    });
    await store.appendBatch(id, {
      nodes: [
        fileNode(3, "/c"),
        processNode(1, 42, ["cat", "/c"], 1_700_000_000_000_001, null),
        fileNode(3, "/c", 1, { deleted: true }),
        fileNode(2, "/b"),
      ],
      edges: [edge(2, 1, 3, null, { n: 1 }), edge(1, 1, 2, 7, {}), edge(2, 1, 2, -3, { n: 2 })],
      steps: [],
      problems: [],
    });
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(
      raw.prepare('SELECT id, version, "start", "end", attrs, seq FROM nodes ORDER BY seq').raw().all(),
    ).toEqual([
      [3, 1, null, null, '{"path":"/c","deleted":true}', 1],
      [1, 0, 1_700_000_000_000_001, null, expect.any(String), 2],
      [2, 0, null, null, '{"path":"/b"}', 3],
    ]);
    expect(
      raw
        .prepare("SELECT id, src, dst, ts, ts_end, count, bytes, attrs, seq FROM edges ORDER BY seq")
        .raw()
        .all(),
    ).toEqual([
      [2, 1, 2, -3, 2, 2, 1.5e15, '{"n":2}', 4],
      [1, 1, 2, 7, 12, 2, 1.5e15, "{}", 5],
    ]);
    expect(raw.prepare("SELECT typeof(ts), typeof(bytes) FROM edges WHERE id = 1").raw().get()).toEqual([
      "integer",
      "integer",
    ]);
    raw.close();
  });

  it("refuses a file that is not SQLite, a SQLite file of another program, and a newer schema", async () => {
    const text = join(dir, "notes.txt");
    writeFileSync(text, "this is not a database at all, just some text that is long enough ".repeat(20));
    expect(() => openSqliteStore(text)).toThrow(StoreError);
    expect(() => openSqliteStore(text)).toThrow(/notes\.txt.*not a SQLite database/);

    const foreign = freshPath();
    const f = new Database(foreign);
    f.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
    f.close();
    expect(() => openSqliteStore(foreign)).toThrow(/not a provflow database/);

    const future = freshPath();
    await openSqliteStore(future).close();
    const g = new Database(future);
    g.prepare("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)").run(SCHEMA_VERSION + 41);
    g.close();
    const err = (() => {
      try {
        openSqliteStore(future, { readonly: true });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain(future);
    expect((err as StoreError).message).toMatch(new RegExp(`schema version ${SCHEMA_VERSION + 41} is newer`));
    expect(() => openSqliteStore(future)).toThrow(/newer/);

    expect(() => openSqliteStore(join(dir, "missing.db"), { readonly: true })).toThrow(
      /missing\.db.*cannot open/,
    );
  });

  it("keeps the database readable after the writer is killed with SIGKILL and reports the run incomplete", async () => {
    const path = freshPath();
    const child = spawnChild(`
const store = openSqliteStore(${JSON.stringify(path)});
const id = await store.createRun({ name: "killed", source: "strace", command: ["sleep", "100"], host: "h" });
const nodes = [];
for (let i = 1; i <= 1000; i++) {
  nodes.push({ id: i, kind: "entity", type: "file", gid: "file://h/f" + i, version: 0, label: "/f" + i,
    start: null, end: null, attrs: { path: "/f" + i } });
}
await store.appendBatch(id, { nodes, edges: [], steps: [], problems: [] });
console.log("ready " + id);
setInterval(() => {}, 1000);
`);
    const m = await waitForLine(child, /ready (\d+)/);
    const runId = Number(m[1]);
    // while the writer lives, the run reads as running
    const live = openSqliteStore(path, { readonly: true });
    expect((await live.findRun(runId))?.status).toBe("running");
    await live.close();

    child.kill("SIGKILL");
    await exited(child);
    expect(child.signalCode).toBe("SIGKILL");

    // a reader sees it incomplete without writing anything
    const reader = openSqliteStore(path, { readonly: true });
    expect(await reader.findRun("killed")).toMatchObject({
      id: runId,
      status: "incomplete",
      nodeCount: 1000,
    });
    await reader.close();
    // a writer repairs the row on open
    const store = openSqliteStore(path);
    expect(await store.markStaleRuns()).toEqual([]);
    const run = await store.findRun(runId);
    expect(run).toMatchObject({ status: "incomplete", nodeCount: 1000 });
    expect((await store.getNodes(runId, { ids: [1000] }))[0]?.label).toBe("/f1000");
    // a run of this live process stays running
    const mine = await store.createRun(newRun("alive"));
    expect(store.markStaleRuns()).toEqual([]);
    expect((await store.findRun(mine))?.status).toBe("running");
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT status FROM runs WHERE id = ?").pluck().get(runId)).toBe("incomplete");
    raw.close();
  });

  it("lets a reader process read while a writer process writes (WAL, busy timeout)", async () => {
    const path = freshPath();
    const setup = openSqliteStore(path);
    const runId = await setup.createRun(newRun("concurrent"));
    await setup.close();
    const batches = 200;
    const child = spawnChild(`
const store = openSqliteStore(${JSON.stringify(path)});
let id = 0;
for (let b = 0; b < ${batches}; b++) {
  const nodes = [];
  for (let i = 0; i < 500; i++) {
    id += 1;
    nodes.push({ id, kind: "entity", type: "file", gid: "file://h/f" + id, version: 0, label: "/f" + id,
      start: null, end: null, attrs: { path: "/f" + id, pad: "x".repeat(100) } });
  }
  await store.appendBatch(${runId}, { nodes, edges: [], steps: [], problems: [] });
  if (b === 0) console.log("started");
}
await store.updateRun(${runId}, { status: "complete" });
await store.close();
console.log("done");
`);
    const done = waitForLine(child, /done/);
    await waitForLine(child, /started/);
    const reader = openSqliteStore(path, { readonly: true });
    const seen: number[] = [];
    let finished = false;
    done.then(
      () => {
        finished = true;
      },
      () => {
        finished = true;
      },
    );
    while (!finished) {
      const run = await reader.findRun(runId);
      // every read sees whole batches only: one transaction per batch
      expect((run?.nodeCount ?? -1) % 500).toBe(0);
      seen.push(run?.nodeCount ?? -1);
      await new Promise((r) => setTimeout(r, 2));
    }
    await done;
    const final = await reader.findRun(runId);
    expect(final).toMatchObject({ status: "complete", nodeCount: batches * 500 });
    await reader.close();
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] ?? 0);
    expect(seen.length).toBeGreaterThan(1);
  });

  it("errors name the database file and the failing operation", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const err = await store
      .appendBatch(77, { nodes: [processNode(1, 1, ["x"], 1, 2)], edges: [], steps: [], problems: [] })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain(path);
    expect((err as StoreError).message).toMatch(/no run 77/);
    await store.close();
  });
});

describe("SqliteStore calls log in chunks", () => {
  const mkStep = (seq: number, start: number, pid = 7): Step => ({
    seq,
    pid,
    call: seq % 3 === 0 ? "write" : "read",
    resource: `/src/f${seq % 13}.c`,
    count: 1 + (seq % 4),
    bytes: seq * 3,
    errors: seq % 9 === 0 ? 1 : 0,
    start,
    end: start + (seq % 5),
    dur: seq % 7,
    ret: seq % 10 === 0 ? null : seq % 2 === 0 ? "0" : String(seq),
  });
  const collect = async (store: ReturnType<typeof openSqliteStore>, runId: number, size?: number) => {
    const out: Step[] = [];
    for await (const b of store.iterateSteps(runId, size)) out.push(...b);
    return out;
  };
  const byStartSeq = (a: Step, b: Step) => a.start - b.start || a.seq - b.seq;

  it("merges chunks written out of order, with equal starts across chunks, back into (start, seq) order", async () => {
    const store = openSqliteStore(freshPath());
    const id = await store.createRun(newRun("chunks"));
    const all: Step[] = [];
    let seq = 0;
    // 12 batches: each has 5000 new steps (several chunks, 3 steps per start) and 40 steps that
    // stayed open since earlier batches (starts going back to the first batch)
    for (let b = 0; b < 12; b++) {
      const batch: Step[] = [];
      for (let i = 0; i < 5000; i++) batch.push(mkStep(++seq, 1_000_000 + b * 2000 + Math.floor(i / 3)));
      for (let i = 0; i < 40 && b > 0; i++)
        batch.push(mkStep(++seq, 1_000_000 + ((i * 997 + b * 131) % (b * 2000))));
      batch.reverse();
      all.push(...batch);
      await store.appendBatch(id, { nodes: [], edges: [], steps: batch, problems: [] });
    }
    const want = [...all].sort(byStartSeq);
    const got = await collect(store, id, 777);
    expect(got).toHaveLength(want.length);
    expect(got).toEqual(want);
    expect(store.lastStepScan?.chunks).toBeGreaterThan(12);
    await store.close();
  });

  it("holds only the chunks overlapping the current start while reading (long-open steps apart)", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const id = await store.createRun(newRun("bounded"));
    let seq = 0;
    // 60 drains of 1000 steps in successive time windows; each drain also closes one step that opened
    // at the very beginning (a parent blocked in wait4 the whole run)
    for (let b = 0; b < 60; b++) {
      const batch: Step[] = [mkStep(++seq, 1000 + b)];
      for (let i = 0; i < 1000; i++) batch.push(mkStep(++seq, 1_000_000 + b * 1000 + i));
      await store.appendBatch(id, { nodes: [], edges: [], steps: batch, problems: [] });
    }
    const got = await collect(store, id, 500);
    expect(got).toHaveLength(60 * 1001);
    expect(got.every((s, i) => i === 0 || byStartSeq(got[i - 1] as Step, s) <= 0)).toBe(true);
    // the 60 long steps sit in chunks of their own: never all 60 000 steps in memory at once
    expect(store.lastStepScan?.peakOpenSteps).toBeLessThanOrEqual(60 + 2 * 1000);
    await store.close();
    // a second writer (another process appending to the run) reads the watermark from the file
    const again = openSqliteStore(path);
    await again.appendBatch(id, { nodes: [], edges: [], steps: [mkStep(++seq, 1500)], problems: [] });
    expect((await collect(again, id)).map((s) => s.start).slice(0, 62)).toContain(1500);
    expect(again.lastStepScan?.peakOpenSteps).toBeLessThanOrEqual(61 + 2 * 1000);
    await again.close();
  });

  it("migrates a version 1 file: step rows become chunks, nothing else changes", async () => {
    const path = freshPath();
    const v1 = new Database(path);
    v1.exec("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at INTEGER NOT NULL)");
    v1.exec(migrations[0]?.sql ?? "");
    v1.prepare("INSERT INTO schema_version VALUES (1, 0)").run();
    v1.prepare("INSERT INTO meta VALUES ('app', 'provflow'), ('seq', '0')").run();
    v1.prepare(
      `INSERT INTO runs (name, source, command, host, status, stats, created_at)
       VALUES ('old', 'strace', '[]', 'h', 'complete', '{}', 0)`,
    ).run();
    const steps: Step[] = [];
    for (let i = 1; i <= 9000; i++) steps.push(mkStep(i, 5_000_000 + ((i * 7919) % 4000)));
    const ins = v1.prepare("INSERT INTO steps VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    v1.transaction(() => {
      for (const s of steps)
        ins.run(s.seq, s.pid, s.call, s.resource, s.count, s.bytes, s.errors, s.start, s.end, s.dur, s.ret);
    })();
    v1.close();
    const store = openSqliteStore(path);
    expect(await collect(store, 1, 1000)).toEqual([...steps].sort(byStartSeq));
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT max(version) FROM schema_version").pluck().get()).toBe(SCHEMA_VERSION);
    expect(raw.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'steps'").pluck().get()).toBe(0);
    expect(raw.prepare("SELECT count(*), sum(n) FROM step_chunks").raw().get()).toEqual([3, 9000]);
    raw.close();
  });
});
