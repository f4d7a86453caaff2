/**
 * Lineage in the database on a store of more than 10 million relations: ancestors to depth 5 of
 * random written files (store.lineage: one recursive query), on SQLite and PostgreSQL, beside the
 * naive way on the same data (read the run's relations, then walk them in memory), and the
 * time-ordered walk (`--causal`, one query per level) on the same files.
 *
 * The store is made of replicated builds, written through the stores' own appendBatch, so the rows
 * are the ones provflow writes: each run is one build of UNITS compile units by make; each unit is
 * cc forking cc1 (which reads the source, project and system headers, probes include directories
 * and writes a temporary .s, derived from what it read, as the graph builder's copy relations) and
 * as (which reads the .s and writes the .o), every process with its fork, exec and wait relations,
 * its executable, libraries and association with the user and the machine; ld links the objects.
 * The generated stores are kept in /tmp/provflow-bench/ (SQLite file, PostgreSQL schema
 * `provflow_bench_lineage`) and reused while the generator's version stays the same.
 *
 * Each measurement runs in a child process of its own, for its peak memory.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import type { GraphEdge, GraphNode, RelationType } from "../src/graph/prov-types.js";
import { DEFAULT_LINEAGE_RELATIONS } from "../src/store/lineage-params.js";
import { openPostgresStore } from "../src/store/postgres-store.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { Batch, GraphStore } from "../src/store/store-types.js";
import { median, row } from "./bench-util.js";

const OUT = "/tmp/provflow-bench";
const RUNS = Number(process.env.LINEAGE_BENCH_RUNS ?? 44);
const SQLITE_DB = `${OUT}/lineage-${RUNS}.db`;
const PG_URL = process.env.PROVFLOW_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const PG_SCHEMA = `provflow_bench_lineage_${RUNS}`;
/** bump when the generator changes: a cached store of another version is made again */
const GENERATOR = "lineage-gen-1";

const UNITS = 2000;
const PROJECT_HEADERS = 400;
const SYSTEM_HEADERS = 300;
const PROBE_PATHS = 900;
const SAMPLES = Number(process.env.LINEAGE_BENCH_SAMPLES ?? 200);
const NAIVE_SAMPLES = Number(process.env.LINEAGE_BENCH_NAIVE ?? 20);
/** descendants of inputs reach the whole build within 5 relations (through make's waits): fewer of them */
const DESC_SAMPLES = Math.min(SAMPLES, 50);
const DESC_NAIVE_SAMPLES = Math.min(NAIVE_SAMPLES, 10);
const DEPTH = 5;
const T0 = 1_790_000_000_000_000;

/** mulberry32: a seeded generator, so every store gets the same rows */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One replicated build as the graph builder would record it, in batches of about 50k relations. */
function* buildRun(replica: number): Generator<Batch> {
  const rand = rng(1000 + replica);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const host = `builder-${String(replica).padStart(2, "0")}`;
  const boot = `b00710${replica}`;
  const cwd = `/home/ci/project-${replica}`;
  let nodeId = 0;
  let edgeId = 0;
  let ts = T0 + replica * 10_000_000_000;
  let nodes: GraphNode[] = [];
  let edges: GraphEdge[] = [];
  const node = (n: Omit<GraphNode, "id">): number => {
    nodes.push({ id: ++nodeId, ...n });
    return nodeId;
  };
  const file = (path: string, category: string, version = 0): number =>
    node({
      kind: "entity",
      type: "file",
      gid: `file://${host}${path}`,
      version,
      label: path,
      start: null,
      end: null,
      attrs: version === 0 ? { path, category, access: { read: true } } : { path, category },
    });
  let pid = 4000;
  const proc = (p: number, ppid: number, gen: number, argv: string[], start: number): number =>
    node({
      kind: "activity",
      type: "process",
      gid: `proc://${host}/${boot}/${p}@${start}${gen > 0 ? `#${gen}` : ""}`,
      version: 0,
      label: gen === 0 ? `pid ${p}` : argv.join(" "),
      start,
      end: start + 50_000,
      attrs: { pid: p, ppid, generation: gen, exe: argv[0], argv, cwd, via: gen === 0 ? "fork" : undefined },
    });
  const rel = (type: RelationType, op: GraphEdge["op"], from: number, to: number, bytes = 0) => {
    ts += 3;
    edges.push({ id: ++edgeId, type, op, from, to, ts, tsEnd: ts, count: 1, bytes, attrs: {} });
  };
  const user = node({
    kind: "agent",
    type: "user",
    gid: `user://${host}/1000`,
    version: 0,
    label: "ci",
    start: null,
    end: null,
    attrs: { uid: 1000 },
  });
  const machine = node({
    kind: "agent",
    type: "machine",
    gid: `machine://${host}`,
    version: 0,
    label: host,
    start: null,
    end: null,
    attrs: { host },
  });
  const lib = (name: string) => file(`/usr/lib/x86_64-linux-gnu/${name}`, "shared-library");
  const libs = ["libc.so.6", "libm.so.6", "libz.so.1", "libzstd.so.1", "libgmp.so.10", "libmpfr.so.6"].map(
    lib,
  );
  const libsAs = ["libc.so.6", "libopcodes-2.40.so", "libbfd-2.40.so", "libsframe.so.0"].map(lib);
  const ldCache = file("/etc/ld.so.cache", "system-config");
  const locale = [
    file("/usr/lib/locale/locale-archive", "system-data"),
    file("/etc/locale.alias", "system-config"),
  ];
  const exe = (name: string) => file(name, "executable");
  const [makeExe, ccExe, cc1Exe, asExe, ldExe] = [
    "/usr/bin/make",
    "/usr/bin/gcc-12",
    "/usr/libexec/gcc/x86_64-linux-gnu/12/cc1",
    "/usr/bin/x86_64-linux-gnu-as",
    "/usr/bin/x86_64-linux-gnu-ld.bfd",
  ].map(exe) as [number, number, number, number, number];
  const sysHeaders = Array.from({ length: SYSTEM_HEADERS }, (_, i) =>
    file(`/usr/include/h${i}.h`, "system-data"),
  );
  const projHeaders = Array.from({ length: PROJECT_HEADERS }, (_, i) =>
    file(`${cwd}/include/p${i}.h`, "user-data"),
  );
  const probes = Array.from({ length: PROBE_PATHS }, (_, i) =>
    file(`/usr/local/include/${i % 3 === 0 ? "x86_64-linux-gnu/" : ""}h${i}.h`, "other"),
  );
  const sources = Array.from({ length: UNITS }, (_, i) => file(`${cwd}/src/u${i}.c`, "user-data"));
  const activity = (argv: string[], parent: number, parentPid: number, start: number) => {
    const p = ++pid;
    const g0 = proc(p, parentPid, 0, [], start);
    const g1 = proc(p, parentPid, 1, argv, start + 100);
    rel("wasInformedBy", "fork", g0, parent);
    rel("wasInformedBy", "exec", g1, g0);
    for (const a of [g0, g1]) {
      rel("wasAssociatedWith", "associated", a, user);
      rel("wasAssociatedWith", "associated", a, machine);
    }
    return { g1, pid: p };
  };
  const flush = function* (force: boolean): Generator<Batch> {
    if (!force && edges.length < 50_000) return;
    yield { nodes, edges, steps: [], problems: [] };
    nodes = [];
    edges = [];
  };
  const make0 = proc(++pid, 1, 0, [], ts);
  const make1 = proc(pid, 1, 1, ["make", "-j2"], ts + 100);
  const makePid = pid;
  rel("wasInformedBy", "exec", make1, make0);
  rel("used", "execute", make1, makeExe);
  const objects: number[] = [];
  for (let u = 0; u < UNITS; u++) {
    const cc = activity(["gcc-12", "-c", `src/u${u}.c`, "-Iinclude", "-O2"], make1, makePid, ts);
    rel("used", "execute", cc.g1, ccExe);
    rel("used", "read", cc.g1, ldCache, 4096);
    rel("used", "map", cc.g1, libs[0] as number);
    rel("used", "map", cc.g1, libs[1] as number);
    rel("used", "map", cc.g1, libs[2] as number);
    const cc1 = activity(["cc1", `src/u${u}.c`, "-quiet", "-O2"], cc.g1, cc.pid, ts);
    rel("used", "execute", cc1.g1, cc1Exe);
    for (const l of libs) rel("used", "map", cc1.g1, l);
    rel("used", "read", cc1.g1, ldCache, 4096);
    for (const l of locale) rel("used", "read", cc1.g1, l, 2048);
    const read = [sources[u] as number];
    rel("used", "read", cc1.g1, sources[u] as number, 8192);
    const hs = new Set<number>();
    while (hs.size < 10) hs.add(pick(projHeaders));
    while (hs.size < 25) hs.add(pick(sysHeaders));
    for (const h of hs) {
      rel("used", "read", cc1.g1, h, 4096);
      read.push(h);
    }
    const ps = new Set<number>();
    while (ps.size < 12) ps.add(pick(probes));
    for (const p of ps) rel("used", "probe", cc1.g1, p);
    const tmpPath = `/tmp/cc${(u * 7919 + replica).toString(36)}.s`;
    const s0 = file(tmpPath, "temporary");
    const s1 = file(tmpPath, "temporary", 1);
    rel("wasGeneratedBy", "create", s0, cc1.g1);
    rel("wasDerivedFrom", "version", s1, s0);
    rel("wasGeneratedBy", "write", s1, cc1.g1, 40_000);
    for (const r of read) rel("wasDerivedFrom", "copy", s1, r);
    rel("wasInformedBy", "wait", cc.g1, cc1.g1);
    const as = activity(["as", "-o", `obj/u${u}.o`, tmpPath], cc.g1, cc.pid, ts);
    rel("used", "execute", as.g1, asExe);
    for (const l of libsAs) rel("used", "map", as.g1, l);
    rel("used", "read", as.g1, ldCache, 4096);
    rel("used", "read", as.g1, s1, 40_000);
    const o0 = file(`${cwd}/obj/u${u}.o`, "user-data");
    const o1 = file(`${cwd}/obj/u${u}.o`, "user-data", 1);
    rel("wasGeneratedBy", "create", o0, as.g1);
    rel("wasDerivedFrom", "version", o1, o0);
    rel("wasGeneratedBy", "write", o1, as.g1, 12_000);
    rel("wasDerivedFrom", "copy", o1, s1);
    rel("wasInformedBy", "wait", cc.g1, as.g1);
    rel("wasInvalidatedBy", "delete", s1, cc.g1);
    rel("wasInformedBy", "wait", make1, cc.g1);
    objects.push(o1);
    yield* flush(false);
  }
  const ld = activity(["ld", "-o", "app", "obj/*.o"], make1, makePid, ts);
  rel("used", "execute", ld.g1, ldExe);
  for (const l of libsAs) rel("used", "map", ld.g1, l);
  for (const o of objects) rel("used", "read", ld.g1, o, 12_000);
  const app0 = file(`${cwd}/app`, "user-data");
  const app1 = file(`${cwd}/app`, "user-data", 1);
  rel("wasGeneratedBy", "create", app0, ld.g1);
  rel("wasDerivedFrom", "version", app1, app0);
  rel("wasGeneratedBy", "write", app1, ld.g1, 2_000_000);
  for (const o of objects.slice(0, 32)) rel("wasDerivedFrom", "copy", app1, o);
  rel("wasInformedBy", "wait", make1, ld.g1);
  yield* flush(true);
}

function log(msg: string): void {
  process.stderr.write(`lineage-bench: ${msg}\n`);
}

/** Writes the replicated builds into a store; returns the relations written. */
async function generate(store: GraphStore): Promise<number> {
  let total = 0;
  for (let r = 0; r < RUNS; r++) {
    const id = await store.createRun({
      name: `build-${r}`,
      source: "strace",
      command: ["make", "-j2"],
      host: `builder-${String(r).padStart(2, "0")}`,
      cwd: `/home/ci/project-${r}`,
      start: T0,
    });
    for (const b of buildRun(r)) {
      await store.appendBatch(id, b);
      total += b.edges.length;
    }
    await store.updateRun(id, { status: "complete", end: T0 + 1 });
    if (r % 5 === 4) log(`${store.engine}: ${r + 1}/${RUNS} runs, ${total} relations`);
  }
  return total;
}

/** Is the cached store there, whole, made by this generator? (its marker run is written last) */
async function cached(store: GraphStore): Promise<boolean> {
  const marker = await store.findRun(GENERATOR);
  const builds = (await store.listRuns()).filter((r) => r.name.startsWith("build-"));
  return marker?.status === "complete" && builds.length === RUNS;
}

async function openBench(engine: string, fresh: boolean): Promise<GraphStore> {
  if (engine === "sqlite") {
    if (fresh) for (const s of ["", "-wal", "-shm"]) rmSync(SQLITE_DB + s, { force: true });
    return openSqliteStore(SQLITE_DB);
  }
  const url = new URL(PG_URL);
  url.searchParams.set("schema", PG_SCHEMA);
  if (fresh) {
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
    await c.end();
  }
  return openPostgresStore(url.toString());
}

/** Makes the store unless it is cached; returns (relations in it, seconds spent making it or null). */
async function ensureStore(engine: string): Promise<{ edges: number; genS: number | null }> {
  let store = await openBench(engine, false).catch(() => null);
  if (store !== null && (await cached(store).catch(() => false))) {
    const runs = await store.listRuns();
    await store.close();
    return { edges: runs.reduce((n, r) => n + r.edgeCount, 0), genS: null };
  }
  await store?.close().catch(() => undefined);
  log(
    `${engine}: generating ${RUNS} replicated builds (cached afterwards in ${engine === "sqlite" ? SQLITE_DB : `schema ${PG_SCHEMA}`})`,
  );
  store = await openBench(engine, true);
  const t = performance.now();
  const edges = await generate(store);
  // the marker run: the store is whole
  const marker = await store.createRun({
    name: GENERATOR,
    source: "bench",
    command: ["bench"],
    host: "bench",
  });
  await store.updateRun(marker, { status: "complete" });
  await store.close();
  if (engine === "postgres") {
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    // what autovacuum would do after a bulk load: statistics and the visibility map (index-only scans)
    await c.query(`VACUUM (ANALYZE) ${PG_SCHEMA}.edges`);
    await c.query(`VACUUM (ANALYZE) ${PG_SCHEMA}.nodes`);
    await c.end();
  }
  return { edges, genS: (performance.now() - t) / 1000 };
}

interface PhaseResult {
  ms: number[];
  sizes: number[];
  truncated: number;
  /** per query: the answer was truncated */
  cut: boolean[];
  peakRssMb: number;
  /** node-id sets, for checking the two ways agree */
  sets: string[];
}

type Direction = "ancestors" | "descendants";

/** Does a node make a sample: ancestors of written files (newest versions), descendants of inputs (sources, headers). */
function wanted(node: GraphNode | undefined, direction: Direction): boolean {
  if (node?.kind !== "entity") return false;
  if (direction === "ancestors") return node.version > 0;
  return node.version === 0 && /\/(src|include)\/[^/]+\.[ch]$/.test(String(node.attrs.path));
}

/** The files to ask about, a seeded sample over every run. */
async function samples(
  store: GraphStore,
  n: number,
  direction: Direction,
): Promise<{ runId: number; id: number }[]> {
  const runs = (await store.listRuns()).filter((r) => r.name.startsWith("build-"));
  const rand = rng(42);
  const out: { runId: number; id: number }[] = [];
  for (let i = 0; i < n; i++) {
    const run = runs[Math.floor(rand() * runs.length)];
    if (run === undefined) break;
    // node ids of a build are dense: try ids until one makes a sample
    for (;;) {
      const id = 1 + Math.floor(rand() * run.nodeCount);
      const [node] = await store.getNodes(run.id, { ids: [id] });
      if (wanted(node, direction)) {
        out.push({ runId: run.id, id });
        break;
      }
    }
  }
  return out;
}

/** The run's relations of the followed types, (src, dst) pairs as the driver hands them, no more. */
async function readPairs(engine: string, runId: number): Promise<[number, number][]> {
  const types = [...DEFAULT_LINEAGE_RELATIONS];
  if (engine === "sqlite") {
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(SQLITE_DB, { readonly: true });
    try {
      return db
        .prepare("SELECT src, dst FROM edges WHERE run_id = ? AND type IN (SELECT value FROM json_each(?))")
        .raw()
        .all(runId, JSON.stringify(types)) as [number, number][];
    } finally {
      db.close();
    }
  }
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const r = await c.query<[string, string]>({
      text: `SELECT src, dst FROM ${PG_SCHEMA}.edges WHERE run_id = $1 AND type = ANY($2::text[])`,
      values: [runId, types],
      rowMode: "array",
    });
    return r.rows.map(([a, b]) => [Number(a), Number(b)]);
  } finally {
    await c.end();
  }
}

/** The naive way: read the run's relations (only the two ends), then walk them in memory. */
async function naiveWalk(
  engine: string,
  runId: number,
  start: number,
  direction: Direction,
): Promise<Set<number>> {
  const out = new Map<number, number[]>();
  for (const [src, dst] of await readPairs(engine, runId)) {
    const [from, to] = direction === "ancestors" ? [src, dst] : [dst, src];
    const list = out.get(from);
    if (list === undefined) out.set(from, [to]);
    else list.push(to);
  }
  const seen = new Set([start]);
  let frontier = [start];
  for (let d = 0; d < DEPTH && frontier.length > 0; d++) {
    const next: number[] = [];
    for (const n of frontier)
      for (const m of out.get(n) ?? [])
        if (!seen.has(m)) {
          seen.add(m);
          next.push(m);
        }
    frontier = next;
  }
  return seen;
}

async function phase(engine: string, way: string, count: number, direction: Direction): Promise<PhaseResult> {
  const store = await openBench(engine, false);
  const picks = await samples(store, count, direction);
  const res: PhaseResult = { ms: [], sizes: [], truncated: 0, cut: [], peakRssMb: 0, sets: [] };
  const chosen = picks.slice(0, count);
  // warm-up: the first queries read the indexes from disk
  const causal = way === "causal";
  for (const p of chosen.slice(0, 5))
    await store.lineage({ runId: p.runId, start: [p.id], direction, depth: DEPTH, causal });
  for (const p of chosen) {
    const t = performance.now();
    let ids: number[];
    if (way === "ours" || causal) {
      const r = await store.lineage({ runId: p.runId, start: [p.id], direction, depth: DEPTH, causal });
      ids = r.nodes.map((n) => n.id);
      if (r.truncated) res.truncated++;
      res.cut.push(r.truncated);
    } else ids = [...(await naiveWalk(engine, p.runId, p.id, direction))];
    res.ms.push(performance.now() - t);
    res.sizes.push(ids.length);
    res.sets.push(ids.sort((a, b) => a - b).join(","));
  }
  await store.close();
  res.peakRssMb = process.resourceUsage().maxRSS / 1024;
  return res;
}

function runPhase(engine: string, way: string, count: number, direction: Direction): PhaseResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, self, "--phase", engine, way, String(count), direction],
    {
      encoding: "utf8",
      maxBuffer: 256 << 20,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  if (r.status !== 0) throw new Error(`lineage bench phase ${engine}/${way} failed (status ${r.status})`);
  return JSON.parse(r.stdout) as PhaseResult;
}

const p95 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))] ?? Number.NaN;
const f1 = (x: number) => x.toFixed(1);

export async function lineageBench(): Promise<string[]> {
  mkdirSync(OUT, { recursive: true });
  const lines = [
    `### Lineage: ancestors and descendants to depth ${DEPTH}, on a store of more than 10 million relations`,
    "",
    `${RUNS} replicated builds of ${UNITS} compile units each (make → cc → cc1 + as, ld), written through each store's appendBatch; ` +
      `${SAMPLES} random written files (newest versions; ${DESC_SAMPLES} sources or headers for descendants) for provflow's recursive query (store.lineage, default limit 10,000 nodes), the first ${NAIVE_SAMPLES} (${DESC_NAIVE_SAMPLES}) of them for the naive way ` +
      "(read the run's relations — only their two ends, of the followed types — then walk them in memory). Load average before: " +
      `${(loadavg()[0] ?? 0).toFixed(1)} (the machine is shared with other sessions).`,
    "",
    row([
      "store",
      "relations",
      "made in",
      "question (depth 5)",
      "way",
      "queries",
      "median ms",
      "p95 ms",
      "nodes (median)",
      "truncated",
      "peak RSS MB",
      "naive / ours (median)",
    ]),
    row(["---", "---:", "---:", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
  ];
  for (const engine of ["sqlite", "postgres"]) {
    let made: { edges: number; genS: number | null };
    try {
      made = await ensureStore(engine);
    } catch (err) {
      lines.push(`| ${engine} | skipped: ${(err as Error).message.replace(/\|/g, "/")} |`);
      continue;
    }
    const madeIn = made.genS === null ? "cached" : `${made.genS.toFixed(0)} s`;
    const questions: [Direction, string, number, number][] = [
      ["ancestors", "ancestors of a written file", SAMPLES, NAIVE_SAMPLES],
      ["descendants", "descendants of a source or header", DESC_SAMPLES, DESC_NAIVE_SAMPLES],
    ];
    let first = true;
    for (const [direction, what, count, naiveCount] of questions) {
      const ours = runPhase(engine, "ours", count, direction);
      const naive = runPhase(engine, "naive", naiveCount, direction);
      const causal = runPhase(engine, "causal", count, direction);
      // both ways must find the same nodes (when the answer was not truncated)
      const agree = naive.sets.every((s, i) => ours.cut[i] === true || s === ours.sets[i]);
      if (!agree)
        throw new Error(`${engine}: the recursive query and the naive walk disagree (${direction})`);
      // time order only ever leaves nodes out
      const within = causal.sets.every((s, i) => {
        if (ours.cut[i] === true || causal.cut[i] === true) return true;
        const all = new Set(ours.sets[i]?.split(","));
        return s.split(",").every((id) => all.has(id));
      });
      if (!within)
        throw new Error(`${engine}: a time-ordered walk found a node the plain walk did not (${direction})`);
      lines.push(
        row([
          first ? engine : "",
          first ? made.edges.toLocaleString("en") : "",
          first ? madeIn : "",
          what,
          "recursive query (ours)",
          ours.ms.length,
          f1(median(ours.ms)),
          f1(p95(ours.ms)),
          median(ours.sizes),
          ours.truncated,
          f1(ours.peakRssMb),
          "",
        ]),
        row([
          "",
          "",
          "",
          "",
          "read all + walk (naive)",
          naive.ms.length,
          f1(median(naive.ms)),
          f1(p95(naive.ms)),
          median(naive.sizes),
          "",
          f1(naive.peakRssMb),
          `${(median(naive.ms) / median(ours.ms)).toFixed(0)}×`,
        ]),
        row([
          "",
          "",
          "",
          "",
          "time order (--causal: a query per level)",
          causal.ms.length,
          f1(median(causal.ms)),
          f1(p95(causal.ms)),
          median(causal.sizes),
          causal.truncated,
          f1(causal.peakRssMb),
          `${(median(naive.ms) / median(causal.ms)).toFixed(0)}×`,
        ]),
      );
      first = false;
    }
  }
  lines.push("", `Load average after: ${(loadavg()[0] ?? 0).toFixed(1)}.`);
  return lines;
}

if (process.argv[2] === "--phase") {
  const [engine, way, count, direction] = process.argv.slice(3) as [string, string, string, Direction];
  const r = await phase(engine, way, Number(count), direction);
  process.stdout.write(JSON.stringify(r));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${(await lineageBench()).join("\n")}\n`);
}
