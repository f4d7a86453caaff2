import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CORPUS, cliJson, runCli, tempDir } from "../helpers/cli.js";
import { dropSchemas, postgresAvailable, schemaUrl, uniqueSchema } from "../helpers/postgres.js";

/**
 * `provflow query` from the command line: CamFlow and strace runs recorded with `provflow ingest`,
 * the answers held against Python reading the raw logs (json, re) and the database file (sqlite3,
 * GROUP BY), the text tables, the errors and their exit codes, and the same answers from PostgreSQL.
 */

const PY = "/usr/bin/python3";
const NORMAL = join(CORPUS, "camflow/frap-dataset/mariadb-root-normal-99.log");
const WALK = join(CORPUS, "camflow/website-examples/walk-wget-packet.w3c.json");
const WGET = join(CORPUS, "strace/survol/dockit_wget_hotmail.strace.866.log");

function py(script: string, ...args: string[]): unknown {
  const r = spawnSync(PY, ["-c", script, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

let dir: string;
let db: string;

beforeAll(() => {
  dir = tempDir("provflow-query-cli-");
  db = join(dir, "q.db");
  for (const [name, file] of [
    ["normal", NORMAL],
    ["walk", WALK],
    ["wget", WGET],
  ] as const) {
    const r = runCli(["ingest", "-q", "--db", db, "--name", name, file]);
    if (r.status !== 0) throw new Error(`ingest ${file} exited ${r.status}: ${r.stderr}`);
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface TypesJson {
  run: { id: number; name: string; source: string };
  nodes: {
    total: number;
    byType: Array<{ kind: string; type: string; sourceType: string; count: number }>;
    provTypes: Array<{ of: string; value: string; count: number }>;
    withoutProvType: number;
    labels: { distinct: number; values: Array<{ value: string; count: number }> };
  };
  relations: {
    total: number;
    calls: number;
    byType: Array<{ type: string; op: string; sourceType: string; count: number; calls: number }>;
    provTypes: Array<{ of: string; value: string; count: number }>;
    withoutProvType: number;
    labels: { distinct: number; values: Array<{ value: string; count: number }> };
  };
}

interface FlowJson {
  via: string;
  sender: { pid: number | null; name: string; gid: string } | null;
  receiver: { pid: number | null; name: string; gid: string } | null;
  from: string | null;
  to: string | null;
  count: number;
  bytes: number;
}

describe("provflow query types", () => {
  it("on an strace run (the latest, no RUN given): the counts SQL gives from the database file", () => {
    const inv = cliJson<TypesJson>(["query", "types", "--db", db, "--json", "--limit", "7"]);
    expect(inv.run.name).toBe("wget");
    const o = py(
      `import sqlite3, json, sys
c = sqlite3.connect(sys.argv[1])
run = c.execute("SELECT max(id) FROM runs").fetchone()[0]
nodes = {"%s %s" % (k, t): n for k, t, n in c.execute(
    "SELECT kind, type, count(*) FROM nodes WHERE run_id=? GROUP BY 1, 2", (run,))}
rels = {"%s %s" % (t, o): [n, s] for t, o, n, s in c.execute(
    "SELECT type, op, count(*), sum(count) FROM edges WHERE run_id=? GROUP BY 1, 2", (run,))}
labels = c.execute("SELECT label, count(*) FROM nodes WHERE run_id=? GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 7",
    (run,)).fetchall()
distinct = c.execute("SELECT count(DISTINCT label) FROM nodes WHERE run_id=?", (run,)).fetchone()[0]
print(json.dumps({"nodes": nodes, "rels": rels, "labels": labels, "distinct": distinct}))`,
      db,
    ) as {
      nodes: Record<string, number>;
      rels: Record<string, [number, number]>;
      labels: [string, number][];
      distinct: number;
    };
    const nodes: Record<string, number> = {};
    for (const t of inv.nodes.byType)
      nodes[`${t.kind} ${t.type}`] = (nodes[`${t.kind} ${t.type}`] ?? 0) + t.count;
    expect(nodes).toEqual(o.nodes);
    const rels: Record<string, [number, number]> = {};
    for (const t of inv.relations.byType) {
      const [count, calls] = rels[`${t.type} ${t.op}`] ?? [0, 0];
      rels[`${t.type} ${t.op}`] = [count + t.count, calls + t.calls];
    }
    expect(rels).toEqual(o.rels);
    expect(inv.nodes.labels.values.map((v) => [v.value, v.count])).toEqual(o.labels);
    expect(inv.nodes.labels.distinct).toBe(o.distinct);
    // strace has no prov:type: every node and relation goes without
    expect(inv.nodes.provTypes).toEqual([]);
    expect(inv.nodes.withoutProvType).toBe(inv.nodes.total);
    expect(inv.relations.labels.distinct).toBe(0);
  });

  it("on a CamFlow run by name: the distinct prov:type values and counts Python reads in the raw log", () => {
    const inv = cliJson<TypesJson>(["query", "types", "normal", "--db", db, "--json"]);
    const o = py(
      `import json, sys
nodes = {}; rels = {}
for line in open(sys.argv[1]):
    if not line.strip(): continue
    for section, recs in json.loads(line).items():
        if section == "prefix": continue
        for k, r in recs.items():
            t = r.get("prov:type")
            if t is None: continue
            if section in ("entity", "activity", "agent"): nodes[t] = nodes.get(t, 0) + 1
            else: rels[t] = rels.get(t, 0) + 1
print(json.dumps({"nodes": nodes, "rels": rels}))`,
      NORMAL,
    ) as { nodes: Record<string, number>; rels: Record<string, number> };
    expect(Object.fromEntries(inv.nodes.provTypes.map((t) => [t.value, t.count]))).toEqual(o.nodes);
    expect(Object.fromEntries(inv.relations.provTypes.map((t) => [t.value, t.count]))).toEqual(o.rels);
    // the default limit: 20 labels
    expect(inv.nodes.labels.values).toHaveLength(20);
  });

  it("prints tables", () => {
    const r = runCli(["query", "types", "normal", "--db", db, "--limit", "3"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Run \d+ normal {2}\(camflow, complete\)/);
    expect(r.stdout).toMatch(/^KIND +TYPE +SOURCE TYPE +COUNT$/m);
    expect(r.stdout).toMatch(/^activity +process +task +\d+$/m);
    expect(r.stdout).toMatch(/^RELATION +OP +SOURCE TYPE +COUNT +CALLS$/m);
    expect(r.stdout).toMatch(/^wasDerivedFrom +send +send_packet +\d+ +\d+$/m);
    expect(r.stdout).toMatch(/^Node labels: \d+ distinct, the 3 most frequent$/m);
  });
});

describe("provflow query packets", () => {
  it("strace: what wget received from each peer adds up to the bytes of its socket reads in the raw log", () => {
    const rep = cliJson<{ flows: FlowJson[]; packets: number }>([
      "query",
      "packets",
      "wget",
      "--db",
      db,
      "--json",
    ]);
    expect(rep.packets).toBe(0);
    const o = py(
      String.raw`import re, json, sys
rx = re.compile(r'\b(read|recvfrom|recvmsg|recv)\(\d+<(TCP|UDP|TCPv6|UDPv6|NETLINK|UNIX|UNIX-STREAM)[^:]*:\[([^\]]*)\]>.*\)\s+=\s+(\d+)')
by = {}
for line in open(sys.argv[1], errors="replace"):
    m = rx.search(line)
    if not m: continue
    peer = m.group(3).split("->")[1] if "->" in m.group(3) else ""
    by[peer] = by.get(peer, 0) + int(m.group(4))
print(json.dumps(by))`,
      WGET,
    ) as Record<string, number>;
    const ours: Record<string, number> = {};
    for (const f of rep.flows)
      if (f.receiver !== null && f.sender === null) ours[f.from ?? ""] = (ours[f.from ?? ""] ?? 0) + f.bytes;
    expect(ours).toEqual(o);
    expect(rep.flows.every((f) => f.via === "socket")).toBe(true);
    // every process end is wget, every peer address one it connected or sent to in the log
    const log = readFileSync(WGET, "latin1");
    for (const f of rep.flows) {
      for (const p of [f.sender, f.receiver]) if (p) expect(p.name).toBe("/usr/bin/wget");
      const peer = f.sender === null ? f.from : f.to;
      const m = peer ? /^([\d.]+):(\d+)$/.exec(peer) : null;
      if (m) expect(log).toContain(`sin_port=htons(${m[2]}), sin_addr=inet_addr("${m[1]}")`);
    }
  });

  it("CamFlow: one row per packet direction, every raw packet counted once, the ssh server named", () => {
    const rep = cliJson<{ flows: FlowJson[]; packets: number; channels: unknown[] }>([
      "query",
      "packets",
      "normal",
      "--db",
      db,
      "--json",
      "--each",
    ]);
    const raw = py(
      `import json, sys
out = []
for line in open(sys.argv[1]):
    if not line.strip(): continue
    for k, r in json.loads(line).get("entity", {}).items():
        if r.get("prov:type") == "packet": out.append(r["cf:sender"] + "->" + r["cf:receiver"])
print(json.dumps(out))`,
      NORMAL,
    ) as string[];
    expect(rep.packets).toBe(raw.length);
    const packets = rep.flows.filter((f) => f.via === "packet");
    expect(packets.reduce((a, f) => a + f.count, 0)).toBe(raw.length);
    expect(new Set(packets.map((f) => `${f.from}->${f.to}`))).toEqual(new Set(raw));
    expect(packets.some((f) => f.sender?.name === "/usr/sbin/sshd")).toBe(true);
    expect(rep.channels.length).toBeGreaterThanOrEqual(raw.length);
    const text = runCli(["query", "packets", "normal", "--db", db]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^VIA +SENDER +FROM +RECEIVER +TO +COUNT +BYTES$/m);
    expect(text.stdout).toMatch(
      /^packet +\d+ \/usr\/sbin\/sshd +10\.0\.2\.15:22 +- +10\.0\.2\.2:\d+ +\d+ +0$/m,
    );
  });
});

describe("provflow query processes", () => {
  it("--secctx and --cgroupns pick the task versions Python finds in the raw log", () => {
    const o = py(
      `import json, sys, fnmatch
versions = []
for line in open(sys.argv[1]):
    if not line.strip(): continue
    for k, r in json.loads(line).get("activity", {}).items():
        versions.append([r.get("cf:secctx") or "", r.get("cf:cgroupns")])
print(json.dumps({"sssd": sum(1 for s, c in versions if "sssd" in s),
                  "glob": sum(1 for s, c in versions if fnmatch.fnmatchcase(s, "system_u:system_r:*_t:s0")),
                  "root": sum(1 for s, c in versions if c == 4026531835)}))`,
      NORMAL,
    ) as { sssd: number; glob: number; root: number };
    type Rep = {
      nodes: number;
      processes: Array<{ pid: number; secctx: string; start: string; ids: number[] }>;
    };
    const sssd = cliJson<Rep>(["query", "processes", "normal", "--db", db, "--json", "--secctx", "sssd"]);
    expect(sssd.nodes).toBe(o.sssd);
    expect(sssd.processes.reduce((a, p) => a + p.ids.length, 0)).toBe(o.sssd);
    expect(sssd.processes.every((p) => p.secctx.includes("sssd"))).toBe(true);
    expect(sssd.processes[0]!.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const glob = cliJson<Rep>([
      "query",
      "processes",
      "normal",
      "--db",
      db,
      "--json",
      "--secctx",
      "system_u:system_r:*_t:s0",
    ]);
    expect(glob.nodes).toBe(o.glob);
    const root = cliJson<Rep>([
      "query",
      "processes",
      "normal",
      "--db",
      db,
      "--json",
      "--cgroupns",
      "4026531835",
    ]);
    expect(root.nodes).toBe(o.root);
    const text = runCli(["query", "processes", "normal", "--db", db, "--secctx", "sssd"]);
    expect(text.stdout).toMatch(/^PID +NAME +SECCTX +CGROUPNS +START +END +NODES +GID$/m);
    expect(text.stdout).toContain("/usr/libexec/sssd/sssd_nss");
  });

  it("--attr on an strace run: processes by their executable", () => {
    const rep = cliJson<{ processes: Array<{ pid: number; name: string }> }>([
      "query",
      "processes",
      "wget",
      "--db",
      db,
      "--json",
      "--attr",
      "exe=*/wget",
    ]);
    const pids = py(
      String.raw`import re, json, sys
print(json.dumps(sorted({int(m.group(1)) for m in re.finditer(r'\[pid +(\d+)\] [\d:.]+ execve\("[^"]*/wget"', open(sys.argv[1], errors="replace").read())})))`,
      WGET,
    ) as number[];
    expect(rep.processes.map((p) => p.pid)).toEqual(pids);
    expect(rep.processes.every((p) => p.name === "/usr/bin/wget")).toBe(true);
  });
});

describe("provflow query node", () => {
  it("a CamFlow task by its id: every attribute of the raw record, its relations, and text", () => {
    const o = py(
      `import json, sys
d = json.load(open(sys.argv[1]))
k, r = next(iter(d["activity"].items()))
print(json.dumps({"key": k, "rec": r}))`,
      WALK,
    ) as { key: string; rec: Record<string, unknown> };
    const rep = cliJson<{
      matches: number;
      nodes: Array<{
        id: number;
        attrs: Record<string, unknown>;
        out: Array<{ type: string; op: string }>;
        in: unknown[];
      }>;
    }>(["query", "node", "walk", o.key, "--db", db, "--json"]);
    expect(rep.matches).toBe(1);
    for (const [k, v] of Object.entries(o.rec)) expect(rep.nodes[0]!.attrs[k], k).toEqual(v);
    expect(rep.nodes[0]!.out.map((r) => `${r.type} ${r.op}`)).toEqual(["used read"]);
    const text = runCli(["query", "node", "walk", String(rep.nodes[0]!.id), "--db", db]);
    expect(text.status).toBe(0);
    for (const k of Object.keys(o.rec)) expect(text.stdout).toMatch(new RegExp(`^  ${k} +`, "m"));
    expect(text.stdout).toMatch(/^Relations out \(1\)$/m);
    expect(text.stdout).toMatch(
      /^ {2}\d+ +used +read +read +1 +0 +2017-09-25T21:11:46\.000000Z +\d+ entity\/pipe \[fifo\] 11$/m,
    );
  });

  it("one argument is a node of the latest run", () => {
    const rep = cliJson<{ run: { name: string }; nodes: Array<{ label: string }> }>([
      "query",
      "node",
      "/usr/bin/wget",
      "--db",
      db,
      "--json",
    ]);
    expect(rep.run.name).toBe("wget");
    expect(rep.nodes.length).toBeGreaterThan(0);
  });
});

describe("provflow query: errors", () => {
  it("exit codes: 6 for a missing node or run, 2 for bad options", () => {
    const none = runCli(["query", "node", "wget", "no-such-node", "--db", db]);
    expect(none.status).toBe(6);
    expect(none.stderr).toContain("no node no-such-node in run");
    expect(runCli(["query", "types", "999", "--db", db]).status).toBe(6);
    const attr = runCli(["query", "processes", "--attr", "novalue", "--db", db]);
    expect(attr.status).toBe(2);
    expect(attr.stderr).toContain("--attr needs KEY=VALUE");
    expect(runCli(["query", "types", "--limit", "many", "--db", db]).status).toBe(2);
    expect(runCli(["query", "nosuch", "--db", db]).status).toBe(2);
  });
});

const up = await postgresAvailable("provflow query on PostgreSQL (test/e2e/query-cli.test.ts)");

describe.skipIf(!up)("provflow query --db postgres://", () => {
  const schema = uniqueSchema("query");
  let pg: string;
  let sqlite: string;

  beforeAll(() => {
    pg = schemaUrl(schema);
    sqlite = join(dir, "same.db");
    for (const target of [sqlite, pg]) {
      const r = runCli(["ingest", "-q", "--db", target, "--name", "normal", NORMAL]);
      if (r.status !== 0) throw new Error(`ingest --db ${target} exited ${r.status}: ${r.stderr}`);
    }
  });

  afterAll(async () => {
    await dropSchemas(schema);
  });

  it("answers as SQLite does, byte for byte", () => {
    for (const args of [
      ["types", "normal", "--limit", "50"],
      ["packets", "normal", "--each"],
      ["processes", "normal", "--secctx", "*:s0"],
      ["node", "normal", "[socket] 3", "--limit", "100"],
    ]) {
      for (const json of [[], ["--json"]]) {
        const a = runCli(["query", ...args, ...json, "--db", sqlite]);
        const b = runCli(["query", ...args, ...json, "--db", pg]);
        expect(a.status, args.join(" ")).toBe(0);
        expect(b.status, `${args.join(" ")}: ${b.stderr}`).toBe(0);
        expect(b.stdout, args.join(" ")).toBe(a.stdout);
      }
    }
  });
});
