import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditCaptureUnavailable, lockAuditCaptures } from "../helpers/audit-capture.js";
import { CORPUS, cliJson, ROOT, runCli, SHARED, type SummaryJson, tempDir } from "../helpers/cli.js";

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

/**
 * Live: the same workload run under `provflow trace` (strace, ptrace) and under `provflow audit`
 * (the kernel's audit records) must give the same programs executed and the same files created,
 * deleted and renamed; and the audit capture's raw log, read by the independent oracle
 * (../shared/bench/audit-oracle.py), must say what the audit run's summary says. Both runs use the
 * same directory, emptied between them, so that paths agree.
 */
const liveUnavailable = auditCaptureUnavailable("live audit fidelity tests", ["strace"]);
const LIVE_WORKLOADS = ["jobs", "cbuild"];

interface FidelitySets {
  exec: string[];
  created: string[];
  deleted: string[];
  renamed: string[];
}

function fidelitySets(s: SummaryJson, root: string): FidelitySets {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const under = (p: string) => p.startsWith(`${root}/`);
  const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();
  return {
    exec: sorted([
      ...s.files.filter((f) => f.executed).map((f) => real(f.path)),
      ...s.processes.filter((p) => p.exe).map((p) => real(p.exe!)),
    ]),
    created: sorted(s.files.filter((f) => f.created && under(f.path)).map((f) => f.path)),
    deleted: sorted(s.files.filter((f) => f.deleted && under(f.path)).map((f) => f.path)),
    renamed: sorted(s.files.filter((f) => f.renamedTo).map((f) => `${f.path} -> ${f.renamedTo}`)),
  };
}

describe.skipIf(liveUnavailable !== null)("fidelity: provflow audit against provflow trace, live", () => {
  let unlock: () => void = () => {};
  beforeAll(async () => {
    unlock = await lockAuditCaptures();
  }, 320_000);
  afterAll(() => unlock());

  for (const w of LIVE_WORKLOADS) {
    it(`${w}: same programs and files under trace and audit; audit run = oracle of its raw log`, () => {
      const dir = tempDir();
      const work = join(realpathSync(dir), "work");
      const script = join(ROOT, "test/fixtures/fidelity/workloads", `${w}.sh`);
      const runs: Record<string, SummaryJson> = {};
      for (const how of ["trace", "audit"] as const) {
        rmSync(work, { recursive: true, force: true });
        mkdirSync(work);
        const db = join(dir, `${how}.db`);
        const extra = how === "audit" ? ["--log", join(dir, "audit.log")] : [];
        const r = runCli([how, "--db", db, "-q", ...extra, "--", "sh", script], { cwd: work });
        expect(r.status, `${how}: ${r.stderr}`).toBe(0);
        runs[how] = cliJson<SummaryJson>(["summary", "--db", db, "--json"]);
      }
      const traced = fidelitySets(runs.trace!, work);
      const audited = fidelitySets(runs.audit!, work);
      expect(traced.exec.length).toBeGreaterThanOrEqual(5);
      expect(traced.created.length).toBeGreaterThanOrEqual(3);
      expect(audited).toEqual(traced);

      const oracle = spawnSync(
        "python3",
        [join(SHARED, "bench/audit-oracle.py"), join(dir, "audit.log"), `${work}/`],
        {
          encoding: "utf8",
        },
      );
      expect(oracle.status, oracle.stderr).toBe(0);
      writeFileSync(join(dir, "oracle.json"), oracle.stdout);
      writeFileSync(join(dir, "summary.json"), JSON.stringify(runs.audit));
      const cmp = spawnSync(
        "python3",
        [
          join(SHARED, "bench/compare-summary.py"),
          join(dir, "oracle.json"),
          join(dir, "summary.json"),
          "exec,created,deleted,renamed",
        ],
        { encoding: "utf8", env: { ...process.env, ROOT: `${work}/` } },
      );
      expect(cmp.stdout + cmp.stderr).toBe("");
      expect(cmp.status).toBe(0);
    });
  }
});
