import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ClingoFactReader } from "../src/sources/clingo/clingo-facts.js";
import { clingoFormat } from "../src/sources/clingo/clingo-source.js";
import { detectFormat } from "../src/sources/source-registry.js";
import { CORPUS, tempDir } from "./helpers/cli.js";
import { readSourceGraph } from "./helpers/read-source-graph.js";

/**
 * ProvMark's SPADEv3 graphs as clingo facts, against a regular-expression reading of the same files:
 * one node per n/2 fact, one edge per e/4 fact between the nodes it names (the few whose ends the
 * graph does not hold are dangling, one problem each), every l/3 property on its node or edge.
 */

const DIR = join(CORPUS, "spade/provmark-spadev3");
const CAMFLOW_DIR = join(CORPUS, "camflow/provmark-camflow-v045");
const FACT = /^([nel])([\w-]*)\((.*)\)\.$/;
const STR = /"((?:[^"\\]|\\.)*)"|([\w-]+)/g;

function oracle(text: string) {
  const nodes = new Map<string, string>();
  const edges: Array<[string, string, string, string]> = [];
  const props: Array<[string, string, string]> = [];
  for (const line of text.split("\n")) {
    const m = FACT.exec(line.trim());
    if (!m) continue;
    const args = [...m[3]!.matchAll(STR)].map((a) => a[1] ?? a[2]!);
    if (m[1] === "n") nodes.set(args[0]!, args[1]!);
    else if (m[1] === "e") edges.push(args as [string, string, string, string]);
    else props.push(args as [string, string, string]);
  }
  return { nodes, edges, props };
}

const PROV: Record<string, string> = {
  Used: "used",
  WasGeneratedBy: "wasGeneratedBy",
  WasTriggeredBy: "wasInformedBy",
  WasDerivedFrom: "wasDerivedFrom",
  WasControlledBy: "wasAssociatedWith",
};

const files = [DIR, CAMFLOW_DIR].flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith(".clingo"))
    .sort()
    .map((f) => join(d, f)),
);

describe("ProvMark clingo facts", () => {
  it("detects them, by content and by name", () => {
    const f = join(DIR, "fork.foreground.clingo");
    const head = readFileSync(f, "utf8").split("\n").slice(0, 50);
    expect(detectFormat(head, f)?.format.kind).toBe("clingo");
    expect(detectFormat(head, "facts.txt")?.format.kind).toBe("clingo");
  });

  it.each(files.map((f) => relative(CORPUS, f)))(
    "%s: the nodes, edges and properties of its facts",
    async (rel) => {
      const file = join(CORPUS, rel);
      const o = oracle(readFileSync(file, "utf8"));
      const g = await readSourceGraph(clingoFormat, file);
      expect(g.nodes).toHaveLength(o.nodes.size);
      const idOf = new Map(g.nodes.map((n) => [n.id, String(n.attrs.sourceId)]));
      for (const n of g.nodes) {
        const type = o.nodes.get(idOf.get(n.id)!);
        expect(n.kind).toBe(
          type === "Process" || type === "activity"
            ? "activity"
            : type === "Agent" || type === "agent"
              ? "agent"
              : "entity",
        );
        for (const [id, k, v] of o.props)
          if (id === n.attrs.sourceId) expect(n.attrs[k], `${id} ${k}`).toBe(v);
      }
      const whole = o.edges.filter(([, from, to]) => o.nodes.has(from) && o.nodes.has(to));
      expect(g.problems).toHaveLength(o.edges.length - whole.length);
      for (const p of g.problems) expect(p.message).toMatch(/dangling/);
      const got = g.edges.map((e) => `${e.attrs.sourceId} ${e.type} ${idOf.get(e.from)} ${idOf.get(e.to)}`);
      const want = whole.map(([id, from, to, label]) => `${id} ${PROV[label] ?? label} ${from} ${to}`);
      expect(got.sort()).toEqual(want.sort());
      for (const [id, k, v] of o.props) {
        const e = g.edges.find((x) => x.attrs.sourceId === id);
        if (e) expect(e.attrs[k], `${id} ${k}`).toBe(v);
      }
    },
  );

  it("reads strings with escapes, facts over lines and comments; bad facts are problems with their line", async () => {
    const r = new ClingoFactReader();
    const items = [
      ...r.push(
        ["% a comment", 'n1(n1,"Artifact"). l1(n1,"path","/a \\"b\\", c).").', "l1(n1,", '"k", 5). % done'],
        1,
      ),
      ...r.push(["e1(x y).", "n1(n2"], 5),
      ...r.end(),
    ];
    expect(items).toEqual([
      { pred: "n1", args: ["n1", "Artifact"], line: 2 },
      { pred: "l1", args: ["n1", "path", '/a "b", c).'], line: 2 },
      { pred: "l1", args: ["n1", "k", 5], line: 3 },
      { error: expect.stringMatching(/expected ','/), line: 5, text: "e1(x y)" },
      { error: expect.stringMatching(/ends inside a statement/), line: 6, text: "n1(n2" },
    ]);
    const file = join(tempDir(), "bad.clingo");
    writeFileSync(file, 'n1(n1,"Process").\nfoo(1).\nn1(n2,"Artifact"\ne1(e1,n2,n1,"Used").\n');
    const g = await readSourceGraph(clingoFormat, file);
    expect(g.problems.map((p) => [p.line, p.message])).toEqual([
      [2, "foo/1 is not a ProvMark graph fact (n/2, e/4, l/3)"],
      [3, expect.stringMatching(/expected ','/)],
    ]);
    expect(g.nodes).toHaveLength(1);
  });
});
