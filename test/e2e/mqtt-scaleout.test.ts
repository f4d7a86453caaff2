import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { publishCamflowLog } from "../../src/mqtt/camflow-publisher.js";
import { CLI, CORPUS, tempDir } from "../helpers/cli.js";
import { type ExpectedCounts, expectedCounts, MQTT_URL, mosquittoAvailable } from "../helpers/mqtt.js";
import { dropSchemas, pgAdmin, postgresAvailable, schemaUrl, uniqueSchema } from "../helpers/postgres.js";

/**
 * Scale-out with no loss: 20 simulated machines publish real CamFlow documents to Mosquitto as fast
 * as they can; two `provflow mqtt --group` workers share the subscription and write into one
 * PostgreSQL schema; one worker is killed with SIGKILL midway and started again. At the end every
 * node and edge is in PostgreSQL exactly once, and each machine has what its documents describe —
 * counted here from the raw JSON, not from provflow.
 */

const brokerUp = await mosquittoAvailable("the MQTT scale-out test (test/e2e/mqtt-scaleout.test.ts)");
const pgUp =
  brokerUp && (await postgresAvailable("the MQTT scale-out test (test/e2e/mqtt-scaleout.test.ts)"));
const schema = uniqueSchema("mqtt");
const prefix = `pftest_${process.pid}_${Math.floor(Math.random() * 1e6)}/camflow`;
const group = `pf${process.pid}`;
const clientIds = [`${group}-w1`, `${group}-w2`];
const dir = tempDir("provflow-mqtt-");
const machines = Array.from({ length: 20 }, (_, k) => String(9001 + k));
const workers: ChildProcess[] = [];

const SOURCES = [
  join(CORPUS, "camflow/frap-dataset/mariadb-root-exploit-0.log"),
  join(CORPUS, "camflow/frap-dataset/mariadb-root-normal-99.log"),
];

function lines(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.replace(/^\uFEFF/, ""))
    .filter((l) => l.trim() !== "");
}

function startWorker(clientId: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      CLI,
      "mqtt",
      "--broker",
      MQTT_URL,
      "--topic",
      prefix,
      "--group",
      group,
      "--client-id",
      clientId,
      "--db",
      schemaUrl(schema),
      "--quiet",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  (child as ChildProcess & { errText: () => string }).errText = () => err;
  workers.push(child);
  return child;
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once("exit", (code) => r(code)));
}

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  if (brokerUp) {
    // end the workers' sessions (nothing left queued on the broker) and the retained announcements
    for (const id of clientIds) {
      const c = await mqtt.connectAsync(MQTT_URL, {
        clientId: id,
        clean: true,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 0 },
      });
      await c.endAsync();
    }
    const c = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 4 });
    for (const m of machines) await c.publishAsync(`${prefix}/machines/${m}`, "", { qos: 1, retain: true });
    await c.endAsync();
  }
  if (pgUp) await dropSchemas(schema);
});

describe.skipIf(!pgUp)(
  "provflow mqtt: Mosquitto, two workers in a group, PostgreSQL, a worker killed",
  () => {
    it("stores every node and edge exactly once, with each machine's counts as published", async () => {
      // each machine: a slice of 40 documents of a real log (relations into other slices wait)
      const expected = new Map<string, ExpectedCounts>();
      const files = new Map<string, string>();
      const corpus = SOURCES.map(lines);
      for (const [k, m] of machines.entries()) {
        const docs = corpus[k % 2] as string[];
        const start = (k * 5) % (docs.length - 40);
        const slice = docs.slice(start, start + 40);
        const file = join(dir, `${m}.log`);
        writeFileSync(file, `${slice.join("\n")}\n`);
        files.set(m, file);
        expected.set(m, expectedCounts(slice));
      }
      const total = (f: (e: ExpectedCounts) => number) =>
        [...expected.values()].reduce((s, e) => s + f(e), 0);

      const w1 = startWorker(clientIds[0] as string);
      startWorker(clientIds[1] as string);
      // both subscribed: the schema exists and both hold their session
      await waitFor(
        "the workers to start",
        async () =>
          (
            await pgAdmin<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1", [
              schema,
            ])
          )[0]?.n !== 0,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 1500));

      let published = 0;
      let killed = false;
      let restarted: Promise<ChildProcess> | null = null;
      const half = total((e) => e.documents) / 2;
      await Promise.all(
        machines.map(async (m) => {
          const res = await publishCamflowLog({
            url: MQTT_URL,
            file: files.get(m) as string,
            machineId: m,
            prefix,
            mqtt,
            window: 8,
          });
          published += res.messages;
          if (!killed && published >= half) {
            killed = true;
            w1.kill("SIGKILL");
            restarted = exited(w1).then(async () => {
              await new Promise((r) => setTimeout(r, 500));
              return startWorker(clientIds[0] as string);
            });
          }
        }),
      );
      expect(published).toBe(total((e) => e.documents));
      expect(killed).toBe(true);
      const w1again = await (restarted as unknown as Promise<ChildProcess>);

      const want = {
        nodes: total((e) => e.nodes),
        edges: total((e) => e.edges),
        waiting: total((e) => e.waiting),
      };
      const tables = async () =>
        (
          await pgAdmin<{ nodes: number; edges: number; waiting: number }>(
            `SELECT (SELECT count(*)::int FROM "${schema}".nodes) AS nodes, (SELECT count(*)::int FROM "${schema}".edges) AS edges,
             (SELECT count(*)::int FROM "${schema}".pending_edges) AS waiting`,
          )
        )[0];
      await waitFor(
        `every node and edge (${JSON.stringify(want)})`,
        async () => {
          const t = await tables();
          return (
            t !== undefined && t.nodes >= want.nodes && t.edges >= want.edges && t.waiting <= want.waiting
          );
        },
        120_000,
      );
      // let redeliveries, if any, arrive
      await new Promise((r) => setTimeout(r, 2000));
      expect(await tables()).toEqual(want);

      // exactly once: one row per node key and per relation key, with its machine on every row
      const dup = await pgAdmin<{ n: number; e: number; m: number }>(
        `SELECT (SELECT count(*)::int FROM (SELECT run_id, skey FROM "${schema}".nodes GROUP BY 1, 2 HAVING count(*) > 1) x) AS n,
         (SELECT count(*)::int FROM (SELECT run_id, ekey FROM "${schema}".edges GROUP BY 1, 2 HAVING count(*) > 1) y) AS e,
         (SELECT count(*)::int FROM "${schema}".nodes n JOIN "${schema}".runs r ON r.id = n.run_id
            WHERE n.machine_id <> r.machine_id) AS m`,
      );
      expect(dup).toEqual([{ n: 0, e: 0, m: 0 }]);
      const perMachine = await pgAdmin<{ machine_id: string; nodes: number; edges: number; waiting: number }>(
        `SELECT r.machine_id, (SELECT count(*)::int FROM "${schema}".nodes n WHERE n.run_id = r.id) AS nodes,
         (SELECT count(*)::int FROM "${schema}".edges e WHERE e.run_id = r.id AND e.machine_id = r.machine_id) AS edges,
         (SELECT count(*)::int FROM "${schema}".pending_edges p WHERE p.run_id = r.id) AS waiting
       FROM "${schema}".runs r ORDER BY r.machine_id`,
      );
      expect(perMachine).toEqual(
        machines.map((m) => {
          const e = expected.get(m) as ExpectedCounts;
          return { machine_id: m, nodes: e.nodes, edges: e.edges, waiting: e.waiting };
        }),
      );

      // the registry agrees (provflow machines --json), counting every message at least once
      for (const w of [workers[1] as ChildProcess, w1again]) w.kill("SIGTERM");
      const codes = await Promise.all([exited(workers[1] as ChildProcess), exited(w1again)]);
      expect(codes).toEqual([0, 0]);
      const { cliJson } = await import("../helpers/cli.js");
      const registry = cliJson<
        Array<{
          machineId: string;
          packets: number;
          nodes: number;
          edges: number;
          waiting: number;
          errors: number;
          announced: boolean;
        }>
      >(["machines", "--json", "--db", schemaUrl(schema)]);
      expect(registry.map((r) => [r.machineId, r.nodes, r.edges, r.waiting, r.errors, r.announced])).toEqual(
        machines.map((m) => {
          const e = expected.get(m) as ExpectedCounts;
          return [m, e.nodes, e.edges, e.waiting, 0, true];
        }),
      );
      for (const r of registry) expect(r.packets).toBeGreaterThanOrEqual(40);
      const runs = cliJson<Array<{ status: string; source: string }>>([
        "runs",
        "--json",
        "--db",
        schemaUrl(schema),
      ]);
      expect(runs.map((r) => r.status)).toEqual(machines.map(() => "complete"));
    }, 240_000);
  },
);
