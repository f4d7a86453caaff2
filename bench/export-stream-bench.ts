import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { Step } from "../src/store/store-types.js";
import { measure, row } from "./bench-util.js";

const OUT = "/tmp/provflow-bench";
const CLI = resolve(import.meta.dirname, "../dist/provflow.js");
const PY = "/usr/bin/python3";

/**
 * The formats measured (dockerfile writes a build context, not a stream: left out); BENCH_EXPORT_FORMATS
 * (comma-separated) picks some, BENCH_EXPORT_PEER=0 leaves the peer out.
 */
const ALL_FORMATS = [
  "prov-json",
  "prov-n",
  "prov-xml",
  "turtle",
  "dot",
  "jsonl",
  "csv",
  "edges",
  "spade-json",
  "spade-dot",
  "xes",
  "ocel",
  "perfetto",
];
const FORMATS = process.env.BENCH_EXPORT_FORMATS?.split(",") ?? ALL_FORMATS;

/**
 * A synthetic run shaped like a build (what strace records of `make -j`): one process per 1000
 * relations (forked from the previous, exec'd, associated with the machine), one file per 10
 * relations (sources, headers, objects: read by many processes, written once), the relations 70 %
 * reads, 20 % writes, the rest fork/exec/association, and one step of the calls log per 10
 * relations. Built with the store's own appendBatch, cached under /tmp/provflow-bench.
 */
async function buildRun(path: string, relations: number): Promise<void> {
  const tmp = `${path}.tmp`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  const store = openSqliteStore(tmp);
  const t0 = 1_800_000_000_000_000;
  const procs = Math.max(10, Math.floor(relations / 1000));
  const files = Math.max(10, Math.floor(relations / 10));
  const machine = procs + 1;
  const firstFile = procs + 2;
  {
    const runId = await store.createRun({
      name: `export-bench-${relations}`,
      source: "strace",
      command: ["make", "-j8"],
      host: "bench",
      cwd: "/src/project",
      user: "builder",
      start: t0,
    });
    let nodes: GraphNode[] = [];
    const flush = async (edges: GraphEdge[] = [], steps: Step[] = []) => {
      await store.appendBatch(runId, { nodes, edges, steps, problems: [] });
      nodes = [];
    };
    const span = relations / procs;
    for (let p = 1; p <= procs; p++) {
      const start = t0 + Math.floor((p - 1) * span * 10);
      nodes.push({
        id: p,
        kind: "activity",
        type: "process",
        gid: `proc://bench/boot/${1000 + p}@${start}`,
        version: 0,
        label: `cc -O2 -c src/module${p % 500}/unit${p}.c -o obj/unit${p}.o`,
        start,
        end: start + Math.floor(span * 10),
        attrs: {
          pid: 1000 + p,
          ppid: p === 1 ? null : 999 + p,
          generation: 1,
          via: "fork",
          exe: "/usr/bin/cc",
          argv: ["cc", "-O2", "-c", `src/module${p % 500}/unit${p}.c`, "-o", `obj/unit${p}.o`],
          cwd: "/src/project",
          exitCode: 0,
        },
      });
      if (nodes.length >= 5000) await flush();
    }
    nodes.push({
      id: machine,
      kind: "agent",
      type: "machine",
      gid: "machine://bench",
      version: 0,
      label: "bench",
      start: null,
      end: null,
      attrs: { host: "bench" },
    });
    for (let f = 0; f < files; f++) {
      const kind = f % 10 === 0 ? "o" : f % 3 === 0 ? "h" : "c";
      const path = `/src/project/src/module${f % 500}/file${f}.${kind}`;
      nodes.push({
        id: firstFile + f,
        kind: "entity",
        type: "file",
        gid: `file://bench${path}`,
        version: f % 7 === 0 ? 1 : 0,
        label: path,
        start: null,
        end: null,
        attrs: {
          path,
          category: kind === "o" ? "output" : "source",
          access: { read: true, bytesRead: 4096 + f },
        },
      });
      if (nodes.length >= 5000) await flush();
    }
    await flush();
    let edges: GraphEdge[] = [];
    let steps: Step[] = [];
    let seq = 0;
    for (let i = 1; i <= relations; i++) {
      const p = Math.min(procs, 1 + Math.floor((i - 1) / span));
      const file = firstFile + ((i * 7919) % files);
      const ts = t0 + i * 10;
      const r = i % 100;
      let e: GraphEdge;
      if (r < 70) e = edge(i, "used", "read", p, file, ts, 4096);
      else if (r < 90) e = edge(i, "wasGeneratedBy", "write", file, p, ts, 1024);
      else if (r < 95) e = edge(i, "wasInformedBy", p > 1 ? "fork" : "exec", p, Math.max(1, p - 1), ts, 0);
      else if (r < 98) e = edge(i, "used", "map", p, file, ts, 0);
      else e = edge(i, "wasAssociatedWith", "associated", p, machine, ts, 0);
      edges.push(e);
      if (i % 10 === 0) {
        const read = e.op !== "write";
        steps.push({
          seq: ++seq,
          pid: 1000 + p,
          call: read ? "read" : "write",
          resource: `/src/project/src/module${(file - firstFile) % 500}/file${file - firstFile}`,
          count: 3,
          bytes: 12288,
          errors: 0,
          start: ts,
          end: ts + 8,
          dur: 6,
          ret: "4096",
        });
      }
      if (edges.length >= 10000) {
        await flush(edges, steps);
        edges = [];
        steps = [];
      }
    }
    await flush(edges, steps);
    await store.updateRun(runId, {
      status: "complete",
      end: t0 + relations * 10,
      exitCode: 0,
      stats: { lines: relations, bytes: 0, events: relations, calls: relations, problems: 0 },
    });
    await store.close();
  }
  renameSync(tmp, path);
}

function edge(
  id: number,
  type: GraphEdge["type"],
  op: GraphEdge["op"],
  from: number,
  to: number,
  ts: number,
  bytes: number,
): GraphEdge {
  return { id, type, op, from, to, ts, tsEnd: ts + 5, count: 1 + (id % 4), bytes, attrs: {} };
}

/** Builds the cached run (a child process: the generation's memory is not the bench's). */
function ensureRun(relations: number): string {
  mkdirSync(OUT, { recursive: true });
  const path = join(OUT, `export-${relations}.db`);
  if (existsSync(path)) return path;
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", import.meta.filename, "--build", String(relations), path],
    {
      stdio: "inherit",
    },
  );
  if (r.status !== 0 || !existsSync(path)) throw new Error(`could not build ${path}`);
  return path;
}

/** Peer: python3-prov reading the PROV-JSON of the 1M run and serializing it again (to /dev/null). */
function peer(doc: string): { wallS: number; peakRssMb: number; status: number } {
  const script = [
    "import sys",
    "from prov.model import ProvDocument",
    "d = ProvDocument.deserialize(sys.argv[1])",
    "with open('/dev/null', 'w') as f: d.serialize(f)",
  ].join("\n");
  return measure([PY, "-c", script, doc], { timeoutS: 3600 });
}

/** Every export format of a 1M- and a 10M-relation SQLite run to /dev/null: time, rate, peak RSS. */
export function exportStreamBench(): string[] {
  const big = Number(process.env.BENCH_EXPORT_M ?? 10) * 1e6;
  const small = Math.max(1, Math.floor(big / 10));
  const sizes = [small, big];
  const dbs = sizes.map((n) => ensureRun(n));
  const lines = [
    `### Export streams: every format of a ${small / 1e6}M- and a ${big / 1e6}M-relation run to /dev/null`,
    "",
    row([
      "format",
      `${small / 1e6}M wall s`,
      `${small / 1e6}M relations/s`,
      `${small / 1e6}M peak RSS MB`,
      `${big / 1e6}M wall s`,
      `${big / 1e6}M relations/s`,
      `${big / 1e6}M peak RSS MB`,
      "peak 10× / 1×",
    ]),
    row(["---", "---", "---", "---", "---", "---", "---", "---"]),
  ];
  const results: Record<string, { wallS: number; peakRssMb: number }[]> = {};
  for (const f of FORMATS) {
    const rs = sizes.map((n, i) => {
      const m = measure([
        "node",
        CLI,
        "export",
        "--db",
        dbs[i]!,
        `export-bench-${n}`,
        "--format",
        f,
        "-o",
        "/dev/null",
      ]);
      if (m.status !== 0) throw new Error(`export --format ${f} of ${dbs[i]} exited ${m.status}`);
      return m;
    });
    results[f] = rs;
    if (process.env.BENCH_VERBOSE)
      process.stderr.write(
        `bench export ${f}: ${rs.map((r) => `${r.wallS}s ${r.peakRssMb.toFixed(0)}MB`).join(", ")}\n`,
      );
    lines.push(
      row([
        f,
        rs[0]!.wallS.toFixed(1),
        (sizes[0]! / rs[0]!.wallS).toFixed(0),
        rs[0]!.peakRssMb.toFixed(0),
        rs[1]!.wallS.toFixed(1),
        (sizes[1]! / rs[1]!.wallS).toFixed(0),
        rs[1]!.peakRssMb.toFixed(0),
        (rs[1]!.peakRssMb / rs[0]!.peakRssMb).toFixed(2),
      ]),
    );
  }
  if (process.env.BENCH_EXPORT_PEER === "0") return lines;
  // the peer, on the small run's PROV-JSON
  const doc = join(OUT, `export-${small}.prov.json`);
  if (!existsSync(doc)) {
    const r = spawnSync("node", [
      CLI,
      "export",
      "--db",
      dbs[0]!,
      `export-bench-${small}`,
      "--format",
      "prov-json",
      "-o",
      doc,
    ]);
    if (r.status !== 0) throw new Error(`could not write ${doc}`);
  }
  const theirs = peer(doc);
  const ours =
    results["prov-json"]?.[0] ??
    measure([
      "node",
      CLI,
      "export",
      "--db",
      dbs[0]!,
      `export-bench-${small}`,
      "--format",
      "prov-json",
      "-o",
      "/dev/null",
    ]);
  lines.push(
    "",
    row([
      "peer on the same 1M-relation graph",
      "wall s",
      "relations/s",
      "peak RSS MB",
      "provflow prov-json / peer",
    ]),
    row(["---", "---", "---", "---", "---"]),
    row([
      "python3-prov: read the PROV-JSON + serialize it (PROV-JSON)",
      theirs.status === 0 ? theirs.wallS.toFixed(1) : `failed (${theirs.status})`,
      theirs.status === 0 ? (small / theirs.wallS).toFixed(0) : "-",
      theirs.peakRssMb.toFixed(0),
      theirs.status === 0 ? `**${(theirs.wallS / ours.wallS).toFixed(1)}× faster**` : "-",
    ]),
    "",
    "Each export is `provflow export RUN --format F -o /dev/null` in its own process (GNU time: wall, peak " +
      "RSS). The peer does less (its input is already parsed PROV-JSON, no database) and more (it parses " +
      "it): python3-prov cannot serialize from a store, so read + serialize is the nearest job it does.",
  );
  return lines;
}

if (process.argv[2] === "--build") {
  await buildRun(process.argv[4]!, Number(process.argv[3]));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${exportStreamBench().join("\n")}\n`);
}
