import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { categorizePath } from "../src/graph/file-category.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { openPostgresStore } from "../src/store/postgres-store.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { GraphStore } from "../src/store/store-types.js";
import { launchChromium, startServe } from "../test/helpers/browser.js";
import { median, row } from "./bench-util.js";

const CLI = resolve(import.meta.dirname, "../dist/provflow.js");
const PG_URL = process.env.PROVFLOW_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const T0 = 1_764_000_000_000_000;

/**
 * A big parallel build as one run: make forks UNITS compiler drivers (gcc, which execs and forks cc1
 * and as); each unit reads its source and HEADERS headers out of a shared pool, writes a temporary
 * assembly file and an object; a final link reads every object. 50,000+ nodes, ~190,000 relations.
 */
export function buildRunGraph(units: number, headers = 30): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  let nid = 0;
  let eid = 0;
  const proc = (pid: number, argv: string[], start: number, end: number, generation = 0): number => {
    const id = ++nid;
    nodes.push({
      id,
      kind: "activity",
      type: "process",
      gid: `proc://bench/boot/${pid}@${start}#${generation}`,
      version: 0,
      label: argv.join(" "),
      start,
      end,
      attrs: { pid, exe: argv[0], argv, generation, exitCode: 0, cwd: "/build" },
    });
    return id;
  };
  const file = (path: string, version = 0, start: number | null = null): number => {
    const id = ++nid;
    nodes.push({
      id,
      kind: "entity",
      type: "file",
      gid: `file://bench${path}`,
      version,
      label: path,
      start,
      end: null,
      attrs: { path, category: categorizePath(path) },
    });
    return id;
  };
  const rel = (type: GraphEdge["type"], op: GraphEdge["op"], from: number, to: number, ts: number) => {
    edges.push({ id: ++eid, type, op, from, to, ts, tsEnd: ts, count: 1, bytes: 4096, attrs: {} });
  };
  const span = units * 2000;
  const make = proc(1000, ["/usr/bin/make", "-j16"], T0, T0 + span + 50_000);
  const pool = Math.max(headers * 4, Math.floor(units * 7.5));
  const headerIds: number[] = [];
  for (let h = 0; h < pool; h++) headerIds.push(file(`/usr/include/lib${h % 97}/h${h}.h`));
  const objects: number[] = [];
  for (let u = 0; u < units; u++) {
    const t = T0 + u * 2000;
    const pid = 2000 + u * 3;
    const g0 = proc(pid, ["/usr/bin/make"], t, t + 10, 0);
    rel("wasInformedBy", "fork", g0, make, t);
    const gcc = proc(pid, ["/usr/bin/gcc", "-c", `src/u${u}.c`], t + 10, t + 1900, 1);
    rel("wasInformedBy", "exec", gcc, g0, t + 10);
    const cc1 = proc(pid + 1, ["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", `src/u${u}.c`], t + 20, t + 1200, 0);
    rel("wasInformedBy", "fork", cc1, gcc, t + 20);
    const as = proc(pid + 2, ["/usr/bin/as", `/tmp/cc${u}.s`], t + 1210, t + 1800, 0);
    rel("wasInformedBy", "fork", as, gcc, t + 1210);
    rel("wasInformedBy", "wait", gcc, cc1, t + 1205);
    rel("wasInformedBy", "wait", gcc, as, t + 1805);
    rel("wasInformedBy", "wait", make, gcc, t + 1905);
    const src = file(`/build/src/u${u}.c`);
    rel("used", "read", cc1, src, t + 30);
    for (let k = 0; k < headers; k++)
      rel("used", "read", cc1, headerIds[(u * 13 + k * 7) % pool] as number, t + 40 + k);
    const asm = file(`/tmp/cc${u}.s`, 1, t + 1100);
    rel("wasGeneratedBy", "write", asm, cc1, t + 1100);
    rel("used", "read", as, asm, t + 1220);
    const obj = file(`/build/obj/u${u}.o`, 1, t + 1700);
    rel("wasGeneratedBy", "write", obj, as, t + 1700);
    objects.push(obj);
  }
  const ld = proc(9_000_000, ["/usr/bin/ld", "-o", "app"], T0 + span, T0 + span + 40_000);
  rel("wasInformedBy", "fork", ld, make, T0 + span);
  for (const o of objects) rel("used", "read", ld, o, T0 + span + 100);
  const app = file("/build/app", 1, T0 + span + 39_000);
  rel("wasGeneratedBy", "write", app, ld, T0 + span + 39_000);
  return { nodes, edges };
}

async function seed(
  store: GraphStore,
  name: string,
  g: { nodes: GraphNode[]; edges: GraphEdge[] },
): Promise<number> {
  const id = await store.createRun({
    name,
    source: "bench",
    command: ["make", "-j16"],
    host: "bench",
    cwd: "/build",
    start: T0,
  });
  const step = 10_000;
  for (let i = 0; i < Math.max(g.nodes.length, g.edges.length); i += step) {
    await store.appendBatch(id, {
      nodes: g.nodes.slice(i, i + step),
      edges: g.edges.slice(i, i + step),
      steps: [],
      problems: [],
    });
  }
  const end = Math.max(...g.nodes.map((n) => n.end ?? 0));
  await store.updateRun(id, { status: "complete", end, exitCode: 0 });
  return id;
}

/** 1,000 new elements in the run (a live trace going on): 400 processes ending, 300 files, 300 relations. */
function moreElements(
  g: { nodes: GraphNode[]; edges: GraphEdge[] },
  round: number,
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const base = g.nodes.length + round * 1000;
  const ebase = g.edges.length + round * 1000;
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (let i = 0; i < 400; i++) {
    const p = g.nodes[(round * 400 + i) % g.nodes.length] as GraphNode;
    nodes.push({ ...p, end: (p.end ?? p.start ?? T0) + 1 });
  }
  for (let i = 0; i < 300; i++) {
    const path = `/build/gen/r${round}/f${i}.o`;
    nodes.push({
      id: base + i + 1,
      kind: "entity",
      type: "file",
      gid: `file://bench${path}`,
      version: 1,
      label: path,
      start: T0,
      end: null,
      attrs: { path },
    });
    edges.push({
      id: ebase + i + 1,
      type: "wasGeneratedBy",
      op: "write",
      from: base + i + 1,
      to: 1,
      ts: T0,
      tsEnd: T0,
      count: 1,
      bytes: 1,
      attrs: {},
    });
  }
  return { nodes, edges };
}

function vmHwmMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

async function timeFetch(url: string, repeat = 1): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    times.push(performance.now() - t);
  }
  return median(times);
}

/**
 * The server and the web UI on a 50k-node run (docs/benchmarks.md, "Server and web UI"): the batchflow
 * and graph views opened in headless chromium (navigation until drawn), the changes endpoint after
 * 1,000 new elements (SQLite and PostgreSQL), each beside a peer on the same data.
 */
export async function serverBench(): Promise<string[]> {
  const units = Number(process.env.PROVFLOW_BENCH_UNITS ?? 3500);
  const repeat = Number(process.env.BENCH_REPEAT ?? 3);
  const lines = ["### Server and web UI (`provflow serve`, headless chromium)", ""];
  const dir = mkdtempSync(join(tmpdir(), "pf-server-bench-"));
  const db = join(dir, "runs.db");
  const g = buildRunGraph(units);
  const store = openSqliteStore(db);
  const runId = await seed(store, "big-build", g);
  lines.push(
    `Input: a synthetic parallel build as one run (bench/server-bench.ts): ${g.nodes.length.toLocaleString("en-US")} nodes (${(units * 4 + 2).toLocaleString("en-US")} processes), ${g.edges.length.toLocaleString("en-US")} relations, SQLite. Load average at start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} (2 cores shared with other jobs).`,
    "",
  );
  const browser = await launchChromium("the server benchmark");
  if (browser === null) return [...lines, "chromium is not installed: skipped", ""];
  const serve = await startServe(db);
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    const heapMb = async () => {
      const { metrics } = (await cdp.send("Performance.getMetrics")) as {
        metrics: { name: string; value: number }[];
      };
      return (metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? Number.NaN) / 1e6;
    };
    const open = async (hash: string, ready: string, after?: () => Promise<void>): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < repeat; i++) {
        await page.goto("about:blank");
        const t = performance.now();
        await page.goto(`${serve.url}${hash}`);
        await page.waitForFunction(`document.body.dataset.ready === "1" && ${ready}`, null, {
          timeout: 60_000,
          polling: 20,
        });
        // one more frame: what was drawn is on screen
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
        times.push(performance.now() - t);
        await after?.();
      }
      if (process.env.BENCH_VERBOSE)
        process.stderr.write(`bench: ${hash} ${times.map((x) => x.toFixed(0)).join(" ")} ms\n`);
      return median(times);
    };
    const empty = await open("#/", "document.querySelector('tr.run-row') !== null");
    const batchflow = await open(`#/run/${runId}`, "document.querySelectorAll('.bf-row').length > 10");
    const bfHeap = await heapMb();
    // scrolling the batchflow: the page's own JavaScript per step (CPU profile), and the time until the
    // step is on screen (frame latency: the browser's raster and compositing, software GL here)
    const jsPerStep = async (
      steps: number,
      act: () => Promise<void>,
    ): Promise<{ js: number; frame: number }> => {
      await cdp.send("Profiler.enable");
      await cdp.send("Profiler.start");
      const t = performance.now();
      await act();
      const frame = (performance.now() - t) / steps;
      const { profile } = (await cdp.send("Profiler.stop")) as {
        profile: {
          nodes: { id: number; callFrame: { functionName: string; url: string } }[];
          samples: number[];
          timeDeltas: number[];
        };
      };
      const own = new Set(profile.nodes.filter((n) => n.callFrame.url.endsWith("/app.js")).map((n) => n.id));
      let us = 0;
      profile.samples.forEach((id, i) => {
        if (own.has(id)) us += profile.timeDeltas[i] ?? 0;
      });
      return { js: us / 1000 / steps, frame };
    };
    const scroll = await jsPerStep(20, () =>
      page.evaluate(async () => {
        const el = document.querySelector(".bf-scroll") as HTMLElement;
        for (let i = 1; i <= 20; i++) {
          el.scrollTop = i * 2000;
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        }
      }),
    );
    // the graph view draws every node and the process tree first (the page marks that frame), the
    // other relations after: the first figure is navigation until that frame, the second until every
    // relation is drawn (and one more frame)
    const firstFrames: number[] = [];
    const graphAll = await open(
      `#/run/${runId}/graph`,
      "document.querySelector('.graph-stage[data-complete]') !== null",
      async () => {
        const at = await page.evaluate(
          () => performance.getEntriesByName("graph: first frame").at(-1)?.startTime ?? Number.NaN,
        );
        firstFrames.push(at);
      },
    );
    const graph = median(firstFrames);
    const graphHeap = await heapMb();
    // interactivity: a filter toggled (every node through the reducers) and zoom steps, until drawn
    const toggle = await jsPerStep(2, () =>
      page.evaluate(async () => {
        const box = document.querySelector('[data-filter="file"]') as HTMLInputElement;
        for (let i = 0; i < 2; i++) {
          box.click();
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        }
      }),
    );
    const stage = (await page.locator(".graph-stage").boundingBox())!;
    await page.mouse.move(stage.x + stage.width / 2, stage.y + stage.height / 2);
    const zoom = await jsPerStep(6, async () => {
      for (let i = 0; i < 6; i++) {
        await page.mouse.wheel(0, i % 2 === 0 ? -300 : 300);
        await page.waitForTimeout(300);
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      }
    });
    const phases = await page.evaluate(() =>
      performance
        .getEntriesByType("measure")
        .filter((m) => m.name.startsWith("graph: "))
        .slice(-8)
        .map((m) => `${m.name.slice(7)} ${(m.duration / 1000).toFixed(2)} s`)
        .join(", "),
    );
    // peer: the same run's data through the CLI (provflow export --format jsonl), and the API's own full graph
    const exportTimes: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const t = performance.now();
      const r = spawnSync(process.execPath, [
        CLI,
        "export",
        String(runId),
        "--db",
        db,
        "--format",
        "jsonl",
        "-o",
        join(dir, "out.jsonl"),
      ]);
      if (r.status !== 0) throw new Error(`export: ${r.stderr}`);
      exportTimes.push(performance.now() - t);
    }
    const exportMs = median(exportTimes);
    const graphJson = await timeFetch(`${serve.url}api/runs/${runId}/graph?format=columns`, repeat);
    const serverMb = vmHwmMb(serve.child.pid);
    const s = (ms: number) => (ms / 1000).toFixed(2);
    lines.push(
      row([
        "view (50k-node run)",
        `opens in s (median of ${repeat})`,
        "goal",
        "peer: `provflow export --format jsonl` of the same run, s",
        "ratio",
        "page JS heap MB",
      ]),
      row(["---", "---", "---", "---", "---", "---"]),
      row(["runs list (floor: the page and one small request)", s(empty), "", "", "", ""]),
      row([
        "batchflow (first screen of a run)",
        s(batchflow),
        "< 3",
        s(exportMs),
        `${(batchflow / exportMs).toFixed(2)}×`,
        bfHeap.toFixed(0),
      ]),
      row([
        "graph (WebGL): first frame, every node and the process tree (the page's mark)",
        s(graph),
        "< 5",
        s(exportMs),
        `${(graph / exportMs).toFixed(2)}×`,
        "",
      ]),
      row([
        "graph (WebGL): every relation drawn too",
        s(graphAll),
        "< 5",
        s(exportMs),
        `${(graphAll / exportMs).toFixed(2)}×`,
        graphHeap.toFixed(0),
      ]),
      "",
      `Interaction on the 50k-node run, the page's JavaScript per step (CPU profile) / until drawn: batchflow scroll ${scroll.js.toFixed(1)} ms / ${scroll.frame.toFixed(0)} ms; graph filter toggle ${toggle.js.toFixed(0)} ms / ${toggle.frame.toFixed(0)} ms; graph zoom step ${zoom.js.toFixed(0)} ms / ${(zoom.frame - 300).toFixed(0)} ms. Graph view phases (last opening): ${phases}. The graph's data alone (GET /api/runs/${runId}/graph?format=columns, ${g.nodes.length.toLocaleString("en-US")} nodes + ${g.edges.length.toLocaleString("en-US")} relations) takes ${s(graphJson)} s. Server peak RSS ${serverMb.toFixed(0)} MB.`,
      "",
    );
  } finally {
    await browser.close();
    await serve.stop();
  }

  // the changes endpoint: 1,000 new elements since the cursor, on SQLite and PostgreSQL
  lines.push(
    row([
      "store",
      "changes: 1k new elements, ms (median)",
      "goal",
      "peer: the whole run again (GET …/graph), ms",
      "ratio",
    ]),
    row(["---", "---", "---", "---", "---"]),
  );
  const changes = async (label: string, target: GraphStore, id: number) => {
    const { startServer } = await import("../src/server/http-server.js");
    const server = await startServer({ store: target, port: 0 });
    try {
      const times: number[] = [];
      for (let round = 0; round < Math.max(5, repeat); round++) {
        const { cursor } = (await (await fetch(`${server.url}api/runs/${id}/changes?limit=0`)).json()) as {
          cursor: string;
        };
        const more = moreElements(g, round);
        await target.appendBatch(id, { ...more, steps: [], problems: [] });
        // a read queued after the write: it is committed before the clock starts (PostgreSQL's
        // appendBatch returns while the server writes)
        await target.currentSeq();
        const t = performance.now();
        const body = (await (await fetch(`${server.url}api/runs/${id}/changes?since=${cursor}`)).json()) as {
          nodes: unknown[];
          edges: unknown[];
        };
        times.push(performance.now() - t);
        if (body.nodes.length + body.edges.length !== 1000)
          throw new Error(`${label}: ${body.nodes.length + body.edges.length} changes, not 1000`);
      }
      const full = await timeFetch(`${server.url}api/runs/${id}/graph`, repeat);
      const ms = median(times);
      lines.push(row([label, ms.toFixed(1), "< 50", full.toFixed(0), `${(ms / full).toFixed(3)}×`]));
    } finally {
      await server.close();
    }
  };
  await changes("SQLite", store, runId);
  await store.close();
  const schema = `pf_bench_server_${process.pid}`;
  const pgUrl = `${PG_URL}${PG_URL.includes("?") ? "&" : "?"}schema=${schema}`;
  const pgStore = openPostgresStore(pgUrl);
  try {
    const pgRun = await seed(pgStore, "big-build", g);
    await changes("PostgreSQL", pgStore, pgRun);
  } catch (err) {
    lines.push(row(["PostgreSQL", `not measured: ${(err as Error).message}`, "", "", ""]));
  } finally {
    await pgStore.close();
    const pg = (await import("pg")).default;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
  lines.push("");
  rmSync(dir, { recursive: true, force: true });
  return lines;
}
