import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runIngest } from "../../src/ingest/run-ingest.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.js";
import { InputError } from "../../src/util/errors.js";
import { CORPUS, cliJson, runCli, type SummaryJson, tempDir } from "../helpers/cli.js";

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)],
  );
}

const logs = [...walk(join(CORPUS, "strace")), ...walk(join(CORPUS, "strace-local"))]
  .filter((f) => /\.(strace|log|ltrace|out)$/.test(f) && !f.includes("pipeline-ff") && !f.includes("pydbg"))
  .sort();

/** The corpus logs that really are broken, and how: every other line of every log must parse. */
const knownProblems: Record<string, number> = {
  // the capture was cut in the middle of an accept()
  "strace/posix-omni-parser/testbins/server.strace": 1,
  // a stat result line whose call name is missing
  "strace/posix-omni-parser/testbins/shell.strace": 1,
  // test snippets with ### comments and deliberately impossible lines
  "strace/strace-process-tree/test_snippets.strace": 10,
  // the log ends in the middle of a select()
  "strace/survol/dockit_proftpd.strace.26299.log": 1,
  // a write whose return ltrace never printed
  "strace/survol/dockit_sample_short_shell.ltrace.log": 1,
};

describe("every strace and ltrace log of the corpus ingests", () => {
  let dir: string;
  let store: SqliteStore;
  beforeAll(() => {
    dir = tempDir();
    store = openSqliteStore(join(dir, "corpus.db"));
  });
  afterAll(async () => {
    await store.close();
  });

  it("finds the corpus", () => {
    expect(logs.length).toBeGreaterThan(60);
  });

  for (const file of logs) {
    const rel = relative(CORPUS, file);
    it(rel, async () => {
      const seen: string[] = [];
      const { runId } = await runIngest({
        store,
        files: [file],
        quiet: true,
        onProblem: (p) => seen.push(`${p.line}`),
      });
      const run = (await store.findRun(runId))!;
      expect(run.status).toBe("complete");
      expect(run.stats.problems).toBe(knownProblems[rel] ?? 0);
      expect(seen.length).toBe(run.stats.problems);
      expect(run.stats.bytes).toBe(statSync(file).size);
      expect(run.stats.processes).toBeGreaterThanOrEqual(1);
    });
  }

  it("reports a bad line of a -ff set at its own file and line", async () => {
    const src = join(CORPUS, "fidelity/archive/ff");
    const dir2 = tempDir();
    for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir2, f));
    const victim = join(dir2, "ff.4662");
    const before = readFileSync(victim, "utf8").split("\n").length - 1;
    // a line spliced in the middle of the file (a corrupt capture), with a time that sorts it in place
    const lines = readFileSync(victim, "utf8").split("\n");
    const t = lines[2]!.slice(0, lines[2]!.indexOf(" "));
    lines.splice(3, 0, `${t} this is not a system call`);
    writeFileSync(victim, lines.join("\n"));
    const seen: Array<{ file: string; line: number }> = [];
    const { runId } = await runIngest({ store, files: [dir2], quiet: true, onProblem: (p) => seen.push(p) });
    const run = (await store.findRun(runId))!;
    expect(run.source).toBe("strace-ff");
    expect(run.stats.problems).toBe(1);
    expect(seen).toEqual([expect.objectContaining({ file: victim, line: 4 })]);
    expect(before).toBeGreaterThan(4);
  });

  it("refuses a Windows debugger log with a clear message (not a Linux trace)", async () => {
    const file = join(CORPUS, "strace/survol/windows_dir.pydbg.45884.log");
    await expect(runIngest({ store, files: [file], quiet: true })).rejects.toThrow(InputError);
    await expect(runIngest({ store, files: [file], quiet: true })).rejects.toThrow(
      /cannot tell what kind of log/,
    );
  });
});

describe("against dockit's own output for the same log (survol-expected)", () => {
  it("dockit_ps_ef: same process, times and files", () => {
    const dir = tempDir();
    const db = join(dir, "s.db");
    const log = join(CORPUS, "strace/survol/dockit_ps_ef.strace.log");
    expect(runCli(["ingest", "--db", db, "-q", log]).status).toBe(0);
    const s = cliJson<SummaryJson & { directories: Array<{ path: string }> }>([
      "summary",
      "--db",
      db,
      "--json",
    ]);
    const expected = readFileSync(
      join(CORPUS, "strace/survol-expected/dockit_ps_ef.strace.summary.txt"),
      "utf8",
    );
    // Process id:12345 / Executable:/usr/bin/ps / Start time:2018-05-08 08:42:12.295603 (the .ini gives the date)
    expect(s.processes.map((p) => [p.pid, p.exe, p.start, p.end])).toEqual([
      [12345, "/usr/bin/ps", "2018-05-08T08:42:12.295603Z", "2018-05-08T08:42:12.357076Z"],
    ]);
    const theirs = expected
      .split("\n")
      .filter((l) => l.startsWith("Path:/"))
      .map((l) => l.slice(5));
    expect(theirs.length).toBe(287);
    const ours = new Set([...s.files.map((f) => f.path), ...s.directories.map((d) => d.path)]);
    const missing = theirs.filter((p) => !ours.has(p));
    // dockit also lists a file the process only closed (its inherited stderr): no access, no relation
    const text = readFileSync(log, "utf8");
    for (const p of missing) {
      const uses = text.split("\n").filter((l) => l.includes(p));
      expect(
        uses.every((l) => / close\(\d+</.test(l)),
        p,
      ).toBe(true);
    }
    expect(missing.length).toBeLessThanOrEqual(1);
  });
});
