import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/sources/audit/audit-event-grouper.js";
import { laurelEventJson } from "../src/sources/audit/laurel-json.js";
import { LaurelEventOrderer } from "../src/sources/audit/laurel-order.js";
import { CORPUS as SHARED_CORPUS } from "./helpers/cli.js";

const CORPUS = join(SHARED_CORPUS, "audit");
const REF = join(SHARED_CORPUS, "audit-laurel-out/deterministic");

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** raw logs that have a laurel reference output */
const FILES = walk(CORPUS)
  .map((p) => relative(CORPUS, p))
  .filter((rel) => existsSync(join(REF, `${rel}.jsonl`)));

function formatFile(rel: string): string[] {
  const text = readFileSync(join(CORPUS, rel), "utf8");
  const lines = text.split("\n");
  // the part after the last newline ("" when the file ends with one): laurel refuses an unterminated line
  const tail = lines.pop()!;
  const g = new LaurelEventOrderer({ file: rel });
  const items = g.push(lines, 1);
  if (tail !== "") items.push(...g.pushUnterminated(tail, lines.length + 1));
  items.push(...g.end());
  const events: AuditEvent[] = [];
  for (const item of items) if (item.kind === "audit.event") events.push(item);
  return events.map((e) => laurelEventJson(e));
}

function reference(rel: string): string[] {
  return readFileSync(join(REF, `${rel}.jsonl`), "utf8")
    .split("\n")
    .filter((l) => l !== "");
}

/**
 * The first difference between our lines and laurel's, or null when every line is byte for byte the
 * same (key order, repeated keys and number formats included).
 */
function firstDifference(rel: string): string | null {
  const ours = formatFile(rel);
  const ref = reference(rel);
  const n = Math.max(ours.length, ref.length);
  for (let i = 0; i < n; i++) {
    if (ours[i] !== ref[i]) {
      return `line ${i + 1} of ${ref.length} (ours ${ours.length}): ours ${ours[i]?.slice(0, 600)}\n  laurel ${ref[i]?.slice(0, 600)}`;
    }
  }
  return null;
}

/**
 * Files whose output deliberately differs from laurel 0.5.1, with why (every entry is asserted to still
 * differ, so the table cannot go stale; docs/cli.md lists the same differences).
 */
const knownDifferences: Record<string, string> = {
  "laurel/record-bind-ipv4-bigendian.txt":
    "ppc64 SYSCALL: laurel 0.5.1 has no ppc64 arch name and reads the big-endian saddr little-endian (raw); we name the arch and decode SADDR",
};

describe("laurel 0.5.1 JSON lines (deterministic config) on every corpus log, byte for byte", () => {
  it("finds the 170 raw logs that have a reference output", () => {
    expect(FILES.length).toBe(170);
    for (const f of Object.keys(knownDifferences)) expect(FILES).toContain(f);
  });
  for (const rel of FILES) {
    const known = knownDifferences[rel];
    if (known === undefined) {
      it(`${rel}: every line equals laurel's`, () => {
        expect(firstDifference(rel)).toBeNull();
      });
    } else {
      it(`${rel}: still differs (${known.slice(0, 60)})`, () => {
        expect(firstDifference(rel)).not.toBeNull();
      });
    }
  }
  it("writes laurel's key order for an exec event (laurel/record-execve.txt)", () => {
    const line = formatFile("laurel/record-execve.txt")[0]!;
    expect(Object.keys(JSON.parse(line) as object)).toEqual([
      "ID",
      "NODE",
      "SYSCALL",
      "EXECVE",
      "CWD",
      "PATH",
      "PROCTITLE",
    ]);
    expect(line).toBe(reference("laurel/record-execve.txt")[0]);
  });
});

describe("LaurelEventOrderer", () => {
  function run(rel: string) {
    const lines = readFileSync(join(CORPUS, rel), "utf8").split("\n");
    const tail = lines.pop()!;
    const g = new LaurelEventOrderer({ file: rel });
    const items = g.push(lines, 1);
    if (tail !== "") items.push(...g.pushUnterminated(tail, lines.length + 1));
    items.push(...g.end());
    return { g, items };
  }
  it("writes a late PATH record as a second event with the same id (go-libaudit/reassembler-out_of_order.log)", () => {
    const { items } = run("go-libaudit/reassembler-out_of_order.log");
    const same = items.filter(
      (i) => i.kind === "audit.event" && i.id === "1492037291.038:60",
    ) as AuditEvent[];
    expect(same.map((e) => e.records.map((r) => r.type))).toEqual([
      ["SYSCALL", "EXECVE", "CWD", "PATH"],
      ["PATH"],
    ]);
    expect(same[1]!.late).toBe(true);
  });
  it("reports the free-text DAEMON_START/DAEMON_END lines laurel refuses (spade/unit_tests-kill.bin.log)", () => {
    const { g, items } = run("spade/unit_tests-kill.bin.log");
    const problems = items.filter((i) => i.kind === "problem");
    expect(problems.map((p) => p.kind === "problem" && p.text?.split(" ")[0])).toEqual([
      "type=DAEMON_START",
      "type=DAEMON_END",
    ]);
    expect(g.stats.events).toBe(251);
  });
  it("refuses an unterminated last line (beats/filebeat-execve-hex-arg.log)", () => {
    const { g, items } = run("beats/filebeat-execve-hex-arg.log");
    expect(g.stats.events).toBe(0);
    expect(items).toHaveLength(1);
    expect(items[0]!.kind === "problem" && items[0]!.at.line).toBe(1);
  });
});

describe("lines laurel 0.5.1 refuses (its stderr on every corpus log)", () => {
  /** laurel's error lines, less those for blank and `#` lines (which we skip without a report) */
  function laurelErrors(rel: string): number {
    const err = join(REF, `${rel}.stderr`);
    if (!existsSync(err)) return -1;
    let n = 0;
    for (const l of readFileSync(err, "utf8").split("\n")) {
      if (!l.startsWith("laurel: Error ")) continue;
      if (l.includes('input: "#') || l.includes('input: "\\n"')) continue;
      n++;
    }
    return n;
  }
  it("reports exactly as many problems as laurel writes errors, file by file", () => {
    const mismatches: string[] = [];
    for (const rel of FILES) {
      const want = laurelErrors(rel);
      if (want < 0) continue;
      const text = readFileSync(join(CORPUS, rel), "utf8");
      const lines = text.split("\n");
      const tail = lines.pop()!;
      const g = new LaurelEventOrderer({ file: rel });
      g.push(lines, 1);
      if (tail !== "") g.pushUnterminated(tail, lines.length + 1);
      g.end();
      if (g.stats.problems !== want) mismatches.push(`${rel}: ours ${g.stats.problems}, laurel ${want}`);
    }
    expect(mismatches).toEqual([]);
  });
});
