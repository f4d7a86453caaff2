import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, SHARED, tempDir } from "../helpers/cli.js";
import { ebpfUnavailable, provflowBpftraces } from "../helpers/ebpf.js";
import {
  fidelityWorkloads,
  normaliseOracle,
  normaliseSummary,
  unauditedRenames,
} from "../helpers/fidelity.js";

/**
 * Truth against the kernel, live: each fidelity workload is run again at the path it was captured at
 * (/tmp/pf-fidelity/NAME), under `provflow trace --tracer ebpf` and under `provflow trace --tracer
 * strace`; both summaries must agree with the kernel's audit oracle of the workload (oracle.json,
 * compared by ../shared/bench/compare-summary.py, a script we did not write), with the same
 * normalisation as the replayed captures of fidelity.test.ts (random temporary names, the renameat
 * the audit rules did not watch).
 */
const unavailable = ebpfUnavailable("live eBPF fidelity tests");
const workloads = fidelityWorkloads().filter((w) => !w.name.includes("@"));

function compare(root: string, wdir: string, db: string, dir: string, tag: string): string {
  const sum = runCli(["summary", "--db", db, "--format", "json"]);
  expect(sum.status, sum.stderr).toBe(0);
  const summaryFile = join(dir, `summary-${tag}.json`);
  writeFileSync(summaryFile, normaliseSummary(sum.stdout, unauditedRenames(wdir)));
  const oracleFile = join(dir, "oracle.json");
  writeFileSync(oracleFile, normaliseOracle(join(wdir, "oracle.json")));
  const cmp = spawnSync(
    "python3",
    [join(SHARED, "bench/compare-summary.py"), oracleFile, summaryFile, "exec,created,deleted,renamed"],
    { encoding: "utf8", env: { ...process.env, ROOT: `${root}/` } },
  );
  return `${cmp.stdout}${cmp.stderr}${cmp.status === 0 ? "" : `(exit ${cmp.status})`}`;
}

describe.skipIf(unavailable !== null)(
  "fidelity: live eBPF and strace runs against the kernel's audit oracle",
  () => {
    afterAll(() => {
      expect(provflowBpftraces()).toEqual([]);
    });
    it("has workloads to check", () => {
      expect(workloads.length).toBeGreaterThanOrEqual(5);
    });
    for (const w of workloads) {
      it(`${w.name}: --tracer ebpf and --tracer strace agree with oracle.json`, () => {
        const dir = tempDir();
        const root = `/tmp/pf-fidelity/${w.name}`;
        const out: Record<string, string> = {};
        for (const tracer of ["ebpf", "strace"]) {
          rmSync(root, { recursive: true, force: true });
          mkdirSync(root, { recursive: true });
          copyFileSync(w.script, join(root, `${w.name}.sh`));
          const db = join(dir, `${tracer}.db`);
          const r = runCli(["trace", "--db", db, "-q", "--tracer", tracer, "--", `./${w.name}.sh`], {
            cwd: root,
            timeout: 180_000,
          });
          expect(r.status, `${tracer}: ${r.stderr}`).toBe(0);
          out[tracer] = compare(root, w.dir, db, dir, tracer);
        }
        rmSync(root, { recursive: true, force: true });
        expect(out).toEqual({ ebpf: "", strace: "" });
      }, 400_000);
    }
  },
);
