import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { dotFormat } from "../src/sources/dot/dot-source.js";
import { detectFormat } from "../src/sources/source-registry.js";
import { CORPUS, tempDir } from "./helpers/cli.js";
import { readSourceGraph } from "./helpers/read-source-graph.js";

/**
 * Graphviz DOT, against Graphviz's own reading of the same files (`dot -Tjson`): the same nodes, the
 * same edges between them with their labels; CamFlow's models give CamFlow's classes and PROV
 * relations, SPADE's Graphviz output SPADE's mapping, anything else generic entities.
 */

const hasDot = spawnSync("dot", ["-V"]).status === 0;
if (!hasDot) {
  if (process.env.CI === "true") throw new Error("graphviz (dot) is not installed: CI=true requires it");
  console.warn("SKIPPED: graphviz (dot) is not installed: DOT files are not checked against it");
}

const find = spawnSync("find", [CORPUS, "-name", "*.dot", "-o", "-name", "*.gv"], { encoding: "utf8" });
const files = find.stdout.split("\n").filter(Boolean).sort();

interface GvJson {
  _subgraph_cnt?: number;
  objects?: Array<{ _gvid: number; name: string; label?: string; nodes?: number[] }>;
  edges?: Array<{ tail: number; head: number; label?: string }>;
}

/** Graphviz's reading: node names, and edges as "tail head label". */
function graphviz(file: string) {
  const r = spawnSync("dot", ["-Tjson", file], { encoding: "utf8", maxBuffer: 1 << 26 });
  expect(r.status, r.stderr).toBe(0);
  const g = JSON.parse(r.stdout) as GvJson;
  const nodes = (g.objects ?? []).slice(g._subgraph_cnt ?? 0);
  const name = new Map(nodes.map((n) => [n._gvid, n.name]));
  return {
    nodes: nodes.map((n) => n.name).sort(),
    labels: new Map(nodes.map((n) => [n.name, n.label])),
    edges: (g.edges ?? []).map((e) => `${name.get(e.tail)} ${name.get(e.head)} ${e.label ?? ""}`).sort(),
  };
}

const CLASS: Record<string, string> = {
  task: "activity",
  machine: "agent",
  inode: "entity",
  process_memory: "entity",
};

describe.skipIf(!hasDot)("Graphviz DOT", () => {
  it("finds the corpus's DOT files", () => {
    expect(files.length).toBeGreaterThanOrEqual(21);
  });

  it.each(files.map((f) => relative(CORPUS, f)))("%s: the nodes and edges Graphviz reads", async (rel) => {
    const file = join(CORPUS, rel);
    const head = readFileSync(file, "utf8").split("\n").slice(0, 50);
    expect(detectFormat(head, file)?.format.kind).toBe("dot");
    const gv = graphviz(file);
    const g = await readSourceGraph(dotFormat, file);
    expect(g.problems).toEqual([]);
    const idOf = new Map(g.nodes.map((n) => [n.id, String(n.attrs.sourceId)]));
    expect(g.nodes.map((n) => String(n.attrs.sourceId)).sort()).toEqual(gv.nodes);
    for (const n of g.nodes)
      expect(n.label).toBe(gv.labels.get(String(n.attrs.sourceId)) ?? n.attrs.sourceId);
    // CamFlow's models: relations from the head (the effect) to the tail
    const camflow = rel.startsWith("camflow/syscall-models/");
    const got = g.edges.map((e) => {
      const [tail, head] = camflow ? [e.to, e.from] : [e.to, e.from];
      return `${idOf.get(tail)} ${idOf.get(head)} ${e.attrs.label ?? ""}`;
    });
    expect(got.sort()).toEqual(gv.edges);
    if (camflow) {
      for (const n of g.nodes) if (CLASS[n.label]) expect(n.kind, n.label).toBe(CLASS[n.label]);
      const byId = new Map(g.nodes.map((n) => [n.id, n]));
      for (const e of g.edges) {
        const [from, to] = [byId.get(e.from)!.kind, byId.get(e.to)!.kind];
        const want =
          from === "activity" && to === "entity"
            ? "used"
            : from === "entity" && to === "activity"
              ? "wasGeneratedBy"
              : from === to && from === "activity"
                ? "wasInformedBy"
                : from === to && from === "entity"
                  ? "wasDerivedFrom"
                  : from === "activity" && to === "agent"
                    ? "wasAssociatedWith"
                    : "wasInfluencedBy";
        expect(e.type, `${e.attrs.label}`).toBe(want);
        if (e.attrs.label === "read") expect([e.type, e.op]).toEqual(["used", "read"]);
        if (e.attrs.label === "write") expect([e.type, e.op]).toEqual(["wasGeneratedBy", "write"]);
      }
    }
  });

  it("reads subgraphs, defaults, ports, quoted and HTML ids, comments and concatenation like Graphviz", async () => {
    const file = join(tempDir(), "x.gv");
    writeFileSync(
      file,
      [
        "/* a comment",
        '   over lines */ strict digraph "G" {',
        "  node [shape=box] // defaults",
        '  "a b" -> { c; d:p1:n } [label="x" + "y"];',
        "  subgraph cluster_1 { node [color=red]; e -> f -> c }",
        '  g [label=<<b>bold</b> &amp; "q">];',
        '  "multi\\',
        'line" -> a_b',
        "# a preprocessor line",
        "}",
      ].join("\n"),
    );
    const gv = graphviz(file);
    const g = await readSourceGraph(dotFormat, file);
    const idOf = new Map(g.nodes.map((n) => [n.id, String(n.attrs.sourceId)]));
    expect(g.nodes.map((n) => String(n.attrs.sourceId)).sort()).toEqual(gv.nodes);
    expect(g.edges.map((e) => `${idOf.get(e.to)} ${idOf.get(e.from)} ${e.attrs.label ?? ""}`).sort()).toEqual(
      gv.edges,
    );
    const e = g.nodes.find((n) => n.attrs.sourceId === "e")!;
    expect([e.attrs.shape, e.attrs.color]).toEqual(["box", "red"]);
    expect(g.problems).toEqual([]);
    expect(g.nodes.find((n) => n.attrs.sourceId === "g")!.label).toBe('<<b>bold</b> &amp; "q">');
  });

  it("reads SPADE's Graphviz output with SPADE's mapping (tail the effect, head the cause)", async () => {
    const file = join(tempDir(), "spade.dot");
    writeFileSync(
      file,
      [
        "digraph spade2dot {",
        'graph [rankdir = "RL"];',
        'node [fontname="Helvetica" fontsize="8" style="filled" margin="0.0,0.0"];',
        '"p1" [label="type:Process\\npid:42\\nname:cat" shape="box" fillcolor="lightsteelblue1"];',
        '"f1" [label="type:Artifact\\nsubtype:file\\npath:/tmp/x" shape="ellipse"];',
        '"p1" -> "f1" [label="type:Used\\noperation:read" color="green"];',
        "}",
      ].join("\n"),
    );
    const g = await readSourceGraph(dotFormat, file);
    expect(g.problems).toEqual([]);
    const p = g.nodes.find((n) => n.kind === "activity")!;
    const f = g.nodes.find((n) => n.kind === "entity")!;
    expect([p.type, p.attrs.pid, f.type, f.gid]).toEqual(["process", "42", "file", "file://testhost/tmp/x"]);
    expect(g.edges.map((e) => [e.type, e.op, e.from, e.to])).toEqual([["used", "read", p.id, f.id]]);
  });

  it("reports what does not parse with its line, and goes on", async () => {
    const file = join(tempDir(), "bad.dot");
    writeFileSync(file, "digraph {\n  a -> b;\n  c -> [x=1];\n  d -> e\n  f = ;\n  g\n  g -- a\n}\n");
    const g = await readSourceGraph(dotFormat, file);
    expect(g.problems.map((p) => [p.line, p.message])).toEqual([
      [3, 'expected an identifier at "["'],
      [5, 'expected an identifier at ";"'],
      [7, "'--' in a digraph"],
    ]);
    expect(g.nodes.map((n) => n.attrs.sourceId).sort()).toEqual(["a", "b", "c", "d", "e", "g"]);
    expect(g.edges).toHaveLength(3);
  });
});
