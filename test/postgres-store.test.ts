import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runIngest } from "../src/ingest/run-ingest.js";
import { isPostgresUrl, parsePostgresUrl, resolveDbPath } from "../src/store/db-path.js";
import { openStore } from "../src/store/open-store.js";
import { PG_SCHEMA_VERSION, pgMigrations } from "../src/store/postgres-schema.js";
import { openPostgresStore, PostgresStore } from "../src/store/postgres-store.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { StoreError } from "../src/store/store-error.js";
import type { GraphStore, KeyedEdge, KeyedNode, MachinePart, Step } from "../src/store/store-types.js";
import { WorkerStore } from "../src/store/worker-store.js";
import { dropSchemas, pgAdmin, postgresAvailable, schemaUrl, uniqueSchema } from "./helpers/postgres.js";
import {
  defineStoreContract,
  edge,
  fileNode,
  KEYED_T0,
  keyedEdge,
  keyedNode,
  newRun,
  processNode,
} from "./store-contract.js";

const up = await postgresAvailable("the PostgreSQL store tests (test/postgres-store.test.ts)");
const base = uniqueSchema("store");
const dir = mkdtempSync(join(tmpdir(), "provflow-pg-"));
let counter = 0;
let current = "";

function freshSchema(): string {
  counter += 1;
  return `${base}_${counter}`;
}

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (up) await dropSchemas(base);
});

const empty = { nodes: [], edges: [], steps: [], problems: [] };

async function allSteps(store: GraphStore, runId: number, size?: number): Promise<Step[]> {
  const out: Step[] = [];
  for await (const b of store.iterateSteps(runId, size)) out.push(...b);
  return out;
}

/** The raw rows of one schema's table, read without the store. */
function raw<T extends Record<string, unknown>>(schema: string, sql: string, params: unknown[] = []) {
  return pgAdmin<T>(sql.replaceAll("$schema", `"${schema}"`), params);
}

describe("database specs (no server needed)", () => {
  it("tells PostgreSQL URLs from SQLite paths, and the default comes from PROVFLOW_DB", () => {
    expect(isPostgresUrl("postgres://u@127.0.0.1:5432/test")).toBe(true);
    expect(isPostgresUrl("postgresql://u@h/db")).toBe(true);
    expect(isPostgresUrl("PostgreSQL://u@h/db")).toBe(true);
    expect(isPostgresUrl("./postgres.db")).toBe(false);
    expect(isPostgresUrl("/var/lib/postgres://x")).toBe(false);
    const saved = process.env.PROVFLOW_DB;
    try {
      process.env.PROVFLOW_DB = "postgresql://ci@db.example:5433/prov?schema=team";
      expect(resolveDbPath()).toBe("postgresql://ci@db.example:5433/prov?schema=team");
      expect(resolveDbPath("./local.db")).toBe("./local.db");
    } finally {
      if (saved === undefined) delete process.env.PROVFLOW_DB;
      else process.env.PROVFLOW_DB = saved;
    }
  });

  it("takes the schema out of the URL and the password out of messages", () => {
    const t = parsePostgresUrl(
      "postgres://alice:s3cr%40t@db.example:5433/prov?schema=team_a&sslmode=disable",
    );
    expect(t.schema).toBe("team_a");
    expect(t.connectionString).toBe("postgres://alice:s3cr%40t@db.example:5433/prov?sslmode=disable");
    expect(t.display).toBe("postgres://alice@db.example:5433/prov?sslmode=disable&schema=team_a");
    const q = parsePostgresUrl("postgresql://bob@h/db?password=hunter2");
    expect(q.schema).toBeNull();
    expect(q.connectionString).toBe("postgresql://bob@h/db?password=hunter2");
    expect(q.display).not.toContain("hunter2");
    expect(parsePostgresUrl("postgres://u@h:5432/test").connectionString).toBe("postgres://u@h:5432/test");
  });

  it("refuses a schema name that would need quoting", () => {
    expect(() => openPostgresStore("postgres://u@127.0.0.1:1/x?schema=Bad-Name")).toThrow(/bad schema name/);
  });

  it("reports a server it cannot reach as a StoreError naming the URL without its password", async () => {
    // port 1 on loopback: nothing listens there
    const store = openPostgresStore("postgres://alice:topsecret@127.0.0.1:1/test?schema=x", {
      connectTimeoutMs: 2000,
    });
    const err = await store.listRuns().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).exitCode).toBe(5);
    expect((err as StoreError).dbPath).toBe("postgres://alice@127.0.0.1:1/test?schema=x");
    expect((err as StoreError).message).toMatch(
      /^provflow database postgres:\/\/alice@127\.0\.0\.1:1\/test\?schema=x: cannot connect: .*ECONNREFUSED/,
    );
    expect((err as StoreError).message).not.toContain("topsecret");
    await store.close();
  });
});

describe.skipIf(!up)("PostgreSQL store", () => {
  defineStoreContract(
    "postgres",
    async () => {
      current = freshSchema();
      return openPostgresStore(schemaUrl(current));
    },
    async () => {
      await pgAdmin(`DROP SCHEMA IF EXISTS "${current}" CASCADE`);
    },
  );

  describe("PostgresStore specifics", () => {
    it("is what openStore gives for postgres:// and postgresql:// URLs (SQLite for paths)", async () => {
      const schema = freshSchema();
      const a = openStore(schemaUrl(schema), { writer: true });
      expect(a).toBeInstanceOf(PostgresStore);
      expect(a.engine).toBe("postgres");
      const id = await a.createRun(newRun("via-factory"));
      await a.close();
      const b = openStore(schemaUrl(schema).replace(/^postgres:/, "postgresql:"));
      expect((await b.findRun(id))?.name).toBe("via-factory");
      await b.close();
      const s = openStore(join(dir, "plain.db"));
      expect(s.engine).toBe("sqlite");
      await s.close();
      const w = openStore(join(dir, "worker.db"), { writer: true });
      expect(w).toBeInstanceOf(WorkerStore);
      await w.close();
    });

    it("creates its schema at version 1 with jsonb attributes and bigint times", async () => {
      const schema = freshSchema();
      const store = openPostgresStore(schemaUrl(schema));
      const id = await store.createRun(newRun("types"));
      await store.appendBatch(id, {
        ...empty,
        nodes: [processNode(1, 42, ["/bin/true"], 1_700_000_000_123_456, null)],
      });
      await store.close();
      expect(await raw(schema, "SELECT max(version) AS v FROM $schema.schema_version")).toEqual([
        { v: PG_SCHEMA_VERSION },
      ]);
      expect(await raw(schema, "SELECT value FROM $schema.meta WHERE key = 'app'")).toEqual([
        { value: "provflow" },
      ]);
      const types = await raw<{ a: string; s: string; t: string }>(
        schema,
        `SELECT pg_typeof(attrs)::text AS a, pg_typeof("start")::text AS s, attrs->>'exe' AS t FROM $schema.nodes`,
      );
      expect(types).toEqual([{ a: "jsonb", s: "bigint", t: "/bin/true" }]);
      // queryable as jsonb, not only storable
      const hit = await raw(schema, `SELECT id FROM $schema.nodes WHERE attrs @> '{"pid": 42}'`);
      expect(hit).toHaveLength(1);
    });

    it("escapes what COPY's text format treats specially: tab, newline, CR, backslash, \\N and \\.", async () => {
      const store = openPostgresStore(schemaUrl(freshSchema()));
      const id = await store.createRun(newRun("copy"));
      const labels = ["a\tb", "line1\nline2", "cr\r\nlf", "back\\slash", "\\N", "\\.", "\\", "", "end\\"];
      const nodes = labels.map((l, i) => ({ ...fileNode(i + 1, `/p/${i}`), label: l, gid: `g\t${l}` }));
      await store.appendBatch(id, {
        ...empty,
        nodes,
        problems: [{ file: "f\tg", line: 3, message: "m\\n", text: "\\." }],
        steps: [
          {
            seq: 1,
            pid: 1,
            call: "open",
            resource: "/x\ty\\z\n",
            count: 1,
            bytes: 0,
            errors: 0,
            start: 5,
            end: 6,
            dur: 1,
            ret: "\\N",
          },
        ],
      });
      const got = await store.getNodes(id);
      expect(got.map((n) => n.label)).toEqual(labels);
      expect(got.map((n) => n.gid)).toEqual(labels.map((l) => `g\t${l}`));
      // written again, the nodes go through the upsert (JSON inside a dollar-quoted literal)
      const again = [
        "$pf$",
        "it's",
        "$pf0$ and $pf$",
        'q"uote',
        "tab\tnl\n\\",
        "\\u0000",
        "'; DROP TABLE nodes; --",
      ];
      await store.appendBatch(id, {
        ...empty,
        nodes: again.map((l, i) => ({ ...fileNode(i + 1, `/p/${i}`), label: l, attrs: { l } })),
      });
      const updated = await store.getNodes(id, { limit: again.length });
      expect(updated.map((n) => n.label)).toEqual(again);
      expect(updated.map((n) => n.attrs.l)).toEqual(again);
      expect(await store.getProblems(id)).toEqual([{ file: "f\tg", line: 3, message: "m\\n", text: "\\." }]);
      const steps = await allSteps(store, id);
      expect(steps[0]?.resource).toBe("/x\ty\\z\n");
      expect(steps[0]?.ret).toBe("\\N");
      await store.close();
    });

    it("keeps U+0000 and lone surrogates exactly in JSON values; plain text columns get U+FFFD", async () => {
      const schema = freshSchema();
      const store = openPostgresStore(schemaUrl(schema));
      const id = await store.createRun(newRun("nul\u0000name", { command: ["printf", "a\u0000b"] }));
      const attrs = { argv: ["x\u0000y", "\ud800lone", "ok"], path: "/p", literal: "\\u0000 is not NUL" };
      const node = { ...fileNode(1, "/p"), label: "la\u0000bel", attrs };
      const withNul: Step = {
        seq: 1,
        pid: 1,
        call: "read",
        resource: "res\u0000ource",
        count: 1,
        bytes: 1,
        errors: 0,
        start: 1,
        end: 2,
        dur: 1,
        ret: "r\u0000",
      };
      await store.appendBatch(id, {
        nodes: [node],
        edges: [{ ...edge(1, "used", "read", 1, 1), attrs: { buf: "\u0000\u0000" } }],
        steps: [withNul],
        problems: [{ file: "trace", line: 9, message: "binary junk", text: "ab\u0000cd" }],
      });
      // the same node and edge written again take the upsert path: same rule
      await store.appendBatch(id, {
        ...empty,
        nodes: [{ ...node, label: "re\u0000label" }],
        edges: [{ ...edge(1, "used", "read", 1, 1), attrs: { buf: "\u0000\u0000" } }],
      });
      const run = await store.findRun(id);
      expect(run?.name).toBe("nul\uFFFDname");
      expect(run?.command).toEqual(["printf", "a\u0000b"]);
      const [n] = await store.getNodes(id);
      expect(n?.attrs).toEqual(attrs);
      expect(n?.label).toBe("re\uFFFDlabel");
      expect((await store.getEdges(id))[0]?.attrs).toEqual({ buf: "\u0000\u0000" });
      expect(await allSteps(store, id)).toEqual([withNul]);
      expect(await store.getProblems(id)).toEqual([
        { file: "trace", line: 9, message: "binary junk", text: "ab\uFFFDcd" },
      ]);
      await store.close();
      // the jsonb copy has U+FFFD where jsonb cannot hold the character; the exact text sits beside it
      const rows = await raw<{ a: string; t: string | null }>(
        schema,
        "SELECT attrs->'argv'->>0 AS a, attrs_text AS t FROM $schema.nodes",
      );
      expect(rows[0]?.a).toBe("x\uFFFDy");
      expect(JSON.parse(rows[0]?.t ?? "null")).toEqual(attrs);
    });

    it("gives attributes back with their keys in the order written, though jsonb sorts them", async () => {
      const schema = freshSchema();
      const store = openPostgresStore(schemaUrl(schema));
      const id = await store.createRun(newRun("order"));
      const unordered = {
        pid: 1,
        exe: "/bin/sh",
        argv: ["sh"],
        nested: { zz: 1, a: [{ y: 1, x: 2 }] },
        "7": "n",
      };
      const sorted = { a: 1, bb: { c: 2, dd: [3] }, ccc: "x" };
      const nonAscii = { é: 1 };
      await store.appendBatch(id, {
        ...empty,
        nodes: [
          { ...fileNode(1, "/u"), attrs: unordered },
          { ...fileNode(2, "/s"), attrs: sorted },
          { ...fileNode(3, "/n"), attrs: nonAscii },
        ],
        edges: [{ ...edge(1, "used", "read", 1, 2), attrs: { offset: 5, bytes: 3 } }],
      });
      const nodes = await store.getNodes(id);
      expect(nodes.map((n) => JSON.stringify(n.attrs))).toEqual(
        [unordered, sorted, nonAscii].map((a) => JSON.stringify(a)),
      );
      expect(JSON.stringify((await store.getEdges(id))[0]?.attrs)).toBe('{"offset":5,"bytes":3}');
      await store.close();
      // the exact text is kept only where jsonb would reorder
      const rows = await raw<{ id: number; kept: boolean }>(
        schema,
        "SELECT id, attrs_text IS NOT NULL AS kept FROM $schema.nodes ORDER BY id",
      );
      expect(rows).toEqual([
        { id: "1", kept: true },
        { id: "2", kept: false },
        { id: "3", kept: true },
      ]);
    });

    it("returns bigint times and counts as exact JS numbers", async () => {
      const store = openPostgresStore(schemaUrl(freshSchema()));
      const id = await store.createRun(newRun("big", { start: 1_754_000_000_000_001 }));
      const e = {
        ...edge(1, "used", "read", 1, 2, 1_754_000_000_999_999),
        tsEnd: Number.MAX_SAFE_INTEGER,
        count: 2 ** 40 + 1,
        bytes: Number.MAX_SAFE_INTEGER - 2,
      };
      await store.appendBatch(id, { ...empty, edges: [e] });
      await store.updateRun(id, { end: 1_754_000_001_000_001 });
      const run = await store.findRun(id);
      expect(run?.start).toBe(1_754_000_000_000_001);
      expect(run?.end).toBe(1_754_000_001_000_001);
      expect(typeof run?.edgeCount).toBe("number");
      const [got] = await store.getEdges(id);
      expect(got).toEqual(e);
      expect(typeof got?.ts).toBe("number");
      await store.close();
    });

    it("hands out no change past an older stamp a writer still in progress holds", async () => {
      const schema = freshSchema();
      const store = openPostgresStore(schemaUrl(schema));
      const id = await store.createRun(newRun("race"));
      await store.appendBatch(id, { ...empty, nodes: [fileNode(1, "/first")] });
      const start = await store.getChanges(id);
      expect(start.nodes.map((n) => n.id)).toEqual([1]);
      // a second writer takes an older stamp, and is slow to commit
      const { default: pgMod } = await import("pg");
      const slow = new pgMod.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
      await slow.connect();
      try {
        await slow.query("BEGIN");
        await slow.query(
          `INSERT INTO "${schema}".nodes (run_id, id, kind, type, gid, version, label, attrs, machine_id)
           VALUES ($1, 2, 'entity', 'file', 'file://h/slow', 0, '/slow', '{}', '')`,
          [id],
        );
        // a later stamp, committed first
        await store.appendBatch(id, { ...empty, nodes: [fileNode(3, "/fast")] });
        expect((await store.getNodes(id)).map((n) => n.id)).toEqual([1, 3]);
        const held = await store.getChanges(id, { since: start.cursor });
        expect(held.nodes).toEqual([]);
        expect(held.cursor).toBe(start.cursor);
        await slow.query("COMMIT");
      } finally {
        await slow.end();
      }
      // the old look becomes safe once the slow writer ended: both come, the older first
      await store.getChanges(id, { since: start.cursor });
      const both = await store.getChanges(id, { since: start.cursor });
      expect(both.nodes.map((n) => n.id)).toEqual([2, 3]);
      // a transaction elsewhere in the database (another program's table) holds nothing back
      const other = new pgMod.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
      await other.connect();
      try {
        await other.query(`CREATE TABLE "${schema}".unrelated (x int)`);
        await other.query("BEGIN");
        await other.query(`INSERT INTO "${schema}".unrelated VALUES (1)`);
        await store.appendBatch(id, { ...empty, nodes: [fileNode(4, "/meanwhile")] });
        const now = await store.getChanges(id, { since: both.cursor });
        expect(now.nodes.map((n) => n.id)).toEqual([4]);
        await other.query("ROLLBACK");
      } finally {
        await other.end();
      }
      await store.close();
    });

    it("refuses a schema from a newer provflow, and tables that are not ours", async () => {
      const newer = freshSchema();
      const s1 = openPostgresStore(schemaUrl(newer));
      await s1.listRuns();
      await s1.close();
      await raw(newer, "INSERT INTO $schema.schema_version VALUES (99, 0)");
      const s2 = openPostgresStore(schemaUrl(newer));
      await expect(s2.listRuns()).rejects.toThrow(
        new RegExp(`schema version 99 is newer than this provflow supports \\(${PG_SCHEMA_VERSION}\\)`),
      );
      await s2.close();

      const foreign = freshSchema();
      await pgAdmin(`CREATE SCHEMA "${foreign}"`);
      await raw(foreign, "CREATE TABLE $schema.runs (x int)");
      const s3 = openPostgresStore(schemaUrl(foreign));
      await expect(s3.listRuns()).rejects.toThrow(/is not a provflow store/);
      await s3.close();

      const absent = freshSchema();
      const s4 = openPostgresStore(schemaUrl(absent), { readonly: true });
      await expect(s4.listRuns()).rejects.toThrow(/no provflow tables in schema .*nothing to read/);
      await s4.close();
      expect(await pgAdmin("SELECT 1 FROM pg_namespace WHERE nspname = $1", [absent])).toEqual([]);
    });

    it("lets two stores create the same schema at once (one migrates, the other waits)", async () => {
      const schema = freshSchema();
      const a = openPostgresStore(schemaUrl(schema));
      const b = openPostgresStore(schemaUrl(schema));
      const [ra, rb] = await Promise.all([a.createRun(newRun("a")), b.createRun(newRun("b"))]);
      expect(new Set([ra, rb]).size).toBe(2);
      expect((await a.listRuns()).map((r) => r.name).sort()).toEqual(["a", "b"]);
      await a.close();
      await b.close();
      expect(await raw(schema, "SELECT version FROM $schema.schema_version ORDER BY version")).toEqual(
        pgMigrations.map((m) => ({ version: m.version })),
      );
    });

    it("reports a write that failed on the next call, once, and drops nothing written before", async () => {
      const store = openPostgresStore(schemaUrl(freshSchema()));
      const id = await store.createRun(newRun("fails"));
      await store.appendBatch(id, { ...empty, nodes: [fileNode(1, "/ok")] });
      // label is NOT NULL: the batch fails on the server, after appendBatch returned
      await store.appendBatch(id, {
        ...empty,
        nodes: [{ ...fileNode(2, "/bad"), label: null as unknown as string }],
      });
      const err = await store.updateRun(id, { status: "complete" }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(
        /cannot append batch to run \d+: null value in column "label" of relation "nodes" violates not-null constraint/,
      );
      expect((err as StoreError).dbPath).toBe(store.path);
      expect((err as StoreError).message).toContain(`provflow database ${store.path}: `);
      expect((await store.findRun(id))?.status).toBe("running");
      await store.appendBatch(id, { ...empty, nodes: [fileNode(3, "/good")] });
      await store.updateRun(id, { status: "incomplete" });
      expect(await store.findRun(id)).toMatchObject({ status: "incomplete", nodeCount: 2 });
      expect((await store.getNodes(id)).map((n) => n.id)).toEqual([1, 3]);
      await store.close();
    });

    it("rolls a failed batch back whole, even when the failure comes before COPY data still on its way", async () => {
      const store = openPostgresStore(schemaUrl(freshSchema()));
      const id = await store.createRun(newRun("rollback"));
      await store.appendBatch(id, { ...empty, nodes: [fileNode(1, "/before")] });
      const many = Array.from({ length: 20_000 }, (_, i) =>
        edge(i + 1, "used", "read", 1, 1, 1_700_000_000_000_000 + i),
      );
      const steps: Step[] = Array.from({ length: 5000 }, (_, i) => ({
        seq: i + 1,
        pid: 1,
        call: "read",
        resource: "/r",
        count: 1,
        bytes: 1,
        errors: 0,
        start: i,
        end: i,
        dur: 0,
        ret: "0",
      }));
      // the failing row is in the first COPY of the batch; megabytes of edges and steps follow it
      const bad = { ...fileNode(2, "/bad"), kind: null as unknown as "entity" };
      await store.appendBatch(id, { nodes: [bad], edges: many, steps, problems: [] });
      await expect(store.listRuns()).rejects.toThrow(/null value in column "kind"/);
      // nothing of the failed batch is there, and the connection is usable again
      expect(await store.getEdges(id)).toEqual([]);
      expect(await allSteps(store, id)).toEqual([]);
      // after a failure the store reads the run's state again: this batch is written before returning
      await store.appendBatch(id, { ...empty, edges: many.slice(0, 3), steps: steps.slice(0, 2) });
      // the failure inside an upsert, after a COPY that went through
      await store.appendBatch(id, {
        ...empty,
        nodes: [fileNode(3, "/new"), { ...fileNode(1, "/before"), gid: null as unknown as string }],
      });
      await expect(store.findRun(id)).rejects.toThrow(/null value in column "gid"/);
      expect((await store.getNodes(id)).map((n) => n.label)).toEqual(["/before"]);
      // and a batch for a run that is gone
      await expect(store.appendBatch(id + 1, { ...empty, edges: many })).rejects.toThrow(/no run \d+/);
      await store.appendBatch(id, { ...empty, nodes: [fileNode(3, "/new")] });
      expect((await store.getNodes(id)).map((n) => n.label)).toEqual(["/before", "/new"]);
      expect(await store.getEdges(id)).toHaveLength(3);
      expect(await allSteps(store, id)).toHaveLength(2);
      await store.close();
    });

    it("rejects close with a write failure nobody has seen yet", async () => {
      const store = openPostgresStore(schemaUrl(freshSchema()));
      const id = await store.createRun(newRun("close"));
      await store.appendBatch(id, {
        ...empty,
        nodes: [{ ...fileNode(1, "/x"), gid: null as unknown as string }],
      });
      await expect(store.close()).rejects.toThrow(/null value in column "gid"/);
      await expect(store.listRuns()).rejects.toThrow(/closed/);
    });

    it("snapshots a batch when appendBatch is called: later mutations are not written", async () => {
      const store = openPostgresStore(schemaUrl(freshSchema()));
      const id = await store.createRun(newRun("snap"));
      const p = processNode(1, 4242, ["/bin/cat"], 1, null);
      await store.appendBatch(id, { ...empty, nodes: [p] });
      p.end = 99;
      p.label = "changed";
      (p.attrs as Record<string, unknown>).exe = "/changed";
      expect((await store.getNodes(id))[0]).toMatchObject({
        end: null,
        label: "/bin/cat",
        attrs: { exe: "/bin/cat" },
      });
      await store.close();
    });

    it("merges chunks written out of order and holds only the chunks overlapping the current start", async () => {
      const schema = freshSchema();
      const store = openPostgresStore(schemaUrl(schema));
      const id = await store.createRun(newRun("bounded"));
      const mk = (seq: number, start: number): Step => ({
        seq,
        pid: 7,
        call: seq % 3 === 0 ? "write" : "read",
        resource: `/src/f${seq % 13}.c`,
        count: 1 + (seq % 4),
        bytes: seq * 3,
        errors: seq % 9 === 0 ? 1 : 0,
        start,
        end: start + (seq % 5),
        dur: seq % 7,
        ret: seq % 10 === 0 ? null : String(seq),
      });
      let seq = 0;
      const all: Step[] = [];
      // 60 drains of 1000 steps in successive windows, each also closing a step opened at the beginning
      for (let b = 0; b < 60; b++) {
        const batch: Step[] = [mk(++seq, 1000 + b)];
        for (let i = 0; i < 1000; i++) batch.push(mk(++seq, 1_000_000 + b * 1000 + Math.floor(i / 3)));
        batch.reverse();
        all.push(...batch);
        await store.appendBatch(id, { ...empty, steps: batch });
      }
      const want = [...all].sort((a, b) => a.start - b.start || a.seq - b.seq);
      expect(await allSteps(store, id, 500)).toEqual(want);
      expect(store.lastStepScan?.peakOpenSteps).toBeLessThanOrEqual(60 + 2 * 1000);
      await store.close();
      // another store appending to the same run reads the watermark from the table
      const again = openPostgresStore(schemaUrl(schema));
      const late = mk(++seq, 1500);
      await again.appendBatch(id, { ...empty, steps: [late] });
      const got = await allSteps(again, id);
      expect(got).toEqual([...want, late].sort((a, b) => a.start - b.start || a.seq - b.seq));
      expect(again.lastStepScan?.peakOpenSteps).toBeLessThanOrEqual(61 + 2 * 1000);
      await again.close();
    });

    it("keeps a machine's relations as text only, and settles relations a schema-5 writer left waiting", async () => {
      const schema = freshSchema();
      const T0 = KEYED_T0;
      const kn = (key: string): KeyedNode => keyedNode(key);
      const ke = keyedEdge;
      const part = (runId: number, nodes: KeyedNode[], edges: KeyedEdge[]): MachinePart => ({
        runId,
        machineId: "7",
        nodes,
        edges,
        problems: [],
        packets: 1,
        errors: 0,
        seen: T0,
      });
      // keys out of jsonb's order, U+0000 and a lone surrogate: jsonb would give none of them back
      const odd = { "cf:id": "1", a: "nul\u0000here", sourceId: "r1", z: "\ud800" };
      const s1 = openPostgresStore(schemaUrl(schema));
      const run = await s1.openMachineRun({ machineId: "7", start: T0 });
      await s1.appendMachineBatch([
        part(run, [kn("A"), kn("B")], [ke("r1", "A", "B", odd), ke("r9", "A", "D", { sourceId: "r9" })]),
      ]);
      await s1.close();
      expect(await raw(schema, "SELECT attrs, attrs_text FROM $schema.edges WHERE ekey = 'r1'")).toEqual([
        { attrs: null, attrs_text: JSON.stringify(odd) },
      ]);
      // as a schema-5 writer left them: r9 waiting with jsonb attributes and no text, attrs required
      await raw(
        schema,
        `UPDATE $schema.pending_edges SET attrs = attrs_text::jsonb, attrs_text = NULL;
         DELETE FROM $schema.edges; DELETE FROM $schema.machine_counts;
         ALTER TABLE $schema.edges ALTER COLUMN attrs SET NOT NULL;
         ALTER TABLE $schema.pending_edges ALTER COLUMN attrs SET NOT NULL;
         DELETE FROM $schema.schema_version WHERE version = 6`,
      );
      const s2 = openPostgresStore(schemaUrl(schema));
      expect(await s2.openMachineRun({ machineId: "7" })).toBe(run);
      // D completes r9; r1 again is a new edge (its row was deleted above), written as text only
      const r = await s2.appendMachineBatch([part(run, [kn("D")], [ke("r1", "A", "B", odd)])]);
      expect(r).toEqual([{ runId: run, machineId: "7", nodes: 1, edges: 2 }]);
      const edges = await s2.getEdges(run);
      expect(
        edges.map((e) => e.attrs).sort((a, b) => String(a.sourceId).localeCompare(String(b.sourceId))),
      ).toEqual([odd, { sourceId: "r9" }]);
      expect(Object.keys(edges.find((e) => e.attrs.sourceId === "r1")?.attrs ?? {})).toEqual(
        Object.keys(odd),
      );
      await s2.close();
      expect(await raw(schema, "SELECT max(version) AS v FROM $schema.schema_version")).toEqual([{ v: 6 }]);
      expect(await raw(schema, "SELECT ekey, attrs, attrs_text FROM $schema.edges ORDER BY ekey")).toEqual([
        { ekey: "r1", attrs: null, attrs_text: JSON.stringify(odd) },
        { ekey: "r9", attrs: { sourceId: "r9" }, attrs_text: null },
      ]);
    });

    it("pages nodes and edges by keyset for exporters", async () => {
      const store = openPostgresStore(schemaUrl(freshSchema()));
      const id = await store.createRun(newRun("pages"));
      const nodes = Array.from({ length: 25 }, (_, i) => fileNode(i + 1, `/f${i}`));
      const edges = Array.from({ length: 24 }, (_, i) =>
        edge(i + 1, "wasDerivedFrom", "version", i + 2, i + 1),
      );
      await store.appendBatch(id, { ...empty, nodes: [...nodes].reverse(), edges });
      const pages: number[][] = [];
      for await (const p of store.iterateNodes(id, {}, 10)) pages.push(p.map((n) => n.id));
      expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
      expect(pages.flat()).toEqual(nodes.map((n) => n.id));
      let count = 0;
      for await (const p of store.iterateEdges(id, { types: ["wasDerivedFrom"] }, 8)) count += p.length;
      expect(count).toBe(24);
      await store.close();
    });

    it("ingests the gitlab bench_data.strace log to the same graph as SQLite", async () => {
      const log = resolve(
        import.meta.dirname,
        "../../shared/corpus/strace/gitlab-strace-parser/bench_data.strace",
      );
      const sqlite = openSqliteStore(join(dir, "gitlab.db"));
      const store = openPostgresStore(schemaUrl(freshSchema()));
      const a = await runIngest({ store: sqlite, files: [log], quiet: true });
      const b = await runIngest({ store, files: [log], quiet: true });
      const ra = await sqlite.findRun(a.runId);
      const rb = await store.findRun(b.runId);
      // 5001 lines (wc -l); 37 distinct pids (first column) + 11 successful execve (a new generation each)
      expect(rb?.stats.lines).toBe(5001);
      expect(rb?.status).toBe("complete");
      expect((await store.getNodes(b.runId, { types: ["process"] })).length).toBe(48);
      expect({ ...rb, id: 0 }).toEqual({ ...ra, id: 0 });
      expect(await store.getNodes(b.runId)).toEqual(await sqlite.getNodes(a.runId));
      expect(await store.getEdges(b.runId)).toEqual(await sqlite.getEdges(a.runId));
      expect(await allSteps(store, b.runId)).toEqual(await allSteps(sqlite, a.runId));
      expect(await store.getProblems(b.runId)).toEqual(await sqlite.getProblems(a.runId));
      await sqlite.close();
      await store.close();
    });
  });

  describe("PostgresStore writer killed mid-run", () => {
    const storeModule = resolve(import.meta.dirname, "../src/store/postgres-store.ts");

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

    it("shows the run running while its writer lives, incomplete once it was SIGKILLed, from any session", async () => {
      const schema = freshSchema();
      const url = schemaUrl(schema);
      const script = join(dir, "killed-child.mts");
      writeFileSync(
        script,
        `import { openPostgresStore } from ${JSON.stringify(storeModule)};
const store = openPostgresStore(${JSON.stringify(url)});
const id = await store.createRun({ name: "killed", source: "strace", command: ["x"], host: "h" });
for (let b = 0; b < 10; b++) {
  const nodes = [];
  for (let i = 1; i <= 100; i++) {
    const n = b * 100 + i;
    nodes.push({ id: n, kind: "entity", type: "file", gid: "file://h/f" + n, version: 0, label: "/f" + n,
      start: null, end: null, attrs: { path: "/f" + n } });
  }
  await store.appendBatch(id, { nodes, edges: [], steps: [], problems: [] });
}
const run = await store.findRun(id);
console.log("ready " + id + " " + run.nodeCount);
setInterval(() => {}, 1000);
`,
      );
      const child = spawn(process.execPath, ["--import", "tsx", script], {
        cwd: resolve(import.meta.dirname, ".."),
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        const m = await waitForLine(child, /ready (\d+) (\d+)/);
        const runId = Number(m[1]);
        expect(Number(m[2])).toBe(1000);
        // another store (read-write: it repairs stale runs on opening) leaves the live writer's run alone
        const live = openPostgresStore(url);
        expect(await live.findRun(runId)).toMatchObject({ status: "running", nodeCount: 1000 });
        expect(await live.markStaleRuns()).toEqual([]);
        await live.close();
        const exited = new Promise<void>((r) => child.on("exit", () => r()));
        child.kill("SIGKILL");
        await exited;
        expect(child.signalCode).toBe("SIGKILL");
        // the server notices the closed connection and frees the lock: give it a moment
        let status = "";
        for (let i = 0; i < 50 && status !== "incomplete"; i++) {
          const reader = openPostgresStore(url, { readonly: true });
          status = (await reader.findRun("killed"))?.status ?? "";
          await reader.close();
          if (status !== "incomplete") await new Promise((r) => setTimeout(r, 100));
        }
        expect(status).toBe("incomplete");
        expect(await raw(schema, "SELECT status FROM $schema.runs")).toEqual([{ status: "running" }]);
        const writer = openPostgresStore(url);
        expect(await writer.findRun(runId)).toMatchObject({ status: "incomplete", nodeCount: 1000 });
        await writer.close();
        // opening read-write repaired the row itself
        expect(await raw(schema, "SELECT status FROM $schema.runs")).toEqual([{ status: "incomplete" }]);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
    });
  });
});
