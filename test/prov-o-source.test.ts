import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { GraphBuilder } from "../src/graph/graph-builder.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { readJsonLineBatches } from "../src/sources/prov-json/json-line-batches.js";
import { provJsonFormat } from "../src/sources/prov-json/prov-json-source.js";
import { ProvOParser, provOFormat } from "../src/sources/prov-o/prov-o-source.js";
import { detectFormat, findFormat } from "../src/sources/source-registry.js";
import type { LineParser } from "../src/sources/source-types.js";
import type { Problem } from "../src/store/store-types.js";
import { CORPUS } from "./helpers/cli.js";

/**
 * The PROV-O source (Turtle, TriG) held against python3-prov, which reads RDF through rdflib: for
 * every document of the corpus prov reads, the same elements (IRI and class) and the same relations
 * (type and the IRIs of both ends); for the documents prov refuses (the "scruffy" ones: several
 * times or starters on one influence), the graph of their PROV-JSON twin in the corpus, and rdflib's
 * count of their triples. Malformed RDF gives problems with file and line, never an abort.
 */

const PY = "/usr/bin/python3";
const TRUNGDONG = join(CORPUS, "prov/trungdong-prov");
const RDF_DIR = join(TRUNGDONG, "rdf");

const hasProv = spawnSync(PY, ["-c", "import prov, rdflib"]).status === 0;
if (!hasProv) {
  const msg = "python3-prov/rdflib are not installed (apt-get install python3-prov)";
  if (process.env.CI === "true") throw new Error(`${msg}: CI=true requires it`);
  console.warn(`SKIPPED: ${msg}: the comparisons with python3-prov are skipped`);
}

/** What python3-prov reads in each RDF document, and how many triples rdflib finds. */
const PROV_ORACLE = `
import json, sys
import rdflib
from prov.model import ProvDocument, ProvElement, ProvRelation
out = {}
for path in sys.argv[1:]:
    fmt = "trig" if path.endswith(".trig") else "turtle"
    g = rdflib.ConjunctiveGraph()
    try:
        g.parse(path, format=fmt)
        triples = len(g)
    except Exception as e:
        triples = -1
    try:
        doc = ProvDocument.deserialize(path, format="rdf", rdf_format=fmt)
    except Exception as e:
        out[path] = {"error": type(e).__name__ + ": " + str(e), "triples": triples}
        continue
    recs = list(doc.get_records())
    for b in doc.bundles:
        recs += list(b.get_records())
    el = {}; rels = []; incomplete = 0
    for r in recs:
        if isinstance(r, ProvElement):
            el.setdefault(str(r.identifier.uri), set()).add(r.get_type().localpart.lower())
        elif isinstance(r, ProvRelation):
            a, b = r.formal_attributes[0][1], r.formal_attributes[1][1]
            if a is None or b is None:
                incomplete += 1
            else:
                rels.append([r.get_type().localpart, str(a.uri), str(b.uri)])
    # the classes rdflib finds (prov keeps one of several, whichever comes first)
    base = {"Entity": "entity", "Activity": "activity", "Agent": "agent"}
    for s, o in g.subject_objects(rdflib.RDF.type):
        c = str(o).replace("http://www.w3.org/ns/prov#", "")
        if c in base and str(s) in el:
            el[str(s)].add(base[c])
    out[path] = {"elements": {k: sorted(v) for k, v in el.items()}, "relations": rels, "incomplete": incomplete, "triples": triples}
print(json.dumps(out))
`;

interface OracleDoc {
  error?: string;
  triples: number;
  elements: Record<string, string[]>;
  relations: Array<[string, string, string]>;
  incomplete: number;
}

/** PROV-DM's record types (as prov names them) → the PROV-JSON relation they are written as. */
const RELATION_OF: Record<string, string> = {
  Usage: "used",
  Generation: "wasGeneratedBy",
  Communication: "wasInformedBy",
  Start: "wasStartedBy",
  End: "wasEndedBy",
  Invalidation: "wasInvalidatedBy",
  Derivation: "wasDerivedFrom",
  Attribution: "wasAttributedTo",
  Association: "wasAssociatedWith",
  Delegation: "actedOnBehalfOf",
  Influence: "wasInfluencedBy",
  Specialization: "specializationOf",
  Alternate: "alternateOf",
  Mention: "mentionOf",
  Membership: "hadMember",
};

function oracleOf(files: string[]): Record<string, OracleDoc> {
  const r = spawnSync(PY, ["-c", PROV_ORACLE, ...files], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python3-prov failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, OracleDoc>;
}

interface Read {
  nodes: GraphNode[];
  edges: GraphEdge[];
  problems: Problem[];
  events: ProvEvent[];
  stats: Record<string, number>;
  byId: Map<number, GraphNode>;
}

/** Reads a text as `provflow ingest` does (JSON line batches → parser → graph builder), in memory. */
async function readText(parser: LineParser, text: string, maxPiece?: number): Promise<Read> {
  const ctx = { host: "testhost" };
  const builder = new GraphBuilder({ ctx, machineAgent: false });
  const byId = new Map<number, GraphNode>();
  const edges: GraphEdge[] = [];
  const problems: Problem[] = [];
  const all: ProvEvent[] = [];
  const take = (events: ProvEvent[], end: boolean) => {
    all.push(...events);
    builder.add(events);
    const b = end ? builder.finish() : builder.drain();
    for (const n of b.nodes) byId.set(n.id, n);
    edges.push(...b.edges);
    problems.push(...b.problems);
  };
  for await (const batch of readJsonLineBatches(Readable.from([Buffer.from(text)]), maxPiece)) {
    take(parser.push(batch.lines, batch.firstLine), false);
  }
  take(parser.end(), true);
  return { nodes: [...byId.values()], edges, problems, events: all, stats: builder.stats, byId };
}

const readRdf = (file: string, text = readFileSync(file, "utf8"), maxPiece?: number) =>
  readText(provOFormat.createParser({ file: basename(file), ctx: { host: "testhost" } }), text, maxPiece);

const relationKeys = (g: Read) =>
  g.edges.map((e) => `${e.type} ${g.byId.get(e.from)!.gid} ${g.byId.get(e.to)!.gid}`).sort();
const nodeKeys = (g: Read) => g.nodes.map((n) => `${n.kind} ${n.gid}`).sort();

const rdfDocs = readdirSync(RDF_DIR)
  .filter((f) => /\.(ttl|trig)$/.test(f))
  .map((f) => join(RDF_DIR, f))
  .sort();

describe("PROV-O documents of the corpus", () => {
  it("finds them, and detects each one as PROV (and no PROV-JSON document as PROV-O)", () => {
    expect(rdfDocs.length).toBe(402);
    for (const f of rdfDocs) {
      const head = readFileSync(f, "utf8").split("\n").slice(0, 200);
      expect(detectFormat(head, f)?.format, f).toBe(provOFormat);
    }
    const json = join(TRUNGDONG, "json/bundle1.json");
    expect(detectFormat(readFileSync(json, "utf8").split("\n"), json)?.format).toBe(provJsonFormat);
    expect(provOFormat.kind).toBe("prov");
    expect(findFormat("prov-o")).toBe(provOFormat);
  });

  it("reads the same graph as from each document's PROV-JSON twin", async () => {
    let compared = 0;
    for (const f of rdfDocs) {
      const twin = join(TRUNGDONG, "json", basename(f).replace(/\.(ttl|trig)$/, ".json"));
      const text = (() => {
        try {
          return readFileSync(twin, "utf8");
        } catch {
          return null;
        }
      })();
      if (text === null) continue;
      compared++;
      const ours = await readRdf(f);
      const theirs = await readText(
        provJsonFormat.createParser({ file: basename(twin), ctx: { host: "testhost" } }),
        text,
      );
      // the only problems: an IRI of two classes in two bundles, said of the twin as well
      const said = (r: Read) => r.problems.map((p) => p.message.replace(/^document \d+: /, "")).sort();
      expect(said(ours), f).toEqual(said(theirs));
      expect(nodeKeys(ours), f).toEqual(nodeKeys(theirs));
      // RDF cannot tell which time or trigger goes with which record of a "scruffy" influence: one
      // node holds them all, so its relation joins every pair of ends the twin's records join
      if (basename(f).startsWith("scruffy-")) {
        const mine = new Set(relationKeys(ours));
        for (const k of relationKeys(theirs)) expect(mine.has(k), `${f}: ${k}`).toBe(true);
      } else expect(relationKeys(ours), f).toEqual(relationKeys(theirs));
    }
    expect(compared).toBe(402);
  });
});

describe.skipIf(!hasProv)("PROV-O documents, as python3-prov reads them", () => {
  let oracle: Record<string, OracleDoc>;
  beforeAll(() => {
    oracle = oracleOf(rdfDocs);
  });

  it("reads every element and relation python3-prov reads, with the same IRIs, classes and directions", async () => {
    let compared = 0;
    let relations = 0;
    for (const f of rdfDocs) {
      const o = oracle[f]!;
      if (o.error) {
        // prov refuses several values of one formal attribute; rdflib reads the triples
        expect(basename(f), o.error).toMatch(/^scruffy-/);
        expect(o.triples, f).toBeGreaterThan(0);
        continue;
      }
      compared++;
      const g = await readRdf(f);
      const expected = new Map<string, string[]>(Object.entries(o.elements));
      for (const [, a, b] of o.relations) {
        if (!expected.has(a)) expected.set(a, []);
        if (!expected.has(b)) expected.set(b, []);
      }
      const ours = new Map(g.nodes.map((n) => [n.gid, n.kind] as const));
      expect([...ours.keys()].sort(), f).toEqual([...expected.keys()].sort());
      let ambiguous = 0;
      for (const [iri, kinds] of expected) {
        if (kinds.length === 1) expect(ours.get(iri), `${f} ${iri}`).toBe(kinds[0]);
        if (kinds.length > 1) {
          expect(kinds, `${f} ${iri}`).toContain(ours.get(iri));
          ambiguous++;
        }
      }
      // alternateOf is symmetric, and prov reads its two ends the other way round
      const sym = (t: string, a: string, b: string) =>
        t === "alternateOf" && a > b ? `${t} ${b} ${a}` : `${t} ${a} ${b}`;
      const theirs = o.relations.map(([t, a, b]) => sym(RELATION_OF[t]!, a, b)).sort();
      const mine = relationKeys(g).map((k) => {
        const [t, a, b] = k.split(" ") as [string, string, string];
        return sym(t, a, b);
      });
      expect(mine.sort(), f).toEqual(theirs);
      relations += theirs.length;
      expect(g.stats.provRelationsWithoutEnd ?? 0, `${f}: relations naming one end`).toBe(o.incomplete);
      expect(g.problems.length, `${f}: ${JSON.stringify(g.problems)}`).toBe(ambiguous);
      for (const p of g.problems) expect(p.message).toMatch(/is described as (entity|activity|agent) and as/);
    }
    expect(compared).toBeGreaterThan(360);
    expect(relations).toBeGreaterThan(140);
  });

  it("on the scruffy documents prov refuses: one relation per influence, every triple of rdflib used", async () => {
    let seen = 0;
    for (const f of rdfDocs.filter((x) => basename(x).startsWith("scruffy-"))) {
      seen++;
      const g = await readRdf(f);
      expect(g.problems, f).toEqual([]);
      const rel = g.events.flatMap((e) => (e.kind === "prov.relation" ? [e] : []));
      // each scruffy document holds one qualified influence, with two values of some attributes
      expect(new Set(rel.map((r) => r.attrs.sourceId)).size, f).toBe(1);
      const multi = Object.values(rel[0]!.attrs).filter(Array.isArray);
      expect(multi.length, f).toBeGreaterThan(0);
      expect(oracle[f]!.triples, f).toBeGreaterThan(4);
    }
    expect(seen).toBe(28);
  });
});

describe("PROV-O mapping", () => {
  const PREFIXES = `@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix ex: <http://example.org/> .
`;

  it("counts an unqualified statement that a qualified influence repeats once", async () => {
    const text = `${PREFIXES}
ex:a a prov:Activity ; prov:used ex:e ; prov:wasAssociatedWith ex:ag ;
  prov:qualifiedUsage [ a prov:Usage ; prov:entity ex:e ; prov:atTime "2020-01-02T03:04:05.5Z"^^xsd:dateTime ; prov:hadRole ex:input ] ;
  prov:qualifiedAssociation [ prov:agent ex:ag ; prov:hadPlan ex:recipe ] .
ex:recipe a prov:Plan ; rdfs:label "the recipe" .
ex:ag a prov:Person .
ex:e2 prov:wasDerivedFrom ex:e ; prov:wasRevisionOf ex:e .
`;
    const g = await readRdf("dup.ttl", text);
    expect(g.problems).toEqual([]);
    expect(relationKeys(g)).toEqual([
      "used http://example.org/a http://example.org/e",
      "wasAssociatedWith http://example.org/a http://example.org/ag",
      // a revision is a derivation: the same relation between the same two entities
      "wasDerivedFrom http://example.org/e2 http://example.org/e",
    ]);
    const used = g.edges.find((e) => e.type === "used")!;
    // 2020-01-02T03:04:05.5Z in µs since the epoch
    expect(used.ts).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 500) * 1000);
    const recipe = g.nodes.find((n) => n.gid === "http://example.org/recipe")!;
    expect([recipe.kind, recipe.label]).toEqual(["entity", "the recipe"]);
    expect(recipe.attrs["prov:type"]).toEqual({ $: "prov:Plan", type: "prov:QUALIFIED_NAME" });
    expect(g.nodes.find((n) => n.gid === "http://example.org/ag")!.kind).toBe("agent");
  });

  it.skipIf(!hasProv)("python3-prov reads the association of that document once too", () => {
    const text = `${PREFIXES}
ex:a a prov:Activity ; prov:wasAssociatedWith ex:ag ; prov:qualifiedAssociation ex:as .
ex:as a prov:Association ; prov:agent ex:ag .
`;
    const r = spawnSync(
      PY,
      [
        "-c",
        "import sys\nfrom prov.model import ProvDocument\nd=ProvDocument.deserialize(content=sys.stdin.read(),format='rdf',rdf_format='turtle')\nprint(sum(1 for r in d.get_records() if r.get_type().localpart=='Association'))",
      ],
      { input: text, encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    return readRdf("assoc.ttl", text).then((g) => {
      expect(g.edges.filter((e) => e.type === "wasAssociatedWith").length).toBe(Number(r.stdout.trim()));
    });
  });

  it("keeps named graphs as bundles, and attributes as typed values", async () => {
    const g = await readRdf(join(RDF_DIR, "bundle1.trig"));
    const e1 = g.nodes.find((n) => n.gid === "http://example.org/e1")!;
    expect(e1.attrs.bundle).toBe("ex:bundle1");
    const v = await readRdf(join(RDF_DIR, "attr_entity_one_value_attr3.ttl"));
    expect(v.nodes[0]!.attrs["prov:value"]).toEqual({ $: "1", type: "xsd:int" });
  });

  it("reads lines handed over in pieces (a long line of N-Triples) the same", async () => {
    const f = join(RDF_DIR, "derivation13.ttl");
    const whole = await readRdf(f);
    const pieces = await readRdf(f, readFileSync(f, "utf8"), 7);
    expect(relationKeys(pieces)).toEqual(relationKeys(whole));
    expect(nodeKeys(pieces)).toEqual(nodeKeys(whole));
  });
});

describe("malformed RDF", () => {
  it("a syntax error is a problem at its line; what came before is read", async () => {
    const text = `@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix ex: <http://example.org/> .
ex:e1 a prov:Entity .

ex:e2 a prov:Entity ;; ]] oops
ex:e3 a prov:Entity .
`;
    const g = await readRdf("bad.ttl", text);
    // the statement the error is in was read up to its last complete triple
    expect(g.nodes.map((n) => n.gid)).toEqual(["http://example.org/e1", "http://example.org/e2"]);
    expect(g.problems).toHaveLength(1);
    expect(g.problems[0]).toMatchObject({ file: "bad.ttl", line: 5 });
    expect(g.problems[0]!.message).toMatch(/^not valid Turtle\/TriG: .*the rest of the input is skipped/);
  });

  it("the malformed documents of the corpus give problems with their line", async () => {
    const dir = join(TRUNGDONG, "malformed");
    const notTurtle = await readRdf(join(dir, "not_turtle.ttl"));
    expect(notTurtle.problems.map((p) => [p.line, p.message])).toEqual([
      [1, expect.stringMatching(/^not valid Turtle\/TriG: Unexpected "@@@"/)],
    ]);
    const foreign = await readRdf(join(dir, "foreign_vocabulary.ttl"));
    expect(foreign.nodes).toEqual([]);
    expect(foreign.problems.map((p) => p.line)).toEqual([4, 8, 1]);
    expect(foreign.problems[0]!.message).toMatch(/^ex:alice has no PROV class/);
    expect(foreign.problems[2]!.message).toMatch(/no PROV-O statement/);
  });

  it("a document past the triple limit is read up to it, with a problem", async () => {
    const lines = ["@prefix prov: <http://www.w3.org/ns/prov#> .", "@prefix ex: <http://example.org/> ."];
    for (let i = 0; i < 10; i++) lines.push(`ex:e${i} a prov:Entity .`);
    const parser = new ProvOParser("big.ttl", { maxTriples: 4 });
    const g = await readText(parser, lines.join("\n"));
    expect(g.nodes).toHaveLength(4);
    expect(g.problems).toHaveLength(1);
    expect(g.problems[0]!.message).toMatch(/more than 4 triples in one file/);
    expect(g.problems[0]!.line).toBe(7);
  });

  it("an empty input is a problem", async () => {
    const g = await readRdf("empty.ttl", "");
    expect(g.problems.map((p) => p.message)).toEqual(["no RDF statement in the input"]);
  });
});
