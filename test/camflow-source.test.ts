import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { deflateSync, inflateSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { attrsJsonKept, takeAttrsJson } from "../src/events/attrs-text.js";
import type { ProvEvent } from "../src/events/event-types.js";
import { GraphBuilder, type GraphBuilderOptions } from "../src/graph/graph-builder.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { camflowFormat, createCamflowDocumentParser } from "../src/sources/camflow/camflow-source.js";
import { readJsonLineBatches } from "../src/sources/prov-json/json-line-batches.js";
import { detectFormat } from "../src/sources/source-registry.js";
import type { Problem } from "../src/store/store-types.js";
import { CORPUS } from "./helpers/cli.js";

/**
 * CamFlow's W3C PROV-JSON (0.1.7, 0.3.5 and the 2017 walk-through) and its SPADE flavour, held
 * against the raw documents read with Python's json module (sections, ids, attributes, the
 * identifiers decoded with struct from CamFlow's own layout), and against the facts the research
 * notes give for the mariadb capture.
 */

const PY = "/usr/bin/python3";
const CF = join(CORPUS, "camflow");
const FRAP = join(CF, "frap-dataset");
const frapLogs = readdirSync(FRAP)
  .filter((f) => f.endsWith(".log"))
  .map((f) => join(FRAP, f))
  .sort();
const OLD = join(CF, "old-format/camflow-socket-0_1_7.json");
const WALK = join(CF, "website-examples/walk-wget-packet.w3c.json");
const EXAMPLES = join(CF, "website-examples");

/**
 * Python's reading of a CamFlow W3C log (one document per line, or one document): its nodes (key
 * without `cf:`, section, attributes), relations (section, type, ends), and, as relations wait for
 * the nodes of later documents, which ones had to wait and which never found their nodes.
 */
const CAMFLOW_ORACLE = `
import json, sys, base64, struct
ROLES = {"used": ("prov:activity", "prov:entity"), "wasGeneratedBy": ("prov:entity", "prov:activity"),
  "wasInformedBy": ("prov:informed", "prov:informant"), "wasDerivedFrom": ("prov:generatedEntity", "prov:usedEntity"),
  "wasAssociatedWith": ("prov:activity", "prov:agent"), "wasInfluencedBy": ("prov:influencee", "prov:influencer"),
  "relation": ("cf:receiver", "cf:sender")}
def key(s): return s[3:] if s.startswith("cf:") else s
out = {}
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8-sig").read()
    docs = [json.loads(l) for l in text.split("\\n") if l.strip()]
    nodes = {}; rels = []; seen = set(); deferred = 0; same_doc = 0; ends = 0
    for d in docs:
        here = set()
        for section, recs in d.items():
            if section in ("entity", "activity", "agent"):
                for k, r in recs.items():
                    nodes[key(k)] = {"section": section, "attrs": r}
                    seen.add(key(k)); here.add(key(k))
            elif section in ROLES:
                for k, r in recs.items():
                    a, b = key(r[ROLES[section][0]]), key(r[ROLES[section][1]])
                    rels.append([section, r.get("prov:type", r.get("cf:type")), a, b])
                    if a not in seen or b not in seen: deferred += 1
                    if section != "relation":
                        ends += 2; same_doc += (a in here) + (b in here)
    dangling = [r for r in rels if r[2] not in nodes or r[3] not in nodes]
    ids = {}
    for k in nodes:
        try:
            raw = base64.b64decode(k, validate=True)
        except Exception:
            continue
        if len(raw) == 32:
            t, i, boot, machine, version = struct.unpack("<QQIII", raw[:28])
            ids[k] = [hex(t), str(i), boot, machine, version]
    out[path] = {"documents": len(docs), "nodes": nodes, "relations": rels, "deferred": deferred,
                 "dangling": len(dangling), "ids": ids, "endpoints": ends, "sameDocument": same_doc}
print(json.dumps(out))
`;

interface OracleLog {
  documents: number;
  nodes: Record<string, { section: string; attrs: Record<string, unknown> }>;
  relations: Array<[string, string, string, string]>;
  deferred: number;
  dangling: number;
  ids: Record<string, [string, string, number, number, number]>;
  endpoints: number;
  sameDocument: number;
}

function camflowOracle(files: string[]): Record<string, OracleLog> {
  const r = spawnSync(PY, ["-c", CAMFLOW_ORACLE, ...files], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, OracleLog>;
}

interface Read {
  nodes: GraphNode[];
  edges: GraphEdge[];
  problems: Problem[];
  stats: Record<string, number>;
  byId: Map<number, GraphNode>;
  builder: GraphBuilder;
}

class Collector {
  readonly builder: GraphBuilder;
  readonly byId = new Map<number, GraphNode>();
  readonly edges: GraphEdge[] = [];
  readonly problems: Problem[] = [];
  maxPending = 0;

  constructor(opts: Partial<GraphBuilderOptions> = {}) {
    this.builder = new GraphBuilder({ ctx: { host: "testhost" }, machineAgent: false, ...opts });
  }

  take(events: ProvEvent[], end = false): void {
    this.builder.add(events);
    this.maxPending = Math.max(this.maxPending, this.builder.memory().provPendingRelations ?? 0);
    const b = end ? this.builder.finish() : this.builder.drain();
    for (const n of b.nodes) this.byId.set(n.id, n);
    this.edges.push(...b.edges);
    this.problems.push(...b.problems);
  }

  result(): Read {
    return {
      nodes: [...this.byId.values()],
      edges: this.edges,
      problems: this.problems,
      stats: this.builder.stats,
      byId: this.byId,
      builder: this.builder,
    };
  }
}

/** Reads files as `provflow ingest --kind camflow` does, in memory, into one graph. */
async function readFiles(files: string[], opts: Partial<GraphBuilderOptions> = {}, maxPiece?: number) {
  const c = new Collector(opts);
  for (const file of files) {
    const parser = camflowFormat.createParser({ file, ctx: { host: "testhost" } });
    for await (const batch of readJsonLineBatches(Readable.from([readFileSync(file)]), maxPiece)) {
      c.take(parser.push(batch.lines, batch.firstLine));
    }
    c.take(parser.end());
  }
  c.take([], true);
  return { ...c.result(), maxPending: c.maxPending };
}

const edgeKey = (g: Read, e: GraphEdge) =>
  `${e.type} ${String(e.attrs.sourceType)} ${String(g.byId.get(e.from)!.attrs.sourceId).replace(/^cf:/, "")} ${String(g.byId.get(e.to)!.attrs.sourceId).replace(/^cf:/, "")}`;

const SECTION_TYPE: Record<string, string> = { relation: "wasInfluencedBy" };

describe("CamFlow W3C PROV-JSON logs", () => {
  let oracle: Record<string, OracleLog>;
  beforeAll(() => {
    oracle = camflowOracle([...frapLogs, OLD, WALK]);
  });

  it("detects every CamFlow log as camflow", () => {
    for (const f of [...frapLogs, OLD, WALK, ...readdirSync(EXAMPLES).map((n) => join(EXAMPLES, n))]) {
      const head = readFileSync(f, "utf8").split("\n").slice(0, 200);
      expect(detectFormat(head, f)?.format.kind, f).toBe("camflow");
    }
  });

  it("the mariadb capture: the counts of the research notes (162 documents, 638 activities, 1,633 entities, 5,750 relations, none unresolved)", async () => {
    const f = join(FRAP, "mariadb-root-exploit-0.log");
    const g = await readFiles([f]);
    expect(oracle[f]!.documents).toBe(162);
    expect(g.nodes.filter((n) => n.kind === "activity")).toHaveLength(638);
    expect(g.nodes.filter((n) => n.kind === "entity")).toHaveLength(1633);
    expect(g.edges).toHaveLength(5750);
    expect(g.problems).toEqual([]);
    expect(g.stats.danglingRelations ?? 0).toBe(0);
    // 11,474 endpoint references in PROV's sections (the 13 of the non-standard "relation" section
    // apart), 7,621 of them to a node of the same document
    expect(oracle[f]!.endpoints).toBe(11474);
    expect(oracle[f]!.sameDocument).toBe(7621);
    const top = new Map<string, number>();
    for (const e of g.edges) {
      const k = `${e.type}/${String(e.attrs.sourceType)}`;
      top.set(k, (top.get(k) ?? 0) + 1);
    }
    expect(top.get("used/read")).toBe(826);
    expect(top.get("wasInformedBy/version_activity")).toBe(498);
    expect(top.get("used/getattr")).toBe(485);
    expect(top.get("wasDerivedFrom/version_entity")).toBe(439);
    expect(top.get("used/receive")).toBe(426);
  });

  for (const f of [...frapLogs, OLD, WALK]) {
    const name = f.slice(CF.length + 1);
    it(`${name}: every node and relation, relations waiting for later documents, the dangling ones reported`, async () => {
      const o = oracle[f]!;
      const g = await readFiles([f]);
      // nodes: one per CamFlow id, of its section's class, every attribute as written
      expect(g.nodes).toHaveLength(Object.keys(o.nodes).length);
      const byKey = new Map(g.nodes.map((n) => [String(n.attrs.sourceId).replace(/^cf:/, ""), n]));
      for (const [k, n] of Object.entries(o.nodes)) {
        const ours = byKey.get(k);
        expect(ours, `${name} ${k}`).toBeDefined();
        expect(ours!.kind).toBe(n.section);
        for (const [a, v] of Object.entries(n.attrs)) expect(ours!.attrs[a], `${name} ${k} ${a}`).toEqual(v);
      }
      // relations: all but the dangling ones, with CamFlow's type and ends
      const expected = o.relations
        .filter(([, , a, b]) => a in o.nodes && b in o.nodes)
        .map(([s, t, a, b]) => `${SECTION_TYPE[s] ?? s} ${t} ${a} ${b}`)
        .sort();
      expect(g.edges.map((e) => edgeKey(g, e)).sort()).toEqual(expected);
      expect(g.stats.provRelationsDeferred ?? 0).toBe(o.deferred);
      expect(g.stats.danglingRelations ?? 0).toBe(o.dangling);
      expect(g.problems).toHaveLength(o.dangling);
      for (const p of g.problems) {
        expect(p.file).toBe(f);
        expect(p.message).toMatch(
          /^document \d+: dangling \w+ relation \S+: (from|to) \S+ .*never described/,
        );
        expect(p.line).toBeGreaterThanOrEqual(1);
      }
      // the JSON text the stores write (the record's text as read, plus provflow's additions, when
      // kept) parses back to the attributes, each of which Python's json read as above
      let kept = 0;
      for (const x of [...g.nodes, ...g.edges]) {
        if (attrsJsonKept(x.attrs)) kept++;
        expect(JSON.parse(takeAttrsJson(x.attrs)), `${name} ${String(x.attrs.sourceId)}`).toEqual(x.attrs);
      }
      expect(kept).toBeGreaterThan((g.nodes.length + g.edges.length) / 2);
    });
  }

  it("global ids from CamFlow's identifiers: camflow://MACHINE/BOOT/ID, version apart; packets by their ends", async () => {
    const f = join(FRAP, "mariadb-root-exploit-0.log");
    const o = oracle[f]!;
    const g = await readFiles([f]);
    let checked = 0;
    for (const n of g.nodes) {
      const k = String(n.attrs.sourceId);
      const id = o.ids[k];
      if (n.type === "packet") {
        const a = o.nodes[k]!.attrs;
        expect(n.gid).toBe(`packet://${a["cf:sender"]}->${a["cf:receiver"]}/${a["cf:id"]}/${a["cf:seq"]}`);
        continue;
      }
      if (n.type === "machine") {
        expect(n.gid).toBe(`camflow://${k}`);
        continue;
      }
      expect(id, k).toBeDefined();
      const [, objectId, boot, machine, version] = id!;
      expect(n.gid).toBe(`camflow://${machine}/${boot}/${objectId}`);
      expect(n.version).toBe(version);
      checked++;
    }
    expect(checked).toBeGreaterThan(2000);
    // the versions of one task share its gid
    const tasks = g.nodes.filter((n) => n.attrs.sourceType === "task");
    expect(new Set(tasks.map((n) => n.gid)).size).toBeLessThan(tasks.length);
  });

  it("maps CamFlow's node types to provflow's and keeps what queries select by", async () => {
    const g = await readFiles([join(FRAP, "mariadb-root-exploit-0.log")]);
    const types = new Map<string, Set<string>>();
    for (const n of g.nodes) {
      const t = String(n.attrs.sourceType);
      if (!types.has(t)) types.set(t, new Set());
      types.get(t)!.add(`${n.kind}/${n.type}`);
    }
    expect(Object.fromEntries([...types].map(([k, v]) => [k, [...v]]))).toEqual({
      machine: ["entity/machine"],
      task: ["activity/process"],
      file: ["entity/file"],
      mmaped_file: ["entity/file"],
      link: ["entity/file"],
      fifo: ["entity/pipe"],
      socket: ["entity/socket"],
      packet: ["entity/packet"],
      file_name: ["entity/path"],
      address: ["entity/address"],
      argv: ["entity/other"],
      envp: ["entity/other"],
      iattr: ["entity/other"],
    });
    const task = g.nodes.find((n) => n.attrs.sourceType === "task")!;
    for (const k of ["cf:secctx", "cf:cgroupns", "cf:mntns", "cf:machine_id", "cf:boot_id", "prov:label"]) {
      expect(task.attrs[k], k).toBeDefined();
    }
    expect(task.attrs.pid).toBe(task.attrs["cf:pid"]);
    const path = g.nodes.find((n) => n.type === "path")!;
    expect(path.attrs.path).toBe(path.attrs["cf:pathname"]);
    // cf:address stays the object CamFlow writes
    const address = g.nodes.find((n) => n.type === "address")!;
    expect(typeof address.attrs["cf:address"]).toBe("object");
  });

  it("CamFlow 0.1.7: one document on one line with a BOM, machines as entities, types from the labels", async () => {
    const whole = await readFiles([OLD]);
    const machines = whole.nodes.filter((n) => n.type === "machine");
    expect(machines.map((n) => n.gid).sort()).toEqual(
      Object.entries(oracle[OLD]!.nodes)
        .filter(([, n]) => String(n.attrs["prov:label"]).startsWith("[machine]"))
        .map(([k]) => `camflow://${k}`)
        .sort(),
    );
    expect(whole.nodes.filter((n) => n.kind === "activity").every((n) => n.type === "process")).toBe(true);
    // the same line handed over in pieces of 1000 characters gives the same graph
    const cut = await readFiles([OLD], {}, 1000);
    expect(cut.nodes.map((n) => n.gid).sort()).toEqual(whole.nodes.map((n) => n.gid).sort());
    expect(cut.edges.map((e) => edgeKey(cut, e)).sort()).toEqual(
      whole.edges.map((e) => edgeKey(whole, e)).sort(),
    );
    expect(cut.problems).toEqual(whole.problems);
  });

  it("keeps at most maxPendingRelations waiting: the oldest are given up, reported and counted", async () => {
    const f = join(FRAP, "mariadb-root-exploit-0.log");
    const g = await readFiles([f], { maxPendingRelations: 20 });
    expect(g.maxPending).toBeLessThanOrEqual(20);
    expect(g.stats.provPendingMax).toBeLessThanOrEqual(20);
    const overflow = g.stats.provPendingOverflow ?? 0;
    expect(overflow).toBeGreaterThan(0);
    expect(g.edges).toHaveLength(5750 - overflow);
    expect(g.problems).toHaveLength(overflow);
    expect(g.problems[0]!.message).toContain("more than 20 relations were waiting");
  });

  it("the documentation's fragments and SPADE-flavoured records", async () => {
    const g = await readFiles([
      join(EXAMPLES, "inode.w3c-fragment.txt"),
      join(EXAMPLES, "inode.spade.json"),
      join(EXAMPLES, "write-edge.w3c-fragment.txt"),
      join(EXAMPLES, "write-edge.spade.json"),
    ]);
    const ids = camflowOracleIds([
      "ABAAAAAAACAe9wIAAAAAAE7aeaI+200UAAAAAAAAAAA=",
      "ACAAAAAAACDZtAAAAAAAAAEAAACVwxEABgAAAAAAAAA=",
    ]);
    const fifo = g.nodes.find((n) => n.attrs.sourceId === "ABAAAAAAACAe9wIAAAAAAE7aeaI+200UAAAAAAAAAAA=")!;
    expect([fifo.kind, fifo.type, fifo.attrs["cf:secctx"]]).toEqual([
      "entity",
      "pipe",
      "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023",
    ]);
    const [, fid, fboot, fmachine] = ids[0]!;
    expect(fifo.gid).toBe(`camflow://${fmachine}/${fboot}/${fid}`);
    const socket = g.nodes.find((n) => n.attrs.sourceId === "ACAAAAAAACDZtAAAAAAAAAEAAACVwxEABgAAAAAAAAA=")!;
    const [, sid, sboot, smachine, sversion] = ids[1]!;
    expect([socket.kind, socket.type, socket.gid, socket.version]).toEqual([
      "entity",
      "socket",
      `camflow://${smachine}/${sboot}/${sid}`,
      sversion,
    ]);
    expect(socket.attrs.secctx).toBe("system_u:object_r:unlabeled_t:s0");
    // the two write edges name nodes these examples do not describe
    expect(g.edges).toEqual([]);
    expect(g.problems.map((p) => p.message.replace(/ relation .*/, ""))).toEqual([
      "dangling wasGeneratedBy",
      "dangling wasGeneratedBy",
    ]);
  });
});

function camflowOracleIds(ids: string[]): Array<[string, string, number, number, number]> {
  const r = spawnSync(
    PY,
    [
      "-c",
      `import sys, json, base64, struct
print(json.dumps([[hex(x[0]), str(x[1]), x[2], x[3], x[4]] for x in (struct.unpack("<QQIII", base64.b64decode(s)[:28]) for s in sys.argv[1:])]))`,
      ...ids,
    ],
    { encoding: "utf8" },
  );
  return JSON.parse(r.stdout) as Array<[string, string, number, number, number]>;
}

describe("CamFlow over MQTT: one decoded message at a time", () => {
  it("reads the messages camflowd publishes (zlib + base64) into the graph the log gives", async () => {
    const f = join(FRAP, "mariadb-root-exploit-0.log");
    const fromLog = await readFiles([f]);
    // camflowd: compress64encode(json) per document; the adapter inflates and hands over the text
    const payloads = readFileSync(f, "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => deflateSync(Buffer.from(l)).toString("base64"));
    const parser = createCamflowDocumentParser({ source: "mqtt://broker/camflow/provenance/#" });
    const c = new Collector();
    let index = 0;
    for (const payload of payloads) {
      index++;
      const json = inflateSync(Buffer.from(payload, "base64")).toString("utf8");
      c.take(parser.parse(json, { topic: "camflow/provenance/717566593", index }));
      // the keep-alive camflowd publishes every 10 s: nothing
      expect(parser.parse("", { topic: "keepalive", index })).toEqual([]);
    }
    c.take(parser.end(), true);
    const g = c.result();
    expect(g.nodes.map((n) => n.gid).sort()).toEqual(fromLog.nodes.map((n) => n.gid).sort());
    expect(g.edges.map((e) => edgeKey(g, e)).sort()).toEqual(
      fromLog.edges.map((e) => edgeKey(fromLog, e)).sort(),
    );
    expect(g.problems).toEqual([]);
  });

  it("reports a broken message at its message number and goes on with the next", () => {
    const lines = readFileSync(join(FRAP, "mysql-root-exploit-0.log"), "utf8").split("\n").filter(Boolean);
    const parser = createCamflowDocumentParser({ source: "mqtt" });
    const events = [
      ...parser.parse(lines[0]!, { index: 1 }),
      ...parser.parse(lines[1]!.slice(0, 500), { index: 2 }),
      ...parser.parse(lines[2]!, { index: 3 }),
    ];
    const problems = events.filter((e) => e.kind === "problem");
    expect(problems).toHaveLength(1);
    expect(problems[0]!.at).toEqual({ file: "mqtt", line: 2 });
    expect(events.filter((e) => e.kind === "prov.node").length).toBeGreaterThan(1);
  });
});
