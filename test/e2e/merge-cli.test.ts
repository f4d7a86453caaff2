import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS, cliJson, runCli, tempDir } from "../helpers/cli.js";
import { dropSchemas, postgresAvailable, schemaUrl, uniqueSchema } from "../helpers/postgres.js";

/**
 * `provflow merge` on real runs: a client and a server traced in two separate `provflow trace` runs
 * on loopback, two psql runs reaching the PostgreSQL server (on the PostgreSQL store), files written
 * and read through two mount points of one NFS export (mount tables given with --mounts), and a
 * CamFlow capture merged with the same capture recorded on another machine (its machine ids
 * rewritten). The merged exports are read back by python3-prov.
 */
const hasStrace = spawnSync("strace", ["-V"], { encoding: "utf8" }).status === 0;
if (!hasStrace) {
  if (process.env.CI === "true") throw new Error("strace is required for the merge e2e tests in CI");
  console.warn("merge-cli: strace not found, skipping the traced-run tests");
}
const PY = "/usr/bin/python3";

interface MergeJson {
  run: { id: number; name: string; source: string; nodeCount: number; edgeCount: number; status: string };
  sources: { runId: number; nodes: number; edges: number; mounts: number }[];
  links: { links: number; byRule: Record<string, number>; tcpNoOverlap: number };
}

interface JsonlRecord {
  record: "node" | "edge";
  id: number;
  type: string;
  op?: string;
  from?: number;
  to?: number;
  gid?: string;
  label?: string;
  attrs: Record<string, unknown>;
}

function jsonl(db: string, run: string): JsonlRecord[] {
  const r = runCli(["export", "--db", db, run, "--format", "jsonl"]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as JsonlRecord)
    .filter((x) => x.record === "node" || x.record === "edge");
}

function links(records: JsonlRecord[], rule: string): JsonlRecord[] {
  return records.filter((r) => r.record === "edge" && r.type === "alternateOf" && r.attrs.link === rule);
}

/** Counts of records python3-prov reads from each PROV export of a run. */
function provCounts(
  db: string,
  run: string,
  dir: string,
): Record<string, { records: number; alternates: number }> {
  const files: Record<string, string> = {};
  for (const f of ["prov-json", "prov-xml", "turtle"]) {
    files[f] = join(dir, `merged.${f}`);
    const r = runCli(["export", "--db", db, run, "--format", f, "-o", files[f]!]);
    expect(r.status, r.stderr).toBe(0);
  }
  const script = `
import json, sys
from prov.model import ProvDocument
out = {}
for name, path, kw in [("prov-json", sys.argv[1], {}), ("prov-xml", sys.argv[2], {"format": "xml"}),
                       ("turtle", sys.argv[3], {"format": "rdf", "rdf_format": "turtle"})]:
    d = ProvDocument.deserialize(path, **kw)
    recs = list(d.get_records())
    out[name] = {"records": len(recs), "alternates": sum(1 for r in recs if r.get_type().localpart == "Alternate")}
print(json.dumps(out))
`;
  const py = spawnSync(PY, ["-c", script, files["prov-json"]!, files["prov-xml"]!, files.turtle!], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  expect(py.status, py.stderr).toBe(0);
  return JSON.parse(py.stdout) as Record<string, { records: number; alternates: number }>;
}

describe.skipIf(!hasStrace)("provflow merge of traced runs", () => {
  it("links a client's connect to the server's accept (4-tuple swapped, lifetimes overlapping)", async () => {
    const dir = tempDir("provflow-merge-");
    const db = join(dir, "runs.db");
    const portFile = join(dir, "port");
    const serverCode = [
      "import socket, sys",
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()",
      "open(sys.argv[1] + '.tmp', 'w').write(str(s.getsockname()[1]))",
      "import os; os.rename(sys.argv[1] + '.tmp', sys.argv[1])",
      "c, a = s.accept(); d = c.recv(100); c.sendall(b'pong:' + d); c.close()",
    ].join("\n");
    const server = spawn(
      process.execPath,
      [
        join(import.meta.dirname, "../../dist/provflow.js"),
        "trace",
        "--db",
        db,
        "--name",
        "server",
        "-q",
        "--",
        PY,
        "-c",
        serverCode,
        portFile,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const serverDone = new Promise<number | null>((res) => server.on("exit", (code) => res(code)));
    for (let i = 0; i < 200 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 50));
    const port = readFileSync(portFile, "utf8");
    const clientCode = `import socket\nc = socket.create_connection(('127.0.0.1', ${port})); c.sendall(b'ping'); print(c.recv(100))`;
    const client = runCli(["trace", "--db", db, "--name", "client", "-q", "--", PY, "-c", clientCode]);
    expect(client.status, client.stderr).toBe(0);
    expect(client.stdout).toContain("pong:ping");
    expect(await serverDone).toBe(0);

    const merged = cliJson<MergeJson>(["merge", "--db", db, "server", "client", "--name", "both", "--json"]);
    expect(merged.run.source).toBe("merge");
    expect(merged.run.status).toBe("complete");
    const [a, b] = merged.sources;
    // the union: every node and relation of both runs, plus the links
    expect(merged.run.nodeCount).toBe(a!.nodes + b!.nodes);
    expect(merged.run.edgeCount).toBe(a!.edges + b!.edges + merged.links.links);
    expect(merged.links.byRule["tcp-4-tuple"]).toBe(1);

    const recs = jsonl(db, "both");
    const [tcp] = links(recs, "tcp-4-tuple");
    const nodes = new Map(recs.filter((r) => r.record === "node").map((n) => [n.id, n]));
    const clientSock = nodes.get(tcp!.from!)!;
    const serverSock = nodes.get(tcp!.to!)!;
    expect(clientSock.attrs.originRunName).toBe("client");
    expect(serverSock.attrs.originRunName).toBe("server");
    expect(clientSock.attrs.remote).toBe(`127.0.0.1:${port}`);
    expect(serverSock.attrs.local).toBe(`127.0.0.1:${port}`);
    expect(serverSock.attrs.remote).toBe(clientSock.attrs.local);
    // the evidence: the four endpoints, the accept, the overlap of the two lifetimes
    expect(tcp!.attrs).toMatchObject({
      clientLocal: clientSock.attrs.local,
      clientRemote: `127.0.0.1:${port}`,
      serverLocal: `127.0.0.1:${port}`,
      serverRemote: clientSock.attrs.local,
      serverSide: "accept",
    });
    expect(tcp!.attrs.overlapUs as number).toBeGreaterThan(0);
    expect(String(tcp!.attrs.overlapStart)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // every node keeps its gid and says where it came from; nothing fused
    expect(clientSock.gid).toMatch(/^tcp:\/\//);
    for (const n of nodes.values()) expect(typeof n.attrs.originRun).toBe("number");
    // the listening socket and the client reach the same server
    const server2 = links(recs, "same-server");
    expect(server2.some((l) => nodes.get(l.from!)?.attrs.role === "listening")).toBe(true);

    // python3-prov reads the three PROV serializations with every link
    const counts = provCounts(db, "both", dir);
    for (const f of ["prov-json", "prov-xml", "turtle"]) {
      expect(counts[f]!.alternates, f).toBe(merged.links.links);
      expect(counts[f]!.records, f).toBe(counts["prov-json"]!.records);
    }
    // the evidence survives where the grammar has no attributes for alternateOf: in a comment
    const provn = runCli(["export", "--db", db, "both", "--format", "prov-n"]).stdout;
    expect(provn).toMatch(
      /alternateOf\(run:n\d+, run:n\d+\) \/\/ .*provflow:link="tcp-4-tuple".*provflow:overlapUs=\d+/,
    );
    // Graphviz renders it, the links drawn apart
    const dot = runCli(["export", "--db", db, "both", "--format", "dot"]).stdout;
    expect(dot).toContain('label="alternateOf (tcp-4-tuple)"');
    expect(spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8" }).status).toBe(0);
    // SPADE keeps the evidence as annotations
    const spade = runCli(["export", "--db", db, "both", "--format", "spade-json"]).stdout;
    expect(spade).toMatch(/"relation":"alternateOf".*"link":"tcp-4-tuple"/);
  }, 120_000);

  it("links files read and written through two mount points of one NFS export (recorded mount tables)", () => {
    const dir = tempDir("provflow-merge-nfs-");
    const db = join(dir, "runs.db");
    // two "machines" mounting 10.0.0.5:/export/proj, at different mount points
    const mA = join(dir, "mnt-a");
    const mB = join(dir, "mnt-b");
    mkdirSync(join(mA, "data"), { recursive: true });
    mkdirSync(join(mB, "data"), { recursive: true });
    writeFileSync(join(mB, "data", "report.txt"), "42\n");
    writeFileSync(join(mB, "data", "only-b.txt"), "b\n");
    const w = runCli([
      "trace",
      "--db",
      db,
      "--name",
      "writer",
      "-q",
      "--",
      "sh",
      "-c",
      `echo 42 > ${mA}/data/report.txt`,
    ]);
    expect(w.status, w.stderr).toBe(0);
    const r = runCli([
      "trace",
      "--db",
      db,
      "--name",
      "reader",
      "-q",
      "--",
      "cat",
      `${mB}/data/report.txt`,
      `${mB}/data/only-b.txt`,
    ]);
    expect(r.status, r.stderr).toBe(0);
    // machine A's /proc/self/mountinfo (nfs4, the server by name, addr= its address), B's /proc/mounts
    const tableA = join(dir, "mountinfo-a");
    writeFileSync(
      tableA,
      [
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        `36 22 0:32 / ${mA} rw,relatime shared:12 - nfs4 fileserver:/export/proj rw,vers=4.2,rsize=1048576,addr=10.0.0.5,clientaddr=10.0.0.1`,
        "",
      ].join("\n"),
    );
    const tableB = join(dir, "mounts-b");
    writeFileSync(
      tableB,
      [
        "/dev/sda1 / ext4 rw,relatime 0 0",
        `10.0.0.5:/export/proj ${mB} nfs rw,relatime,vers=3,addr=10.0.0.5 0 0`,
        "proc /proc proc rw 0 0",
        "",
      ].join("\n"),
    );
    const merged = cliJson<MergeJson>([
      "merge",
      "--db",
      db,
      "writer",
      "reader",
      "--mounts",
      `writer=${tableA}`,
      "--mounts",
      `reader=${tableB}`,
      "--json",
    ]);
    expect(merged.sources.map((s) => s.mounts)).toEqual([1, 1]);
    const recs = jsonl(db, String(merged.run.id));
    const nodes = new Map(recs.filter((x) => x.record === "node").map((n) => [n.id, n]));
    const shared = links(recs, "shared-storage");
    expect(shared).toHaveLength(1);
    const [l] = shared;
    expect(l!.attrs.shared).toBe("nfs://10.0.0.5/export/proj/data/report.txt");
    expect(nodes.get(l!.from!)!.attrs.path).toBe(`${mB}/data/report.txt`);
    expect(nodes.get(l!.to!)!.attrs.path).toBe(`${mA}/data/report.txt`);
    expect(l!.attrs).toMatchObject({ path: `${mB}/data/report.txt`, otherPath: `${mA}/data/report.txt` });
    expect((l!.attrs.mount as { fstype: string }).fstype).toBe("nfs");
    expect((l!.attrs.otherMount as { fstype: string }).fstype).toBe("nfs4");
    // a file only B has is not linked to anything
    const onlyB = [...nodes.values()].find((n) => n.attrs.path === `${mB}/data/only-b.txt`)!;
    expect(recs.some((x) => x.type === "alternateOf" && (x.from === onlyB.id || x.to === onlyB.id))).toBe(
      false,
    );
  }, 60_000);

  it("rejects a mount table that is not one", () => {
    const dir = tempDir("provflow-merge-bad-");
    const db = join(dir, "runs.db");
    for (const n of ["a", "b"])
      expect(runCli(["trace", "--db", db, "--name", n, "-q", "--", "true"]).status).toBe(0);
    writeFileSync(join(dir, "junk"), "hello world\n");
    const r = runCli(["merge", "--db", db, "a", "b", "--mounts", `a=${join(dir, "junk")}`]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("not a mount table");
    const r2 = runCli(["merge", "--db", db, "a", "a"]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain("given twice");
    const r3 = runCli(["merge", "--db", db, "a", "nosuchrun"]);
    expect(r3.status).toBe(6);
  }, 60_000);
});

const pgUp = hasStrace && (await postgresAvailable("merge of psql runs on the PostgreSQL store"));
const hasPsql = spawnSync("psql", ["--version"], { encoding: "utf8" }).status === 0;
const PREFIX = "pf_test_merge";

describe.skipIf(!pgUp || !hasPsql)("provflow merge on the PostgreSQL store", () => {
  afterAll(async () => {
    await dropSchemas(PREFIX);
  });

  it("links two psql runs reaching the same database server", () => {
    const db = schemaUrl(uniqueSchema("merge"));
    const psql = [
      "psql",
      "-X",
      "-h",
      "127.0.0.1",
      "-p",
      "5432",
      "-U",
      "postgres",
      "-d",
      "test",
      "-Atc",
      "select 41 + 1",
    ];
    for (const name of ["psql-a", "psql-b"]) {
      const r = runCli(["trace", "--db", db, "--name", name, "-q", "--", ...psql]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe("42");
    }
    const merged = cliJson<MergeJson>(["merge", "--db", db, "psql-a", "psql-b", "--json"]);
    expect(merged.run.nodeCount).toBe(merged.sources[0]!.nodes + merged.sources[1]!.nodes);
    const recs = jsonl(db, String(merged.run.id));
    const nodes = new Map(recs.filter((x) => x.record === "node").map((n) => [n.id, n]));
    const server = links(recs, "same-server");
    expect(server.length).toBeGreaterThanOrEqual(1);
    for (const l of server) {
      expect(l.attrs.server).toBe("127.0.0.1:5432");
      expect(nodes.get(l.from!)!.attrs.remote).toBe("127.0.0.1:5432");
      expect(nodes.get(l.to!)!.attrs.remote).toBe("127.0.0.1:5432");
      expect(nodes.get(l.from!)!.attrs.originRunName).not.toBe(nodes.get(l.to!)!.attrs.originRunName);
    }
    // the two client sockets are not each other's peers
    expect(links(recs, "tcp-4-tuple")).toHaveLength(0);
  }, 120_000);
});

/** The same capture recorded on another machine: CamFlow's machine id (bytes 20-23 of each id) changed. */
function otherMachine(doc: string): string {
  const shift = (m: number) => (m + 0x51ed270b) >>> 0;
  return doc
    .replace(/"(cf:)?([A-Za-z0-9+/]{43}=)"/g, (_all, cf: string | undefined, id: string) => {
      const b = Buffer.from(id, "base64");
      b.writeUInt32LE(shift(b.readUInt32LE(20)), 20);
      return `"${cf ?? ""}${b.toString("base64")}"`;
    })
    .replace(/"cf:machine_id":(\d+)/g, (_all, m: string) => `"cf:machine_id":${shift(Number(m))}`)
    .replace(/"(\d+)":\{"prov:label":"\[machine\] (\d+)"/g, (_all, m: string) => {
      const n = shift(Number(m));
      return `"${n}":{"prov:label":"[machine] ${n}"`;
    });
}

describe("provflow merge of CamFlow captures", () => {
  it("links the packets both machines saw (sender and receiver), nothing else", () => {
    const dir = tempDir("provflow-merge-cf-");
    const db = join(dir, "runs.db");
    const original = join(CORPUS, "camflow/frap-dataset/mariadb-root-normal-99.log");
    const copy = join(dir, "other-machine.log");
    writeFileSync(copy, otherMachine(readFileSync(original, "utf8")));
    for (const [name, file] of [
      ["machine-a", original],
      ["machine-b", copy],
    ] as const) {
      const r = runCli(["ingest", "--db", db, "--name", name, "-q", file]);
      expect(r.status, r.stderr).toBe(0);
    }
    // oracle: the distinct packets of the capture, by CamFlow's packet identifier, read with Python
    const py = spawnSync(
      PY,
      [
        "-c",
        `
import json, sys
seen = set()
for line in open(sys.argv[1]):
    line = line.strip()
    if not line: continue
    doc = json.loads(line)
    for k, e in doc.get("entity", {}).items():
        if e.get("prov:type") == "packet":
            seen.add((e.get("cf:sender"), e.get("cf:receiver"), e.get("cf:id"), e.get("cf:seq")))
print(len(seen))
`,
        original,
      ],
      { encoding: "utf8" },
    );
    expect(py.status, py.stderr).toBe(0);
    const packets = Number(py.stdout.trim());
    expect(packets).toBeGreaterThan(0);
    const merged = cliJson<MergeJson>(["merge", "--db", db, "machine-a", "machine-b", "--json"]);
    expect(merged.links.byRule["camflow-packet"]).toBe(packets);
    // the machines' own nodes are other nodes (their ids carry the machine): no other link
    expect(merged.links.links).toBe(packets);
    const recs = jsonl(db, String(merged.run.id));
    const nodes = new Map(recs.filter((x) => x.record === "node").map((n) => [n.id, n]));
    for (const l of links(recs, "camflow-packet")) {
      const a = nodes.get(l.from!)!;
      const b = nodes.get(l.to!)!;
      expect(a.type).toBe("packet");
      expect(a.gid).toBe(b.gid);
      expect(a.id).not.toBe(b.id);
      expect(a.attrs.originRunName).toBe("machine-b");
      expect(b.attrs.originRunName).toBe("machine-a");
      expect(String(l.attrs.sender)).toMatch(/^\d+\.\d+\.\d+\.\d+:\d+$/);
    }
  }, 120_000);
});
