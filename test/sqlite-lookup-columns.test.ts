/**
 * The nodes' path and pid columns of the SQLite store (schema version 6): filled by the writer from
 * the attributes, by the migration from a version 5 file, and read by getNodes({ paths, pids })
 * through their partial indexes. The columns must hold exactly what json_extract(attrs, …) gives
 * (the expression indexes they replace), for entities (path) and activities (pid) only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { compactAttrs, keepAttrsJson } from "../src/events/attrs-text.js";
import type { GraphNode } from "../src/graph/prov-types.js";
import { lookupValue, sqlLookup } from "../src/store/packed-batch.js";
import { migrations, SCHEMA_VERSION } from "../src/store/sqlite-schema.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { fileNode, keyedNode, newRun, processNode } from "./store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "provflow-lookup-"));
let counter = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function freshPath(): string {
  counter += 1;
  return join(dir, `store-${counter}.db`);
}

function node(id: number, kind: GraphNode["kind"], attrs: Record<string, unknown>): GraphNode {
  return {
    id,
    kind,
    type: kind === "entity" ? "file" : kind === "activity" ? "process" : "user",
    gid: `x://h/${id}`,
    version: 0,
    label: `n${id}`,
    start: null,
    end: null,
    attrs,
  };
}

/** Nodes with every shape of path and pid the columns must reproduce. */
function mixedNodes(): GraphNode[] {
  return [
    node(1, "entity", { path: "/etc/passwd" }),
    node(2, "entity", { inode: 5 }),
    node(3, "entity", { path: "/etc/passwd", pid: 7 }),
    node(4, "activity", { pid: 7, path: "/etc/passwd" }),
    node(5, "activity", { pid: 7 }),
    node(6, "activity", { exe: "/bin/sh" }),
    node(7, "agent", { pid: 7, path: "/etc/passwd" }),
    node(8, "entity", { path: null }),
    node(9, "entity", { path: ["/a", "/b"] }),
    node(10, "activity", { pid: 4_000_000_000 }),
    node(11, "entity", { path: '/tmp/é "q"' }),
    node(12, "activity", { pid: 12.5 }),
    node(13, "entity", { path: true }),
  ];
}

const ids = (ns: GraphNode[]) => ns.map((n) => n.id);

/** Rows whose columns differ from what json_extract gives for their kind (none expected). */
function mismatches(db: Database.Database): unknown[] {
  return db
    .prepare(
      `SELECT id, kind, path, pid FROM nodes WHERE
         path IS NOT (CASE WHEN kind = 'entity' THEN json_extract(attrs, '$.path') END)
         OR pid IS NOT (CASE WHEN kind = 'activity' THEN json_extract(attrs, '$.pid') END)
         OR typeof(path) IS NOT (CASE WHEN kind = 'entity' THEN typeof(json_extract(attrs, '$.path')) ELSE 'null' END)
         OR typeof(pid) IS NOT (CASE WHEN kind = 'activity' THEN typeof(json_extract(attrs, '$.pid')) ELSE 'null' END)`,
    )
    .all();
}

describe("sqlite path and pid columns", () => {
  it("lookupValue, bound as sqlLookup binds it, gives what json_extract gives", () => {
    const db = new Database(":memory:");
    const values: unknown[] = [
      "/x",
      "",
      7,
      -3,
      12.5,
      4_000_000_000,
      true,
      false,
      null,
      [1, "a"],
      { a: [1] },
      'é"\\',
    ];
    for (const v of values) {
      const sql = db
        .prepare("SELECT json_extract(?, '$.v')")
        .pluck()
        .safeIntegers(true)
        .get(JSON.stringify({ v }));
      expect([v, sqlLookup(lookupValue(v))]).toEqual([v, sql]);
    }
    expect(lookupValue(undefined)).toBeNull();
    db.close();
  });

  it("the writer fills the columns from the attributes, also for kept and compacted text and rewrites", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const run = await store.createRun(newRun("cols"));
    const nodes = mixedNodes();
    // attributes that carry their JSON text (CamFlow's records), one of them reduced to its text
    const kept = { path: "/kept", mode: 420 };
    keepAttrsJson(kept, JSON.stringify(kept));
    nodes.push(node(14, "entity", kept));
    const lazySrc = { pid: 99, exe: "/bin/true" };
    keepAttrsJson(lazySrc, JSON.stringify(lazySrc));
    nodes.push(node(15, "activity", compactAttrs(lazySrc)));
    await store.appendBatch(run, { nodes, edges: [], steps: [], problems: [] });
    // a later batch describes nodes again: the row is replaced, its columns too
    await store.appendBatch(run, {
      nodes: [
        node(1, "entity", { path: "/etc/shadow" }),
        node(5, "activity", { exe: "/bin/ls" }),
        node(2, "entity", { path: "/new" }),
      ],
      edges: [],
      steps: [],
      problems: [],
    });
    expect(ids(await store.getNodes(run, { paths: ["/etc/passwd"] }))).toEqual([3]);
    expect(ids(await store.getNodes(run, { paths: ["/etc/shadow", "/new", "/kept", '/tmp/é "q"'] }))).toEqual(
      [1, 2, 11, 14],
    );
    expect(ids(await store.getNodes(run, { pids: [7] }))).toEqual([4]);
    expect(ids(await store.getNodes(run, { paths: [] }))).toEqual([]);
    expect(ids(await store.getNodes(run, { pids: [], paths: ["/new"] }))).toEqual([]);
    expect(ids(await store.getNodes(run, { pids: [99, 4_000_000_000] }))).toEqual([10, 15]);
    expect(ids(await store.getNodes(run, { pids: [7], ids: [4, 5] }))).toEqual([4]);
    expect(ids(await store.getNodes(run, { paths: ["/etc/shadow"], types: ["file"], afterId: 0 }))).toEqual([
      1,
    ]);
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(mismatches(raw)).toEqual([]);
    expect(
      raw
        .prepare("SELECT id, path, pid FROM nodes WHERE path IS NOT NULL OR pid IS NOT NULL ORDER BY id")
        .raw()
        .all(),
    ).toEqual([
      [1, "/etc/shadow", null],
      [2, "/new", null],
      [3, "/etc/passwd", null],
      [4, null, 7],
      [9, '["/a","/b"]', null],
      [10, null, 4_000_000_000],
      [11, '/tmp/é "q"', null],
      [12, null, 12.5],
      [13, 1, null],
      [14, "/kept", null],
      [15, null, 99],
    ]);
    raw.close();
  });

  it("lookups use the indexes, and the old expression indexes are gone", () => {
    const path = freshPath();
    openSqliteStore(path);
    const raw = new Database(path, { readonly: true });
    const sql = (name: string) =>
      raw.prepare("SELECT sql FROM sqlite_master WHERE name = ?").pluck().get(name) as string;
    expect(sql("nodes_path")).not.toMatch(/json_extract/);
    expect(sql("nodes_pid")).not.toMatch(/json_extract/);
    const plan = raw
      .prepare(
        `EXPLAIN QUERY PLAN SELECT id FROM nodes INDEXED BY nodes_path WHERE run_id = 1 AND path IS NOT NULL
         AND path IN (SELECT value FROM json_each('["/x"]')) AND kind = 'entity' ORDER BY id`,
      )
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(" ")).toMatch(/USING INDEX nodes_path \(run_id=\? AND path=\?\)/);
    raw.close();
  });

  it("machines' nodes: the columns follow a node described again", async () => {
    const path = freshPath();
    const store = openSqliteStore(path);
    const run = await store.openMachineRun({ machineId: "m1" });
    const part = (nodes: ReturnType<typeof keyedNode>[]) => ({
      runId: run,
      machineId: "m1",
      nodes,
      edges: [],
      problems: [],
      packets: 1,
      errors: 0,
      seen: 1,
    });
    await store.appendMachineBatch([part([keyedNode("a"), keyedNode("b", { path: "/b" })])]);
    expect(ids(await store.getNodes(run, { paths: ["/a"] }))).toEqual([]);
    await store.appendMachineBatch([part([keyedNode("a", { path: "/a" }), keyedNode("b", { path: "/b2" })])]);
    await store.appendMachineBatch([
      part([{ ...keyedNode("p", { pid: 42 }), kind: "activity", type: "process" }]),
    ]);
    const found = await store.getNodes(run, { paths: ["/a"] });
    expect(found.map((n) => n.attrs.sourceId)).toEqual(["a"]);
    expect(await store.getNodes(run, { paths: ["/b", "/b2"] })).toEqual([]);
    expect((await store.getNodes(run, { pids: [42] })).map((n) => n.attrs.sourceId)).toEqual(["p"]);
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(mismatches(raw)).toEqual([]);
    expect(raw.prepare("SELECT path FROM nodes WHERE skey = 'b'").pluck().get()).toBe('["/b","/b2"]');
    raw.close();
  });

  it("migrates a version 5 file: the columns are filled, lookups find the same nodes as before", async () => {
    const path = freshPath();
    const v5 = new Database(path);
    v5.exec("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at INTEGER NOT NULL)");
    for (const m of migrations) {
      if (m.version > 5) break;
      v5.exec(m.sql);
      m.data?.(v5);
      v5.prepare("INSERT INTO schema_version VALUES (?, 0)").run(m.version);
    }
    v5.prepare("INSERT INTO meta VALUES ('app', 'provflow'), ('seq', '0')").run();
    const insRun = v5.prepare(
      `INSERT INTO runs (name, source, command, host, status, stats, created_at)
       VALUES (?, 'strace', '[]', 'h', 'complete', '{}', 0)`,
    );
    insRun.run("one");
    insRun.run("two");
    const ins = v5.prepare(
      `INSERT INTO nodes (run_id, id, kind, type, gid, version, label, "start", "end", attrs, seq, machine_id)
       VALUES (?, ?, ?, ?, ?, 0, ?, NULL, NULL, ?, ?, 'h')`,
    );
    let seq = 0;
    const all = [...mixedNodes(), fileNode(20, "/w/b"), processNode(21, 11, ["make"], 5, 6)];
    for (const run of [1, 2])
      for (const n of all) ins.run(run, n.id, n.kind, n.type, n.gid, n.label, JSON.stringify(n.attrs), ++seq);
    // the answers of the version 5 lookups (expression indexes)
    const old = (sql: string, run: number, keys: unknown[]) =>
      v5
        .prepare(
          `SELECT id FROM nodes WHERE run_id = ? AND ${sql} IN (SELECT value FROM json_each(?)) ORDER BY id`,
        )
        .pluck()
        .all(run, JSON.stringify(keys));
    const byPath = old("kind = 'entity' AND json_extract(attrs, '$.path')", 2, [
      "/etc/passwd",
      "/w/b",
      '["/a","/b"]',
      1,
    ]);
    const byPid = old("kind = 'activity' AND json_extract(attrs, '$.pid')", 2, [7, 11, 12.5]);
    expect(byPath).toEqual([1, 3, 9, 13, 20]);
    expect(byPid).toEqual([4, 5, 12, 21]);
    v5.close();

    const store = openSqliteStore(path);
    expect(
      ids(await store.getNodes(2, { paths: ["/etc/passwd", "/w/b", '["/a","/b"]', 1] as string[] })),
    ).toEqual(byPath);
    expect(ids(await store.getNodes(2, { pids: [7, 11, 12.5] }))).toEqual(byPid);
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT max(version) FROM schema_version").pluck().get()).toBe(SCHEMA_VERSION);
    expect(mismatches(raw)).toEqual([]);
    expect(raw.prepare("SELECT count(path), count(pid) FROM nodes").raw().get()).toEqual([12, 10]);
    expect(raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'nodes_path'").pluck().get()).toMatch(
      /\(run_id, path\) WHERE path IS NOT NULL/,
    );
    raw.close();
  });
});
