import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, CORPUS, cliJson, runCli, tempDir } from "../helpers/cli.js";
import { expectedCounts, freePort } from "../helpers/mqtt.js";

/**
 * One machine, nothing else installed: `provflow mqtt` with its embedded broker (aedes, MQTT 3.1.1)
 * and a SQLite file; `provflow publish` replays real CamFlow logs like camflowd; bad and empty
 * messages are reported or skipped, never fatal; `provflow machines` shows the registry.
 */

const dir = tempDir("provflow-mqtt-embedded-");
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]): { child: ChildProcess; stderr: () => string; ready: Promise<void> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let err = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.includes("subscribed to")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`provflow mqtt exited ${code}: ${err}`)));
  });
  return { child, stderr: () => err, ready };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once("exit", (code) => r(code)));
}

interface MachineJson {
  machineId: string;
  runId: number | null;
  firstSeen: string;
  lastSeen: string;
  packets: number;
  nodes: number;
  edges: number;
  waiting: number;
  errors: number;
  announced: boolean;
}

function docsOf(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.replace(/^\uFEFF/, ""))
    .filter((l) => l.trim() !== "");
}

describe("provflow mqtt --embedded", () => {
  it("stores what machines publish, reports bad messages, skips keep-alives", async () => {
    const port = await freePort();
    const db = join(dir, "p.db");
    const sub = start(["mqtt", "--embedded", "--listen", `127.0.0.1:${port}`, "--db", db]);
    await sub.ready;
    const broker = `mqtt://127.0.0.1:${port}`;
    const logs = {
      "31": join(CORPUS, "camflow/frap-dataset/mariadb-root-normal-99.log"),
      "33": join(CORPUS, "camflow/frap-dataset/percona-root-exploit-0.log"),
    };
    for (const [machine, file] of Object.entries(logs)) {
      const r = runCli(["publish", file, "--machine", machine, "--broker", broker, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { topic: string; messages: number };
      expect(out).toMatchObject({ topic: `camflow/provenance/${machine}`, messages: docsOf(file).length });
    }
    // a machine that sends a keep-alive, a payload that is not base64, JSON cut short, then a good one
    const c = await mqtt.connectAsync(broker, { protocolVersion: 4 });
    const good = docsOf(logs["33"])[1] as string;
    const { encodeCamflowPayload } = await import("../../src/mqtt/camflow-payload.js");
    for (const payload of [
      "",
      "%%% no %%%",
      encodeCamflowPayload('{"entity": {"x":'),
      encodeCamflowPayload(good),
    ]) {
      await c.publishAsync("camflow/provenance/32", payload, { qos: 1 });
    }
    await c.endAsync();
    const want31 = expectedCounts(docsOf(logs["31"]));
    const want33 = expectedCounts(docsOf(logs["33"]));
    const deadline = Date.now() + 30_000;
    let machines: MachineJson[] = [];
    while (Date.now() < deadline) {
      machines = cliJson<MachineJson[]>(["machines", "--json", "--db", db]);
      if (
        machines.length === 3 &&
        machines.every((m) => m.packets > 0) &&
        machines[0]?.nodes === want31.nodes
      )
        break;
      await new Promise((r) => setTimeout(r, 300));
    }
    sub.child.kill("SIGTERM");
    expect(await exited(sub.child)).toBe(0);
    const m = new Map(machines.map((x) => [x.machineId, x]));
    expect(m.get("31")).toMatchObject({
      packets: want31.documents,
      nodes: want31.nodes,
      edges: want31.edges,
      waiting: want31.waiting,
      errors: 0,
      announced: true,
    });
    expect(m.get("33")).toMatchObject({ nodes: want33.nodes, edges: want33.edges, waiting: want33.waiting });
    const want32 = expectedCounts([good]);
    expect(m.get("32")).toMatchObject({ packets: 3, errors: 2, nodes: want32.nodes, announced: false });
    expect(m.get("31")?.firstSeen).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // on stderr with topic and message number, and stored with the machine's run
    expect(sub.stderr()).toMatch(/camflow\/provenance\/32 message 2: not base64/);
    expect(sub.stderr()).toMatch(/camflow\/provenance\/32 message 3: /);
    const problems = cliJson<Array<{ file: string; line: number }>>([
      "problems",
      String(m.get("32")?.runId),
      "--json",
      "--db",
      db,
    ]);
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual([
      "camflow/provenance/32:2",
      "camflow/provenance/32:3",
    ]);
    // the table, and the runs: one per machine, complete once the subscriber stopped
    const table = runCli(["machines", "--db", db]);
    expect(table.stdout.split("\n")[0]).toMatch(
      /^MACHINE\s+RUN\s+FIRST SEEN\s+LAST SEEN\s+PACKETS\s+NODES\s+EDGES/,
    );
    const runs = cliJson<Array<{ name: string; source: string; status: string; nodeCount: number }>>([
      "runs",
      "--json",
      "--db",
      db,
    ]);
    expect(runs.map((r) => [r.name, r.source, r.status]).sort()).toEqual([
      ["mqtt-31", "mqtt", "complete"],
      ["mqtt-32", "mqtt", "complete"],
      ["mqtt-33", "mqtt", "complete"],
    ]);
  }, 90_000);

  it("refuses to listen beyond loopback without credentials, and checks them when given", async () => {
    const open = runCli(["mqtt", "--embedded", "--listen", "0.0.0.0:1", "--db", join(dir, "x.db")]);
    expect(open.status).toBe(2);
    expect(open.stderr).toMatch(/only with --token/);
    const port = await freePort();
    const sub = start([
      "mqtt",
      "--listen",
      `127.0.0.1:${port}`,
      "--token",
      "s3cret",
      "--db",
      join(dir, "t.db"),
    ]);
    await sub.ready;
    const file = join(CORPUS, "camflow/frap-dataset/mysql-root-normal-100.log");
    const refused = runCli(["publish", file, "--machine", "5", "--broker", `mqtt://127.0.0.1:${port}`], {
      timeout: 20_000,
    });
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(
      /cannot publish to mqtt:\/\/127\.0\.0\.1:\d+: .*(authori|password|Not authorized|Bad)/i,
    );
    const ok = runCli(["publish", file, "--machine", "5", "--broker", `mqtt://127.0.0.1:${port}`], {
      env: { PROVFLOW_MQTT_PASSWORD: "s3cret" },
    });
    expect(ok.status, ok.stderr).toBe(0);
    sub.child.kill("SIGTERM");
    expect(await exited(sub.child)).toBe(0);
  }, 60_000);
});
