import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, ROOT, runCli, SHARED, tempDir } from "../helpers/cli.js";

/**
 * Truth against the kernel: each fidelity workload was captured by strace three ways and by the
 * kernel's audit log; oracle.json is what the kernel says was executed, created, deleted, renamed.
 * The summary of every replayed strace capture must agree with it (../shared/bench/compare-summary.py,
 * a script we did not write, does the comparison).
 */
/** The shared fidelity corpus, and workloads of our own captured the same way (test/fixtures/fidelity). */
const FIDELITY_DIRS = [join(CORPUS, "fidelity"), join(ROOT, "test/fixtures/fidelity")];
const workloads = FIDELITY_DIRS.flatMap((base) =>
  readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== "workloads")
    .map((d) => ({ name: d.name, dir: join(base, d.name) })),
);

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

/**
 * The capture's audit rules watch rename and renameat2 but not renameat, so the kernel oracle never
 * hears of a rename done with renameat (coreutils mv falls back to it when the target exists). Those
 * renames, as the full strace capture of the same workload shows them, are left out of the comparison.
 */
function unauditedRenames(workloadDir: string): Set<string> {
  const pairs = new Set<string>();
  const text = readFileSync(join(workloadDir, "full.strace"), "utf8");
  const re = /renameat\(AT_FDCWD<([^>]+)>, "([^"]+)", AT_FDCWD<([^>]+)>, "([^"]+)"\) = 0/g;
  for (const m of text.matchAll(re)) {
    const abs = (dir: string, p: string) => (p.startsWith("/") ? p : `${dir}/${p}`);
    pairs.add(`${abs(m[1]!, m[2]!)} -> ${abs(m[3]!, m[4]!)}`);
  }
  return pairs;
}

function normaliseSummary(text: string, unaudited: Set<string>): string {
  const s = JSON.parse(text) as { files: Array<{ path: string; renamedTo: string | null }> };
  for (const f of s.files) {
    if (f.renamedTo && unaudited.has(`${f.path} -> ${f.renamedTo}`)) f.renamedTo = null;
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
    expect(workloads.length).toBeGreaterThanOrEqual(5);
    // the one rename the oracle cannot see: mv -f onto an existing file in our jobs workload
    const jobs = workloads.find((w) => w.name === "jobs")!;
    expect([...unauditedRenames(jobs.dir)]).toEqual([
      "/tmp/pf-fidelity/jobs/w/next.txt -> /tmp/pf-fidelity/jobs/w/letters.txt",
    ]);
  });
  for (const { name: w, dir: wdir } of workloads) {
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
          join(wdir, c.input),
        ]);
        expect(ing.status, ing.stderr).toBe(0);
        const sum = runCli(["summary", "--db", db, "--format", "json"]);
        expect(sum.status, sum.stderr).toBe(0);
        const summaryFile = join(dir, "summary.json");
        writeFileSync(summaryFile, normaliseSummary(sum.stdout, unauditedRenames(wdir)));
        const oracleFile = join(dir, "oracle.json");
        writeFileSync(oracleFile, normaliseOracle(join(wdir, "oracle.json")));
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
