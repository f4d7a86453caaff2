import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportFormats } from "../src/export/exporter-registry.js";
import { categorizePath } from "../src/graph/file-category.js";
import type { GraphNode } from "../src/graph/prov-types.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { Step } from "../src/store/store-types.js";
import { CORPUS, cliJson, runCli, tempDir } from "./helpers/cli.js";

/*
 * The calls log as event logs (XES, OCEL 2.0) and its directly-follows graph, for real strace runs:
 * XES read by python3's xml.etree, OCEL by python3's json against OCEL 2.0's structure, both
 * counted against the store's processes and steps; the DFG recomputed here from the steps, and
 * again by python3 from the XES file's traces.
 */

const PYTHON = "/usr/bin/python3";
const RUNS = {
  make: join(CORPUS, "strace-local/make.strace"),
  threads: join(CORPUS, "strace-local/threads.strace"),
};

let dir: string;
let db: string;
const data: Record<string, { nodes: GraphNode[]; steps: Step[] }> = {};

beforeAll(async () => {
  dir = tempDir("provflow-mining-");
  db = join(dir, "runs.db");
  for (const [name, file] of Object.entries(RUNS)) {
    const r = runCli(["ingest", "--db", db, "-q", "--name", name, file]);
    expect(r.status, r.stderr).toBe(0);
  }
  const store = openSqliteStore(db, { readonly: true });
  for (const name of Object.keys(RUNS)) {
    const run = (await store.findRun(name))!;
    const steps: Step[] = [];
    for await (const b of store.iterateSteps(run.id)) steps.push(...b);
    data[name] = { nodes: await store.getNodes(run.id, { types: ["process"] }), steps };
  }
  await store.close();
  expect(data.make!.steps.length).toBeGreaterThan(1000);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function exportRun(run: string, format: string): string {
  const out = join(dir, `${run}.${format}`);
  const r = runCli(["export", "--db", db, run, "--format", format, "-o", out]);
  expect(r.status, r.stderr).toBe(0);
  return out;
}

function python(script: string, file: string): unknown {
  const r = spawnSync(PYTHON, ["-c", script, file], { encoding: "utf8", maxBuffer: 256 << 20 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** The cases: every pid of a process node, and every pid the steps name. */
function casePids(run: string): Set<number> {
  const d = data[run]!;
  return new Set([...d.nodes.map((n) => n.attrs.pid as number), ...d.steps.map((s) => s.pid)]);
}

function cwdOf(run: string): Map<number, string | undefined> {
  // the latest generation of a pid (nodes come in id order) says its cwd
  const m = new Map<number, string | undefined>();
  for (const n of data[run]!.nodes) m.set(n.attrs.pid as number, n.attrs.cwd);
  return m;
}

function activity(s: Step, cwd: string | undefined): string {
  return `${s.call} ${s.resource === "" ? "none" : categorizePath(s.resource, cwd)}`;
}

it("registers xes and ocel", () => {
  expect(exportFormats()).toEqual(expect.arrayContaining(["xes", "ocel"]));
});

const XES_SCRIPT = `
import json, sys, collections
import xml.etree.ElementTree as ET
ns = "{http://www.xes-standard.org/}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "log", root.tag
def attr(el, key):
    for a in el:
        if a.get("key") == key:
            return a
    return None
traces = root.findall(ns + "trace")
events = 0
dfg = collections.Counter()
for t in traces:
    assert attr(t, "concept:name") is not None
    prev = None
    last_time = ""
    for e in t.findall(ns + "event"):
        events += 1
        name = attr(e, "concept:name").get("value")
        ts = attr(e, "time:timestamp")
        assert ts.tag == ns + "date", ts.tag
        assert ts.get("value") >= last_time, "events out of order"
        last_time = ts.get("value")
        if prev is not None:
            dfg[prev + " -> " + name] += 1
        prev = name
print(json.dumps({"traces": [attr(t, "concept:name").get("value") for t in traces], "events": events, "dfg": dfg}))
`;

const OCEL_SCRIPT = `
import json, sys, collections
doc = json.load(open(sys.argv[1]))
assert set(doc) == {"objectTypes", "eventTypes", "objects", "events"}, set(doc)
types = {"string", "integer", "float", "boolean", "time"}
otypes = {t["name"] for t in doc["objectTypes"]}
etypes = {t["name"] for t in doc["eventTypes"]}
for t in doc["objectTypes"] + doc["eventTypes"]:
    assert set(t) == {"name", "attributes"} and all(set(a) == {"name", "type"} and a["type"] in types for a in t["attributes"]), t
ids = set()
for o in doc["objects"]:
    assert set(o) >= {"id", "type"} and o["type"] in otypes, o
    assert o["id"] not in ids
    ids.add(o["id"])
    for a in o.get("attributes", []):
        assert set(a) == {"name", "time", "value"}, a
for o in doc["objects"]:
    for r in o.get("relationships", []):
        assert r["objectId"] in ids and isinstance(r["qualifier"], str), r
eids = set()
for e in doc["events"]:
    assert set(e) >= {"id", "type", "time"} and e["type"] in etypes, e
    assert e["id"] not in eids
    eids.add(e["id"])
    for a in e.get("attributes", []):
        assert set(a) == {"name", "value"}, a
    for r in e.get("relationships", []):
        assert r["objectId"] in ids and isinstance(r["qualifier"], str), r
procs = collections.Counter()
for e in doc["events"]:
    for r in e["relationships"]:
        if r["qualifier"] == "process":
            procs[r["objectId"]] += 1
print(json.dumps({"events": len(doc["events"]), "processes": sorted(o["id"] for o in doc["objects"] if o["type"] == "process"), "perProcess": procs, "eventTypes": sorted(etypes)}))
`;

describe.each(Object.keys(RUNS))("run %s", (run) => {
  it("XES read by python3's xml.etree: a trace per process, an event per step", () => {
    const got = python(XES_SCRIPT, exportRun(run, "xes")) as { traces: string[]; events: number };
    const pids = casePids(run);
    expect(got.traces.length).toBe(pids.size);
    expect(new Set(got.traces)).toEqual(new Set([...pids].map(String)));
    expect(got.events).toBe(data[run]!.steps.length);
  });

  it("OCEL 2.0 JSON: the structure holds, an event per step related to its process", () => {
    const got = python(OCEL_SCRIPT, exportRun(run, "ocel")) as {
      events: number;
      processes: string[];
      perProcess: Record<string, number>;
      eventTypes: string[];
    };
    const steps = data[run]!.steps;
    expect(got.events).toBe(steps.length);
    expect(new Set(got.processes)).toEqual(new Set([...casePids(run)].map((p) => `pid:${p}`)));
    const perPid: Record<string, number> = {};
    for (const s of steps) perPid[`pid:${s.pid}`] = (perPid[`pid:${s.pid}`] ?? 0) + 1;
    expect(got.perProcess).toEqual(perPid);
    const cwd = cwdOf(run);
    expect(got.eventTypes).toEqual([...new Set(steps.map((s) => activity(s, cwd.get(s.pid))))].sort());
  });

  it("mining --dfg: the directly-follows frequencies of the steps, and of the XES traces", () => {
    const dfg = cliJson<{
      cases: number;
      events: number;
      edges: { from: string; to: string; count: number }[];
      starts: { name: string; count: number }[];
    }>(["mining", "--db", db, run, "--dfg", "--json"]);
    // recomputed here: steps grouped by pid, in start order (seq breaks ties)
    const cwd = cwdOf(run);
    const byPid = new Map<number, Step[]>();
    for (const s of data[run]!.steps) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s]);
    const expected: Record<string, number> = {};
    for (const steps of byPid.values()) {
      steps.sort((a, b) => a.start - b.start || a.seq - b.seq);
      for (let i = 1; i < steps.length; i++) {
        const k = `${activity(steps[i - 1]!, cwd.get(steps[i]!.pid))} -> ${activity(steps[i]!, cwd.get(steps[i]!.pid))}`;
        expected[k] = (expected[k] ?? 0) + 1;
      }
    }
    const got: Record<string, number> = {};
    for (const e of dfg.edges) got[`${e.from} -> ${e.to}`] = e.count;
    expect(got).toEqual(expected);
    expect(dfg.cases).toBe(byPid.size);
    expect(dfg.events).toBe(data[run]!.steps.length);
    expect(dfg.starts.reduce((n, s) => n + s.count, 0)).toBe(byPid.size);
    // the same graph from the XES export's traces, counted by python3
    const xes = python(XES_SCRIPT, exportRun(run, "xes")) as { dfg: Record<string, number> };
    expect(xes.dfg).toEqual(expected);
  });
});

it("mining without --dfg is a usage error", () => {
  const r = runCli(["mining", "--db", db, "make"]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("--dfg");
});

it("mining --dfg prints the pairs most frequent first", () => {
  const r = runCli(["mining", "--db", db, "make", "--dfg"]);
  expect(r.status, r.stderr).toBe(0);
  const counts = r.stdout
    .split("\n")
    .filter((l) => / -> /.test(l) && !l.includes("▶") && !l.includes("■"))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
  expect(counts.length).toBeGreaterThan(10);
  expect(counts).toEqual([...counts].sort((a, b) => b - a));
});
