import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { memoryExportInput, storeExportInput } from "../src/export/export-input.js";
import { stringSink } from "../src/export/export-sink.js";
import { exportFormats, getExporter } from "../src/export/exporter-registry.js";
import { provJsonExporter } from "../src/export/prov-json.js";
import { xsdDateTime } from "../src/export/prov-names.js";
import { redactArgv, redactEnv, redactText } from "../src/export/redact.js";
import type { GraphEdge, GraphNode, NodeType } from "../src/graph/prov-types.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { RunRecord } from "../src/store/store-types.js";

const PYTHON = "/usr/bin/python3";
const dir = mkdtempSync(join(tmpdir(), "provflow-provjson-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 2026-11-23 (the corpus machine's date) at 02:mm:ss + µs, as µs since the epoch. */
function at(min: number, sec: number, micros: number): number {
  return Date.UTC(2026, 10, 23, 2, min, sec) * 1000 + micros;
}

const HOST = "pfvm";

function proc(
  id: number,
  pid: number,
  argv: string[],
  exe: string,
  start: number,
  end: number | null,
  extra: GraphNode["attrs"] = {},
): GraphNode {
  return {
    id,
    kind: "activity",
    type: "process",
    gid: `proc://${HOST}/boot1/${pid}@${start}`,
    version: 0,
    label: argv.join(" "),
    start,
    end,
    attrs: { pid, exe, argv, cwd: "/tmp/pfwork", ...extra },
  };
}

function ent(
  id: number,
  type: NodeType,
  label: string,
  gid: string,
  version: number,
  attrs: GraphNode["attrs"],
): GraphNode {
  return { id, kind: "entity", type, gid, version, label, start: null, end: null, attrs };
}

function file(id: number, path: string, version: number, extra: GraphNode["attrs"] = {}): GraphNode {
  return ent(id, "file", path, `file://${HOST}${path}`, version, { path, ...extra });
}

let nextEdge = 0;
function rel(
  type: GraphEdge["type"],
  op: GraphEdge["op"],
  from: number,
  to: number,
  ts: number | null,
  bytes = 0,
): GraphEdge {
  nextEdge += 1;
  return { id: nextEdge, type, op, from, to, ts, tsEnd: ts, count: 1, bytes, attrs: {} };
}

/*
 * Facts from ../shared/corpus/strace-local: pipeline.strace (sh -c 'ls /etc | grep -c conf | tee
 * /tmp/pfwork/count.txt; cat /etc/hostname > /dev/null'), git-add-commit.strace (rename of the index
 * lock, unlink of a temporary object) and python-sockets.strace (TCP connect).
 */
const SH_CMD = "ls /etc | grep -c conf | tee /tmp/pfwork/count.txt; cat /etc/hostname > /dev/null";
const nodes: GraphNode[] = [
  // pipeline.strace:1 execve sh, :1106 exited with 0
  proc(1, 25898, ["sh", "-c", SH_CMD], "/usr/bin/sh", at(27, 14, 828725), at(27, 14, 893696), {
    exitCode: 0,
    via: "root",
  }),
  // :59 clone = 25899 (the child before its exec), :81 execve ls resumed, :922 exited with 0
  proc(2, 25899, ["sh", "-c", SH_CMD], "/usr/bin/sh", at(27, 14, 838590), at(27, 14, 840152), {
    via: "clone",
    ppid: 25898,
  }),
  proc(3, 25899, ["ls", "/etc"], "/usr/bin/ls", at(27, 14, 840152), at(27, 14, 865312), {
    exitCode: 0,
    generation: 1,
  }),
  // :141 execve grep resumed, :935 exited
  proc(4, 25900, ["grep", "-c", "conf"], "/usr/bin/grep", at(27, 14, 842522), at(27, 14, 865889), {
    exitCode: 0,
  }),
  // :196 execve tee resumed, :950 exited
  proc(5, 25901, ["tee", "/tmp/pfwork/count.txt"], "/usr/bin/tee", at(27, 14, 844966), at(27, 14, 866852), {
    exitCode: 0,
  }),
  // :976 execve cat resumed, :1098 exited
  proc(6, 25902, ["cat", "/etc/hostname"], "/usr/bin/cat", at(27, 14, 870489), at(27, 14, 892760), {
    exitCode: 0,
  }),
  // :58 pipe2 53435, :91 pipe2 53436
  ent(7, "pipe", "pipe:[53435]", `pipe://${HOST}/boot1/53435`, 0, { inode: "53435" }),
  ent(8, "pipe", "pipe:[53436]", `pipe://${HOST}/boot1/53436`, 0, { inode: "53436" }),
  // :763 openat count.txt O_WRONLY|O_CREAT|O_TRUNC by tee
  file(9, "/tmp/pfwork/count.txt", 1),
  file(10, "/etc/hostname", 0, { category: "config" }),
  file(11, "/usr/bin/ls", 0, { category: "executable" }),
  // git-add-commit.strace:303 rename index.lock → index by git (26117), :297 unlink tmp object
  file(12, "/tmp/pfwork/gitrepo/.git/index.lock", 1, { deleted: true }),
  file(13, "/tmp/pfwork/gitrepo/.git/index", 1),
  proc(14, 26117, ["git", "add", "README"], "/usr/bin/git", at(27, 18, 126428), null, {
    cwd: "/tmp/pfwork/gitrepo",
    env: ["GIT_AUTHOR_NAME=Prov Flow", "HOME=/root"],
  }),
  // python-sockets.strace:1423 connect(5<TCP:[55544]>, … 127.0.0.1:40023) by 26732
  ent(15, "socket", "127.0.0.1:55544->127.0.0.1:40023", `tcp://${HOST}/127.0.0.1:55544->127.0.0.1:40023`, 0, {
    family: "inet",
    protocol: "TCP",
    local: "127.0.0.1:55544",
    remote: "127.0.0.1:40023",
    role: "connected",
  }),
  proc(16, 26732, ["python3", "sock.py"], "/root/.pyenv/versions/3.11.7/bin/python3", at(27, 40, 0), null, {
    tids: [26732, 26733],
  }),
  {
    id: 17,
    kind: "agent",
    type: "user",
    gid: `user://${HOST}/0`,
    version: 0,
    label: "root",
    start: null,
    end: null,
    attrs: { uid: 0 },
  },
  {
    id: 18,
    kind: "agent",
    type: "machine",
    gid: `machine://${HOST}`,
    version: 0,
    label: HOST,
    start: null,
    end: null,
    attrs: { host: HOST },
  },
  // python-xx-ttt.strace writes utf8.txt with "café"; a non-ASCII name exercises the escaping
  file(19, "/tmp/pfwork/café « données ».txt", 1),
  file(20, "/tmp/pfwork/count.txt", 0),
  file(21, "/tmp/pfwork/gitrepo/.git/objects/ce/tmp_obj_MGi7c0", 1, { deleted: true }),
];

const edges: GraphEdge[] = [
  rel("wasInformedBy", "fork", 2, 1, at(27, 14, 838590)),
  rel("wasInformedBy", "exec", 3, 2, at(27, 14, 840152)),
  rel("wasInformedBy", "fork", 4, 1, at(27, 14, 841093)),
  rel("wasInformedBy", "fork", 5, 1, at(27, 14, 843506)),
  rel("wasInformedBy", "fork", 6, 1, null),
  rel("wasInformedBy", "wait", 1, 3, at(27, 14, 866172)),
  rel("wasInformedBy", "pipe", 4, 3, null),
  rel("used", "execute", 3, 11, at(27, 14, 840152)),
  rel("used", "read", 4, 7, at(27, 14, 850000), 4096),
  rel("used", "read", 5, 8, null, 3),
  rel("used", "read", 6, 10, at(27, 14, 890661), 5),
  rel("used", "recv", 16, 15, at(27, 40, 117000), 64),
  rel("wasGeneratedBy", "write", 7, 3, at(27, 14, 849000), 4096),
  rel("wasGeneratedBy", "write", 8, 4, null, 3),
  rel("wasGeneratedBy", "create", 9, 5, at(27, 14, 858406)),
  rel("wasGeneratedBy", "write", 12, 14, at(27, 18, 138000)),
  rel("wasGeneratedBy", "rename", 13, 14, at(27, 18, 138347)),
  rel("wasGeneratedBy", "send", 15, 16, at(27, 40, 116728), 27),
  rel("wasGeneratedBy", "write", 19, 16, null, 8),
  rel("wasGeneratedBy", "write", 21, 14, at(27, 18, 137000)),
  rel("wasDerivedFrom", "rename", 13, 12, at(27, 18, 138347)),
  rel("wasDerivedFrom", "version", 9, 20, at(27, 14, 858406)),
  rel("wasInvalidatedBy", "rename", 12, 14, at(27, 18, 138347)),
  rel("wasInvalidatedBy", "delete", 21, 14, at(27, 18, 138085)),
  ...[1, 2, 3, 4, 5, 6, 14, 16].map((p) => rel("wasAssociatedWith", "associated", p, 17, null)),
  rel("wasAttributedTo", "attributed", 9, 17, null),
  rel("wasAttributedTo", "attributed", 13, 17, null),
  rel("actedOnBehalfOf", "associated", 17, 18, null),
];

const run: RunRecord = {
  id: 7,
  name: "pipeline",
  source: "strace",
  command: ["sh", "-c", SH_CMD],
  tracerCommand: [
    "strace",
    "-f",
    "-tt",
    "-T",
    "-s",
    "200",
    "-y",
    "-yy",
    "-o",
    "pipeline.strace",
    "sh",
    "-c",
    SH_CMD,
  ],
  host: HOST,
  machineId: null,
  bootId: "boot1",
  cwd: "/tmp/pfwork",
  user: "root",
  start: at(27, 14, 828725),
  end: at(27, 14, 893696),
  exitCode: 0,
  exitSignal: null,
  status: "complete",
  stats: { lines: 1106, bytes: 0, events: 0, calls: 0, problems: 0 },
  nodeCount: nodes.length,
  edgeCount: edges.length,
};

/** What python3-prov (Debian) makes of a PROV-JSON file: counts by record type, a few values, PROV-N size. */
const PY_READ = `
import json, sys
try:
    import prov.model
except ImportError as e:
    print("NO_PROV " + str(e)); sys.exit(3)
with open(sys.argv[1]) as f:
    doc = prov.model.ProvDocument.deserialize(f, format="json")
counts = {}
for rec in doc.get_records():
    t = str(rec.get_type())
    counts[t] = counts.get(t, 0) + 1
provn = doc.serialize(format="provn")
out = {"counts": counts, "provn_len": len(provn), "provn_head": provn[:40]}
for rec in doc.get_records(prov.model.ProvActivity):
    if str(rec.identifier) == "run:n5":
        out["tee_start"] = rec.get_startTime().isoformat()
        out["tee_uri"] = rec.identifier.uri
        out["tee_argv"] = [str(v) for v in rec.get_attribute("provflow:argv")]
        out["tee_pid"] = [v for v in rec.get_attribute("provflow:pid")]
for rec in doc.get_records(prov.model.ProvUsage):
    if str(rec.identifier) == "run:e11":
        out["cat_read"] = {"activity": str(rec.args[0]), "entity": str(rec.args[1]), "time": rec.args[2].isoformat()}
for rec in doc.get_records(prov.model.ProvAgent):
    out.setdefault("agent_types", {})[str(rec.identifier)] = sorted(str(t) for t in rec.get_asserted_types())
print(json.dumps(out))
`;

interface PyResult {
  counts: Record<string, number>;
  provn_len: number;
  provn_head: string;
  tee_start: string;
  tee_uri: string;
  tee_argv: string[];
  tee_pid: number[];
  cat_read: { activity: string; entity: string; time: string };
  agent_types: Record<string, string[]>;
}

function readWithPythonProv(path: string): PyResult {
  const res = spawnSync(PYTHON, ["-c", PY_READ, path], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (res.error !== undefined || res.stdout.startsWith("NO_PROV")) {
    throw new Error(
      `${PYTHON} cannot import prov (${res.error?.message ?? res.stdout.trim()}): run apt-get install python3-prov`,
    );
  }
  if (res.status !== 0) throw new Error(`python3-prov failed to read ${path}: ${res.stderr}`);
  return JSON.parse(res.stdout) as PyResult;
}

async function exportText(input = memoryExportInput(run, nodes, edges, { redact: false })): Promise<string> {
  const { sink, text } = stringSink();
  await provJsonExporter.write(input, sink);
  return text();
}

describe("PROV-JSON exporter", () => {
  it("has python3-prov available at /usr/bin/python3 (apt-get install python3-prov)", () => {
    const out = spawnSync(PYTHON, ["-c", "import prov.model, prov; print(prov.__version__)"], {
      encoding: "utf8",
    });
    if (out.status !== 0) {
      throw new Error(`${PYTHON} cannot import prov: ${out.stderr}\nrun: apt-get install python3-prov`);
    }
    expect(out.stdout.trim()).toMatch(/^\d+\.\d+/);
  });

  it("is registered for the CLI", () => {
    expect(getExporter("prov-json")).toBe(provJsonExporter);
    expect(getExporter("PROV-JSON")).toBe(provJsonExporter);
    expect(getExporter("nope")).toBeUndefined();
    expect(exportFormats()).toContain("prov-json");
  });

  it("writes a document python3-prov reads with the same number of records of each type", async () => {
    const text = await exportText();
    const path = join(dir, "pipeline.json");
    writeFileSync(path, text);
    const doc = JSON.parse(text) as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.keys(doc)).toEqual([
      "prefix",
      "activity",
      "entity",
      "agent",
      "used",
      "wasGeneratedBy",
      "wasInvalidatedBy",
      "wasInformedBy",
      "wasDerivedFrom",
      "wasAssociatedWith",
      "wasAttributedTo",
      "actedOnBehalfOf",
    ]);
    expect(doc.prefix?.run).toBe("urn:provflow:pfvm:7:");

    const ofKind = (k: string): number => nodes.filter((n) => n.kind === k).length;
    const ofType = (t: string): number => edges.filter((e) => e.type === t).length;
    expect(ofKind("activity")).toBe(8);
    expect(ofKind("entity")).toBe(11);
    const py = readWithPythonProv(path);
    expect(py.counts).toEqual({
      "prov:Activity": ofKind("activity"),
      // + the entity describing the run itself
      "prov:Entity": ofKind("entity") + 1,
      "prov:Agent": ofKind("agent"),
      "prov:Usage": ofType("used"),
      "prov:Generation": ofType("wasGeneratedBy"),
      "prov:Invalidation": ofType("wasInvalidatedBy"),
      "prov:Communication": ofType("wasInformedBy"),
      "prov:Derivation": ofType("wasDerivedFrom"),
      "prov:Association": ofType("wasAssociatedWith"),
      "prov:Attribution": ofType("wasAttributedTo"),
      "prov:Delegation": ofType("actedOnBehalfOf"),
    });
    expect(py.provn_head.startsWith("document")).toBe(true);
    expect(py.provn_len).toBeGreaterThan(text.length / 3);
    // tee: pipeline.strace:196 execve resumed at 02:27:14.844966, microseconds kept
    expect(py.tee_start).toBe("2026-11-23T02:27:14.844966+00:00");
    expect(py.tee_uri).toBe("urn:provflow:pfvm:7:n5");
    expect(py.tee_argv).toEqual(["tee /tmp/pfwork/count.txt"]);
    expect(py.tee_pid).toEqual([25901]);
    // cat read /etc/hostname: pipeline.strace:1086
    expect(py.cat_read).toEqual({
      activity: "run:n6",
      entity: "run:n10",
      time: "2026-11-23T02:27:14.890661+00:00",
    });
    expect(py.agent_types["run:n17"]).toEqual(["prov:Person", "provflow:user"]);
    expect(py.agent_types["run:n18"]).toEqual(["prov:Agent", "provflow:machine"]);

    // the records themselves
    const sh = doc.activity?.["run:n1"];
    expect(sh?.["prov:startTime"]).toBe("2026-11-23T02:27:14.828725Z");
    expect(sh?.["provflow:argv"]).toBe(`sh -c '${SH_CMD}'`);
    expect(sh?.["provflow:gid"]).toBe(`proc://pfvm/boot1/25898@${at(27, 14, 828725)}`);
    expect(sh?.["provflow:exitCode"]).toBe(0);
    expect(doc.entity?.["run:n9"]).toMatchObject({
      "prov:type": { $: "provflow:file", type: "prov:QUALIFIED_NAME" },
      "prov:label": "/tmp/pfwork/count.txt",
      "provflow:path": "/tmp/pfwork/count.txt",
      "provflow:version": 1,
    });
    expect(doc.entity?.["run:n19"]?.["provflow:path"]).toBe("/tmp/pfwork/café « données ».txt");
    expect(doc.entity?.["run:run"]?.["provflow:tracerCommand"]).toMatch(/^strace -f -tt -T -s 200 -y -yy/);
    expect(doc.used?.["run:e11"]).toEqual({
      "prov:activity": "run:n6",
      "prov:entity": "run:n10",
      "prov:time": "2026-11-23T02:27:14.890661Z",
      "provflow:op": "read",
      "provflow:count": 1,
      "provflow:bytes": 5,
    });
    expect(doc.wasDerivedFrom?.["run:e22"]?.["prov:type"]).toEqual({
      $: "prov:Revision",
      type: "prov:QUALIFIED_NAME",
    });
    expect(doc.wasInformedBy?.["run:e1"]).toMatchObject({
      "prov:informed": "run:n2",
      "prov:informant": "run:n1",
      "provflow:op": "fork",
      "provflow:time": { $: "2026-11-23T02:27:14.838590Z", type: "xsd:dateTime" },
    });
  });

  it("exports the same document from a SQLite store, streaming in small batches", async () => {
    const db = join(dir, "store.db");
    const store = openSqliteStore(db);
    const id = await store.createRun({
      name: run.name,
      source: run.source,
      command: run.command,
      tracerCommand: run.tracerCommand,
      host: run.host,
      bootId: run.bootId,
      cwd: run.cwd,
      user: run.user,
      start: run.start,
    });
    await store.appendBatch(id, { nodes, edges, steps: [], problems: [] });
    await store.updateRun(id, { end: run.end, exitCode: 0, status: "complete" });
    const stored = await store.findRun(id);
    expect(stored).not.toBeNull();
    const fromStore = await exportText(storeExportInput(store, stored!, { redact: false }, 3));
    await store.close();
    const fromMemory = await exportText(memoryExportInput({ ...stored! }, nodes, edges, { redact: false }));
    expect(fromStore).toBe(fromMemory);
  });

  it("streams a large graph in chunks and waits for the sink (backpressure)", async () => {
    const big: GraphNode[] = [];
    const bigEdges: GraphEdge[] = [];
    big.push(proc(1, 1000, ["make", "-j2"], "/usr/bin/make", at(0, 0, 0), at(1, 0, 0)));
    for (let i = 2; i <= 5_001; i++) big.push(file(i, `/src/dir${i % 97}/file-${i}.c`, 0));
    for (let i = 2; i <= 5_001; i++) {
      bigEdges.push({
        id: i - 1,
        type: "used",
        op: "read",
        from: 1,
        to: i,
        ts: at(0, 1, i),
        tsEnd: null,
        count: 2,
        bytes: i,
        attrs: {},
      });
    }
    const chunks: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const slowSink = async (chunk: string): Promise<void> => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setImmediate(r));
      chunks.push(chunk);
      inFlight -= 1;
    };
    await provJsonExporter.write(
      memoryExportInput({ ...run, id: 8 }, big, bigEdges, { redact: false }, 1000),
      slowSink,
    );
    expect(maxInFlight).toBe(1);
    expect(chunks.length).toBeGreaterThan(20);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(80 * 1024);
    const path = join(dir, "big.json");
    writeFileSync(path, chunks.join(""));
    const py = readWithPythonProv(path);
    expect(py.counts).toEqual({ "prov:Activity": 1, "prov:Entity": 5_001, "prov:Usage": 5_000 });
  });

  it("redacts secrets in argv, env and labels when asked, and only then", async () => {
    const argv = [
      "mysql",
      "-u",
      "root",
      "-phunter2",
      "--password=hunter3",
      "--api-token",
      "tok123",
      "https://alice:s3cr3t@example.org/repo.git",
    ];
    const p = proc(1, 4242, argv, "/usr/bin/mysql", at(0, 0, 0), null, {
      env: [
        "GITHUB_TOKEN=ghp_abcdef",
        "AWS_SECRET_ACCESS_KEY=wJalr",
        "PATH=/usr/bin",
        "PROXY=http://bob:pw9@proxy:3128",
      ],
    });
    const plain = await exportText(memoryExportInput(run, [p], [], { redact: false }));
    for (const secret of ["hunter2", "hunter3", "tok123", "s3cr3t", "ghp_abcdef", "wJalr", "pw9"]) {
      expect(plain).toContain(secret);
    }
    const redacted = await exportText(memoryExportInput(run, [p], [], { redact: true }));
    for (const secret of ["hunter2", "hunter3", "tok123", "s3cr3t", "ghp_abcdef", "wJalr", "pw9"]) {
      expect(redacted).not.toContain(secret);
    }
    const rec = (JSON.parse(redacted) as { activity: Record<string, Record<string, string>> }).activity[
      "run:n1"
    ];
    expect(rec?.["provflow:argv"]).toBe(
      "mysql -u root '-p***' '--password=***' --api-token '***' 'https://alice:***@example.org/repo.git'",
    );
    expect(rec?.["prov:label"]).toBe(
      "mysql -u root -p*** --password=*** --api-token *** https://alice:***@example.org/repo.git",
    );
    expect(rec?.["provflow:env"]).toBe(
      "GITHUB_TOKEN=***\nAWS_SECRET_ACCESS_KEY=***\nPATH=/usr/bin\nPROXY=http://bob:***@proxy:3128",
    );
    // helpers on their own: -p of tools that do not take a password is left alone
    expect(redactArgv(["mkdir", "-pv", "/tmp/x"])).toEqual(["mkdir", "-pv", "/tmp/x"]);
    expect(redactArgv(["curl", "--auth-key=k", "-o", "out"])).toEqual([
      "curl",
      "--auth-key=***",
      "-o",
      "out",
    ]);
    expect(redactEnv(["KEYBOARD=us", "NO_EQUALS"])).toEqual(["KEYBOARD=***", "NO_EQUALS"]);
    expect(redactText("psql --password secret postgres://u:p@h/db")).toBe(
      "psql --password *** postgres://u:***@h/db",
    );
  });

  it("formats times as UTC xsd:dateTime with microseconds", () => {
    expect(xsdDateTime(at(27, 14, 828725))).toBe("2026-11-23T02:27:14.828725Z");
    expect(xsdDateTime(0)).toBe("1970-01-01T00:00:00.000000Z");
    expect(xsdDateTime(-1)).toBe("1969-12-31T23:59:59.999999Z");
  });
});
