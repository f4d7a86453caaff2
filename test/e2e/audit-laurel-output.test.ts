import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, CORPUS, ROOT, runCli, tempDir } from "../helpers/cli.js";

/** `provflow audit ingest --format laurel` with its options, against laurel 0.5.1's own outputs */

const FIX = join(ROOT, "test/fixtures/laurel-enrich");
const lines = (text: string, prefix = "") =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      expect(l.startsWith(prefix)).toBe(true);
      return JSON.parse(l.slice(prefix.length)) as Record<string, unknown>;
    });
const laurel = (ingest: string[]) => {
  const r = runCli(["audit", "ingest", "--format", "laurel", ...ingest]);
  expect(r.status, r.stderr).toBe(0);
  return r;
};

describe("provflow audit ingest --format laurel options", () => {
  it("reads a last line without a newline, which laurel refuses (beats/filebeat-execve-hex-arg.log)", () => {
    const r = laurel([join(CORPUS, "audit/beats/filebeat-execve-hex-arg.log")]);
    // laurel's output for the same file with the newline added
    expect(lines(r.stdout)).toEqual(lines(readFileSync(join(FIX, "unterminated.jsonl"), "utf8")));
    expect(r.stderr).toBe("");
  });

  it("--pid --parent-info --argv-str --label-key --propagate-labels: laurel's config B", () => {
    const rel = "laurel/tree-00.txt";
    const r = laurel([
      "--pid",
      "--parent-info",
      "--argv-str",
      "--label-key",
      "software_mgmt",
      "--propagate-labels",
      "software_mgmt",
      join(CORPUS, "audit", rel),
    ]);
    const ref = readFileSync(join(CORPUS, "audit-laurel-out/enriched-noproc", `${rel}.jsonl`), "utf8");
    expect(lines(r.stdout)).toEqual(lines(ref));
  });

  it("--resolve-ids with an archived machine's passwd and group, and --line-prefix", () => {
    const rel = "laurel/record-login.txt";
    const r = laurel([
      "--resolve-ids",
      "--passwd",
      join(FIX, "passwd"),
      "--group",
      join(FIX, "group"),
      "--line-prefix",
      "@cee: ",
      join(CORPUS, "audit", rel),
    ]);
    const ref = readFileSync(join(FIX, `userdb.${rel.replaceAll("/", "_")}.jsonl`), "utf8");
    expect(lines(r.stdout, "@cee: ")).toEqual(lines(ref, "@cee: "));
  });

  it("--filter-key and --filter-type drop events; laurel-only options need --format laurel", () => {
    const log = join(CORPUS, "audit/laurel/record-syscall-key.txt");
    const all = lines(laurel([log]).stdout);
    expect(all).toHaveLength(3);
    const kept = lines(laurel(["--filter-key", "filter-this,this-too", log]).stdout);
    expect(kept.map((o) => (o.SYSCALL as Record<string, unknown>).key)).toEqual(
      all
        .map((o) => (o.SYSCALL as Record<string, unknown>).key)
        .filter((k) => k !== "filter-this" && k !== "this-too"),
    );
    expect(lines(laurel(["--filter-type", "PROCTITLE", log]).stdout)).toEqual(
      all.filter((o) => !("PROCTITLE" in o)),
    );
    const g = runCli(["audit", "ingest", "--pid", "--db", "/nonexistent/x.db", log]);
    expect(g.status).toBe(2);
    expect(g.stderr).toContain("--pid needs --format laurel");
  });
});

describe("provflow audit ingest --output unix:/path", () => {
  it("sends laurel's lines to a listening unix socket", async () => {
    const path = join(tempDir(), "out.sock");
    let got = "";
    const server = createServer((c) => {
      c.setEncoding("utf8");
      c.on("data", (d: string) => {
        got += d;
      });
    });
    await new Promise<void>((r) => server.listen(path, () => r()));
    const rel = "spade/unit_tests-pipe-2.bin.log";
    const child = spawn(process.execPath, [
      CLI,
      "audit",
      "ingest",
      "--format",
      "laurel",
      "--output",
      `unix:${path}`,
      join(CORPUS, "audit", rel),
    ]);
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    expect(code).toBe(0);
    const want = readFileSync(join(CORPUS, "audit-laurel-out/deterministic", `${rel}.jsonl`), "utf8");
    for (let i = 0; i < 200 && got.length < want.length; i++) await new Promise((r) => setTimeout(r, 25));
    server.close();
    expect(lines(got)).toEqual(lines(want));
  });
});
