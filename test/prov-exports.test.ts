import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { memoryExportInput } from "../src/export/export-input.js";
import { stringSink } from "../src/export/export-sink.js";
import { getExporter } from "../src/export/exporter-registry.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { RunRecord } from "../src/store/store-types.js";
import { CORPUS, runCli, tempDir } from "./helpers/cli.js";

/**
 * PROV-N, PROV-XML and PROV-O Turtle exports held against oracles nobody here wrote:
 * python3-prov (Debian's, /usr/bin/python3) reads our PROV-XML and Turtle back into the same
 * records (type, id, every attribute value) as it reads from our PROV-JSON export; prov's own PROV-N
 * serialization of our PROV-JSON has the same statements as our PROV-N (prov 2.0 cannot read
 * PROV-N); rdflib parses our Turtle into the same triples as prov's own Turtle of the PROV-JSON,
 * with only PROV-O terms in the prov: namespace. The counts are also held against the store.
 */

const PY = "/usr/bin/python3";

const ORACLE = `
import sys, json, datetime
import rdflib
from rdflib.namespace import PROV as PROVO
from prov.model import ProvDocument, Literal, ProvRecord
from prov.identifier import Identifier

PROV_NS = "http://www.w3.org/ns/prov#"
CLASS = {"Activity", "Entity", "Agent"}

def norm(v):
    if isinstance(v, ProvRecord): v = v.identifier
    if isinstance(v, Identifier): return "iri:" + v.uri
    if isinstance(v, datetime.datetime):
        return "dt:" + v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(v, Literal):
        dt = v.datatype.uri if v.datatype is not None else ""
        s = v.value
        if dt.endswith("dateTime"): return norm(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")))
        if dt.endswith(("int", "long", "integer")): return "num:" + str(int(s))
        if dt.endswith(("double", "float")): return "num:" + repr(float(s))
        if dt.endswith("boolean"): return "bool:" + str(s.lower() in ("true", "1"))
        return "str:" + s
    if isinstance(v, bool): return "bool:" + str(v)
    if isinstance(v, int): return "num:" + str(v)
    if isinstance(v, float): return "num:" + repr(v)
    return "str:" + str(v)

def read(path, fmt):
    kw = {"format": fmt}
    if fmt == "rdf": kw["rdf_format"] = "turtle"
    return ProvDocument.deserialize(path, **kw)

def canon(doc):
    out = []
    for r in doc.get_records():
        kind = r.get_type().localpart
        # RDF cannot tell "a prov:Agent" from a prov:type prov:Agent on an agent: leave it out
        own = "iri:" + PROV_NS + kind
        attrs = sorted({(a.uri, norm(v)) for a, v in r.attributes if v is not None
                        and not (a.uri == PROV_NS + "type" and kind in CLASS and norm(v) == own)})
        out.append([kind, r.identifier.uri if r.identifier else None, attrs])
    out.sort(key=lambda x: json.dumps(x))
    return out

def lit(t):
    if isinstance(t, rdflib.Literal):
        v = t.toPython()
        if isinstance(v, datetime.datetime): return ["dt", v.astimezone(datetime.timezone.utc).isoformat()]
        return ["lit", v if isinstance(v, (int, float, bool)) else str(v)]
    return str(t)

jsonp, xmlp, ttlp = sys.argv[1:4]
doc = read(jsonp, "json")
ours = rdflib.Graph().parse(ttlp, format="turtle")
theirs = rdflib.Graph().parse(data=doc.serialize(format="rdf", rdf_format="turtle"), format="turtle")
terms = set(PROVO.__annotations__)
unknown = sorted({str(t) for tr in ours for t in tr
                  if isinstance(t, rdflib.URIRef) and str(t).startswith(PROV_NS) and str(t)[len(PROV_NS):] not in terms})
a = {json.dumps([lit(x) for x in tr]) for tr in ours}
b = {json.dumps([lit(x) for x in tr]) for tr in theirs}
print(json.dumps({
    "json": canon(doc), "xml": canon(read(xmlp, "xml")), "ttl": canon(read(ttlp, "rdf")),
    "provn": doc.serialize(format="provn"),
    "triples": len(ours), "theirTriples": len(theirs), "unknownProvTerms": unknown,
    "onlyOurs": sorted(a - b)[:5], "onlyTheirs": sorted(b - a)[:5],
}))
`;

type Canon = [string, string | null, [string, string][]][];
interface Oracle {
  json: Canon;
  xml: Canon;
  ttl: Canon;
  provn: string;
  triples: number;
  theirTriples: number;
  unknownProvTerms: string[];
  onlyOurs: string[];
  onlyTheirs: string[];
}

function requireProv(): void {
  const probe = spawnSync(PY, ["-c", "import prov, rdflib"], { encoding: "utf8" });
  if (probe.status !== 0)
    throw new Error("python3-prov / python3-rdflib missing: apt-get install python3-prov");
}

function oracle(jsonPath: string, xmlPath: string, ttlPath: string): Oracle {
  const out = execFileSync(PY, ["-c", ORACLE, jsonPath, xmlPath, ttlPath], {
    encoding: "utf8",
    maxBuffer: 512 << 20,
  });
  return JSON.parse(out) as Oracle;
}

// ---- a small PROV-N statement reader, to compare statements (not a PROV-N parser for users) ----

interface Statement {
  kind: string;
  id: string | null;
  args: string[];
  attrs: string[];
}

/** `ours`: full PROV-N string escapes; `prov`: python3-prov only escapes `"` (no `\\`). */
type Dialect = "ours" | "prov";

const ECHAR: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", f: "\f" };

const TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|\+00:00)$/;

/** A time as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (prov writes +00:00 and drops zero microseconds). */
function normTime(t: string): string {
  const m = TIME.exec(t);
  return m === null ? t : `${m[1]}.${(m[2] ?? "").padEnd(6, "0")}Z`;
}

function readProvN(text: string, dialect: Dialect): Statement[] {
  let i = 0;
  const out: Statement[] = [];
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const readString = (): string => {
    const triple = text.startsWith('"""', i);
    const q = triple ? '"""' : '"';
    i += q.length;
    let s = "";
    while (!text.startsWith(q, i)) {
      if (i >= text.length) throw new Error("unterminated string");
      const c = text[i]!;
      if (c === "\\" && (dialect === "ours" || text[i + 1] === '"')) {
        const n = text[i + 1]!;
        s += ECHAR[n] ?? n;
        i += 2;
      } else {
        s += c;
        i++;
      }
    }
    i += q.length;
    return s;
  };
  const readBare = (): string => {
    let s = "";
    while (i < text.length && !/[\s,;=()[\]]/.test(text[i]!)) {
      if (text[i] === "\\") i++;
      s += text[i]!;
      i++;
    }
    return s;
  };
  const readValue = (): string => {
    ws();
    if (text[i] === "'") {
      const end = text.indexOf("'", i + 1);
      const v = `q:${text.slice(i + 1, end).replace(/\\(.)/g, "$1")}`;
      i = end + 1;
      return v;
    }
    if (text[i] === '"') {
      const s = readString();
      ws();
      if (!text.startsWith("%%", i)) return `s:${s}`;
      i += 2;
      ws();
      const type = readBare();
      if (type === "xsd:dateTime") return `t:${normTime(s)}`;
      if (type === "xsd:boolean") return `b:${s === "true" || s === "1"}`;
      if (type === "xsd:double" || type === "xsd:float") return `n:${Number(Number(s).toPrecision(6))}`;
      return `${type}:${s}`;
    }
    const bare = readBare();
    return /^-?\d+$/.test(bare) ? `n:${bare}` : normTime(bare);
  };
  for (;;) {
    ws();
    if (i >= text.length) break;
    const word = /^[A-Za-z]+/.exec(text.slice(i, i + 40))?.[0] ?? "";
    if (word === "document" || word === "endDocument") {
      i += word.length;
      continue;
    }
    if (word === "prefix" || word === "default") {
      i = text.indexOf(">", i) + 1;
      continue;
    }
    i += word.length;
    ws();
    if (text[i] !== "(") throw new Error(`expected ( after ${word} at ${i}`);
    i++;
    const st: Statement = { kind: word, id: null, args: [], attrs: [] };
    for (;;) {
      ws();
      if (text[i] === ")") {
        i++;
        break;
      }
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "[") {
        i++;
        for (;;) {
          ws();
          if (text[i] === "]") {
            i++;
            break;
          }
          if (text[i] === ",") {
            i++;
            continue;
          }
          const key = readBare();
          ws();
          i++; // =
          st.attrs.push(`${key}=${readValue()}`);
        }
        continue;
      }
      const v = readValue();
      ws();
      if (text[i] === ";") {
        st.id = v;
        i++;
      } else st.args.push(v);
    }
    out.push(st);
  }
  return out;
}

/** PROV-N has no id nor attributes for these: prov writes them anyway, we do not. */
const BARE_RELATIONS = new Set(["specializationOf", "alternateOf", "hadMember", "mentionOf"]);

function statementKeys(statements: Statement[]): string[] {
  return statements
    .map((s) =>
      JSON.stringify(
        BARE_RELATIONS.has(s.kind)
          ? [s.kind, s.args]
          : [s.kind, s.id, s.args, [...s.attrs].sort(), s.attrs.length],
      ),
    )
    .sort();
}

// ---- the runs ----

interface Run {
  name: string;
  ingest: string[];
}

const RUNS: Run[] = [
  { name: "git", ingest: [join(CORPUS, "strace-local/git-add-commit.strace")] },
  {
    name: "camflow",
    ingest: ["--kind", "camflow", join(CORPUS, "camflow/frap-dataset/mysql-root-normal-100.log")],
  },
  { name: "audit", ingest: [join(CORPUS, "fidelity/archive/audit.log")] },
];

const FORMATS = ["prov-json", "prov-n", "prov-xml", "turtle"] as const;

describe("provflow export --format prov-n | prov-xml | turtle on recorded runs", () => {
  let dir: string;
  let db: string;
  const file = (run: string, format: string): string => join(dir, `${run}.${format}`);
  beforeAll(() => {
    requireProv();
    dir = tempDir();
    db = join(dir, "e.db");
    for (const run of RUNS) {
      const r = runCli(["ingest", "--db", db, "-q", "--name", run.name, ...run.ingest]);
      expect(r.status, r.stderr).toBe(0);
      for (const format of FORMATS) {
        const e = runCli(["export", "--db", db, run.name, "--format", format, "-o", file(run.name, format)]);
        expect(e.status, e.stderr).toBe(0);
      }
    }
  });

  for (const run of RUNS) {
    describe(run.name, () => {
      let o: Oracle;
      beforeAll(() => {
        o = oracle(file(run.name, "prov-json"), file(run.name, "prov-xml"), file(run.name, "turtle"));
      });

      it("python3-prov reads PROV-XML and Turtle back into the records it reads from PROV-JSON", () => {
        expect(o.json.length).toBeGreaterThan(50);
        expect(o.xml).toEqual(o.json);
        expect(o.ttl).toEqual(o.json);
      });

      it("holds as many nodes and relations of each type as the store", async () => {
        const store = openSqliteStore(db, { readonly: true });
        const stored = (await store.findRun(run.name))!;
        const nodes = await store.getNodes(stored.id);
        const edges = await store.getEdges(stored.id);
        await store.close();
        const count = (c: Canon, kind: string) => c.filter((r) => r[0] === kind).length;
        const kind = (k: string) => nodes.filter((n) => n.kind === k).length;
        const rel = (t: string) => edges.filter((e) => e.type === t).length;
        for (const c of [o.xml, o.ttl]) {
          expect(count(c, "Activity")).toBe(kind("activity"));
          expect(count(c, "Entity")).toBe(kind("entity") + 1); // + the run itself
          expect(count(c, "Agent")).toBe(kind("agent"));
          expect(count(c, "Usage")).toBe(rel("used"));
          expect(count(c, "Generation")).toBe(rel("wasGeneratedBy"));
          expect(count(c, "Communication")).toBe(rel("wasInformedBy"));
          expect(count(c, "Derivation")).toBe(rel("wasDerivedFrom"));
          expect(count(c, "Association")).toBe(rel("wasAssociatedWith"));
          expect(count(c, "Invalidation")).toBe(rel("wasInvalidatedBy"));
        }
        const provn = statementKeys(readProvN(readFileSync(file(run.name, "prov-n"), "utf8"), "ours"));
        expect(provn.length).toBe(nodes.length + 1 + edges.length);
      });

      it("writes the PROV-N statements python3-prov writes for the PROV-JSON export", () => {
        const ours = readProvN(readFileSync(file(run.name, "prov-n"), "utf8"), "ours");
        const theirs = readProvN(o.provn, "prov");
        expect(ours.length).toBe(theirs.length);
        expect(statementKeys(ours)).toEqual(statementKeys(theirs));
      });

      it("rdflib reads the Turtle into prov's own PROV-O triples, with PROV-O terms only", () => {
        expect(o.unknownProvTerms).toEqual([]);
        expect(o.triples).toBeGreaterThan(100);
        expect(o.triples).toBe(o.theirTriples);
        expect(o.onlyOurs).toEqual([]);
        expect(o.onlyTheirs).toEqual([]);
      });
    });
  }
});

// ---- escaping and redaction on a made-up run ----

const US = Date.UTC(2026, 10, 23, 2, 0, 0) * 1000;
const TRICKY = `say "hi" \\ back\\slash\nnew line\ttab <a & b> ]]> x=1, y='2'; (z) [w] \u0001ctl é €`;

const run: RunRecord = {
  id: 3,
  name: "tricky",
  source: "strace",
  command: ["mysql", "-uroot", "-phunter2", "--password=hunter2"],
  tracerCommand: null,
  host: "pf vm<&>",
  machineId: null,
  bootId: null,
  cwd: "/tmp/x y",
  user: null,
  start: US,
  end: US + 1_500_000,
  exitCode: 0,
  exitSignal: null,
  status: "complete",
  stats: { lines: 0, bytes: 0, events: 0, calls: 0, problems: 0 },
  nodeCount: 2,
  edgeCount: 1,
};

const nodes: GraphNode[] = [
  {
    id: 1,
    kind: "activity",
    type: "process",
    gid: "proc://pf/1@1",
    version: 0,
    label: "mysql -uroot --password=hunter2",
    start: US,
    end: US + 1_000_000,
    attrs: {
      pid: 42,
      argv: ["mysql", "-uroot", "--password=hunter2"],
      env: ["API_TOKEN=hunter2", "LANG=C"],
      ratio: 0.25,
      ok: true,
      "weird key.": "v",
    },
  },
  {
    id: 2,
    kind: "entity",
    type: "file",
    gid: "file://pf/tricky",
    version: 1,
    label: TRICKY,
    start: null,
    end: null,
    attrs: { path: TRICKY, lone: "a\uD800b" },
  },
];

const edges: GraphEdge[] = [
  {
    id: 1,
    type: "used",
    op: "read",
    from: 1,
    to: 2,
    ts: US + 10,
    tsEnd: US + 20,
    count: 2,
    bytes: 9_007_199_254_740_991,
    attrs: { note: TRICKY },
  },
];

async function exportText(format: string, redact: boolean): Promise<string> {
  const exporter = getExporter(format);
  if (exporter === undefined) throw new Error(`no exporter ${format}`);
  const { sink, text } = stringSink();
  await exporter.write(memoryExportInput(run, nodes, edges, { redact }, 1), sink);
  return text();
}

const READ_BACK = `
import sys, json
from prov.model import ProvDocument, Literal
out = {}
for fmt, path in (("xml", sys.argv[1]), ("rdf", sys.argv[2])):
    kw = {"format": fmt}
    if fmt == "rdf": kw["rdf_format"] = "turtle"
    doc = ProvDocument.deserialize(path, **kw)
    recs = {}
    for r in doc.get_records():
        attrs = {}
        for a, v in r.attributes:
            attrs.setdefault(a.localpart, []).append(v.value if isinstance(v, Literal) else str(v))
        recs[str(r.identifier.localpart) if r.identifier else "-"] = attrs
    out[fmt] = recs
print(json.dumps(out))
`;

describe("PROV-N, PROV-XML and Turtle escaping and --redact", () => {
  it("registers the formats", () => {
    for (const f of ["prov-n", "prov-xml", "turtle"]) expect(getExporter(f)?.format).toBe(f);
  });

  it("escapes strings and names so python3-prov reads every character back", async () => {
    requireProv();
    const dir = tempDir();
    const xml = join(dir, "t.provx");
    const ttl = join(dir, "t.ttl");
    writeFileSync(xml, await exportText("prov-xml", false));
    writeFileSync(ttl, await exportText("turtle", false));
    const back = JSON.parse(execFileSync(PY, ["-c", READ_BACK, xml, ttl], { encoding: "utf8" })) as Record<
      string,
      Record<string, Record<string, string[]>>
    >;
    // XML 1.0 cannot hold U+0001 nor a lone surrogate at all; Turtle can hold U+0001
    const inXml = TRICKY.replace("\u0001", "\uFFFD");
    expect(back.xml!.n2!.label).toEqual([inXml]);
    expect(back.xml!.n2!.path).toEqual([inXml]);
    expect(back.xml!.e1!.note).toEqual([inXml]);
    expect(back.xml!.n2!.lone).toEqual(["a\uFFFDb"]);
    expect(back.rdf!.n2!.label).toEqual([TRICKY]);
    expect(back.rdf!.e1!.note).toEqual([TRICKY]);
    expect(back.rdf!.n2!.lone).toEqual(["a\uFFFDb"]);
    expect(back.rdf!.e1!.bytes).toEqual(["9007199254740991"]);
    for (const fmt of ["xml", "rdf"]) {
      expect(back[fmt]!.n1!["weird_key."]).toEqual(["v"]);
      expect(back[fmt]!.n1!.ratio).toEqual(["0.25"]);
      expect(back[fmt]!.run!.cwd).toEqual(["/tmp/x y"]);
    }
    const provn = readProvN(await exportText("prov-n", false), "ours");
    const entity = provn.find((s) => s.id === null && s.args[0] === "run:n2" && s.kind === "entity");
    expect(entity?.attrs).toContain(`prov:label=s:${TRICKY}`);
    const used = provn.find((s) => s.kind === "used");
    expect(used?.args).toEqual(["run:n1", "run:n2", "2026-11-23T02:00:00.000010Z"]);
    expect(used?.attrs).toContain(`provflow:note=s:${TRICKY}`);
    expect(provn.find((s) => s.args[0] === "run:n1")?.attrs).toContain("provflow:weird_key.=s:v");
  });

  it("leaves secrets out with --redact, like prov-json, and only then", async () => {
    for (const format of ["prov-n", "prov-xml", "turtle"]) {
      const plain = await exportText(format, false);
      const redacted = await exportText(format, true);
      expect(plain).toContain("hunter2");
      expect(redacted).not.toContain("hunter2");
      expect(redacted).toContain("***");
    }
  });
});
