import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffRunSummaries, NORMALIZE_RULES, pathNormalizer } from "../src/graph/run-diff.js";
import type { RunSummary } from "../src/graph/run-summary.js";
import { CORPUS, runCli, tempDir } from "./helpers/cli.js";

/**
 * The diff over real runs: the fidelity corpus's strace captures, ingested as independent runs, and
 * the kernel's oracle (oracle.json, written by ../shared/bench/audit-oracle.py) as the truth.
 */
const FID = join(CORPUS, "fidelity");
const all = new Set(NORMALIZE_RULES);

function ingest(db: string, workload: string, capture: string, date: string): RunSummary {
  const r = runCli([
    "ingest",
    "--db",
    db,
    "-q",
    "--cwd",
    `/tmp/pf-fidelity/${workload}`,
    "--date",
    date,
    join(FID, workload, capture),
  ]);
  expect(r.status, r.stderr).toBe(0);
  const s = runCli(["summary", "--db", db, "--json"]);
  return JSON.parse(s.stdout) as RunSummary;
}

const oracle = (w: string) =>
  JSON.parse(readFileSync(join(FID, w, "oracle.json"), "utf8")) as { executed: string[]; created: string[] };

describe("run diff over the fidelity corpus", () => {
  it("finds a capture ingested twice, as two runs on other days, the same", () => {
    for (const w of ["edit", "archive", "pyproc"]) {
      const db = join(tempDir(), "d.db");
      const a = ingest(db, w, "full.strace", "2026-11-23");
      const b = ingest(db, w, "full.strace", "2026-11-24");
      expect(a.run.id).not.toBe(b.run.id);
      const cwd = `/tmp/pf-fidelity/${w}`;
      const d = diffRunSummaries(a, b, cwd, cwd);
      expect(d.differences, JSON.stringify(d)).toBe(0);
    }
  });

  it("reports the programs one workload ran and the other did not, as the kernel saw them", () => {
    const db = join(tempDir(), "d.db");
    const a = ingest(db, "edit", "full.strace", "2026-11-23");
    const b = ingest(db, "archive", "full.strace", "2026-11-23");
    const d = diffRunSummaries(a, b, "/tmp/pf-fidelity/edit", "/tmp/pf-fidelity/archive");
    const oa = new Set(oracle("edit").executed);
    const ob = new Set(oracle("archive").executed);
    const onlyA = [...oa].filter((x) => !ob.has(x)).sort();
    const onlyB = [...ob].filter((x) => !oa.has(x)).sort();
    // the kernel names a script's interpreter (dash, in both); the trace names the script itself
    const notScript = (e: { key: string }) => !/^\.\/\w+\.sh$/.test(e.key);
    expect(d.executables.removed.filter(notScript).map((e) => e.key)).toEqual(onlyA);
    expect(d.executables.added.filter(notScript).map((e) => e.key)).toEqual(onlyB);
    // files created in the workload's directory, relative to it: what the kernel says each created
    const rel = (w: string) =>
      oracle(w)
        .created.map((p) => p.replace(`/tmp/pf-fidelity/${w}`, "."))
        .filter((p) => !/\/sed\w{6}$/.test(p));
    const addedCreated = d.files.added.filter((f) => f.detail?.includes("created")).map((f) => f.key);
    const expected = rel("archive")
      .filter((p) => !rel("edit").includes(p))
      .sort();
    expect(addedCreated.filter((k) => k.startsWith("./")).sort()).toEqual(expected);
    expect(d.same).toBe(false);
  });

  it("normalises the random names the corpus's own captures differ by", () => {
    const n = pathNormalizer("/tmp/pf-fidelity/edit", all);
    // the oracle's capture and the strace capture made different sed and python temporary names
    const sedOracle = oracle("edit").created.find((p) => /\/sed\w{6}$/.test(p))!;
    const text = readFileSync(join(FID, "edit", "full.strace"), "utf8");
    const sedStrace = /\/tmp\/pf-fidelity\/edit\/a\/b\/sed\w{6}/.exec(text)![0];
    expect(sedOracle).not.toBe(sedStrace);
    expect(n(sedOracle)).toBe(n(sedStrace));
    expect(n(sedOracle)).toBe("./a/b/sedXXXXXX");
    const res = oracle("pyproc").created.find((p) => p.includes(".res-"))!;
    expect(pathNormalizer("/tmp/pf-fidelity/pyproc", all)(res)).toBe("./.res-XXXXXXXX");
    const off = pathNormalizer("/tmp/pf-fidelity/edit", new Set());
    expect(off(sedOracle)).toBe(sedOracle);
    expect(n("/proc/1234/task/1235/stat")).toBe("/proc/<pid>/task/<tid>/stat");
    expect(n("/var/log/app-2026-11-23T07:31:18.log")).toBe("/var/log/app-<date>.log");
  });
});
