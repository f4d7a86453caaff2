import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_LINEAGE_RELATIONS } from "../../src/store/lineage-params.js";
import { CORPUS, runCli, tempDir } from "../helpers/cli.js";
import { PG_URL, postgresAvailable, schemaUrl, uniqueSchema } from "../helpers/postgres.js";

/**
 * `provflow lineage` and `provflow path` on real runs (a traced `sh -c 'cat a > b; cp b c'` and a
 * CamFlow capture of the corpus), on SQLite and PostgreSQL. The oracle is networkx (Debian's
 * python3-networkx): it reads the run's relations straight from the SQLite file and walks them
 * itself; both stores must give its answer exactly.
 */
const hasStrace = spawnSync("strace", ["-V"], { encoding: "utf8" }).status === 0;
const hasNetworkx = spawnSync("python3", ["-c", "import networkx"], { encoding: "utf8" }).status === 0;
const hasDot = spawnSync("dot", ["-V"], { encoding: "utf8" }).status === 0;
if (process.env.CI === "true" && !(hasStrace && hasNetworkx && hasDot))
  throw new Error("the lineage e2e tests need strace, python3-networkx and graphviz in CI");
const pgUp = await postgresAvailable("the lineage e2e tests on PostgreSQL (test/e2e/lineage-cli.test.ts)");

/** the relation types lineage follows by default: the oracle walks the same ones */
const FOLLOWED = [...DEFAULT_LINEAGE_RELATIONS];

/** networkx's answer: {node id: distance} within `depth`, or every simple chain from → to. */
const ORACLE = `
import json, sqlite3, sys
import networkx as nx
q = json.loads(sys.argv[1])
db = sqlite3.connect(q["db"])
g = nx.DiGraph()
for src, dst in db.execute(
    "SELECT src, dst FROM edges WHERE run_id = ? AND type IN (%s)" % ",".join("?" * len(q["relations"])),
    [q["run"], *q["relations"]]):
    g.add_edge(src, dst)
if q["op"] == "walk":
    h = g if q["direction"] == "ancestors" else g.reverse(copy=False)
    out = {}
    for s in q["start"]:
        if s not in h:
            out[s] = 0
            continue
        for n, d in nx.single_source_shortest_path_length(h, s, cutoff=q["depth"]).items():
            out[n] = min(d, out.get(n, d))
    print(json.dumps({str(k): v for k, v in out.items()}))
else:
    # chains run downstream: against PROV's direction
    h = g.reverse(copy=False)
    print(json.dumps(sorted(nx.all_simple_paths(h, q["from"], q["to"], cutoff=q["depth"]))))
`;

function oracle<T>(q: Record<string, unknown>): T {
  const r = spawnSync("python3", ["-c", ORACLE, JSON.stringify({ relations: FOLLOWED, ...q })], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`networkx oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface LineageJson {
  query: { start: number[]; direction: string; depth: number; causal: boolean };
  truncated: boolean;
  nodes: Array<{
    id: number;
    depth: number;
    type: string;
    label: string;
    version: number;
    attrs: Record<string, unknown>;
  }>;
  edges: Array<{ id: number; type: string; from: number; to: number }>;
}

interface PathJson {
  reversed: boolean;
  truncated: boolean;
  paths: Array<{ nodes: number[]; edges: number[] }>;
  edges: Array<{ id: number; from: number; to: number }>;
}

/** networkx's walk from the same start nodes (those provflow resolved) in a run of the SQLite file */
const oracleWalk = (db: string, run: number, j: LineageJson, direction: string, depth: number) =>
  oracle<Record<string, number>>({ op: "walk", db, run, start: j.query.start, direction, depth });

const depthMap = (j: LineageJson) => Object.fromEntries(j.nodes.map((n) => [String(n.id), n.depth]));

describe.runIf(hasStrace && hasNetworkx)("provflow lineage and path on real runs", () => {
  const base = tempDir("provflow-lineage-");
  const work = join(base, "w");
  mkdirSync(work);
  writeFileSync(join(work, "a"), "hello\n");
  writeFileSync(join(work, "e"), "first\n");
  writeFileSync(join(work, "g"), "second\n");
  const db = join(base, "l.db");
  const log = join(base, "trace.log");
  const orderLog = join(base, "order.log");
  const pgSchema = uniqueSchema("lineage");
  const stores: Array<[string, string]> = [["sqlite", db]];
  if (pgUp) stores.push(["postgres", schemaUrl(pgSchema)]);

  afterAll(async () => {
    if (!pgUp) return;
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
    await c.end();
  });

  it("records the traced run, and the same log and a CamFlow capture into every store", () => {
    const t = runCli(
      ["trace", "--db", db, "-q", "--name", "traced", "-o", log, "--", "sh", "-c", "cat a > b; cp b c"],
      {
        cwd: work,
      },
    );
    expect(t.status, t.stderr).toBe(0);
    // one process (dash's read and echo are built in) reads e, writes f, then reads g, writes h
    const o = runCli(
      [
        "trace",
        "--db",
        db,
        "-q",
        "--name",
        "order-traced",
        "-o",
        orderLog,
        "--",
        "sh",
        "-c",
        'read x < e; echo "$x" > f; read y < g; echo "$y" > h',
      ],
      { cwd: work },
    );
    expect(o.status, o.stderr).toBe(0);
    for (const [, target] of stores) {
      for (const [name, file] of [
        ["cp", log],
        ["order", orderLog],
        ["camflow", join(CORPUS, "camflow/frap-dataset/mariadb-root-exploit-0.log")],
      ] as const) {
        const r = runCli(["ingest", "--db", target, "-q", "--name", name, file]);
        expect(r.status, r.stderr).toBe(0);
      }
    }
  });

  const lineage = (target: string, ...args: string[]) => {
    const r = runCli(["lineage", "--db", target, "--json", ...args], { cwd: work });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as LineageJson;
  };
  /** one column of a query on the SQLite file, through Python's sqlite3 (no sqlite3 program needed) */
  const sql = (query: string): string[] => {
    const r = spawnSync(
      "python3",
      [
        "-c",
        "import sqlite3, sys, json; print(json.dumps([r[0] for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]))",
        db,
        query,
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    return (JSON.parse(r.stdout) as unknown[]).map(String);
  };
  /** the run id of a run name in the SQLite file (the oracle reads it) */
  const runId = (name: string) => Number(sql(`SELECT max(id) FROM runs WHERE name = '${name}'`)[0]);

  it("Windows paths (ProcMon): as written, or in another spelling of the same file", () => {
    const csv = join(CORPUS, "windows/procmon-parser/sample-Tests64bitUTC-selected-ops.csv");
    const r = runCli(["ingest", "--db", db, "-q", "--name", "procmon", csv]);
    expect(r.status, r.stderr).toBe(0);
    const wal = "C:\\ProgramData\\Microsoft\\Windows Defender\\Scans\\mpenginedb.db-wal";
    const j = lineage(db, wal, "procmon", "--depth", "2");
    expect(j.nodes[0]).toMatchObject({ depth: 0, type: "file", version: 1 });
    expect(j.nodes[0]?.attrs.path).toBe(wal);
    const writer = j.nodes.find((n) => n.depth === 1 && n.type === "process");
    expect(String(writer?.label)).toMatch(/MsMpEng\.exe$/);
    const other = lineage(
      db,
      "c:/programdata/microsoft/windows defender/scans/MPENGINEDB.db-wal",
      "procmon",
      "--depth",
      "2",
    );
    expect(other.nodes.map((n) => n.id)).toEqual(j.nodes.map((n) => n.id));
  });

  for (const [engine, target] of [
    ["sqlite", db],
    ["postgres", "PG"],
  ] as const) {
    describe.runIf(engine === "sqlite" || pgUp)(engine, () => {
      const store = () => (target === "PG" ? schemaUrl(pgSchema) : target);

      it("ancestors of c: cp, b (the version cat wrote), cat and a — networkx's answer", () => {
        const j = lineage(store(), "c", "cp", "--depth", "5");
        expect(j.truncated).toBe(false);
        const c = j.nodes.find((n) => n.depth === 0);
        expect(c?.attrs.path).toBe(join(work, "c"));
        const at = (pred: (n: LineageJson["nodes"][number]) => boolean) => j.nodes.filter(pred);
        const procs = at((n) => n.type === "process").map((n) => (n.attrs.argv as string[] | undefined)?.[0]);
        expect(procs).toContain("cp");
        expect(procs).toContain("cat");
        const b = at((n) => n.attrs.path === join(work, "b"));
        expect(b.map((n) => n.version).sort()).toEqual([0, 1]);
        expect(at((n) => n.attrs.path === join(work, "a"))).toHaveLength(1);
        // no agent and nothing reached through an agent
        expect(at((n) => n.type === "user" || n.type === "machine")).toEqual([]);
        expect(depthMap(j)).toEqual(oracleWalk(db, runId("cp"), j, "ancestors", 5));
        // every relation returned joins two returned nodes, one step apart at most
        const depth = depthMap(j);
        for (const e of j.edges) {
          expect(depth[String(e.from)], `edge ${e.id}`).toBeDefined();
          expect(depth[String(e.to)], `edge ${e.id}`).toBeDefined();
        }
      });

      it("--causal keeps time order: f came from e, not from g, which the same process read after", () => {
        const files = (j: LineageJson) =>
          j.nodes
            .map((n) => n.attrs.path)
            .filter((p): p is string => typeof p === "string" && p.startsWith(`${work}/`))
            .map((p) => p.slice(work.length + 1))
            .sort();
        // the plain walk: everything sh read is an ancestor of f
        expect(files(lineage(store(), "f", "order", "--depth", "3"))).toEqual(["e", "f", "g"]);
        const f = lineage(store(), "f", "order", "--depth", "3", "--causal");
        expect(files(f)).toEqual(["e", "f"]);
        expect(f.query).toMatchObject({ causal: true });
        expect(f.truncated).toBe(false);
        // h was written after both reads
        expect(files(lineage(store(), "h", "order", "--depth", "3", "--causal"))).toEqual(["e", "g", "h"]);
        // going down: what g went on to affect is h only; e reaches both
        expect(files(lineage(store(), "g", "order", "--descendants", "--depth", "3", "--causal"))).toEqual([
          "g",
          "h",
        ]);
        expect(files(lineage(store(), "g", "order", "--descendants", "--depth", "3"))).toEqual([
          "f",
          "g",
          "h",
        ]);
        expect(files(lineage(store(), "e", "order", "--descendants", "--depth", "3", "--causal"))).toEqual([
          "e",
          "f",
          "h",
        ]);
        // the text output says it
        const r = runCli(["lineage", "--db", store(), "f", "order", "--causal"], { cwd: work });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain("in time order");
        // path: g → sh → f without time order; in time order no chain either way (exit 1)
        const path = (...args: string[]) =>
          runCli(["path", "--db", store(), "--json", ...args], { cwd: work });
        const plain = path("g", "f", "order");
        expect(plain.status, plain.stderr).toBe(0);
        expect((JSON.parse(plain.stdout) as PathJson).paths).toHaveLength(1);
        const none = path("g", "f", "order", "--causal");
        expect(none.status, none.stderr).toBe(1);
        expect((JSON.parse(none.stdout) as PathJson).paths).toEqual([]);
        const ef = path("e", "f", "order", "--causal");
        expect(ef.status, ef.stderr).toBe(0);
        const j = JSON.parse(ef.stdout) as PathJson & { query: { causal: boolean } };
        expect(j.query.causal).toBe(true);
        // f is a copy of e (sh read e, then wrote f): e → f, then e → sh → f
        expect(j.paths.map((x) => x.nodes.length)).toEqual([2, 3]);
      });

      it("txt: a header with what was asked, one row per node with how it was reached", () => {
        const r = runCli(["lineage", "--db", store(), "c", "cp", "--depth", "2"], { cwd: work });
        expect(r.status, r.stderr).toBe(0);
        const j = lineage(store(), "c", "cp", "--depth", "2");
        expect(r.stdout).toMatch(
          new RegExp(
            `^ancestors of c \\(node ${j.query.start[0]}\\), up to 2 relations away: ${j.nodes.length} nodes, ${j.edges.length} relations$`,
            "m",
          ),
        );
        expect(r.stdout).toMatch(/^DEPTH\s+NODE\s+TYPE\s+LABEL\s+REACHED BY$/m);
        const cp = j.nodes.find((n) => (n.attrs.argv as string[] | undefined)?.[0] === "cp");
        expect(r.stdout).toMatch(
          new RegExp(
            `^1\\s+${cp?.id}\\s+process\\s+\\d+: cp b c\\s+${j.query.start[0]} wasGeneratedBy \\((create|write)\\) ${cp?.id}`,
            "m",
          ),
        );
        // one row per node, after the two header lines and the table head
        expect(r.stdout.trim().split("\n")).toHaveLength(j.nodes.length + 4);
      });

      it("descendants of a: b and c; by pid and by node id too", () => {
        const j = lineage(store(), join(work, "a"), "cp", "--descendants", "--depth", "4");
        const paths = new Set(j.nodes.map((n) => n.attrs.path));
        expect(paths).toContain(join(work, "b"));
        expect(paths).toContain(join(work, "c"));
        expect(depthMap(j)).toEqual(oracleWalk(db, runId("cp"), j, "descendants", 4));
        const cat = j.nodes.find((n) => (n.attrs.argv as string[] | undefined)?.[0] === "cat");
        const byPid = lineage(store(), `pid:${cat?.attrs.pid}`, "cp", "--descendants", "--depth", "2");
        expect(byPid.query.start.length).toBeGreaterThanOrEqual(1);
        expect(byPid.nodes.some((n) => n.attrs.path === join(work, "b"))).toBe(true);
        const byId = lineage(store(), String(cat?.id), "cp", "--descendants", "--depth", "2");
        expect(byId.query.start).toEqual([cat?.id]);
      });

      it("the limit cuts nearest-first and says so", () => {
        const j = lineage(store(), "c", "cp", "--depth", "10", "--limit", "5");
        expect(j.truncated).toBe(true);
        expect(j.nodes).toHaveLength(5);
        const full = oracleWalk(db, runId("cp"), j, "ancestors", 10);
        const nearest = Object.values(full)
          .sort((x, y) => x - y)
          .slice(0, 5);
        expect(j.nodes.map((n) => n.depth)).toEqual(nearest);
      });

      it("path a → c: every simple chain networkx finds, shortest first", () => {
        const r = runCli(
          ["path", "--db", store(), "--json", "--max-paths", "1000", "--depth", "6", "a", "c", "cp"],
          {
            cwd: work,
          },
        );
        expect(r.status, r.stderr).toBe(0);
        const j = JSON.parse(r.stdout) as PathJson & { upstream: number[]; downstream: number[] };
        expect(j.reversed).toBe(false);
        expect(j.truncated).toBe(false);
        const want = oracle<number[][]>({
          op: "paths",
          db,
          run: runId("cp"),
          from: j.upstream[0],
          to: j.downstream[0],
          depth: 6,
        });
        expect(want.length).toBeGreaterThan(0);
        expect(j.paths.map((p) => p.nodes).sort()).toEqual(want.sort());
        const lengths = j.paths.map((p) => p.nodes.length);
        expect(lengths).toEqual([...lengths].sort((x, y) => x - y));
        // a copy chain: a → b v1 → c, both wasDerivedFrom (copy)
        expect(j.paths[0]?.nodes).toHaveLength(3);
        const edges = new Map(j.edges.map((e) => [e.id, e]));
        for (const p of j.paths)
          for (let i = 0; i + 1 < p.nodes.length; i++)
            expect(
              p.edges.some(
                (id) => edges.get(id)?.from === p.nodes[i + 1] && edges.get(id)?.to === p.nodes[i],
              ),
            ).toBe(true);
        // asked the wrong way round, the chains come back reversed
        const back = runCli(["path", "--db", store(), "--json", "c", "a", "cp"], { cwd: work });
        expect(back.status, back.stderr).toBe(0);
        expect((JSON.parse(back.stdout) as PathJson).reversed).toBe(true);
      });

      it("CamFlow: a path names the inode; networkx agrees", () => {
        const j = lineage(store(), "/etc/passwd", "camflow", "--descendants", "--depth", "3");
        expect(j.query.start).toHaveLength(1);
        // the start is the inode CamFlow's path node names
        const run = runId("camflow");
        const named = sql(
          `SELECT json_extract(p.attrs, '$.path') FROM edges e JOIN nodes p ON p.run_id = e.run_id AND p.id = e.dst
           WHERE e.run_id = ${run} AND e.src IN (SELECT id FROM nodes WHERE run_id = ${run}
           AND gid = (SELECT gid FROM nodes WHERE run_id = ${run} AND id = ${j.query.start[0]}))
           AND json_extract(e.attrs, '$.sourceType') = 'named'`,
        );
        expect(named).toContain("/etc/passwd");
        expect(j.nodes.length).toBeGreaterThan(10);
        expect(depthMap(j)).toEqual(oracleWalk(db, runId("camflow"), j, "descendants", 3));
        const up = lineage(store(), "pid:6400", "camflow", "--depth", "4", "--limit", "100000");
        expect(up.truncated).toBe(false);
        expect(depthMap(up)).toEqual(oracleWalk(db, runId("camflow"), up, "ancestors", 4));
      });

      it.runIf(hasDot)("DOT output is drawn by Graphviz", () => {
        for (const args of [
          ["lineage", "c", "cp", "--format", "dot"],
          ["path", "a", "c", "cp", "--format", "dot"],
          ["lineage", "/etc/passwd", "camflow", "--descendants", "--depth", "2", "--format", "dot"],
        ]) {
          const r = runCli([args[0] as string, "--db", store(), ...args.slice(1)], { cwd: work });
          expect(r.status, r.stderr).toBe(0);
          const svg = spawnSync("dot", ["-Tsvg"], { input: r.stdout, encoding: "utf8" });
          expect(svg.status, svg.stderr).toBe(0);
          expect(svg.stdout).toContain("<svg");
          expect(svg.stdout).toMatch(args[1] === "/etc/passwd" ? /\[task\]/ : /cp b c/);
        }
      });

      it("exit codes: node or run not found 6, no chain 1, bad option 2", () => {
        const nf = runCli(["lineage", "--db", store(), "no/such/file", "cp"], { cwd: work });
        expect(nf.status).toBe(6);
        expect(nf.stderr).toMatch(/no node .*no\/such\/file in run \d+ \(cp\) \(looked up as a path\)/);
        expect(runCli(["lineage", "--db", store(), "c", "no-such-run"], { cwd: work }).status).toBe(6);
        expect(runCli(["lineage", "--db", store(), "pid:999999999", "cp"], { cwd: work }).status).toBe(6);
        const none = runCli(["path", "--db", store(), "/usr/bin/cat", "/usr/bin/cp", "cp"], { cwd: work });
        expect(none.status, none.stderr).toBe(1);
        expect(none.stdout).toMatch(/^0 chains/m);
        expect(runCli(["lineage", "--db", store(), "c", "cp", "--depth", "x"], { cwd: work }).status).toBe(2);
        expect(
          runCli(["lineage", "--db", store(), "c", "cp", "--ancestors", "--descendants"], { cwd: work })
            .status,
        ).toBe(2);
        expect(
          runCli(["lineage", "--db", store(), "c", "cp", "--relations", "nope"], { cwd: work }).status,
        ).toBe(2);
      });
    });
  }
});
