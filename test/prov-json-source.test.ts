import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { GraphBuilder } from "../src/graph/graph-builder.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { camflowFormat } from "../src/sources/camflow/camflow-source.js";
import { readJsonLineBatches } from "../src/sources/prov-json/json-line-batches.js";
import { parseJsonText } from "../src/sources/prov-json/json-scanner.js";
import { provJsonFormat } from "../src/sources/prov-json/prov-json-source.js";
import { parseDateMicros } from "../src/sources/prov-json/prov-json-values.js";
import { detectFormat } from "../src/sources/source-registry.js";
import type { SourceFormat } from "../src/sources/source-types.js";
import type { Problem } from "../src/store/store-types.js";
import { CORPUS } from "./helpers/cli.js";

/**
 * The PROV-JSON source held against python3-prov (trungdong/prov, Debian's python3-prov under
 * /usr/bin/python3): for every document of the corpus that prov reads, the same elements (by IRI
 * and class) and the same relations (by type and the IRIs of their two ends) as prov finds; the
 * malformed documents rejected by prov give problems with file and position, never an abort.
 */

const PY = "/usr/bin/python3";
const PROV_DIR = join(CORPUS, "prov");
const TRUNGDONG = join(PROV_DIR, "trungdong-prov");

const hasProv = spawnSync(PY, ["-c", "import prov"]).status === 0;
if (!hasProv) {
  const msg = "python3-prov is not installed (apt-get install python3-prov)";
  if (process.env.CI === "true") throw new Error(`${msg}: CI=true requires it`);
  console.warn(`SKIPPED: ${msg}: the comparisons with python3-prov are skipped`);
}

/** What python3-prov reads in each document: elements (IRI → classes), relations, one-ended ones. */
const PROV_ORACLE = `
import json, sys, os
from prov.model import ProvDocument, ProvElement, ProvRelation
out = {}
for path in sys.argv[1:]:
    try:
        doc = ProvDocument.deserialize(path, format="json")
    except Exception as e:
        out[path] = {"error": type(e).__name__ + ": " + str(e)}
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
    out[path] = {"elements": {k: sorted(v) for k, v in el.items()}, "relations": rels, "incomplete": incomplete}
print(json.dumps(out))
`;

interface OracleDoc {
  error?: string;
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

function proveOracle(files: string[]): Record<string, OracleDoc> {
  const r = spawnSync(PY, ["-c", PROV_ORACLE, ...files], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python3-prov failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, OracleDoc>;
}

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

const relationKeys = (g: Read) =>
  g.edges.map((e) => `${e.type} ${g.byId.get(e.from)!.gid} ${g.byId.get(e.to)!.gid}`).sort();

const jsonDocs = [
  ...readdirSync(join(TRUNGDONG, "json")).map((f) => join(TRUNGDONG, "json", f)),
  ...readdirSync(join(TRUNGDONG, "unification")).map((f) => join(TRUNGDONG, "unification", f)),
  ...readdirSync(join(PROV_DIR, "cytoscape-js-prov")).map((f) => join(PROV_DIR, "cytoscape-js-prov", f)),
]
  .filter((f) => f.endsWith(".json"))
  .sort();

describe.skipIf(!hasProv)("PROV-JSON documents, as python3-prov reads them", () => {
  let oracle: Record<string, OracleDoc>;
  beforeAll(() => {
    oracle = proveOracle(jsonDocs);
  });

  it("finds the corpus", () => {
    expect(jsonDocs.length).toBeGreaterThan(400);
  });

  it("detects each one as PROV-JSON", () => {
    for (const f of jsonDocs) {
      const head = readFileSync(f, "utf8").split("\n").slice(0, 200);
      expect(detectFormat(head, f)?.format.kind, f).toBe("prov");
    }
  });

  it("reads every element and relation python3-prov reads, with the same IRIs, classes and directions", async () => {
    let compared = 0;
    let relations = 0;
    for (const f of jsonDocs) {
      const o = oracle[f]!;
      if (o.error) continue;
      compared++;
      const g = await readText(provJsonFormat, basename(f), readFileSync(f, "utf8"));
      // elements: prov's, plus what relations only refer to (a PROV statement that the thing exists)
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
      for (const n of g.nodes) {
        if (n.attrs.implicit) expect(expected.get(n.gid), `${f} ${n.gid} implicit`).toEqual([]);
      }
      const theirs = o.relations.map(([t, a, b]) => `${RELATION_OF[t]} ${a} ${b}`).sort();
      expect(relationKeys(g), f).toEqual(theirs);
      relations += theirs.length;
      expect(g.stats.provRelationsWithoutEnd ?? 0, `${f}: relations naming one end`).toBe(o.incomplete);
      // the only problems: one IRI described as two classes (prov keeps both, a graph node has one)
      expect(g.problems.length, `${f}: ${JSON.stringify(g.problems)}`).toBe(ambiguous.length);
      for (const p of g.problems) expect(p.message).toMatch(/is described as (entity|activity|agent) and as/);
    }
    expect(compared).toBeGreaterThan(400);
    expect(relations).toBeGreaterThan(200);
  });

  it("keeps every attribute of every element under its qualified name", async () => {
    // bundles, typed values, lists of values: attributes as written
    for (const name of [
      "bundle1.json",
      "attr_entity0.json",
      "attr_activity0.json",
      "scruffy-usage1-M.json",
    ]) {
      const f = join(TRUNGDONG, "json", name);
      const doc = JSON.parse(readFileSync(f, "utf8")) as Record<string, Record<string, unknown>>;
      const g = await readText(provJsonFormat, name, readFileSync(f, "utf8"));
      for (const section of ["entity", "activity", "agent"]) {
        for (const [id, rec] of Object.entries(doc[section] ?? {})) {
          const node = g.nodes.find((n) => n.attrs.sourceId === id && n.attrs.bundle === undefined);
          expect(node, `${name} ${id}`).toBeDefined();
          for (const [k, v] of Object.entries(rec as Record<string, unknown>)) {
            expect(node!.attrs[k], `${name} ${id} ${k}`).toEqual(v);
          }
        }
      }
    }
  });
});

describe.skipIf(!hasProv)("malformed PROV-JSON", () => {
  const malformed = readdirSync(join(TRUNGDONG, "malformed"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => join(TRUNGDONG, "malformed", f))
    .sort();

  it("gives problems with file and line for every document python3-prov rejects, in one stream", async () => {
    const oracle = proveOracle(malformed);
    expect(malformed.length).toBeGreaterThanOrEqual(9);
    for (const f of malformed) {
      expect(oracle[f]!.error, `python3-prov accepts ${f}`).toBeDefined();
      const g = await readText(provJsonFormat, f, readFileSync(f, "utf8"));
      expect(g.problems.length, f).toBeGreaterThanOrEqual(1);
      for (const p of g.problems) {
        expect(p.file).toBe(f);
        expect(p.line).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it("reports a JSON syntax error where Python's json module finds it", async () => {
    for (const name of ["not_json.json", "empty.json"]) {
      const f = join(TRUNGDONG, "malformed", name);
      const py = spawnSync(PY, ["-c", "import json,sys; json.load(open(sys.argv[1]))", f], {
        encoding: "utf8",
      });
      const m = /line (\d+) column (\d+)/.exec(py.stderr);
      expect(m, py.stderr).not.toBeNull();
      const g = await readText(provJsonFormat, name, readFileSync(f, "utf8"));
      expect(g.problems[0]!.line).toBe(Number(m![1]));
      if (name === "not_json.json") expect(g.problems[0]!.message).toContain(`col ${m![2]}:`);
    }
  });
});

describe("streams of documents", () => {
  const docs = [
    "bundle1.json",
    "derivation5.json",
    "scruffy-usage1-M.json",
    "member2.json",
    "activity3.json",
  ].map((n) => join(TRUNGDONG, "json", n));

  it("reads documents back to back as the union of each read alone", async () => {
    const alone = await Promise.all(docs.map((f) => readText(provJsonFormat, f, readFileSync(f, "utf8"))));
    const stream = docs.map((f) => readFileSync(f, "utf8").trimEnd()).join("\n");
    const all = await readText(provJsonFormat, "stream.json", stream);
    expect(new Set(all.nodes.map((n) => n.gid))).toEqual(
      new Set(alone.flatMap((g) => g.nodes.map((n) => n.gid))),
    );
    expect(relationKeys(all)).toEqual(alone.flatMap(relationKeys).sort());
    expect(all.problems).toEqual([]);
  });

  it("reads a document cut in pieces of any size (an overlong line) as it reads it whole", async () => {
    for (const f of docs) {
      const text = readFileSync(f, "utf8");
      const oneLine = JSON.stringify(JSON.parse(text));
      const whole = await readText(provJsonFormat, f, text);
      for (const piece of [1, 7, 64]) {
        const cut = await readText(provJsonFormat, f, oneLine, piece);
        expect(cut.nodes.map((n) => n.gid).sort(), `${f} in pieces of ${piece}`).toEqual(
          whole.nodes.map((n) => n.gid).sort(),
        );
        expect(relationKeys(cut)).toEqual(relationKeys(whole));
        expect(cut.problems).toEqual([]);
      }
    }
  });

  it("reads records and names in one piece (the scanner's fast paths) exactly as across pieces", async () => {
    // the same line whole and in pieces of 7 characters (where almost no record or name is in one
    // piece): the same nodes, edges, attributes, ids, problems (lines, columns) and statistics
    const frap = join(CORPUS, "camflow/frap-dataset");
    const tricky = [
      '{"prefix": {"ex": "http://example.org/"}, "entity": {"ex:a": {"ex:n": 123456789012345678901, "ex:s": "}{", "ex:o": {"$": "1", "type": "xsd:int"}}, "ex:b\\u0041": {"ex:t": "a\\"}"}, "ex:c": {"ex:l": [1, 2,],}, "ex:d": {"ex:n": -98765432109876543210}}}',
      '{"entity": {"ex:x": {"ex:y": 1]}}',
      '{"entity": {"ex:x": {"ex:y": null, "ex:z": {"a": 1}}, "ex:w": 3}, "used": {"_:u": {"prov:activity": "ex:x"}}}',
    ];
    const cases: Array<[SourceFormat, string, string]> = [
      ...jsonDocs.map((f): [SourceFormat, string, string] => [
        provJsonFormat,
        f,
        JSON.stringify(JSON.parse(readFileSync(f, "utf8"))),
      ]),
      ...tricky.map((t, k): [SourceFormat, string, string] => [provJsonFormat, `tricky-${k}`, t]),
      ...["mariadb-root-exploit-0.log", "mysql-root-exploit-0.log", "percona-root-exploit-0.log"].flatMap(
        (n) =>
          readFileSync(join(frap, n), "utf8")
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .slice(0, 30)
            .map((l): [SourceFormat, string, string] => [camflowFormat, n, l]),
      ),
    ];
    for (const [format, f, line] of cases) {
      const whole = await readText(format, f, line);
      const pieces = await readText(format, f, line, 7);
      expect(whole.nodes, f).toEqual(pieces.nodes);
      expect(whole.edges, f).toEqual(pieces.edges);
      // (a syntax error's excerpt is cut from the piece it is in)
      const where = (g: Read) => g.problems.map((p) => [p.file, p.line, p.message]);
      expect(where(whole), f).toEqual(where(pieces));
      expect(whole.stats, f).toEqual(pieces.stats);
    }
    const big = await readText(provJsonFormat, "tricky-0", tricky[0]!);
    expect(big.nodes.find((n) => n.gid === "http://example.org/a")?.attrs["ex:n"]).toBe(
      "123456789012345678901",
    );
    expect(big.nodes.find((n) => n.gid === "http://example.org/d")?.attrs["ex:n"]).toBe(
      "-98765432109876543210",
    );
  });

  it("reports a broken document at its line and column and reads the next ones", async () => {
    const a = readFileSync(docs[0]!, "utf8").trimEnd();
    const b = readFileSync(docs[1]!, "utf8").trimEnd();
    const broken = '{"entity": {"ex:x": {"ex:y": 1]}}';
    const text = `${a}\n${broken}\n${b}\n`;
    const brokenLine = a.split("\n").length + 1;
    const g = await readText(provJsonFormat, "mixed.json", text);
    expect(g.problems).toHaveLength(1);
    expect(g.problems[0]!.line).toBe(brokenLine);
    expect(g.problems[0]!.message).toContain(`col ${broken.indexOf("]") + 1}:`);
    const ga = await readText(provJsonFormat, "a.json", a);
    const gb = await readText(provJsonFormat, "b.json", b);
    expect(new Set(g.nodes.map((n) => n.gid))).toEqual(new Set([...ga.nodes, ...gb.nodes].map((n) => n.gid)));
  });

  it("reports a document cut short at the end of the input", async () => {
    const a = readFileSync(docs[0]!, "utf8").trimEnd();
    const g = await readText(provJsonFormat, "cut.json", a.slice(0, Math.floor(a.length / 2)));
    expect(g.problems.some((p) => /not complete at the end of the input/.test(p.message))).toBe(true);
  });
});

describe("values", () => {
  it("keeps integers beyond 2^53 exact, as strings", () => {
    const big = "123456789012345678901";
    const v = parseJsonText(
      `{"a": ${big}, "b": [-${big}, 12], "c": "x ${big}", "d": 9007199254740991}`,
    ) as Record<string, unknown>;
    expect(v.a).toBe(big);
    expect(v.b).toEqual([`-${big}`, 12]);
    expect(v.c).toBe(`x ${big}`);
    expect(v.d).toBe(9007199254740991);
  });

  it("accepts trailing commas", () => {
    expect(parseJsonText('{"a": [1, 2, ], "b": {"c": 1,},}')).toEqual({ a: [1, 2], b: { c: 1 } });
  });

  it("reads xsd:dateTime and CamFlow dates as Python's datetime does", () => {
    const dates = [
      "2011-11-16T16:05:00",
      "2011-11-16T16:05:00Z",
      "2011-11-16T16:05:00.123456+01:00",
      "2012-04-03T12:44:05.5-05:30",
      "2017:09:25T21:11:46",
      "2016:10:07T10:49:59.747",
    ];
    const py = spawnSync(
      PY,
      [
        "-c",
        `import sys, datetime
for s in sys.argv[1:]:
    d = datetime.datetime.fromisoformat(s[:4] + "-" + s[5:7] + "-" + s[8:])
    if d.tzinfo is None: d = d.replace(tzinfo=datetime.timezone.utc)
    e = d - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    print((e.days * 86400 + e.seconds) * 1000000 + e.microseconds)`,
        ...dates,
      ],
      { encoding: "utf8" },
    );
    expect(py.status, py.stderr).toBe(0);
    expect(dates.map((d) => parseDateMicros(d))).toEqual(py.stdout.trim().split("\n").map(Number));
  });
});

describe("JSON line batches", () => {
  it("ASCII pieces read as Latin-1 and the others through the UTF-8 decoder give the text Node decodes whole", async () => {
    // characters of 2, 3 and 4 bytes cut at every chunk boundary, between pieces of plain ASCII
    const text = `${'{"a":"plain"}\n'.repeat(40)}{"é":"日本","x":"𝄞"}\n${"{}\n".repeat(30)}ü\n{"end":1}`;
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 5, 7, 64, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const lines: string[] = [];
      for await (const batch of readJsonLineBatches(Readable.from(chunks))) lines.push(...batch.lines);
      expect(lines, `chunks of ${size} bytes`).toEqual(bytes.toString("utf8").split("\n"));
    }
  });
});
