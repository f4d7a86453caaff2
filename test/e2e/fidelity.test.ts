import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, runCli, SHARED, tempDir } from "../helpers/cli.js";

/**
 * Truth against the kernel: each fidelity workload was captured by strace three ways and by the
 * kernel's audit log; oracle.json is what the kernel says was executed, created, deleted, renamed.
 * The summary of every replayed strace capture must agree with it (../shared/bench/compare-summary.py,
 * a script we did not write, does the comparison).
 */
const FIDELITY = join(CORPUS, "fidelity");
const workloads = readdirSync(FIDELITY, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== "workloads")
  .map((d) => d.name);

/**
 * Each capture is a separate run, so the workloads' own random temporary names differ between the
 * oracle and the strace capture: sed -i's `sedXXXXXX` and python tempfile's `.res-XXXXXXXX`
 * (compare-summary.py's noise filter only knows git's). Both sides get the same placeholder.
 */
function unrandom(path: string): string {
  return path
    .replace(/\/sed[A-Za-z0-9]{6}$/, "/sedXXXXXX")
    .replace(/\/\.res-[a-z0-9_]{8}$/, "/.res-XXXXXXXX");
}

function normaliseOracle(file: string): string {
  const o = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const paths = (k: string) => ((o[k] as string[] | undefined) ?? []).map(unrandom);
  return JSON.stringify({
    ...o,
    created: paths("created"),
    deleted: paths("deleted"),
    renamed: ((o.renamed as [string, string][]) ?? []).map(([a, b]) => [unrandom(a), unrandom(b)]),
  });
}

function normaliseSummary(text: string): string {
  const s = JSON.parse(text) as { files: Array<{ path: string; renamedTo: string | null }> };
  for (const f of s.files) {
    f.path = unrandom(f.path);
    if (f.renamedTo) f.renamedTo = unrandom(f.renamedTo);
  }
  return JSON.stringify(s);
}

// dockit's options trace no %file calls: unlink, rename and mkdir are invisible in that capture
const captures: Array<{ name: string; input: string; checks: string }> = [
  { name: "full.strace", input: "full.strace", checks: "exec,created,deleted,renamed" },
  { name: "ff (-ff -ttt, no -y)", input: "ff", checks: "exec,created,deleted,renamed" },
  { name: "dockit.strace", input: "dockit.strace", checks: "exec,created" },
];

describe("fidelity: replayed strace captures against the kernel's audit oracle", () => {
  it("has workloads to check", () => {
    expect(workloads.length).toBeGreaterThanOrEqual(3);
  });
  for (const w of workloads) {
    for (const c of captures) {
      it(`${w}: ${c.name}`, () => {
        const dir = tempDir();
        const db = join(dir, "f.db");
        const root = `/tmp/pf-fidelity/${w.replace(/@.*/, "")}`;
        const ing = runCli([
          "ingest",
          "--db",
          db,
          "-q",
          "--cwd",
          root,
          "--date",
          "2026-11-23",
          join(FIDELITY, w, c.input),
        ]);
        expect(ing.status, ing.stderr).toBe(0);
        const sum = runCli(["summary", "--db", db, "--format", "json"]);
        expect(sum.status, sum.stderr).toBe(0);
        const summaryFile = join(dir, "summary.json");
        writeFileSync(summaryFile, normaliseSummary(sum.stdout));
        const oracleFile = join(dir, "oracle.json");
        writeFileSync(oracleFile, normaliseOracle(join(FIDELITY, w, "oracle.json")));
        const cmp = spawnSync(
          "python3",
          [join(SHARED, "bench/compare-summary.py"), oracleFile, summaryFile, c.checks],
          { encoding: "utf8", env: { ...process.env, ROOT: `${root}/` } },
        );
        expect(cmp.stdout + cmp.stderr).toBe("");
        expect(cmp.status).toBe(0);
      });
    }
  }
});
