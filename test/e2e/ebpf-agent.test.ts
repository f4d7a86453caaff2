import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  statSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeCamflowPayload } from "../../src/mqtt/camflow-payload.js";
import { CLI, cliJson, tempDir } from "../helpers/cli.js";
import { ebpfUnavailable, provflowBpftraces } from "../helpers/ebpf.js";
import { MQTT_URL, mosquittoAvailable } from "../helpers/mqtt.js";

/**
 * `provflow agent`, live, scoped to a cgroup this test creates (never the whole machine): what its
 * processes do reaches `provflow mqtt` through Mosquitto as CamFlow documents and lands in the SQLite
 * store; a process outside the cgroup is not seen; with the broker away the documents wait in the
 * spool and go out when a broker comes; the spool stays within its bound. Every agent, subscriber and
 * bpftrace started here is stopped, and the cgroup removed.
 */
const unavailable = ebpfUnavailable("live eBPF agent tests");
const brokerUp = unavailable === null && (await mosquittoAvailable("the eBPF agent test"));

function cgroup2Root(): string {
  for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[2] === "cgroup2") return f[1]!;
  }
  throw new Error("no cgroup2 hierarchy");
}

const children: ChildProcess[] = [];
const cgroups: string[] = [];

function start(args: string[]): ChildProcess & { err: () => string; out: () => string } {
  const c = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  let out = "";
  c.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  c.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  children.push(c);
  return Object.assign(c, { err: () => err, out: () => out });
}

/** `provflow agent … --json`, once its probes are attached */
async function startAgent(args: string[]): Promise<ReturnType<typeof start>> {
  const agent = start(["agent", ...args, "--json"]);
  await waitFor("the agent's probes", () => agent.err().includes("capturing"));
  return agent;
}

async function waitFor(what: string, cond: () => boolean, ms = 180_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The exit code, or a failure after `ms` (the process is then killed, so a test never hangs). */
function exited(c: ChildProcess, ms = 60_000): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.kill("SIGKILL");
      reject(new Error(`pid ${c.pid} did not end within ${ms / 1000} s`));
    }, ms);
    c.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function newCgroup(tag: string): string {
  const cg = join(cgroup2Root(), `provflow-test-${process.pid}-${tag}`);
  mkdirSync(cg);
  cgroups.push(cg);
  return cg;
}

/**
 * Runs a shell script inside the cgroup (the shell joins it, then execs the script). A process that
 * enters the scope from outside (not forked inside it) has its working directory read from /proc
 * when the agent first reads one of its lines: the script waits a moment so that it is still there.
 */
function runIn(cg: string, cwd: string, script: string): void {
  const r = spawnSync("sh", ["-c", `echo $$ > ${cg}/cgroup.procs && exec sh -c 'sleep 0.3; ${script}'`], {
    cwd,
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
}

/** `provflow mqtt` on Mosquitto with a client id and a session of its own (other tests share the broker) */
function subscriber(prefix: string, db: string, tag: string): string[] {
  const id = `pftest-agent-${process.pid}-${tag}`;
  return [
    "mqtt",
    "--broker",
    MQTT_URL,
    "--topic",
    prefix,
    "--db",
    db,
    "--client-id",
    id,
    "--session-expiry",
    "0",
  ];
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

interface Row {
  record: "node" | "edge";
  type: string;
  label?: string;
  op?: string;
  attrs: Record<string, unknown>;
  from?: number;
  to?: number;
  id?: number;
}

function exportRows(db: string): Row[] {
  const r = spawnSync(process.execPath, [CLI, "export", "--db", db, "--format", "jsonl"], {
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);
}

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGTERM");
      await Promise.race([exited(c), new Promise((r) => setTimeout(r, 15_000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }
  }
  for (const cg of cgroups) if (existsSync(cg)) rmdirSync(cg);
  expect(provflowBpftraces(children.map((c) => c.pid!))).toEqual([]);
}, 60_000);

describe.skipIf(!brokerUp)("provflow agent (eBPF), scoped to a cgroup", () => {
  it("publishes its processes' provenance as CamFlow documents that provflow mqtt stores", async () => {
    const dir = realpathSync(tempDir());
    const cg = newCgroup("a");
    const db = join(dir, "agent.db");
    const prefix = `pftest_agent_${process.pid}/camflow`;
    const machine = `7${process.pid}`;
    const sub = start(subscriber(prefix, db, "a"));
    const agent = await startAgent([
      "--scope",
      "cgroup",
      cg,
      "--broker",
      MQTT_URL,
      "--topic",
      prefix,
      "--machine",
      machine,
      "--interval",
      "500",
    ]);
    runIn(cg, dir, "echo hello > a.txt; cat a.txt > b.txt; mv b.txt c.txt; rm a.txt");
    // outside the cgroup: not in scope
    spawnSync("sh", ["-c", "echo no > outside.txt"], { cwd: dir });
    await new Promise((r) => setTimeout(r, 1500));
    agent.kill("SIGTERM");
    expect(await exited(agent), agent.err()).toBe(0);
    const res = JSON.parse(agent.out()) as Record<string, number>;
    expect(res.published).toBeGreaterThanOrEqual(1);
    expect(res).toMatchObject({ lost: 0, spooled: 0, dropped: 0 });
    await waitFor("the subscriber to store the documents", () => {
      const runs = cliJson<Array<{ nodeCount: number }>>(["runs", "--db", db, "--json"]);
      return runs.length === 1 && runs[0]!.nodeCount > 0;
    });
    await new Promise((r) => setTimeout(r, 1000));
    sub.kill("SIGINT");
    expect(await exited(sub), sub.err()).toBe(0);

    const runs = cliJson<Array<{ source: string; command: string[] | string; stats: { problems: number } }>>([
      "runs",
      "--db",
      db,
      "--json",
    ]);
    expect(runs[0]!.source).toBe("mqtt");
    expect(String(runs[0]!.command)).toContain(`${prefix}/provenance/${machine}`);
    expect(runs[0]!.stats.problems).toBe(0);
    const rows = exportRows(db);
    const nodes = new Map(rows.filter((r) => r.record === "node").map((r) => [r.id!, r]));
    const edges = rows.filter((r) => r.record === "edge");
    const cat = [...nodes.values()].find((n) => n.type === "process" && n.attrs.exe === "/usr/bin/cat");
    expect(cat?.attrs).toMatchObject({ argv: ["cat", "a.txt"], cwd: dir, "cf:machine_id": `cf:${machine}` });
    const fileId = (p: string) =>
      [...nodes.values()].find((n) => n.type === "file" && n.attrs.path === p)?.id;
    const a = fileId(join(dir, "a.txt"));
    expect(a).toBeDefined();
    const rel = (to: number | undefined, type: string) =>
      edges.filter((e) => (e.from === to || e.to === to) && e.attrs.sourceType === type);
    expect(rel(a, "inode_create")).toHaveLength(1);
    expect(rel(a, "write").map((e) => e.attrs["cf:bytes"])).toEqual([6]);
    expect(rel(a, "read").map((e) => e.attrs["cf:bytes"])).toEqual([6]);
    expect(rel(a, "unlink")).toHaveLength(1);
    const c = fileId(join(dir, "c.txt"));
    expect(rel(c, "rename")).toHaveLength(2);
    expect(rel(fileId(join(dir, "b.txt")), "write").map((e) => e.attrs["cf:bytes"])).toEqual([6]);
    // clone relations tie the shell to cat, mv and rm
    expect(edges.filter((e) => e.attrs.sourceType === "clone").length).toBeGreaterThanOrEqual(3);
    expect(fileId(join(dir, "outside.txt"))).toBeUndefined();
  }, 400_000);

  it("--scope uid N sees that user's processes only", async () => {
    const dir = realpathSync(tempDir());
    chmodSync(dir, 0o777);
    const uid = 40000 + (process.pid % 20000);
    const spool = join(dir, "spool");
    const agent = await startAgent([
      "--scope",
      "uid",
      String(uid),
      "--broker",
      `mqtt://127.0.0.1:${await freePort()}`,
      "--spool",
      spool,
      "--interval",
      "300",
    ]);
    const as = spawnSync(
      "setpriv",
      [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "sh", "-c", "sleep 0.3; echo mine > by-uid.txt"],
      { cwd: dir, encoding: "utf8" },
    );
    expect(as.status, as.stderr).toBe(0);
    spawnSync("sh", ["-c", "echo root > by-root.txt"], { cwd: dir });
    await new Promise((r) => setTimeout(r, 1500));
    agent.kill("SIGTERM");
    expect(await exited(agent), agent.err()).toBe(0);
    const paths = new Set<string>();
    for (const f of readdirSync(spool)) {
      const d = decodeCamflowPayload(readFileSync(join(spool, f)));
      if (!d.ok || d.json === null) throw new Error(`bad spooled document ${f}`);
      const doc = JSON.parse(d.json) as { entity: Record<string, Record<string, unknown>> };
      for (const e of Object.values(doc.entity))
        if (typeof e["cf:pathname"] === "string") paths.add(e["cf:pathname"]);
    }
    expect(paths.has(join(dir, "by-uid.txt"))).toBe(true);
    expect(paths.has(join(dir, "by-root.txt"))).toBe(false);
  }, 300_000);

  it("spools while the broker is away, sends the spool when one comes, and keeps the spool bounded", async () => {
    const dir = realpathSync(tempDir());
    const cg = newCgroup("b");
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const spool = join(dir, "spool");
    const prefix = `pftest_spool_${process.pid}/camflow`;
    const agent = await startAgent([
      "--scope",
      "cgroup",
      cg,
      "--broker",
      url,
      "--topic",
      prefix,
      "--machine",
      "4711",
      "--spool",
      spool,
      "--interval",
      "300",
    ]);
    runIn(cg, dir, "echo one > first.txt");
    await waitFor("a spooled document", () => existsSync(spool) && readdirSync(spool).length > 0);
    expect(agent.err()).toContain(`the broker ${url} is unreachable: spooling to ${spool}`);
    // a spooled document is a CamFlow payload
    const first = readdirSync(spool).sort()[0]!;
    const doc = decodeCamflowPayload(readFileSync(join(spool, first)));
    expect(doc.ok && doc.json !== null && JSON.parse(doc.json).activity).toBeTruthy();

    // the broker comes back (a relay to Mosquitto opens on the agent's port): the spool drains
    const db = join(dir, "late.db");
    const sub = start(subscriber(prefix, db, "b"));
    await waitFor("the subscriber", () => sub.err().includes("subscribed"));
    const mq = new URL(MQTT_URL);
    const relay = createServer((client) => {
      const upstream = connect(Number(mq.port || 1883), mq.hostname);
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(port, "127.0.0.1", r));
    try {
      await waitFor("the spool to drain", () => readdirSync(spool).length === 0);
      runIn(cg, dir, "echo two > second.txt");
      await new Promise((r) => setTimeout(r, 1500));
      agent.kill("SIGINT");
      expect(await exited(agent), agent.err()).toBe(0);
    } finally {
      relay.close();
    }
    const res = JSON.parse(agent.out()) as Record<string, number>;
    expect(res.spooled).toBeGreaterThanOrEqual(1);
    expect(res.dropped).toBe(0);
    await waitFor("both files in the store", () => {
      if (!existsSync(db)) return false;
      const paths = exportRows(db)
        .filter((r) => r.record === "node")
        .map((r) => r.attrs.path);
      return paths.includes(join(dir, "first.txt")) && paths.includes(join(dir, "second.txt"));
    });
    sub.kill("SIGINT");
    expect(await exited(sub)).toBe(0);

    // bounded: a 10 kB spool and a busy cgroup drop the oldest documents
    const small = join(dir, "small");
    const agent2 = await startAgent([
      "--scope",
      "cgroup",
      cg,
      "--broker",
      url,
      "--spool",
      small,
      "--spool-max",
      "0.01",
      "--interval",
      "200",
    ]);
    for (let i = 0; i < 6; i++) {
      runIn(
        cg,
        dir,
        `for f in 1 2 3 4 5 6 7 8; do echo $f > n${i}_$f.txt; cat n${i}_$f.txt > /dev/null; done`,
      );
      await new Promise((r) => setTimeout(r, 400));
    }
    agent2.kill("SIGTERM");
    expect(await exited(agent2), agent2.err()).toBe(0);
    const res2 = JSON.parse(agent2.out()) as Record<string, number>;
    expect(res2.dropped).toBeGreaterThan(0);
    const files = readdirSync(small);
    const bytes = files.reduce((n, f) => n + statSync(join(small, f)).size, 0);
    expect(files.length === 1 || bytes <= 10 * 1024 * 1.05).toBe(true);
  }, 600_000);
});
