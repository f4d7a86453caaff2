import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { measure, median, row } from "./bench-util.js";

const SHARED = resolve(import.meta.dirname, "../../shared");
const OUT = "/tmp/provflow-bench";
const CLI = resolve(import.meta.dirname, "../dist/provflow.js");
/** the server to write to (trust auth on loopback here); the bench uses a schema of its own */
const PG_URL = process.env.PROVFLOW_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test";

function psql(sql: string): string {
  const r = spawnSync("psql", [PG_URL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr || r.error?.message}`);
  return r.stdout.trim();
}

function runCounts(db: string): { nodeCount: number; edgeCount: number; lines: number } {
  const r = spawnSync("node", [CLI, "runs", "--json", "--db", db], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`provflow runs failed on ${db}: ${r.stderr}`);
  const runs = JSON.parse(r.stdout) as { nodeCount: number; edgeCount: number; stats: { lines: number } }[];
  const run = runs[runs.length - 1];
  if (run === undefined) throw new Error(`no run in ${db}`);
  return { nodeCount: run.nodeCount, edgeCount: run.edgeCount, lines: run.stats.lines };
}

/**
 * The replay of `bench/replay-bench.ts` (a ≥150 MB strace -o log, end to end through
 * `provflow ingest`) into PostgreSQL, beside the same replay into SQLite on the same input.
 */
export function postgresBench(): string[] {
  const lines = [
    "### Replay: strace log → PostgreSQL store, beside SQLite (`provflow ingest --db postgres://…`)",
    "",
  ];
  try {
    psql("SELECT 1");
  } catch (err) {
    return [
      ...lines,
      `PostgreSQL at ${PG_URL} is unreachable, part skipped: ${(err as Error).message.trim()}`,
    ];
  }
  const version = psql("SHOW server_version");
  const loadBefore = loadavg()[0] ?? 0;
  mkdirSync(OUT, { recursive: true });
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
  const inputs = [
    { name: "big-make.strace", src: join(SHARED, "corpus/strace-local/make.strace") },
    { name: "big-gitlab.strace", src: join(SHARED, "corpus/strace/gitlab-strace-parser/bench_data.strace") },
  ];
  lines.push(
    `PostgreSQL ${version} on loopback (${PG_URL.replace(/:[^:@/]*@/, "@")}); median of ${repeat} run(s) each.`,
    "",
    row([
      "input",
      "MB",
      "store",
      "wall s",
      "MB/s",
      "peak RSS MB",
      "store size MB",
      "PostgreSQL / SQLite (MB/s)",
    ]),
    row(["---", "---", "---", "---", "---", "---", "---", "---"]),
  );
  for (const input of inputs) {
    const log = join(OUT, input.name);
    if (!existsSync(log)) {
      const r = spawnSync("python3", [join(SHARED, "bench/replicate-strace.py"), input.src, log, "150"], {
        stdio: "inherit",
      });
      if (r.status !== 0) throw new Error(`could not build ${log}`);
    }
    const mb = statSync(log).size / 1e6;
    const db = join(OUT, "pg-compare.db");
    const schema = `pf_bench_${process.pid}`;
    const url = `${PG_URL}${PG_URL.includes("?") ? "&" : "?"}schema=${schema}`;
    const sqlite: { wallS: number[]; rss: number[]; size: number } = { wallS: [], rss: [], size: 0 };
    const postgres: { wallS: number[]; rss: number[]; size: number } = { wallS: [], rss: [], size: 0 };
    let counts: [ReturnType<typeof runCounts>, ReturnType<typeof runCounts>] | null = null;
    try {
      for (let i = 0; i < repeat; i++) {
        for (const suffix of ["", "-wal", "-shm"]) rmSync(db + suffix, { force: true });
        psql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        const s = measure(["node", CLI, "ingest", "--db", db, "-q", log]);
        if (s.status !== 0) throw new Error(`provflow ingest into SQLite failed on ${log}`);
        sqlite.wallS.push(s.wallS);
        sqlite.rss.push(s.peakRssMb);
        const p = measure(["node", CLI, "ingest", "--db", url, "-q", log]);
        if (p.status !== 0) throw new Error(`provflow ingest into PostgreSQL failed on ${log}`);
        postgres.wallS.push(p.wallS);
        postgres.rss.push(p.peakRssMb);
      }
      sqlite.size = statSync(db).size / 1e6;
      postgres.size =
        Number(
          psql(
            `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '${schema}' AND c.relkind IN ('r', 'S')`,
          ),
        ) / 1e6;
      counts = [runCounts(db), runCounts(url)];
    } finally {
      psql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      for (const suffix of ["", "-wal", "-shm"]) rmSync(db + suffix, { force: true });
    }
    const [cs, cp] = counts;
    if (cs.nodeCount !== cp.nodeCount || cs.edgeCount !== cp.edgeCount || cs.lines !== cp.lines) {
      throw new Error(
        `the two stores disagree on ${input.name}: ${JSON.stringify(cs)} vs ${JSON.stringify(cp)}`,
      );
    }
    const sRate = mb / median(sqlite.wallS);
    const pRate = mb / median(postgres.wallS);
    lines.push(
      row([
        input.name,
        mb.toFixed(1),
        "SQLite",
        median(sqlite.wallS).toFixed(2),
        sRate.toFixed(1),
        median(sqlite.rss).toFixed(0),
        sqlite.size.toFixed(0),
        "",
      ]),
      row([
        input.name,
        mb.toFixed(1),
        "PostgreSQL",
        median(postgres.wallS).toFixed(2),
        pRate.toFixed(1),
        median(postgres.rss).toFixed(0),
        postgres.size.toFixed(0),
        `${(pRate / sRate).toFixed(2)}×`,
      ]),
    );
  }
  lines.push(
    "",
    `Load average (1 min) ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after: other work on the machine slows both stores.`,
    "Peak RSS is provflow's own process; the PostgreSQL server's memory is not counted. Store size: the SQLite file; the schema's tables with their indexes and TOAST in PostgreSQL.",
  );
  return lines;
}
