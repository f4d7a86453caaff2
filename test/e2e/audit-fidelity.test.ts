import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, ROOT, runCli, SHARED, tempDir } from "../helpers/cli.js";

/**
 * The kernel's audit log of each fidelity workload, ingested as a raw audit log, must say what the
 * oracle (../shared/bench/audit-oracle.py on the same audit.log) says: programs executed, files
 * created, deleted and renamed. The oracle and the log are the same capture, so the workloads' random
 * temporary names agree and need no placeholder (unlike the strace captures in fidelity.test.ts).
 * Every workload passes all four checks.
 */
const FIDELITY_DIRS = [join(CORPUS, "fidelity"), join(ROOT, "test/fixtures/fidelity")];
const workloads = FIDELITY_DIRS.flatMap((base) =>
  readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== "workloads")
    .map((d) => ({ name: d.name, dir: join(base, d.name) })),
);

describe("fidelity: raw audit logs against the kernel's audit oracle", () => {
  it("has workloads to check", () => {
    expect(workloads.length).toBeGreaterThanOrEqual(5);
  });
  for (const { name: w, dir: wdir } of workloads) {
    it(`${w}: audit.log`, () => {
      const dir = tempDir();
      const db = join(dir, "a.db");
      const root = `/tmp/pf-fidelity/${w.replace(/@.*/, "")}`;
      const ing = runCli(["ingest", "--db", db, "-q", "--cwd", root, join(wdir, "audit.log")]);
      expect(ing.status, ing.stderr).toBe(0);
      const sum = runCli(["summary", "--db", db, "--format", "json"]);
      expect(sum.status, sum.stderr).toBe(0);
      const summaryFile = join(dir, "summary.json");
      writeFileSync(summaryFile, sum.stdout);
      const cmp = spawnSync(
        "python3",
        [
          join(SHARED, "bench/compare-summary.py"),
          join(wdir, "oracle.json"),
          summaryFile,
          "exec,created,deleted,renamed",
        ],
        { encoding: "utf8", env: { ...process.env, ROOT: `${root}/` } },
      );
      expect(cmp.stdout + cmp.stderr).toBe("");
      expect(cmp.status).toBe(0);
    });
  }
});
