import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { CORPUS, cliJson, runCli, tempDir } from "../helpers/cli.js";

/** python3-prov (Debian's, under /usr/bin/python3) reads the document and counts what it holds. */
const PROV_COUNT = `
import json, sys
from prov.model import ProvDocument
doc = ProvDocument.deserialize(sys.argv[1], format="json")
counts = {}
for r in doc.get_records():
    k = r.get_type().localpart
    counts[k] = counts.get(k, 0) + 1
doc.serialize(format="provn")
print(json.dumps(counts))
`;

describe("provflow export --format prov-json on recorded runs", () => {
  let dir: string;
  let db: string;
  beforeAll(() => {
    dir = tempDir();
    db = join(dir, "e.db");
    const r = runCli([
      "ingest",
      "--db",
      db,
      "-q",
      "--name",
      "git",
      join(CORPUS, "strace-local/git-add-commit.strace"),
    ]);
    expect(r.status, r.stderr).toBe(0);
  });

  it("is read back by python3-prov with the same counts of nodes and relations", async () => {
    const out = join(dir, "git.provn.json");
    const r = runCli(["export", "--db", db, "git", "--format", "prov-json", "-o", out]);
    expect(r.status, r.stderr).toBe(0);
    const probe = spawnSync("/usr/bin/python3", ["-c", "import prov"], { encoding: "utf8" });
    if (probe.status !== 0) throw new Error("python3-prov is missing: apt-get install python3-prov");
    const counts = JSON.parse(
      execFileSync("/usr/bin/python3", ["-c", PROV_COUNT, out], { encoding: "utf8" }),
    ) as Record<string, number>;
    const store = openSqliteStore(db, { readonly: true });
    const run = (await store.findRun("git"))!;
    const nodes = await store.getNodes(run.id);
    const edges = await store.getEdges(run.id);
    await store.close();
    const kind = (k: string) => nodes.filter((n) => n.kind === k).length;
    expect(counts.Activity).toBe(kind("activity"));
    // one more entity: the run itself
    expect(counts.Entity).toBe(kind("entity") + 1);
    expect(counts.Agent).toBe(kind("agent"));
    const rel = (t: string) => edges.filter((e) => e.type === t).length;
    expect(counts.Usage).toBe(rel("used"));
    expect(counts.Generation).toBe(rel("wasGeneratedBy"));
    expect(counts.Communication).toBe(rel("wasInformedBy"));
    expect(counts.Derivation).toBe(rel("wasDerivedFrom"));
    expect(counts.Association).toBe(rel("wasAssociatedWith"));
    expect(counts.Invalidation ?? 0).toBe(rel("wasInvalidatedBy"));
    expect(counts.Activity).toBeGreaterThan(5);
    expect(counts.Derivation).toBeGreaterThan(0);
  });

  it("writes to stdout by default and survives a closed pipe", () => {
    const r = spawnSync(
      "sh",
      [
        "-c",
        `node ${join(import.meta.dirname, "../../dist/provflow.js")} export --db ${db} --format prov-json | head -c 100`,
      ],
      {
        encoding: "utf8",
      },
    );
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith("{")).toBe(true);
    expect(r.stderr).toBe("");
  });

  it("finds the database through PROVFLOW_DB when --db is not given", () => {
    const runs = cliJson<Array<{ name: string; command: string[] }>>(["runs", "--json"], {
      cwd: tempDir(),
      env: { PROVFLOW_DB: db },
    });
    expect(runs.map((r) => r.name)).toEqual(["git"]);
    // a replay is listed with the traced command, found in the log
    expect(runs[0]!.command).toEqual(["sh", "-c", "git add README && git commit -q -m first"]);
  });

  it("refuses an unknown format and an unknown run with their exit codes", () => {
    expect(runCli(["export", "--db", db, "--format", "nope"]).status).toBe(2);
    const r = runCli(["export", "--db", db, "no-such-run", "--format", "prov-json"]);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/no run no-such-run/);
  });

  it("prints the calls log folded into steps, in csv and json", () => {
    const csv = runCli(["calls", "--db", db, "git", "--format", "csv"]);
    expect(csv.status).toBe(0);
    const lines = csv.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^seq,start,end,pid,call,count,resource/);
    const json = JSON.parse(runCli(["calls", "--db", db, "git", "--json"]).stdout) as Array<{
      count: number;
      call: string;
    }>;
    expect(json.length).toBe(lines.length - 1);
    // folding: fewer steps than calls, and some steps stand for several calls
    expect(json.some((s) => s.count > 1)).toBe(true);
  });
});
