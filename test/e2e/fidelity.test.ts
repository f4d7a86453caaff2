import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, SHARED, tempDir } from "../helpers/cli.js";
import {
  fidelityWorkloads,
  normaliseOracle,
  normaliseSummary,
  unauditedRenames,
} from "../helpers/fidelity.js";

/**
 * Truth against the kernel: each fidelity workload was captured by strace three ways and by the
 * kernel's audit log; oracle.json is what the kernel says was executed, created, deleted, renamed.
 * The summary of every replayed strace capture must agree with it (../shared/bench/compare-summary.py,
 * a script we did not write, does the comparison).
 */
const workloads = fidelityWorkloads();

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
