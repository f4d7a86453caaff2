import { describe, expect, it } from "vitest";
import { BehaviourExtractor, unrandom } from "../src/detect/behaviour-keys.js";
import {
  DETECT_MODEL_VERSION,
  detectProfile,
  parseModel,
  profileRun,
  resolveSketchConfig,
  runTriples,
  serializeModel,
  trainModel,
} from "../src/detect/detect-model.js";
import type { DetectNode, DetectTriple } from "../src/detect/detect-types.js";
import { GraphSketch, sketchDistance } from "../src/detect/graph-sketch.js";
import { StreamDetector } from "../src/detect/stream-detector.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import type { MachinePart } from "../src/store/store-types.js";

/** A tiny provflow-style graph: sh runs PROG, which reads READ and writes WRITE (and maybe connects). */
function graph(
  prog: string,
  read: string,
  write: string,
  peer?: string,
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const node = (type: GraphNode["type"], kind: GraphNode["kind"], gid: string, attrs: GraphNode["attrs"]) => {
    const n: GraphNode = {
      id: nodes.length + 1,
      kind,
      type,
      gid,
      version: 0,
      label: gid,
      start: 1,
      end: 2,
      attrs,
    };
    nodes.push(n);
    return n.id;
  };
  const edge = (type: GraphEdge["type"], op: GraphEdge["op"], from: number, to: number) =>
    edges.push({
      id: edges.length + 1,
      type,
      op,
      from,
      to,
      ts: edges.length,
      tsEnd: null,
      count: 1,
      bytes: 0,
      attrs: {},
    });
  const sh = node("process", "activity", "proc://h/-/1@1", { exe: "/usr/bin/sh", pid: 1 });
  const p = node("process", "activity", "proc://h/-/2@2#1", { exe: prog, pid: 2 });
  const exe = node("file", "entity", `file://h${prog}`, { path: prog });
  const r = node("file", "entity", `file://h${read}`, { path: read });
  const w = node("file", "entity", `file://h${write}`, { path: write });
  edge("wasInformedBy", "exec", p, sh);
  edge("used", "execute", p, exe);
  edge("used", "read", p, r);
  edge("wasGeneratedBy", "write", w, p);
  if (peer) {
    const s = node("socket", "entity", `tcp://h/${peer}`, { family: "inet", remote: peer });
    edge("used", "connect", p, s);
    edge("wasGeneratedBy", "send", s, p);
  }
  return { nodes, edges };
}

const config = resolveSketchConfig({ size: 256 });

function profile(name: string, g: { nodes: GraphNode[]; edges: GraphEdge[] }) {
  return profileRun(name, runTriples(g.nodes, g.edges).triples, { config, window: 0 });
}

describe("behaviour keys", () => {
  it("normalise what changes between runs of the same work", () => {
    expect(unrandom("/tmp/pfw.XcPHkTnx/repo/.git/objects/7d/eb78535ae3172207357e6c078d4e878a42f992")).toBe(
      "/tmp/pfw.XXXXXX/repo/.git/objects/<xx>/<hash>",
    );
    expect(unrandom("/repo/.git/objects/7d/tmp_obj_kxOyVu")).toBe("/repo/.git/objects/<xx>/tmp_obj_XXXXXX");
    expect(unrandom("/proc/6400/status")).toBe("/proc/<n>/status");
    // ordinary names stay
    expect(unrandom("/usr/share/doc/Makefile")).toBe("/usr/share/doc/Makefile");
    expect(unrandom("/home/u/README.md")).toBe("/home/u/README.md");
  });

  it("name what a process does to what: exec, spawn, read, write area, network peer", () => {
    const g = graph("/usr/bin/curl", "/etc/shadow", "/tmp/tmp.AbC123xYz9/out.bin", "127.0.0.1:8080");
    const { triples } = runTriples(g.nodes, g.edges);
    const ex = new BehaviourExtractor();
    const keys = triples.flatMap((t) => ex.extract(t).map((b) => b.key));
    expect(keys).toEqual([
      "spawn|/usr/bin/sh|/usr/bin/curl",
      "exec|*|/usr/bin/curl",
      "read|/usr/bin/curl|/etc/shadow",
      "write|/usr/bin/curl|/tmp/tmp.XXXXXX/",
      "net|/usr/bin/curl|out inet 127.0.0.1:8080",
      "net|/usr/bin/curl|out inet 127.0.0.1:8080",
    ]);
  });

  it("learn CamFlow's names from its named relations", () => {
    const task: DetectNode = {
      ref: "t",
      kind: "activity",
      type: "process",
      gid: "cf://t",
      label: "",
      attrs: {},
    };
    const file: DetectNode = { ref: "f", kind: "entity", type: "file", gid: "cf://f", label: "", attrs: {} };
    const exe: DetectNode = { ref: "x", kind: "entity", type: "file", gid: "cf://x", label: "", attrs: {} };
    const path = (p: string): DetectNode => ({
      ref: p,
      kind: "entity",
      type: "path",
      gid: `cf://${p}`,
      label: "",
      attrs: { "cf:pathname": p },
    });
    const rel = (
      type: DetectTriple["edge"]["type"],
      op: DetectTriple["edge"]["op"],
      from: DetectNode,
      to: DetectNode,
    ) => ({
      edge: { ref: `${from.ref}-${to.ref}`, type, op, ts: null },
      from,
      to,
    });
    const ex = new BehaviourExtractor();
    expect(ex.extract(rel("wasDerivedFrom", "other", exe, path("/usr/bin/mysqld")))).toEqual([]);
    expect(ex.extract(rel("wasDerivedFrom", "other", file, path("/etc/my.cnf")))).toEqual([]);
    expect(ex.extract(rel("used", "exec", task, exe)).map((b) => b.key)).toEqual(["exec|*|/usr/bin/mysqld"]);
    expect(ex.extract(rel("used", "read", task, file)).map((b) => b.key)).toEqual([
      "read|/usr/bin/mysqld|/etc/my.cnf",
    ]);
  });
});

describe("graph sketch", () => {
  it("is the same for the same graph and bounded by its size", () => {
    const g = graph("/usr/bin/tar", "/home/u/data/a.txt", "/home/u/backup/x.tgz");
    const a = profile("a", g).sketches[0]?.vector ?? [];
    const b = profile("b", g).sketches[0]?.vector ?? [];
    expect(a).toHaveLength(256);
    expect(a).toEqual(b);
    expect(sketchDistance(a, b)).toBeLessThan(1e-6);
    const other =
      profile("c", graph("/usr/bin/curl", "/etc/shadow", "/dev/shm/x", "127.0.0.1:9")).sketches[0]?.vector ??
      [];
    expect(sketchDistance(a, other)).toBeGreaterThan(0.3);
  });

  it("keeps at most maxNodes nodes' labels", () => {
    const book = new BehaviourExtractor().book;
    const s = new GraphSketch({ size: 64, hops: 2, maxNodes: 16 }, book);
    for (let i = 0; i < 1000; i++) {
      const p: DetectNode = {
        ref: i,
        kind: "activity",
        type: "process",
        gid: `p${i}`,
        label: "",
        attrs: { exe: "/bin/x" },
      };
      const f: DetectNode = {
        ref: -i,
        kind: "entity",
        type: "file",
        gid: `f${i}`,
        label: "",
        attrs: { path: `/tmp/f${i}` },
      };
      s.add({ edge: { ref: i, type: "used", op: "read", ts: i }, from: p, to: f });
    }
    // the node table is private: its bound shows in what the sketch holds (counts stay per bucket)
    expect((s as unknown as { labels: { size: number } }).labels.size).toBeLessThanOrEqual(16);
    expect(s.counts.length).toBe(64);
    expect(s.total).toBe(2000);
  });
});

describe("detection model", () => {
  const normal = [
    profile("n1", graph("/usr/bin/tar", "/home/u/data/a.txt", "/home/u/backup/data-20260101.tgz")),
    profile("n2", graph("/usr/bin/tar", "/home/u/data/a.txt", "/home/u/backup/data-20260102.tgz")),
  ];
  const model = trainModel(normal, { config });

  it("finds nothing in a normal run, and flags an attack with its evidence", () => {
    const ok = detectProfile(
      model,
      profile("n3", graph("/usr/bin/tar", "/home/u/data/a.txt", "/home/u/backup/data-20261231.tgz")),
      null,
    );
    expect(ok.flagged).toBe(false);
    expect(ok.findings).toEqual([]);
    const g = graph("/dev/shm/.x", "/etc/shadow", "/home/u/backup/data-20260103.tgz", "127.0.0.1:4444");
    const bad = detectProfile(model, profile("a1", g), { id: 9, name: "a1" });
    expect(bad.flagged).toBe(true);
    expect(bad.detectors.behaviour.flagged).toBe(true);
    expect(bad.detectors.sketch.flagged).toBe(true);
    const exec = bad.findings.find((f) => f.key === "exec|*|/dev/shm/.x");
    expect(exec?.why).toContain("an executable no baseline run executed");
    // the evidence names the relation and its nodes in the run: used execute from the process (2) to the file (3)
    const used = g.edges.find((e) => e.op === "execute");
    expect(exec?.evidence.edges).toEqual([used?.id]);
    expect(exec?.evidence.nodes).toEqual([2, 3]);
    expect(exec?.evidence.gids).toEqual(["proc://h/-/2@2#1", "file://h/dev/shm/.x"]);
    expect(bad.findings.map((f) => f.kind)).toEqual(
      expect.arrayContaining(["exec", "read", "net", "spawn", "graph"]),
    );
  });

  it("saves and loads as versioned JSON, and refuses another version", () => {
    const text = serializeModel(model);
    const back = parseModel(text, "m.json");
    expect(back).toEqual(JSON.parse(text));
    expect(back.version).toBe(DETECT_MODEL_VERSION);
    expect(() =>
      parseModel(text.replace(`"version":${DETECT_MODEL_VERSION}`, '"version":99'), "m.json"),
    ).toThrow(/model version 99/);
    expect(() => parseModel("{}", "m.json")).toThrow(/not a provflow detection model/);
    expect(() => parseModel("nope", "m.json")).toThrow(/m.json: not JSON/);
  });
});

describe("stream detector", () => {
  it("flags a machine's new behaviour once, when its relation arrives (even before its node)", () => {
    const model = trainModel([profile("n1", graph("/usr/bin/tar", "/home/u/a", "/home/u/b"))], { config });
    const found: string[] = [];
    const d = new StreamDetector({ model, onFinding: (m, f) => found.push(`${m} ${f.key}`) });
    const part = (nodes: MachinePart["nodes"], edges: MachinePart["edges"]): MachinePart => ({
      runId: 1,
      machineId: "m1",
      nodes,
      edges,
      problems: [],
      packets: 1,
      errors: 0,
      seen: 0,
    });
    const proc = {
      key: "p",
      kind: "activity" as const,
      type: "process" as const,
      gid: "g:p",
      version: 0,
      label: "",
      start: null,
      end: null,
      attrs: { exe: "/usr/bin/tar" },
    };
    const shadow = {
      key: "f",
      kind: "entity" as const,
      type: "file" as const,
      gid: "g:f",
      version: 0,
      label: "",
      start: null,
      end: null,
      attrs: { path: "/etc/shadow" },
    };
    const read = {
      key: "e1",
      type: "used" as const,
      op: "read" as const,
      from: "p",
      to: "f",
      ts: 1,
      tsEnd: null,
      count: 1,
      bytes: 0,
      attrs: {},
    };
    d.push([part([proc], [read])]);
    expect(found).toEqual([]);
    expect(d.stats.waiting).toBe(1);
    d.push([part([shadow], [{ ...read, key: "e2" }])]);
    expect(found).toEqual(["m1 read|/usr/bin/tar|/etc/shadow"]);
    expect(d.stats.relations).toBe(2);
  });
});

describe("random names", () => {
  it("are found in tails of any case mix, after temporary prefixes, and in git's object store", () => {
    expect(unrandom("/tmp/pfw.gOOrQoDe/app")).toBe("/tmp/pfw.XXXXXX/app");
    expect(unrandom("/r/.git/t5wnx9b")).toBe("/r/.git/XXXXXX");
    expect(unrandom("/r/.git/objects/58/tmp_obj_abcdef")).toBe("/r/.git/objects/<xx>/tmp_obj_XXXXXX");
    expect(unrandom("/usr/bin/sha256sum")).toBe("/usr/bin/sha256sum");
    expect(unrandom("/usr/share/locale/C.utf8/LC_CTYPE")).toBe("/usr/share/locale/C.utf8/LC_CTYPE");
  });
});
