import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, cliJson, runCli, type SummaryJson, tempDir } from "../helpers/cli.js";

const parseLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("provflow audit ingest", () => {
  it("--format laurel writes laurel 0.5.1's JSON lines for a raw log, from a file or stdin", () => {
    const log = join(CORPUS, "audit/laurel/record-execve.txt");
    const want = parseLines(
      readFileSync(join(CORPUS, "audit-laurel-out/deterministic/laurel/record-execve.txt.jsonl"), "utf8"),
    );
    const r = runCli(["audit", "ingest", "--format", "laurel", log]);
    expect(r.status, r.stderr).toBe(0);
    expect(parseLines(r.stdout)).toEqual(want);
    const piped = runCli(["audit", "ingest", "--format", "laurel", "-"], {
      input: readFileSync(log, "utf8"),
    });
    expect(parseLines(piped.stdout)).toEqual(want);
  });

  it("--format graph records a run whose summary tells what the kernel saw", () => {
    const dir = tempDir();
    const db = join(dir, "a.db");
    const r = runCli(["audit", "ingest", "--db", db, "-q", join(CORPUS, "fidelity/archive/audit.log")]);
    expect(r.status, r.stderr).toBe(0);
    const s = cliJson<SummaryJson>(["summary", "--db", db, "--json"]);
    const exes = new Set(s.processes.map((p) => p.exe));
    for (const e of ["/usr/bin/tar", "/usr/bin/gzip", "/usr/bin/md5sum"]) expect(exes).toContain(e);
    expect(s.files.some((f) => f.path === "/tmp/pf-fidelity/archive/out/data.tar.gz" && f.created)).toBe(
      true,
    );
  });
});
