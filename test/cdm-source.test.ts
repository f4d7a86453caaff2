import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cdmFormat } from "../src/sources/cdm/cdm-source.js";
import { detectFormat } from "../src/sources/source-registry.js";
import { CORPUS, tempDir } from "./helpers/cli.js";
import { readSourceGraph } from "./helpers/read-source-graph.js";

/**
 * SPADE's DARPA TC CDM 18 JSON (one record a line), against what python3's json module reads in the
 * same files: every non-marker record a node, every event the relations SPADE's CDM reporter makes of
 * it, each relation between the nodes of the uuids the event names, at the event's nanoseconds / 1000.
 */

const DIR = join(CORPUS, "spade/cdm18-json");
const PY = "/usr/bin/python3";
const hasPy = spawnSync(PY, ["-c", "import json"]).status === 0;
if (!hasPy) {
  if (process.env.CI === "true") throw new Error("/usr/bin/python3 is missing: CI=true requires it");
  console.warn("SKIPPED: /usr/bin/python3 is missing: the CDM files are not checked against it");
}

/** python3 reads the records: nodes, and per event its type, uuids and timestamp. */
const ORACLE = `
import json, sys
out = {"nodes": {}, "events": [], "principals": 0}
for line in open(sys.argv[1]):
    if not line.strip(): continue
    (name, rec), = json.loads(line)["datum"].items()
    t = name.split(".")[-1]
    if t in ("TimeMarker", "StartMarker", "EndMarker"): continue
    if t == "Event":
        u = lambda v: None if v is None else list(v.values())[0]
        out["events"].append({"uuid": rec["uuid"], "type": rec["type"], "s": u(rec["subject"]),
            "o": u(rec["predicateObject"]), "o2": u(rec["predicateObject2"]),
            "us": rec["timestampNanos"] // 1000, "opm": rec["properties"]["map"].get("opm")})
    else:
        out["nodes"][rec["uuid"]] = t
        if t == "Subject" and rec.get("localPrincipal"): out["principals"] += 1
print(json.dumps(out))
`;

interface Oracle {
  nodes: Record<string, string>;
  events: Array<{
    uuid: string;
    type: string;
    s: string;
    o: string | null;
    o2: string | null;
    us: number;
    opm?: string;
  }>;
  principals: number;
}

/** The relations an event becomes: [type, from, to] in uuids. */
function expected(e: Oracle["events"][number], nodes: Oracle["nodes"]): Array<[string, string, string]> {
  const { s, o, o2 } = e;
  if (e.type === "EVENT_EXIT") return [];
  if ((e.type === "EVENT_RENAME" || e.type === "EVENT_LINK" || e.type === "EVENT_MMAP") && o2) {
    return [
      ["used", s, o!],
      ["wasGeneratedBy", o2, s],
      ["wasDerivedFrom", o2, o!],
    ];
  }
  if (e.type === "EVENT_UPDATE") return [["wasDerivedFrom", o2!, o!]];
  if (nodes[o!] === "Subject") return [["wasInformedBy", o!, s]];
  const reads = ["EVENT_READ", "EVENT_RECVMSG", "EVENT_RECVFROM", "EVENT_ACCEPT"];
  if (reads.includes(e.type) || e.opm === "Used") return [["used", s, o!]];
  return [["wasGeneratedBy", o!, s]];
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort();

describe.skipIf(!hasPy)("CDM 18 JSON (SPADE's CDM storage)", () => {
  it("is detected from its first lines", () => {
    const f = join(DIR, "pipe-1.bin.json");
    const head = readFileSync(f, "utf8").split("\n").slice(0, 20);
    expect(detectFormat(head, f)?.format.kind).toBe("cdm");
  });

  it.each(files)("%s: nodes and relations as python3 reads the records", async (name) => {
    const file = join(DIR, name);
    const py = spawnSync(PY, ["-c", ORACLE, file], { encoding: "utf8", maxBuffer: 1 << 26 });
    expect(py.status, py.stderr).toBe(0);
    const o = JSON.parse(py.stdout) as Oracle;
    const g = await readSourceGraph(cdmFormat, file);
    expect(g.problems).toEqual([]);
    expect(g.nodes).toHaveLength(Object.keys(o.nodes).length);
    const uuidOf = new Map(g.nodes.map((n) => [n.id, String(n.attrs.sourceId)]));
    for (const n of g.nodes) {
      const t = o.nodes[uuidOf.get(n.id)!];
      expect(n.kind, `${n.label}`).toBe(
        t === "Subject" ? "activity" : t === "Principal" || t === "Host" ? "agent" : "entity",
      );
    }
    const want: string[] = [];
    for (const e of o.events)
      for (const [t, f, to] of expected(e, o.nodes)) want.push(`${e.uuid} ${t} ${f} ${to} ${e.us}`);
    const got = g.edges
      .filter((e) => e.type !== "wasAssociatedWith")
      .map((e) => `${String(e.attrs.sourceId)} ${e.type} ${uuidOf.get(e.from)} ${uuidOf.get(e.to)} ${e.ts}`);
    expect(got.sort()).toEqual(want.sort());
    expect(g.edges.filter((e) => e.type === "wasAssociatedWith")).toHaveLength(o.principals);
  });

  it("reports bad lines with file and line, and goes on", async () => {
    const file = join(tempDir(), "bad.json");
    const lines = readFileSync(join(DIR, "pipe-1.bin.json"), "utf8").split("\n");
    lines.splice(
      5,
      0,
      '{"datum":',
      '{"datum":{"com.bbn.tc.schema.avro.cdm18.Subject":{"type":"SUBJECT_PROCESS"}}}',
    );
    const { writeFileSync } = await import("node:fs");
    writeFileSync(file, lines.join("\n"));
    const g = await readSourceGraph(cdmFormat, file);
    expect(g.problems.map((p) => [p.file, p.line])).toEqual([
      [file, 6],
      [file, 7],
    ]);
    expect(g.problems[1]!.message).toMatch(/without a uuid/);
    expect(g.edges.length).toBeGreaterThan(5);
  });
});
