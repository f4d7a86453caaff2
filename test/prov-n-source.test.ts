import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { GraphBuilder } from "../src/graph/graph-builder.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { readJsonLineBatches } from "../src/sources/prov-json/json-line-batches.js";
import { provJsonFormat } from "../src/sources/prov-json/prov-json-source.js";
import { ProvNLineParser, provNFormat } from "../src/sources/prov-n/prov-n-source.js";
import { detectFormat, findFormat } from "../src/sources/source-registry.js";
import type { SourceFormat } from "../src/sources/source-types.js";
import type { Problem } from "../src/store/store-types.js";
import { CORPUS, tempDir } from "./helpers/cli.js";

/**
 * The PROV-N source held against python3-prov, which writes PROV-N but cannot read it: every
 * PROV-JSON document of the corpus that prov reads is written by prov as PROV-N, and our reading
 * of that PROV-N must hold the elements (IRI, class) and relations (type, IRIs of both ends) that
 * prov read in the JSON, and be the graph our PROV-JSON source makes of the JSON. The PROV-N files
 * of the corpus (ProvToolbox's, which have no twin in another serialisation) are read with every
 * statement the text holds, and what we read of them, written as PROV-JSON, is read by prov.
 */

const PY = "/usr/bin/python3";
const PROV_DIR = join(CORPUS, "prov");
const TRUNGDONG = join(PROV_DIR, "trungdong-prov");
const TOOLBOX = join(PROV_DIR, "provtoolbox");

const hasProv = spawnSync(PY, ["-c", "import prov"]).status === 0;
if (!hasProv) {
  const msg = "python3-prov is not installed (apt-get install python3-prov)";
  if (process.env.CI === "true") throw new Error(`${msg}: CI=true requires it`);
  console.warn(`SKIPPED: ${msg}: the comparisons with python3-prov are skipped`);
}

/** prov reads each PROV-JSON document, writes it as PROV-N into OUT, and says what it read. */
const PROV_TO_PROVN = `
import json, sys, os
from prov.model import ProvDocument, ProvElement, ProvRelation
outdir = sys.argv[1]
out = {}
for path in sys.argv[2:]:
    try:
        doc = ProvDocument.deserialize(path, format="json")
        provn = doc.serialize(format="provn")
    except Exception as e:
        out[path] = {"error": type(e).__name__ + ": " + str(e)}
        continue
    target = os.path.join(outdir, os.path.basename(path) + ".provn")
    with open(target, "w") as f:
        f.write(provn)
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
    out[path] = {"provn": target, "elements": {k: sorted(v) for k, v in el.items()}, "relations": rels, "incomplete": incomplete}
print(json.dumps(out))
`;

/** prov reads PROV-JSON documents and counts their records by type (bundles included). */
const PROV_COUNT = `
import json, sys
from prov.model import ProvDocument
out = {}
for path in sys.argv[1:]:
    try:
        doc = ProvDocument.deserialize(path, format="json")
    except Exception as e:
        out[path] = {"error": type(e).__name__}
        continue
    recs = list(doc.get_records())
    for b in doc.bundles:
        recs += list(b.get_records())
    counts = {}
    for r in recs:
        k = r.get_type().localpart
        counts[k] = counts.get(k, 0) + 1
    out[path] = counts
print(json.dumps(out))
`;

interface OracleDoc {
  error?: string;
  provn: string;
  elements: Record<string, string[]>;
  relations: Array<[string, string, string]>;
  incomplete: number;
}

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

interface Read {
  nodes: GraphNode[];
  edges: GraphEdge[];
  problems: Problem[];
  stats: Record<string, number>;
  byId: Map<number, GraphNode>;
}

/** Reads a text as `provflow ingest` does (JSON line batches → parser → graph builder), in memory. */
async function readText(format: SourceFormat, file: string, text: string, maxPiece?: number): Promise<Read> {
  const ctx = { host: "testhost" };
  const parser = format.createParser({ file, ctx });
  const builder = new GraphBuilder({ ctx, machineAgent: false });
  const byId = new Map<number, GraphNode>();
  const edges: GraphEdge[] = [];
  const problems: Problem[] = [];
  const take = (events: ProvEvent[], end: boolean) => {
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
  return { nodes: [...byId.values()], edges, problems, stats: builder.stats, byId };
}

/** The events of a text read by the PROV-N parser alone, lines handed over in batches of `batch`. */
function events(text: string, file = "t.provn", batch = 1000): ProvEvent[] {
  const p = new ProvNLineParser(file);
  const lines = text.split("\n");
  const out: ProvEvent[] = [];
  for (let i = 0; i < lines.length; i += batch) out.push(...p.push(lines.slice(i, i + batch), i + 1));
  out.push(...p.end());
  return out;
}

const problemsOf = (evs: ProvEvent[]) =>
  evs.flatMap((e) => (e.kind === "problem" ? [`${e.at.line}: ${e.message}`] : []));

const relationKeys = (g: Read) =>
  g.edges.map((e) => `${e.type} ${g.byId.get(e.from)!.gid} ${g.byId.get(e.to)!.gid}`).sort();

const jsonDocs = [
  ...readdirSync(join(TRUNGDONG, "json")).map((f) => join(TRUNGDONG, "json", f)),
  ...readdirSync(join(TRUNGDONG, "unification")).map((f) => join(TRUNGDONG, "unification", f)),
  ...readdirSync(join(PROV_DIR, "cytoscape-js-prov")).map((f) => join(PROV_DIR, "cytoscape-js-prov", f)),
]
  .filter((f) => f.endsWith(".json"))
  .sort();

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)],
  );
}

const provnFiles = walk(TOOLBOX)
  .filter((f) => /\.(provn|pn|prov-asn)$/.test(f))
  .sort();

describe.skipIf(!hasProv)(
  "PROV-N written by python3-prov from every PROV-JSON document of the corpus",
  () => {
    let oracle: Record<string, OracleDoc>;
    beforeAll(() => {
      const dir = tempDir();
      const r = spawnSync(PY, ["-c", PROV_TO_PROVN, dir, ...jsonDocs], {
        encoding: "utf8",
        maxBuffer: 1 << 28,
      });
      if (r.status !== 0) throw new Error(`python3-prov failed: ${r.stderr}`);
      oracle = JSON.parse(r.stdout) as Record<string, OracleDoc>;
    });

    it("is detected as PROV-N, a prov run", () => {
      let n = 0;
      for (const f of jsonDocs) {
        const o = oracle[f]!;
        if (o.error) continue;
        const head = readFileSync(o.provn, "utf8").split("\n").slice(0, 200);
        expect(detectFormat(head, o.provn)?.format, o.provn).toBe(provNFormat);
        n++;
      }
      expect(n).toBeGreaterThan(400);
      expect(provNFormat.kind).toBe("prov");
      expect(findFormat("prov-n")).toBe(provNFormat);
    });

    it("holds every element and relation prov read in the JSON, and is the graph of the JSON", async () => {
      let compared = 0;
      let relations = 0;
      for (const f of jsonDocs) {
        const o = oracle[f]!;
        if (o.error) continue;
        compared++;
        const g = await readText(provNFormat, basename(f), readFileSync(o.provn, "utf8"));
        const expected = new Map<string, string[]>(Object.entries(o.elements));
        for (const [, a, b] of o.relations) {
          if (!expected.has(a)) expected.set(a, []);
          if (!expected.has(b)) expected.set(b, []);
        }
        const ours = new Map(g.nodes.map((n) => [n.gid, n.kind] as const));
        expect([...ours.keys()].sort(), f).toEqual([...expected.keys()].sort());
        const ambiguous: string[] = [];
        for (const [iri, kinds] of expected) {
          if (kinds.length === 1) expect(ours.get(iri), `${f} ${iri}`).toBe(kinds[0]);
          if (kinds.length > 1) {
            expect(kinds, `${f} ${iri}`).toContain(ours.get(iri));
            ambiguous.push(iri);
          }
        }
        const theirs = o.relations.map(([t, a, b]) => `${RELATION_OF[t]} ${a} ${b}`).sort();
        expect(relationKeys(g), f).toEqual(theirs);
        relations += theirs.length;
        expect(g.stats.provRelationsWithoutEnd ?? 0, `${f}: relations naming one end`).toBe(o.incomplete);
        expect(g.problems.length, `${f}: ${JSON.stringify(g.problems)}`).toBe(ambiguous.length);

        // the same graph as the PROV-JSON source makes of the JSON: nodes with their times and labels
        const j = await readText(provJsonFormat, basename(f), readFileSync(f, "utf8"));
        // (not the label: prov writes the values of an attribute in an order of its own)
        const node = (n: GraphNode) =>
          `${n.kind} ${n.gid} ${n.start} ${n.end} ${Object.keys(n.attrs).length}`;
        expect(g.nodes.map(node).sort(), f).toEqual(j.nodes.map(node).sort());
        const edge = (r: Read) => r.edges.map((e) => `${e.type} ${e.from} ${e.to} ${e.ts}`).sort();
        expect(edge(g).length, f).toBe(edge(j).length);
      }
      expect(compared).toBeGreaterThan(400);
      expect(relations).toBeGreaterThan(200);
    });
  },
);

/** The statements a PROV-N text holds, counted by name on the text without comments and strings. */
function statementCounts(text: string): Record<string, number> {
  const bare = text
    .replace(/"""[\s\S]*?"""/g, '""')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/\/\/[^\n]*/g, "");
  const counts: Record<string, number> = {};
  for (const m of bare.matchAll(/(?<![\w:.#])(?:prov:)?([A-Za-z]+)\s*\(/g)) {
    counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
  }
  return counts;
}

const DRAFT: Record<string, string> = {
  wasRevisionOf: "wasDerivedFrom",
  wasQuotedFrom: "wasDerivedFrom",
  hadPrimarySource: "wasDerivedFrom",
};

describe("the PROV-N files of the corpus (ProvToolbox's test suite and examples)", () => {
  it("reads every statement the text holds, with problems only where the text is not PROV-N", () => {
    expect(provnFiles.length).toBe(203);
    const withProblems: Record<string, number> = {};
    for (const f of provnFiles) {
      const text = readFileSync(f, "utf8");
      const head = text.split("\n").slice(0, 200);
      expect(detectFormat(head, f)?.format, f).toBe(provNFormat);
      const sections: Record<string, number> = {};
      const sink = new ProvNLineParser(f);
      const seen: string[] = [];
      const realRecord = sink.reader.record.bind(sink.reader);
      sink.reader.record = (section, id, value, at) => {
        if (section) sections[section] = (sections[section] ?? 0) + 1;
        seen.push(id);
        realRecord(section, id, value, at);
      };
      const evs = [...sink.push(text.split("\n"), 1), ...sink.end()];
      const problems = problemsOf(evs);
      if (problems.length > 0) withProblems[basename(f)] = problems.length;
      // the statements of the text, with the drafts' derivations as derivations
      const want: Record<string, number> = {};
      for (const [name, n] of Object.entries(statementCounts(text))) {
        const s = DRAFT[name] ?? name;
        want[s] = (want[s] ?? 0) + n;
      }
      if (basename(f) === "container0.provn") {
        // `other.wasGeneratedBy(…)`, `other.foo(…)`: extensions, reported and skipped
        expect(problems.join("\n")).toMatch(/other\.foo is not a statement of PROV-N/);
      } else if (basename(f) === "w3c-publication2.prov-asn") {
        // lines of '#' after endDocument
        expect(problems[0]).toMatch(/^41: .*#activity outside document/);
      } else {
        expect(problems, f).toEqual([]);
      }
      expect(sections, f).toEqual(want);
    }
    expect(withProblems).toEqual({ "container0.provn": 2, "w3c-publication2.prov-asn": 4 });
  });

  it.skipIf(!hasProv)(
    "what is read of them, written as PROV-JSON, is read by python3-prov with the same records",
    () => {
      const dir = tempDir();
      const docs: Array<[string, string]> = [];
      const ours: Record<string, Record<string, number>> = {};
      const TYPE: Record<string, string> = {
        entity: "Entity",
        activity: "Activity",
        agent: "Agent",
        ...Object.fromEntries(Object.entries(RELATION_OF).map(([k, v]) => [v, k])),
      };
      for (const f of provnFiles) {
        // the records as read, gathered into one PROV-JSON document (bundles kept)
        const p = new ProvNLineParser(f);
        type Doc = {
          prefix: Record<string, unknown>;
          bundle?: Record<string, Doc>;
          [section: string]: unknown;
        };
        const doc: Doc = { prefix: {} };
        let into = doc;
        const counts: Record<string, number> = {};
        p.reader.member = (name, value) => {
          if (name === "prefix") Object.assign(into.prefix, value as object);
        };
        p.reader.bundleStart = (id) => {
          doc.bundle ??= {};
          into = doc.bundle[id] ??= { prefix: {} };
        };
        p.reader.bundleEnd = () => {
          into = doc;
        };
        p.reader.record = (section, id, value) => {
          if (!section || !TYPE[section]) return;
          // a name given twice is one record for prov
          if (into[section] === undefined) into[section] = {};
          const sec = into[section] as Record<string, unknown>;
          if (Object.hasOwn(sec, id)) return;
          sec[id] = value;
          counts[TYPE[section]!] = (counts[TYPE[section]!] ?? 0) + 1;
        };
        p.push(readFileSync(f, "utf8").split("\n"), 1);
        p.end();
        // names without a prefix where the text declares no default namespace: prov wants one
        doc.prefix.default ??= "urn:provn-test:";
        const out = join(dir, `${docs.length}.json`);
        writeFileSync(out, JSON.stringify(doc));
        docs.push([out, f]);
        ours[out] = counts;
      }
      const r = spawnSync(PY, ["-c", PROV_COUNT, ...docs.map(([d]) => d)], {
        encoding: "utf8",
        maxBuffer: 1 << 28,
      });
      expect(r.status, r.stderr).toBe(0);
      const theirs = JSON.parse(r.stdout) as Record<string, Record<string, number> & { error?: string }>;
      const refused: string[] = [];
      for (const [d, f] of docs) {
        if (theirs[d]!.error) refused.push(`${basename(f)}: ${theirs[d]!.error}`);
        else expect(theirs[d], f).toEqual(ours[d]);
      }
      // ProvToolbox's test of names: names with prefixes it never declares (tr:, ex-:), which prov refuses
      expect(refused).toEqual(["container1.provn: ProvElementIdentifierRequired"]);
    },
  );
});

describe("PROV-N syntax", () => {
  const nodes = (evs: ProvEvent[]) =>
    evs.flatMap((e) => (e.kind === "prov.node" ? [{ key: e.key, cls: e.cls, attrs: e.attrs }] : []));
  const rels = (evs: ProvEvent[]) =>
    evs.flatMap((e) =>
      e.kind === "prov.relation" ? [{ type: e.type, from: e.from, to: e.to, ts: e.ts, attrs: e.attrs }] : [],
    );

  it("reads literals, escapes, statements over several lines, optional identifiers and markers", () => {
    const evs = events(
      [
        "document // a comment",
        "  default <http://d.org/>",
        "  prefix ex <http://example.org/> /* a",
        "  comment over lines */",
        '  entity(ex:e\\=1, [ex:s="a \\"q\\"", ex:l="hi"@en, ex:t="1" %% xsd:int, ex:q=\'ex:x\', ex:n=-3,',
        '                 ex:m="""x',
        'y""", ex:s="again"])',
        "  activity(a1, 2012-01-01T00:00:00.5Z, -)",
        "  wasGeneratedBy(-; ex:e\\=1, a1, 2012-01-01T01:00:00+01:00)",
        "  used(ex:u1; a1,",
        "       ex:e\\=1, -, [prov:role='ex:input'])",
        "endDocument",
      ].join("\n"),
    );
    expect(problemsOf(evs)).toEqual([]);
    const [e, a] = nodes(evs);
    expect(e).toMatchObject({ key: "http://example.org/e=1", cls: "entity" });
    expect(e!.attrs).toMatchObject({
      "ex:s": ['a "q"', "again"],
      "ex:l": { $: "hi", lang: "en" },
      "ex:t": { $: "1", type: "xsd:int" },
      "ex:q": { $: "ex:x", type: "prov:QUALIFIED_NAME" },
      "ex:n": -3,
      "ex:m": "x\ny",
    });
    expect(a).toMatchObject({ key: "http://d.org/a1", cls: "activity" });
    const [g, u] = rels(evs);
    expect(g).toMatchObject({
      type: "wasGeneratedBy",
      from: "http://example.org/e=1",
      to: "http://d.org/a1",
    });
    expect(g!.ts).toBe(Date.UTC(2012, 0, 1) * 1000);
    expect(u).toMatchObject({
      type: "used",
      from: "http://d.org/a1",
      to: "http://example.org/e=1",
      ts: null,
    });
    expect(u!.attrs).toMatchObject({ sourceId: "ex:u1", "prov:role": { $: "ex:input" } });
  });

  it("reads bundles, dictionaries and the drafts' derivations", () => {
    const evs = events(
      [
        "document",
        "prefix ex <http://example.org/>",
        "bundle ex:b",
        "  prefix in <http://in.org/>",
        "  entity(in:x)",
        "endBundle",
        "prov:derivedByInsertionFrom(ex:d2, ex:d1, {(\"k\", ex:v), ('ex:k2', ex:w)})",
        'prov:hadDictionaryMember(ex:d2, ex:v, "k")',
        "wasQuotedFrom(ex:q, ex:o)",
        "endDocument",
      ].join("\n"),
    );
    expect(problemsOf(evs)).toEqual([]);
    expect(nodes(evs)[0]).toMatchObject({ key: "http://in.org/x", attrs: { bundle: "ex:b" } });
    expect(rels(evs).map((r) => `${r.type} ${r.from} ${r.to}`)).toEqual([
      "wasDerivedFrom http://example.org/d2 http://example.org/d1",
      "hadMember http://example.org/d2 http://example.org/v",
      "wasDerivedFrom http://example.org/q http://example.org/o",
    ]);
    expect(rels(evs)[2]!.attrs["prov:type"]).toEqual({ $: "prov:Quotation", type: "prov:QUALIFIED_NAME" });
  });

  it("says where malformed PROV-N is wrong, skips that statement only, and goes on", () => {
    const text = [
      "document",
      "prefix ex <http://example.org/>",
      "entity(ex:a, [ex:k=])",
      'used(ex:act, ex:a, "noon")',
      "entity(ex:b",
      "entity(ex:c)",
      "bogus(ex:x)",
      "wasDerivedFrom(ex:c, ex:a, -, -, -, -)",
      'entity(ex:d, [ex:k="unclosed])',
      "agent(ex:ag)",
    ].join("\n");
    const evs = events(text, "bad.provn", 2);
    expect(problemsOf(evs)).toEqual([
      "3: document 1: col 20: entity: expected a value, found ']': the statement is skipped",
      "4: document 1: col 20: used: expected a time for prov:time, found a literal: the statement is skipped",
      "5: document 1: col 1: entity at line 5 is not closed (no ')' before the next statement): skipped",
      "7: document 1: col 1: bogus is not a statement of PROV-N or PROV-Dictionary: its statements are skipped",
      "8: document 1: col 37: wasDerivedFrom: too many arguments (6, at most 5): the statement is skipped",
      '9: document 1: col 20: a "string" is not closed on its line',
      "9: document 1: col 1: entity at line 9 is not closed (no ')' before the next statement): skipped",
      "10: document 1: col 1: the document has no endDocument",
    ]);
    expect(nodes(evs).map((n) => n.key)).toEqual(["http://example.org/c", "http://example.org/ag"]);
  });

  it("reads a document given in pieces of an overlong line, as the JSON line reader cuts it", async () => {
    const text = `document prefix ex <http://example.org/> ${Array.from({ length: 300 }, (_, i) => `entity(ex:e${i}, [ex:v="${"x".repeat(20)}"])`).join(" ")} endDocument\n`;
    const g = await readText(provNFormat, "long.provn", text, 1000);
    expect(g.problems).toEqual([]);
    expect(g.nodes.length).toBe(300);
  });

  it("says so when there is no PROV-N", () => {
    expect(problemsOf(events(""))).toEqual(["1: no PROV-N document in the input"]);
  });
});
