import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CORPUS, cliJson, runCli, type SummaryJson, tempDir } from "../helpers/cli.js";
import { dropSchemas, postgresAvailable, schemaUrl, uniqueSchema } from "../helpers/postgres.js";

const up = await postgresAvailable("the PostgreSQL CLI tests (test/e2e/postgres-cli.test.ts)");
const schema = uniqueSchema("cli");

/** Corpus logs of three kinds: strace -f of a build, ltrace, and a capture cut in the middle of a call. */
const logs = [
  join(CORPUS, "strace-local/make.strace"),
  join(CORPUS, "strace-local/ltrace-libcalls.ltrace"),
  join(CORPUS, "strace/posix-omni-parser/testbins/server.strace"),
];

/** What each reading command prints, for one run. */
const reads = (run: string) => [
  ["summary", run, "--json"],
  ["calls", run, "--json"],
  ["export", run, "--format", "prov-json"],
  ["problems", run, "--json"],
];

describe.skipIf(!up)("provflow with --db postgres://", () => {
  let dir: string;
  let sqlite: string;
  let pg: string;

  beforeAll(() => {
    dir = tempDir("provflow-pg-cli-");
    sqlite = join(dir, "same.db");
    pg = schemaUrl(schema);
    for (const log of logs) {
      for (const db of [sqlite, pg]) {
        const r = runCli(["ingest", "-q", "--db", db, log]);
        if (r.status !== 0)
          throw new Error(`provflow ingest --db ${db} ${log} exited ${r.status}: ${r.stderr}`);
      }
    }
  });

  afterAll(async () => {
    await dropSchemas(schema);
  });

  it("lists the same runs as SQLite", () => {
    const a = runCli(["runs", "--json", "--db", sqlite]);
    const b = runCli(["runs", "--json", "--db", pg]);
    expect(b.status).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const runs = JSON.parse(b.stdout) as { name: string; status: string }[];
    expect(runs.map((r) => r.name)).toEqual(logs.map((l) => basename(l)));
    expect(runs.every((r) => r.status === "complete")).toBe(true);
  });

  for (const log of logs) {
    const name = basename(log);
    it(`prints the same summary, calls, export and problems as SQLite for ${name}`, () => {
      for (const args of reads(name)) {
        const a = runCli([...args, "--db", sqlite]);
        const b = runCli([...args, "--db", pg]);
        expect(a.status, `${args.join(" ")} on SQLite: ${a.stderr}`).toBe(0);
        expect(b.status, `${args.join(" ")} on PostgreSQL: ${b.stderr}`).toBe(0);
        expect(JSON.parse(b.stdout)).toEqual(JSON.parse(a.stdout));
        // byte for byte: attributes come back in the order they were written
        expect(b.stdout).toBe(a.stdout);
      }
    });
  }

  it("finds every process of the log (one per pid in its first column)", () => {
    const log = logs[0] as string;
    const pids = new Set(
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split(" ")[0]),
    );
    const s = cliJson<SummaryJson>(["summary", basename(log), "--json", "--db", pg]);
    expect(new Set(s.processes.map((p) => String(p.pid)))).toEqual(pids);
  });

  it("keeps the problem line of the cut capture with where it was", () => {
    const problems = cliJson<{ file: string; line: number }[]>([
      "problems",
      "server.strace",
      "--json",
      "--db",
      pg,
    ]);
    const lines = readFileSync(logs[2] as string, "utf8").split("\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]?.file).toContain("server.strace");
    // the cut call is the last line of the log that has text
    expect(problems[0]?.line).toBe(lines.filter((l) => l !== "").length);
  });

  it("takes the URL from PROVFLOW_DB when --db is not given", () => {
    const r = runCli(["runs", "--json"], { env: { PROVFLOW_DB: pg } });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBe(logs.length);
  });

  it("fails with exit 5 and the URL without its password when the server is not there", () => {
    const r = runCli(["runs", "--db", "postgresql://ci:hunter2@127.0.0.1:1/test?schema=x"]);
    expect(r.status).toBe(5);
    expect(r.stderr).toContain("postgresql://ci@127.0.0.1:1/test?schema=x: cannot connect");
    expect(r.stderr).not.toContain("hunter2");
  });
});
