import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as mqtt from "mqtt";
import pg from "pg";
import { encodeCamflowPayload } from "../src/mqtt/camflow-payload.js";
import { expectedCounts, freePort } from "../test/helpers/mqtt.js";
import { row } from "./bench-util.js";

const SHARED = resolve(import.meta.dirname, "../../shared");
// the launcher users run (its node flags too); PROVFLOW_BENCH_BIN: another build's launcher (a copy
// of bin/ and dist/ before a change), to alternate before/after runs
const BIN = process.env.PROVFLOW_BENCH_BIN ?? resolve(import.meta.dirname, "../bin/provflow");
const PG_URL = process.env.PROVFLOW_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const LOG = join(SHARED, "corpus/camflow/frap-dataset/mariadb-root-exploit-0.log");
const MOSQUITTO = "/usr/sbin/mosquitto";

/** CPU seconds (user + system) a process has used so far, from /proc (0 when it is gone). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Peak resident memory of a process so far, MB (VmHWM; 0 when it is gone). */
function peakMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

function waitForLine(child: ChildProcess, what: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${text}`)), ms);
    child.stderr?.on("data", (d: Buffer) => {
      text += d.toString();
      if (what.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${text}`)));
  });
}

/**
 * Machines streaming CamFlow into PostgreSQL through Mosquitto, two `provflow mqtt --group` workers:
 * MACHINES simulated machines each publish a real CamFlow log (162 documents, 8,021 elements) as fast
 * as the broker takes them; the clock runs from the first publish until every node and edge is in
 * PostgreSQL, counted against the raw JSON (zero loss). Mosquitto is started here on a free port
 * with `max_queued_messages 0` (the packaged default, 1000 per client, drops messages when
 * subscribers fall behind a burst this size), no persistence.
 */
export async function mqttBench(): Promise<string[]> {
  const lines = [
    "### Streaming: CamFlow over MQTT → PostgreSQL, 2 workers (`provflow mqtt --broker … --group … --db postgres://…`)",
    "",
  ];
  const machines = Number(process.env.PROVFLOW_BENCH_MACHINES ?? 60);
  const dir = mkdtempSync(join(tmpdir(), "pf-mqtt-bench-"));
  const schema = `pf_bench_mqtt_${process.pid}`;
  const children: ChildProcess[] = [];
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    return [...lines, `skipped: PostgreSQL at ${PG_URL} is unreachable (${(err as Error).message})`];
  }
  if (spawnSync("sh", ["-c", `test -x ${MOSQUITTO}`]).status !== 0) {
    await admin.end();
    return [...lines, `skipped: ${MOSQUITTO} is not installed`];
  }
  try {
    const port = await freePort();
    const conf = join(dir, "mosquitto.conf");
    writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n`,
    );
    const broker = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    children.push(broker);
    await new Promise((r) => setTimeout(r, 500));
    const url = `mqtt://127.0.0.1:${port}`;
    const db = `${PG_URL}?schema=${schema}`;
    const group = `bench${process.pid}`;
    const workersStarted = new Date();
    const workers = [1, 2].map((i) => {
      const w = spawn(
        BIN,
        ["mqtt", "--broker", url, "--group", group, "--client-id", `${group}-w${i}`, "--db", db],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      children.push(w);
      return w;
    });
    await Promise.all(workers.map((w) => waitForLine(w, /subscribed to/, 30_000)));

    const docs = readFileSync(LOG, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    const want = expectedCounts(docs);
    const payloads = docs.map((d) => encodeCamflowPayload(d));
    const jsonBytes = docs.reduce((s, d) => s + Buffer.byteLength(d), 0) * machines;
    const totalMessages = docs.length * machines;
    const total = {
      nodes: want.nodes * machines,
      edges: want.edges * machines,
      waiting: want.waiting * machines,
    };
    const elements = total.nodes + total.edges;
    const clients = await Promise.all(
      Array.from({ length: machines }, (_, k) =>
        mqtt.connectAsync(url, { clientId: `bench-m${k}`, protocolVersion: 4, clean: true }),
      ),
    );
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const published = Promise.all(
      clients.map(async (c, k) => {
        const topic = `camflow/provenance/${50_000 + k}`;
        const inFlight: Promise<unknown>[] = [];
        for (const p of payloads) {
          inFlight.push(c.publishAsync(topic, p, { qos: 1 }));
          if (inFlight.length >= 32) await inFlight.shift();
        }
        await Promise.all(inFlight);
      }),
    ).then(() => performance.now());
    let done = 0;
    let counts = { nodes: 0, edges: 0, waiting: 0 };
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      const r = await admin
        .query<{ nodes: number; edges: number; waiting: number }>(
          `SELECT (SELECT count(*)::int FROM "${schema}".nodes) AS nodes, (SELECT count(*)::int FROM "${schema}".edges) AS edges,
             (SELECT count(*)::int FROM "${schema}".pending_edges) AS waiting`,
        )
        .catch(() => null);
      if (r?.rows[0] !== undefined) counts = r.rows[0];
      if (counts.nodes >= total.nodes && counts.edges >= total.edges && counts.waiting <= total.waiting) {
        done = performance.now();
        break;
      }
      if (performance.now() - t0 > 600_000) break;
    }
    const pubDone = await published;
    const load = loadavg()[0]?.toFixed(2);
    // CPU of the workers and of their PostgreSQL backends (read before they exit)
    const backends = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'provflow' AND datname = current_database() AND backend_start >= $1",
      [workersStarted],
    );
    const workerCpu = workers.reduce((s, w) => s + cpuSeconds(w.pid), 0);
    const pgCpu = backends.rows.reduce((s, r) => s + cpuSeconds(r.pid), 0);
    const brokerCpu = cpuSeconds(broker.pid);
    const workerPeaks = workers.map((w) => peakMb(w.pid).toFixed(0));
    await Promise.all(clients.map((c) => c.endAsync()));
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => new Promise((r) => w.once("exit", r))));
    const stillLost = done === 0;
    const seconds = ((stillLost ? performance.now() : done) - t0) / 1000;
    const exact =
      counts.nodes === total.nodes && counts.edges === total.edges && counts.waiting === total.waiting;
    const dup = await admin.query<{ n: number }>(
      `SELECT (SELECT count(*) - count(DISTINCT (run_id, skey)) FROM "${schema}".nodes)
         + (SELECT count(*) - count(DISTINCT (run_id, ekey)) FROM "${schema}".edges) AS n`,
    );
    const pubCpu = process.cpuUsage(cpu0);
    lines.push(
      row([
        "machines",
        "messages",
        "JSON",
        "elements (nodes + edges)",
        "published in",
        "all stored in",
        "messages/s",
        "elements/s",
        "loss / duplicates",
      ]),
      row(["---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
      row([
        machines,
        totalMessages,
        `${(jsonBytes / 1e6).toFixed(0)} MB`,
        `${elements} (${total.nodes} + ${total.edges})`,
        `${((pubDone - t0) / 1000).toFixed(1)} s`,
        stillLost ? "not within 600 s" : `${seconds.toFixed(1)} s`,
        Math.round(totalMessages / seconds),
        Math.round(elements / seconds),
        `${exact ? "none" : `counts ${JSON.stringify(counts)} ≠ ${JSON.stringify(total)}`} / ${Number(dup.rows[0]?.n ?? -1)}`,
      ]),
      "",
      `Mosquitto 2.0 on 127.0.0.1 (max_queued_messages 0, no persistence); workers MQTT 5 with receive maximum 1000; ` +
        `PostgreSQL ${(await admin.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version} (synchronous_commit on); ` +
        `the publishers (one process, ${machines} connections, QoS 1, 32 in flight each) used ` +
        `${((pubCpu.user + pubCpu.system) / 1e6).toFixed(1)} s CPU; CPU (user + system): workers ${workerCpu.toFixed(1)} s, ` +
        `their PostgreSQL backends ${pgCpu.toFixed(1)} s, Mosquitto ${brokerCpu.toFixed(1)} s; workers' peak RSS ${workerPeaks.join(" and ")} MB; load average ${load} at the end; ` +
        `everything on the same ${spawnSync("nproc").stdout.toString().trim()} cores.`,
    );
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${(await mqttBench()).join("\n")}\n`);
}
