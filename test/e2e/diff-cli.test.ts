import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers/cli.js";

/**
 * `provflow diff` on real runs: the same workload traced twice in two temporary directories (other
 * pids, another mktemp name, another timestamp in a file name), then a changed workload.
 */
const hasStrace = spawnSync("strace", ["-V"], { encoding: "utf8" }).status === 0;
if (!hasStrace) {
  if (process.env.CI === "true") throw new Error("strace is required for the diff e2e tests in CI");
  console.warn("diff-cli: strace not found, skipping the traced-run tests");
}

const WORKLOAD = [
  "f=$(mktemp)",
  "echo hi > $f",
  "cat $f > out.txt",
  "date > stamp-$(date +%Y%m%d-%H%M%S)-$(date +%s%N).log",
  "ls > /dev/null",
  "rm $f",
].join("; ");
// one more file written, and ls not run
const CHANGED = WORKLOAD.replace("ls > /dev/null", "echo more > extra.txt");

interface DiffJson {
  same: boolean;
  differences: number;
  normalized: string[];
  processes: { added: Array<{ key: string }>; removed: Array<{ key: string }>; changed: unknown[] };
  executables: { added: Array<{ key: string }>; removed: Array<{ key: string }> };
  files: {
    added: Array<{ key: string; detail?: string }>;
    removed: Array<{ key: string }>;
    changed: unknown[];
  };
  directories: { added: unknown[]; removed: unknown[]; changed: unknown[] };
  sockets: { added: unknown[]; removed: unknown[] };
  run: unknown[];
  durations: unknown[];
}

describe.runIf(hasStrace)("provflow diff on traced runs", () => {
  const base = tempDir("provflow-diff-");
  const db = join(base, "d.db");
  const trace = (script: string, name: string) => {
    const dir = join(base, name);
    mkdirSync(dir);
    const r = runCli(["trace", "--db", db, "-q", "--name", name, "--", "sh", "-c", script], { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
  };
  const diff = (...args: string[]) => runCli(["diff", "--db", db, ...args]);

  it("records three runs", () => {
    trace(WORKLOAD, "one");
    trace(WORKLOAD, "two");
    trace(CHANGED, "three");
  });

  it("finds two runs of the same workload the same once normalised (exit 0)", () => {
    const r = diff("one", "two");
    expect(r.stderr).toBe("");
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^same$/m);
    const j = JSON.parse(diff("one", "two", "--json").stdout) as DiffJson;
    expect(j.same).toBe(true);
    expect(j.normalized).toEqual(["pids", "dates", "temp", "ports", "proc", "cwd"]);
  });

  it("finds them different when pids are kept (exit 1)", () => {
    const r = diff("one", "two", "--no-normalize", "pids", "--json");
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as DiffJson;
    // every process differs by its pid: all removed, all added
    expect(j.processes.removed.length).toBeGreaterThanOrEqual(6);
    expect(j.processes.added.length).toBe(j.processes.removed.length);
    expect(j.files.added).toEqual([]);
  });

  it("finds them different when temporary names, dates or the cwd are kept (exit 1)", () => {
    const t = JSON.parse(diff("one", "two", "--no-normalize", "temp", "--json").stdout) as DiffJson;
    expect(t.same).toBe(false);
    expect(t.files.added.map((f) => f.key)).toEqual([expect.stringMatching(/^\/tmp\/tmp\.\w{10}$/)]);
    expect(diff("one", "two", "--no-normalize", "temp").status).toBe(1);
    const d = JSON.parse(diff("one", "two", "--no-normalize", "dates", "--json").stdout) as DiffJson;
    expect(d.files.added.map((f) => f.key)).toEqual([
      expect.stringMatching(/^\.\/stamp-\d{8}-\d{6}-\d{19}\.log$/),
    ]);
    expect(diff("one", "two", "--no-normalize", "cwd").status).toBe(1);
    expect(diff("one", "two", "--no-normalize", "ports,proc").status).toBe(0);
  });

  it("reports exactly one more file written and one program not run (exit 1)", () => {
    const r = diff("one", "three", "--json");
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as DiffJson;
    const touched = j.files.added.filter((f) => f.detail !== "probed");
    expect(touched.map((f) => f.key)).toEqual(["./extra.txt"]);
    expect(touched[0]!.detail).toContain("written");
    // everything else that changed is what ls does: the files of `ls > /dev/null` traced alone
    trace("ls > /dev/null", "ls-alone");
    const lsAlone = JSON.parse(runCli(["summary", "--db", db, "--json", "ls-alone"]).stdout) as {
      files: Array<{ path: string }>;
    };
    const lsFiles = new Set(lsAlone.files.map((f) => f.path));
    const gone = [...j.files.removed, ...(j.files.changed as Array<{ key: string }>)].map((f) => f.key);
    expect(gone.length).toBeGreaterThan(0);
    expect(gone.filter((k) => !lsFiles.has(k))).toEqual([]);
    expect(j.executables.added).toEqual([]);
    expect(j.executables.removed.map((e) => e.key)).toEqual(["/usr/bin/ls"]);
    // the changed command line is the root process, so the tree is all different: ls is gone from it
    const removed = j.processes.removed.map((p) => p.key);
    const added = j.processes.added.map((p) => p.key);
    expect(removed.some((k) => k.endsWith("> /usr/bin/ls [ls]"))).toBe(true);
    expect(added.some((k) => k.includes("/usr/bin/ls"))).toBe(false);
    expect(removed.length).toBe(added.length + 1);
    const text = diff("one", "three").stdout;
    expect(text).toContain("+ ./extra.txt (");
    expect(text).toContain("- /usr/bin/ls");
  });

  it("exits 6 for a missing run and 2 for a bad rule", () => {
    const missing = diff("one", "nope");
    expect(missing.status).toBe(6);
    expect(missing.stderr).toContain("no run nope");
    const bad = diff("one", "two", "--no-normalize", "colours");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown rule colours");
    expect(diff("one").status).toBe(2);
  });
});
