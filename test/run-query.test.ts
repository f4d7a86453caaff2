import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeGraphReader } from "../src/cli/query-command.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import {
  describeNode,
  globRegExp,
  memoryGraphReader,
  packetFlows,
  type RunGraphReader,
  selectProcesses,
  textMatcher,
  typeInventory,
} from "../src/graph/run-query.js";
import { runIngest } from "../src/ingest/run-ingest.js";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.js";
import type { RunRecord } from "../src/store/store-types.js";
import { CORPUS, tempDir } from "./helpers/cli.js";

/**
 * The queries of `provflow query` on real CamFlow captures, held against Python's reading of the raw
 * JSON (json module, no code of ours): prov:type and prov:label inventories, packet senders and
 * receivers from the raw relations, processes by security context and cgroup namespace, one node's
 * attributes and relations; and on hand-made graphs for the cases no capture of the corpus has.
 */

const PY = "/usr/bin/python3";
const CF = join(CORPUS, "camflow");
const EXPLOIT = join(CF, "frap-dataset/mariadb-root-exploit-0.log");
const NORMAL = join(CF, "frap-dataset/mariadb-root-normal-99.log");
const OLD = join(CF, "old-format/camflow-socket-0_1_7.json");
const WALK = join(CF, "website-examples/walk-wget-packet.w3c.json");

/**
 * Python's reading of a CamFlow W3C log: nodes deduplicated by id (with and without `cf:`), the
 * prov:type values by section, prov:labels, tasks by identity (machine/boot/id) with their
 * versions, and the packets' senders and receivers by CamFlow 0.3's relations: a packet comes from
 * the socket of its `send_packet` and goes to the socket of its `receive_packet`; a socket's
 * senders are the tasks of `send`, `send_unix`, `send_msg`, `write` relations on any of its
 * versions, its receivers those of `receive`, `receive_unix`, `receive_msg`, `read`.
 */
const ORACLE = `
import json, sys, fnmatch
NODE_SECTIONS = {"entity": "entity", "activity": "activity", "agent": "agent"}
REL_SECTIONS = {"used": "used", "wasGeneratedBy": "wasGeneratedBy", "wasInformedBy": "wasInformedBy",
  "wasDerivedFrom": "wasDerivedFrom", "wasAssociatedWith": "wasAssociatedWith",
  "wasInfluencedBy": "wasInfluencedBy", "relation": "wasInfluencedBy"}
SEND = {"send", "send_unix", "send_msg", "write"}
RECV = {"receive", "receive_unix", "receive_msg", "read"}
def key(s): return s[3:] if isinstance(s, str) and s.startswith("cf:") else s
def vals(v):
    if v is None: return []
    if isinstance(v, list): return [x for y in v for x in vals(y)]
    if isinstance(v, dict) and "$" in v: return vals(v["$"])
    return [str(v)]
def bump(d, k, n=1): d[k] = d.get(k, 0) + n
path = sys.argv[1]
docs = [json.loads(l) for l in open(path, encoding="utf-8-sig").read().split("\\n") if l.strip()]
nodes = {}; rels = []
for d in docs:
    for section, recs in d.items():
        if section in NODE_SECTIONS:
            for k, r in recs.items():
                nodes.setdefault(key(k), (section, r))
        elif section in REL_SECTIONS:
            for k, r in recs.items():
                rels.append((section, r))
def ident(r):
    return "%s/%s/%s" % (key(str(r.get("cf:machine_id"))), r.get("cf:boot_id"), r.get("cf:id"))
out = {"nodes": len(nodes), "nodeProvTypes": {}, "nodesWithout": 0, "nodeLabels": {},
       "relations": len(rels), "relProvTypes": {}, "relsWithout": 0, "relLabels": {}, "tasks": {}, "packets": {}}
for section, r in nodes.values():
    t = vals(r.get("prov:type"))
    if not t: out["nodesWithout"] += 1
    for v in set(t): bump(out["nodeProvTypes"], section + "\\t" + v)
    for l in set(vals(r.get("prov:label"))): bump(out["nodeLabels"], l)
    if r.get("prov:type") == "task":
        out["tasks"].setdefault(ident(r), []).append(
            {"pid": r.get("cf:pid"), "uid": r.get("cf:uid"), "secctx": r.get("cf:secctx"),
             "cgroupns": r.get("cf:cgroupns")})
for section, r in rels:
    t = vals(r.get("prov:type"))
    if not t: out["relsWithout"] += 1
    for v in set(t): bump(out["relProvTypes"], REL_SECTIONS[section] + "\\t" + v)
    for l in set(vals(r.get("prov:label"))): bump(out["relLabels"], l)
# packets
def node(ref): return nodes.get(key(ref), (None, {}))[1]
senders = {}; receivers = {}; send_socket = {}; recv_socket = {}
for section, r in rels:
    t = r.get("prov:type")
    if section == "wasGeneratedBy" and t in SEND:
        senders.setdefault(ident(node(r["prov:entity"])), set()).add(ident(node(r["prov:activity"])))
    elif section == "used" and t in RECV:
        receivers.setdefault(ident(node(r["prov:entity"])), set()).add(ident(node(r["prov:activity"])))
    elif section == "wasDerivedFrom" and t == "send_packet":
        send_socket.setdefault(key(r["prov:generatedEntity"]), set()).add(ident(node(r["prov:usedEntity"])))
    elif section == "wasDerivedFrom" and t == "receive_packet":
        recv_socket.setdefault(key(r["prov:usedEntity"]), set()).add(ident(node(r["prov:generatedEntity"])))
for k, (section, r) in nodes.items():
    if r.get("prov:type") != "packet": continue
    s = set().union(*[senders.get(x, set()) for x in send_socket.get(k, set())]) or {""}
    v = set().union(*[receivers.get(x, set()) for x in recv_socket.get(k, set())]) or {""}
    for a in s:
        for b in v:
            bump(out["packets"], "\\t".join([a, b, r["cf:sender"], r["cf:receiver"]]))
print(json.dumps(out))
`;

interface Oracle {
  nodes: number;
  nodeProvTypes: Record<string, number>;
  nodesWithout: number;
  nodeLabels: Record<string, number>;
  relations: number;
  relProvTypes: Record<string, number>;
  relsWithout: number;
  relLabels: Record<string, number>;
  /** every version of every task, by identity */
  tasks: Record<string, Array<{ pid: number; uid: number; secctx: string | null; cgroupns: number | null }>>;
  packets: Record<string, number>;
}

function oracle(file: string): Oracle {
  const r = spawnSync(PY, ["-c", ORACLE, file], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Oracle;
}

/** Python's fnmatch, for the glob the query takes. */
function pyFnmatch(texts: string[], pattern: string): boolean[] {
  const r = spawnSync(
    PY,
    [
      "-c",
      "import sys, json, fnmatch; print(json.dumps([fnmatch.fnmatchcase(t, sys.argv[1]) for t in json.load(sys.stdin)]))",
      pattern,
    ],
    { input: JSON.stringify(texts), encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as boolean[];
}

/** `camflow://M/B/ID` → `M/B/ID`, the identity the oracle builds from the attributes. */
const ident = (gid: string | undefined) => (gid ? gid.replace(/^camflow:\/\//, "") : "");

let dir: string;
let store: SqliteStore;
const runs: Record<string, RunRecord> = {};
const oracles: Record<string, Oracle> = {};

beforeAll(async () => {
  dir = tempDir("provflow-query-");
  store = openSqliteStore(join(dir, "q.db"));
  for (const [name, file] of Object.entries({ exploit: EXPLOIT, normal: NORMAL, old: OLD, walk: WALK })) {
    const { runId } = await runIngest({ store, files: [file], name, quiet: true });
    runs[name] = (await store.findRun(runId))!;
  }
  oracles.exploit = oracle(EXPLOIT);
  oracles.normal = oracle(NORMAL);
}, 120_000);

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const reader = (name: string): RunGraphReader => storeGraphReader(store, runs[name]!);

describe("query types on CamFlow 0.3.5 (mariadb captures)", () => {
  for (const name of ["exploit", "normal"]) {
    it(`${name}: prov:type and prov:label counts are Python's, per section`, async () => {
      const o = oracles[name]!;
      const inv = await typeInventory(reader(name), 1_000_000);
      expect(inv.nodes.total).toBe(o.nodes);
      expect(inv.relations.total).toBe(o.relations);
      expect(Object.fromEntries(inv.nodes.provTypes.map((t) => [`${t.of}\t${t.value}`, t.count]))).toEqual(
        o.nodeProvTypes,
      );
      expect(inv.nodes.withoutProvType).toBe(o.nodesWithout);
      expect(
        Object.fromEntries(inv.relations.provTypes.map((t) => [`${t.of}\t${t.value}`, t.count])),
      ).toEqual(o.relProvTypes);
      expect(inv.relations.withoutProvType).toBe(o.relsWithout);
      // every node of these captures has a prov:label
      expect(Object.values(o.nodeLabels).reduce((a, b) => a + b, 0)).toBe(o.nodes);
      expect(Object.fromEntries(inv.nodes.labels.values.map((v) => [v.value, v.count]))).toEqual(
        o.nodeLabels,
      );
      expect(inv.nodes.labels.distinct).toBe(Object.keys(o.nodeLabels).length);
      expect(Object.fromEntries(inv.relations.labels.values.map((v) => [v.value, v.count]))).toEqual(
        o.relLabels,
      );
      // the per-type table adds up and agrees with the run record
      expect(inv.nodes.byType.reduce((a, t) => a + t.count, 0)).toBe(runs[name]!.nodeCount);
      expect(inv.relations.byType.reduce((a, t) => a + t.count, 0)).toBe(runs[name]!.edgeCount);
    });
  }

  it("--limit keeps the most frequent labels, ties by value", async () => {
    const o = oracles.exploit!;
    const inv = await typeInventory(reader("exploit"), 5);
    const expected = Object.entries(o.nodeLabels)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, 5)
      .map(([value, count]) => ({ value, count }));
    expect(inv.nodes.labels.values).toEqual(expected);
    expect(inv.nodes.labels.distinct).toBe(Object.keys(o.nodeLabels).length);
  });
});

describe("query packets", () => {
  for (const name of ["exploit", "normal"]) {
    it(`${name}: senders and receivers of every packet are Python's, from the raw relations`, async () => {
      const o = oracles[name]!;
      const rep = await packetFlows(reader(name));
      const ours: Record<string, number> = {};
      for (const f of rep.flows.filter((f) => f.via === "packet")) {
        const k = [ident(f.sender?.gid), ident(f.receiver?.gid), f.from, f.to].join("\t");
        ours[k] = (ours[k] ?? 0) + f.count;
      }
      expect(ours).toEqual(o.packets);
      expect(Object.keys(o.packets).length).toBeGreaterThan(0);
      expect(rep.packets).toBe(o.nodeProvTypes["entity\tpacket"]);
      // a sender known to the oracle is a task, named after its program (named_process)
      const sshd = rep.flows.find((f) => f.via === "packet" && f.sender !== null);
      expect(o.tasks[ident(sshd?.sender?.gid)]?.some((v) => v.pid === sshd?.sender?.pid)).toBe(true);
      expect(sshd?.sender?.name).toBe("/usr/sbin/sshd");
    });
  }

  it("exploit: the ssh server receives the client's packets and sends its own (the research notes' sender/receiver pair)", async () => {
    const rep = await packetFlows(reader("exploit"));
    const packets = rep.flows.filter((f) => f.via === "packet");
    const inbound = packets.filter((f) => f.to === "10.0.2.15:22");
    const outbound = packets.filter((f) => f.from === "10.0.2.15:22");
    expect(inbound.length + outbound.length).toBe(packets.length);
    expect(inbound.every((f) => f.receiver?.name === "/usr/sbin/sshd")).toBe(true);
    expect(outbound.every((f) => f.sender?.name === "/usr/sbin/sshd")).toBe(true);
  });

  it("0.1.7: every packet is counted once, with its cf:sender and cf:receiver", async () => {
    const r = spawnSync(
      PY,
      [
        "-c",
        `import json,sys
d=json.load(open(sys.argv[1],encoding="utf-8-sig"))
out={}
for k,v in d["entity"].items():
    if str(v.get("prov:label","")).startswith("[packet]"):
        kk=v["cf:sender"]+"->"+v["cf:receiver"]; out[kk]=out.get(kk,0)+1
print(json.dumps(out))`,
        OLD,
      ],
      { encoding: "utf8" },
    );
    const expected = JSON.parse(r.stdout) as Record<string, number>;
    const rep = await packetFlows(reader("old"), { each: true });
    expect(rep.packets).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
    const byAddr: Record<string, number> = {};
    for (const c of rep.channels!.filter((c) => c.via === "packet"))
      byAddr[`${c.from}->${c.to}`] = (byAddr[`${c.from}->${c.to}`] ?? 0) + 1;
    expect(byAddr).toEqual(expected);
    // one task sends and receives them all: a packet has at most one sender and one receiver
    const total = rep.flows.filter((f) => f.via === "packet").reduce((a, f) => a + f.count, 0);
    expect(total).toBe(rep.packets);
  });

  it("sockets: both ends of a shared local connection, and a remote peer", async () => {
    const node = (id: number, type: GraphNode["type"], attrs: Record<string, unknown>, gid = `n${id}`) =>
      ({
        id,
        kind: type === "process" ? "activity" : "entity",
        type,
        gid,
        version: 0,
        label: `${type} ${id}`,
        start: null,
        end: null,
        attrs,
      }) as GraphNode;
    const edge = (
      id: number,
      type: GraphEdge["type"],
      op: GraphEdge["op"],
      from: number,
      to: number,
      count = 1,
    ) =>
      ({ id, type, op, from, to, ts: null, tsEnd: null, count, bytes: 10 * count, attrs: {} }) as GraphEdge;
    const nodes = [
      node(1, "process", { pid: 10, exe: "/srv/server" }),
      node(2, "process", { pid: 20, exe: "/bin/client" }),
      node(
        3,
        "socket",
        { local: "127.0.0.1:80", remote: "127.0.0.1:5000" },
        "tcp://h/127.0.0.1:80->127.0.0.1:5000",
      ),
      node(4, "socket", { local: "10.0.0.1:4000", remote: "93.184.216.34:443" }, "tcp://h/remote"),
      // a second version of the remote socket
      node(5, "socket", { local: "10.0.0.1:4000", remote: "93.184.216.34:443" }, "tcp://h/remote"),
    ];
    const edges = [
      edge(1, "wasGeneratedBy", "send", 3, 1, 2),
      edge(2, "used", "recv", 2, 3, 3),
      edge(3, "wasGeneratedBy", "write", 3, 2, 4),
      edge(4, "used", "read", 1, 3, 5),
      edge(5, "wasGeneratedBy", "send", 4, 2, 6),
      edge(6, "used", "recv", 2, 5, 7),
      edge(7, "used", "connect", 2, 4),
    ];
    const rep = await packetFlows(memoryGraphReader(nodes, edges));
    const rows = rep.flows.map((f) => [
      f.sender?.pid ?? null,
      f.receiver?.pid ?? null,
      f.from,
      f.to,
      f.count,
    ]);
    expect(rows).toEqual(
      expect.arrayContaining([
        [10, 20, "127.0.0.1:80", "127.0.0.1:5000", 2],
        [20, 10, "127.0.0.1:80", "127.0.0.1:5000", 4],
        [null, 20, "93.184.216.34:443", "10.0.0.1:4000", 7],
        [20, null, "10.0.0.1:4000", "93.184.216.34:443", 6],
      ]),
    );
    expect(rows).toHaveLength(4);
    expect(rep.sockets).toBe(2);
  });
});

describe("query processes", () => {
  type Version = Oracle["tasks"][string][number];
  /** the tasks with versions that pass, and how many of their versions do */
  const tasksWhere = (o: Oracle, test: (v: Version) => boolean) =>
    Object.fromEntries(
      Object.entries(o.tasks)
        .map(([k, versions]) => [k, versions.filter(test).length] as const)
        .filter(([, n]) => n > 0),
    );
  const ours = (rep: Awaited<ReturnType<typeof selectProcesses>>) =>
    Object.fromEntries(rep.processes.map((p) => [ident(p.gid), p.ids.length]));

  it("--secctx SUBSTRING picks the tasks whose cf:secctx holds it (Python's count of versions)", async () => {
    const o = oracles.exploit!;
    const rep = await selectProcesses(reader("exploit"), { secctx: "sssd_t" });
    const expected = tasksWhere(o, (t) => (t.secctx ?? "").includes("sssd_t"));
    expect(Object.keys(expected).length).toBeGreaterThan(0);
    expect(ours(rep)).toEqual(expected);
    expect(rep.nodes).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
    for (const p of rep.processes) expect(p.secctx).toContain("sssd_t");
  });

  it("--secctx GLOB matches the whole context as Python's fnmatch does", async () => {
    const o = oracles.exploit!;
    for (const pattern of [
      "system_u:system_r:s*_t:s0",
      "unconfined_u:*",
      "*:c0.c1023",
      "system_u:system_r:[as]*",
    ]) {
      const rep = await selectProcesses(reader("exploit"), { secctx: pattern });
      const versions = Object.entries(o.tasks).flatMap(([k, vs]) =>
        vs.filter((v) => v.secctx !== null).map((v) => [k, v.secctx!] as const),
      );
      const hits = pyFnmatch(
        versions.map(([, ctx]) => ctx),
        pattern,
      );
      const expected: Record<string, number> = {};
      versions.forEach(([k], i) => {
        if (hits[i]) expected[k] = (expected[k] ?? 0) + 1;
      });
      expect(Object.keys(expected).length, pattern).toBeGreaterThan(0);
      expect(ours(rep), pattern).toEqual(expected);
    }
  });

  it("--cgroupns and --attr KEY=VALUE select by the attributes CamFlow wrote", async () => {
    const o = oracles.normal!;
    const cg = await selectProcesses(reader("normal"), { cgroupns: "4026531835" });
    expect(ours(cg)).toEqual(tasksWhere(o, (t) => t.cgroupns === 4026531835));
    const none = await selectProcesses(reader("normal"), { cgroupns: "12345" });
    expect(none.processes).toEqual([]);
    // the pid with the most task versions
    const perPid = new Map<number, number>();
    for (const v of Object.values(o.tasks).flat()) if (v.pid) perPid.set(v.pid, (perPid.get(v.pid) ?? 0) + 1);
    const pid = [...perPid].sort((a, b) => b[1] - a[1])[0]![0];
    const byPid = await selectProcesses(reader("normal"), { attrs: [{ key: "cf:pid", value: String(pid) }] });
    expect(ours(byPid)).toEqual(tasksWhere(o, (t) => t.pid === pid));
    const both = await selectProcesses(reader("normal"), {
      secctx: "sssd",
      attrs: [{ key: "cf:uid", value: "0" }],
    });
    expect(both.processes.every((p) => p.secctx?.includes("sssd"))).toBe(true);
    expect(ours(both)).toEqual(tasksWhere(o, (t) => (t.secctx ?? "").includes("sssd") && t.uid === 0));
  });

  it("a task without a security context takes its memory's (CamFlow 0.9 keeps cf:secctx on process_memory)", async () => {
    const n = (id: number, type: GraphNode["type"], attrs: Record<string, unknown>, gid: string) =>
      ({
        id,
        kind: type === "process" ? "activity" : "entity",
        type,
        gid,
        version: 0,
        label: `[${type}] 0`,
        start: 1_000_000 * id,
        end: null,
        attrs,
      }) as GraphNode;
    const nodes = [
      n(1, "process", { "cf:pid": 7, pid: 7, "cf:cgroupns": 99 }, "camflow://1/1/100"),
      n(2, "process", { "cf:pid": 7, pid: 7, "cf:cgroupns": 99 }, "camflow://1/1/100"),
      n(3, "memory", { "cf:secctx": "system_u:system_r:container_t:s0:c1,c2" }, "camflow://1/1/200"),
      n(4, "process", { "cf:pid": 8, pid: 8 }, "camflow://1/1/101"),
      n(5, "memory", { "cf:secctx": "system_u:system_r:init_t:s0" }, "camflow://1/1/201"),
    ];
    const edge = (id: number, from: number, to: number) =>
      ({
        id,
        type: "used",
        op: "read",
        from,
        to,
        ts: null,
        tsEnd: null,
        count: 1,
        bytes: 0,
        attrs: {},
      }) as GraphEdge;
    const r = memoryGraphReader(nodes, [edge(1, 1, 3), edge(2, 4, 5)]);
    const rep = await selectProcesses(r, { secctx: "*:container_t:*" });
    expect(rep.processes).toHaveLength(1);
    expect(rep.processes[0]).toMatchObject({
      pid: 7,
      ids: [1],
      secctx: "system_u:system_r:container_t:s0:c1,c2",
      secctxFromMemory: true,
      cgroupns: "99",
    });
    const byNs = await selectProcesses(r, { cgroupns: "99" });
    expect(byNs.processes[0]).toMatchObject({ ids: [1, 2], start: 1_000_000, end: 2_000_000 });
  });
});

describe("query node", () => {
  it("a packet by CamFlow's id: every raw attribute, and the relations that name it", async () => {
    const r = spawnSync(
      PY,
      [
        "-c",
        `import json,sys
docs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key=None; rec=None; rels=[]
for d in docs:
    for k,v in d.get("entity",{}).items():
        if key is None and v.get("prov:type")=="packet": key=k; rec=v
for d in docs:
    for s,recs in d.items():
        if s in ("prefix","entity","activity","agent"): continue
        for k,v in recs.items():
            if key in [x[3:] if isinstance(x,str) and x.startswith("cf:") else x for x in v.values()]: rels.append(v["prov:type"])
print(json.dumps({"key":key,"rec":rec,"rels":sorted(rels)}))`,
        EXPLOIT,
      ],
      { encoding: "utf8" },
    );
    const o = JSON.parse(r.stdout) as { key: string; rec: Record<string, unknown>; rels: string[] };
    for (const ref of [o.key, `cf:${o.key}`]) {
      const rep = await describeNode(reader("exploit"), ref);
      expect(rep.matches).toBe(1);
      const d = rep.nodes[0]!;
      expect(d.node.type).toBe("packet");
      for (const [k, v] of Object.entries(o.rec)) expect(d.node.attrs[k], k).toEqual(v);
      expect([...d.in, ...d.out].map((x) => x.sourceType).sort()).toEqual(o.rels);
      // by id and by global id: the same node
      const byId = await describeNode(reader("exploit"), String(d.node.id));
      expect(byId.nodes[0]!.node.gid).toBe(d.node.gid);
      const byGid = await describeNode(reader("exploit"), d.node.gid);
      expect(byGid.nodes.map((x) => x.node.id)).toContain(d.node.id);
    }
  });

  it("a label many nodes carry: all are counted, `limit` are described", async () => {
    const o = oracles.exploit!;
    const rep = await describeNode(reader("exploit"), "[task] 0", 3);
    expect(rep.matches).toBe(o.nodeLabels["[task] 0"]);
    expect(rep.nodes).toHaveLength(3);
    for (const d of rep.nodes) {
      expect(d.node.label).toBe("[task] 0");
      for (const rel of d.out) expect(rel.other.label).not.toBeNull();
    }
    expect((await describeNode(reader("exploit"), "no such node")).matches).toBe(0);
  });
});

describe("readers", () => {
  it("the store reader and a reader over the same arrays give the same answers", async () => {
    const run = runs.walk!;
    const mem = memoryGraphReader(await store.getNodes(run.id), await store.getEdges(run.id), 2);
    expect(await typeInventory(mem)).toEqual(await typeInventory(reader("walk")));
    expect(await packetFlows(mem, { each: true })).toEqual(await packetFlows(reader("walk"), { each: true }));
    expect(await selectProcesses(mem, { cgroupns: "4026531835" })).toEqual(
      await selectProcesses(reader("walk"), { cgroupns: "4026531835" }),
    );
  });

  it("globs: *, ?, [..], [!..]; without glob characters a substring (secctx) or the exact text", () => {
    expect(globRegExp("a*c").test("abbc")).toBe(true);
    expect(globRegExp("a?c").test("abbc")).toBe(false);
    expect(globRegExp("s0:c[0-9]*").test("s0:c372,c604")).toBe(true);
    expect(globRegExp("[!s]*").test("system")).toBe(false);
    expect(globRegExp("a.b").test("axb")).toBe(false);
    expect(textMatcher("lxc_net", true)("system_u:system_r:svirt_lxc_net_t:s0")).toBe(true);
    expect(textMatcher("lxc_net", false)("system_u:system_r:svirt_lxc_net_t:s0")).toBe(false);
  });
});
