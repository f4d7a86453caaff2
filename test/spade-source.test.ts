import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { GraphBuilder } from "../src/graph/graph-builder.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { readJsonLineBatches } from "../src/sources/prov-json/json-line-batches.js";
import { detectFormat } from "../src/sources/source-registry.js";
import { spadeJsonFormat } from "../src/sources/spade/spade-json-source.js";
import type { Problem } from "../src/store/store-types.js";
import { CORPUS } from "./helpers/cli.js";

/**
 * SPADE's JSON: the wiki's sample (trailing commas and all), CamFlow's SPADE-flavoured examples,
 * and SPADE's own graphs of ProvMark's SPADEv3 benchmark (per-syscall subgraphs as clingo facts,
 * written here as the JSON SPADE's storage writes) — which also shows SPADE's edge direction
 * (`from` the effect, `to` the cause) landing on PROV's subject → object order.
 */

const SPADE = join(CORPUS, "spade");

async function read(file: string, text: string) {
  const ctx = { host: "testhost" };
  const parser = spadeJsonFormat.createParser({ file, ctx });
  const builder = new GraphBuilder({ ctx, machineAgent: false });
  const byId = new Map<number, GraphNode>();
  const edges: GraphEdge[] = [];
  const problems: Problem[] = [];
  const take = (events: ProvEvent[], end = false) => {
    builder.add(events);
    const b = end ? builder.finish() : builder.drain();
    for (const n of b.nodes) byId.set(n.id, n);
    edges.push(...b.edges);
    problems.push(...b.problems);
  };
  for await (const batch of readJsonLineBatches(Readable.from([Buffer.from(text)]))) {
    take(parser.push(batch.lines, batch.firstLine));
  }
  take(parser.end(), true);
  return { nodes: [...byId.values()], edges, problems, byId, stats: builder.stats };
}

describe("SPADE JSON", () => {
  it("the wiki's sample: an array with trailing commas, numeric ids, a Used edge from the activity", async () => {
    const f = join(SPADE, "wiki-json-reporter-example.txt");
    const text = readFileSync(f, "utf8");
    expect(detectFormat(text.split("\n"), f)?.format.kind).toBe("spade");
    const g = await read(f, text);
    expect(g.problems).toEqual([]);
    const program = g.nodes.find((n) => n.attrs.program === "firefox")!;
    const page = g.nodes.find((n) => n.attrs.filename === "index.html")!;
    expect([program.kind, program.attrs.pid, page.kind, page.attrs.owner]).toEqual([
      "activity",
      "1234",
      "entity",
      "user",
    ]);
    expect(g.edges).toHaveLength(1);
    const e = g.edges[0]!;
    expect([e.type, e.from, e.to, e.attrs.time]).toEqual(["used", program.id, page.id, "0420"]);
  });

  it("CamFlow's SPADE flavour: the write edge goes from the pipe (effect) to the task (cause)", async () => {
    const edge = readFileSync(join(CORPUS, "camflow/website-examples/write-edge.spade.json"), "utf8");
    const inode = readFileSync(join(CORPUS, "camflow/website-examples/inode.spade.json"), "utf8");
    const e = JSON.parse(edge) as { from: string; to: string; annotations: Record<string, string> };
    // the two vertices the edge names, described with the types its annotations give them
    const vertex = (id: string, type: string, objectType: string) =>
      JSON.stringify({ type, id, annotations: { object_type: objectType, "cf:machine_id": "cf:1164181" } });
    const text = [
      inode,
      vertex(e.from, "Entity", e.annotations.from_type!),
      vertex(e.to, "Activity", e.annotations.to_type!),
      edge,
    ].join("\n");
    const g = await read("camflow-spade.json", text);
    expect(g.problems).toEqual([]);
    expect(g.edges).toHaveLength(1);
    const w = g.edges[0]!;
    const from = g.byId.get(w.from)!;
    const to = g.byId.get(w.to)!;
    expect([w.type, w.op, from.type, to.type, to.kind]).toEqual([
      "wasGeneratedBy",
      "write",
      "pipe",
      "process",
      "activity",
    ]);
    expect(w.attrs.relation_id).toBe("3060");
    const socket = g.nodes.find((n) => n.type === "socket")!;
    expect([socket.gid, socket.version, socket.attrs.secctx]).toEqual([
      "camflow://1164181/1/46297",
      6,
      "system_u:object_r:unlabeled_t:s0",
    ]);
  });

  const benchmarks = readdirSync(join(SPADE, "provmark-spadev3"))
    .filter((f) => f.endsWith(".clingo"))
    .sort();

  /** ProvMark's facts → SPADE JSON as SPADE's JSON storage writes it (`[`, one object per line, `]`). */
  function spadeJson(clingo: string) {
    const vertices = new Map<string, string>();
    const edges: Array<{ id: string; from: string; to: string; type: string }> = [];
    const labels = new Map<string, Record<string, string>>();
    for (const line of clingo.split("\n")) {
      let m = /^n[\w-]*\((\w+),"(\w+)"\)\.$/.exec(line);
      if (m) vertices.set(m[1]!, m[2]!);
      m = /^e[\w-]*\((\w+),(\w+),(\w+),"(\w+)"\)\.$/.exec(line);
      if (m) edges.push({ id: m[1]!, from: m[2]!, to: m[3]!, type: m[4]! });
      m = /^l[\w-]*\((\w+),"([^"]*)","(.*)"\)\.$/.exec(line);
      if (m) {
        if (!labels.has(m[1]!)) labels.set(m[1]!, {});
        labels.get(m[1]!)![m[2]!] = m[3]!;
      }
    }
    const objects = [
      ...[...vertices].map(([id, type]) => ({ type, id, annotations: labels.get(id) ?? {} })),
      ...edges.map((e) => ({ type: e.type, from: e.from, to: e.to, annotations: labels.get(e.id) ?? {} })),
    ];
    return { vertices, edges, text: `[\n${objects.map((o) => JSON.stringify(o)).join(",\n")}\n]\n` };
  }

  it("finds ProvMark's SPADEv3 graphs", () => {
    expect(benchmarks.length).toBeGreaterThan(40);
  });

  /** PROV's classes of the subject and object of each relation. */
  const ENDS: Record<string, [string, string]> = {
    used: ["activity", "entity"],
    wasGeneratedBy: ["entity", "activity"],
    wasInformedBy: ["activity", "activity"],
    wasDerivedFrom: ["entity", "entity"],
    wasAssociatedWith: ["activity", "agent"],
  };

  for (const name of benchmarks) {
    it(`ProvMark SPADEv3 ${name}: every vertex and edge, each edge between the classes PROV gives its relation`, async () => {
      const { vertices, edges, text } = spadeJson(
        readFileSync(join(SPADE, "provmark-spadev3", name), "utf8"),
      );
      const g = await read(name, text);
      expect(g.nodes).toHaveLength(vertices.size);
      const joined = edges.filter((e) => vertices.has(e.from) && vertices.has(e.to));
      expect(g.edges).toHaveLength(joined.length);
      expect(g.problems).toHaveLength(edges.length - joined.length);
      for (const n of g.nodes) {
        const t = vertices.get(String(n.attrs.sourceId));
        expect(n.kind).toBe(t === "Process" ? "activity" : t === "Agent" ? "agent" : "entity");
        if (t === "Process") expect(n.type).toBe("process");
        // a file is named by its path (ProvMark's generalised graphs write "?" for values that vary)
        const path = n.attrs.path;
        if (typeof path === "string" && path.startsWith("/") && n.type === "file") {
          expect(n.gid).toBe(`file://testhost${path}`);
        }
      }
      for (const e of g.edges) {
        expect([g.byId.get(e.from)!.kind, g.byId.get(e.to)!.kind], `${name} ${e.type}`).toEqual(ENDS[e.type]);
      }
    });
  }

  it("reports records that are not SPADE's, and goes on", async () => {
    const g = await read(
      "bad.json",
      '{"type": "Process", "id": "1", "annotations": {"pid": "7"}}\n[1, {"type": "Nope"}, {"id": 3}]\n{"type": "Used", "from": "1", "to": "2"',
    );
    expect(g.nodes).toHaveLength(1);
    expect(g.problems.map((p) => p.line)).toEqual([2, 2, 2, 3]);
  });
});
