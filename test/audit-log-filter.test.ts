import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AuditCaptureFilter, AuditLogTail } from "../src/capture/audit-log-filter.js";
import { CORPUS, ROOT, tempDir } from "./helpers/cli.js";

/**
 * The filter that picks one capture's events out of a machine-wide audit log, held against
 * ausearch (the audit package's own search) on real logs, and the log follower across a rotation.
 */

const hasAusearch = spawnSync("sh", ["-c", "PATH=$PATH:/usr/sbin command -v ausearch"]).status === 0;
if (!hasAusearch) {
  const msg = "ausearch is not installed (apt-get install auditd; the CI script does)";
  if (process.env.CI === "true") throw new Error(`${msg}: CI=true requires it`);
  console.warn(`SKIPPED: ${msg}: the ausearch comparisons are skipped`);
}

const idOf = (l: string) => /msg=audit\(([^)]+)\)/.exec(l)?.[1] ?? "";

/**
 * ausearch's events (raw records, without the trailing \x1d it adds to records that have no
 * enrichment) whose SYSCALL record passes `syscall`, as sorted lines
 */
function ausearchSyscallEvents(
  log: string,
  args: string[],
  syscall: (l: string) => boolean = () => true,
): string[] {
  const r = spawnSync("ausearch", ["--input", log, "--raw", ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const lines = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("type=") || l.startsWith("node="))
    .map((l) => (l.endsWith("\x1d") ? l.slice(0, -1) : l));
  const ours = new Set(lines.filter((l) => l.startsWith("type=SYSCALL ") && syscall(l)).map(idOf));
  return lines.filter((l) => ours.has(idOf(l))).sort();
}

function filterFile(log: string, f: AuditCaptureFilter): string[] {
  const lines = readFileSync(log, "utf8").split("\n");
  // in batches, as the follower hands them over
  const out: string[] = [];
  for (let i = 0; i < lines.length; i += 97) f.push(lines.slice(i, i + 97), out);
  return out;
}

describe.skipIf(!hasAusearch)("capture filter against ausearch", () => {
  const sshdVim = join(CORPUS, "audit/spade/input-audit_with_sshd_vim.log");
  for (const session of [23, 25]) {
    it(`session ${session} of a log with two login sessions: the events ausearch --session finds`, () => {
      const want = ausearchSyscallEvents(sshdVim, ["--session", String(session)]);
      expect(want.length).toBeGreaterThan(200);
      const got = filterFile(sshdVim, new AuditCaptureFilter({ key: "no-such-key", session }));
      expect([...got].sort()).toEqual(want);
    });
  }

  for (const w of ["jobs", "cbuild"]) {
    it(`${w}: the rule key of an ENRICHED log picks what ausearch -k finds`, () => {
      const log = join(ROOT, "test/fixtures/fidelity", w, "audit.log");
      // ausearch -k also finds the CONFIG_CHANGE events of auditctl adding the rules: a capture
      // keeps the events whose SYSCALL record has the key
      const want = ausearchSyscallEvents(log, ["-k", "pf"], (l) => l.includes(' key="pf"'));
      expect(want.length).toBeGreaterThan(100);
      const got = filterFile(log, new AuditCaptureFilter({ key: "pf", session: 999_999 }));
      expect([...got].sort()).toEqual(want);
    });
  }
});

describe("capture filter: its own records", () => {
  it("drops the LOGIN event that gave the session, notes the end marker and the root's exit_group", () => {
    const f = new AuditCaptureFilter({ key: "k1", session: 7, marker: "provflow-end-k1", rootPid: 100 });
    const out = f.push([
      "type=LOGIN msg=audit(1.000:10): pid=100 uid=0 old-auid=4294967295 auid=0 tty=(none) old-ses=4294967295 ses=7 res=1",
      'type=SYSCALL msg=audit(1.000:10): arch=c000003e syscall=1 success=yes exit=2 ppid=99 pid=100 auid=0 uid=0 tty=(none) ses=7 comm="sh" exe="/usr/bin/dash" key=(null)',
      'type=SYSCALL msg=audit(1.001:11): arch=c000003e syscall=59 success=yes exit=0 ppid=99 pid=100 auid=0 uid=0 tty=(none) ses=7 comm="true" exe="/usr/bin/true" key="k1"',
      'type=EXECVE msg=audit(1.001:11): argc=1 a0="true"',
      'type=SYSCALL msg=audit(1.002:12): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=300 auid=0 uid=0 tty=(none) ses=70 comm="x" exe="/usr/bin/x" key="k10"',
      'type=SYSCALL msg=audit(1.003:13): arch=c000003e syscall=231 success=yes exit=0 ppid=99 pid=100 auid=0 uid=0 tty=(none) ses=7 comm="true" exe="/usr/bin/true" key="k1"',
      "type=USER msg=audit(1.004:14): pid=99 uid=0 auid=4294967295 ses=4294967295 msg='text=provflow-end-k1 exe=\"/usr/sbin/auditctl\" res=success'",
    ]);
    expect(out.map(idOf)).toEqual(["1.001:11", "1.001:11", "1.003:13"]);
    expect(f.rootExitSeen).toBe(true);
    expect(f.markerSeen).toBe(true);
  });
});

describe("capture log follower", () => {
  it("starts at the given offset, follows appends and a rotation, writes what it keeps", async () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    const rec = (serial: number, key: string) =>
      `type=SYSCALL msg=audit(2.000:${serial}): arch=c000003e syscall=257 success=yes exit=3 pid=5 ses=4294967295 key="${key}"`;
    writeFileSync(log, `${rec(1, "mine")}\n${rec(2, "other")}\n`);
    const st = statSync(log);
    const out = join(dir, "kept.log");
    const tail = new AuditLogTail({
      path: log,
      start: { ino: st.ino, size: st.size },
      filter: new AuditCaptureFilter({ key: "mine", session: 1 }),
      out,
      pollMs: 5,
    });
    const got: string[] = [];
    const reading = (async () => {
      for await (const b of tail.batches()) got.push(...b.lines);
    })();
    appendFileSync(log, `${rec(3, "mine")}\n${rec(4, "other")}\n`);
    await new Promise((r) => setTimeout(r, 50));
    appendFileSync(log, `${rec(5, "mine")}\n`);
    renameSync(log, `${log}.1`);
    writeFileSync(log, `${rec(6, "mine")}\n${rec(7, "other")}\n`);
    await new Promise((r) => setTimeout(r, 50));
    tail.finish();
    await reading;
    expect(got.map(idOf)).toEqual(["2.000:3", "2.000:5", "2.000:6"]);
    expect(readFileSync(out, "utf8")).toBe(`${got.join("\n")}\n`);
  });
});
