import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AccountNames,
  auditEventProcess,
  globToRegExp,
  LiveAuditEvents,
  procMatches,
} from "../../src/capture/process-watch.js";
import { CLI } from "../helpers/cli.js";

/**
 * `provflow watch`: a temporary user (useradd, removed after) runs programs; the watch reports them,
 * from the audit log (root) and by polling /proc. No audit rule of the watch is left behind.
 */

const root = process.getuid?.() === 0;
const user = `pfw${process.pid % 100000}`;

function startWatch(args: string[]): { child: ChildProcess; out: Promise<string>; err: () => string } {
  const child = spawn(process.execPath, [CLI, "watch", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<string>((resolve) => child.once("exit", () => resolve(out)));
  return { child, out: done, err: () => err };
}

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

function asUser(cmd: string): void {
  const r = spawnSync("setpriv", ["--reuid", user, "--regid", user, "--clear-groups", "/bin/sh", "-c", cmd], {
    cwd: "/tmp",
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
}

describe.skipIf(!root)("provflow watch (root, a temporary user)", () => {
  beforeAll(() => {
    const r = spawnSync("useradd", ["-M", "-s", "/bin/sh", user], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });
  afterAll(() => {
    spawnSync("userdel", [user]);
  });

  for (const source of ["audit", "proc"] as const) {
    it(`${source}: reports the user's new processes, with --exe filtering, as JSON lines`, async () => {
      if (source === "audit" && spawnSync("sh", ["-c", "command -v auditctl"]).status !== 0) {
        if (process.env.CI) throw new Error("auditctl missing (CI=true)");
        return;
      }
      const w = startWatch([
        "--user",
        user,
        "--source",
        source,
        "--json",
        "--exe",
        "sle*",
        "--interval",
        "20",
        "--timeout",
        "20",
        "--count",
        "1",
      ]);
      await waitFor(() => /watching user/.test(w.err()), 15_000);
      expect(w.err()).toMatch(source === "audit" ? /through audit/ : /polling \/proc/);
      // not this user's: not reported
      spawnSync("/bin/sleep", ["0.3"]);
      asUser("/bin/true; /bin/sleep 0.5");
      const out = await w.out;
      const lines = out
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        source,
        user,
        exe: "/usr/bin/sleep",
        argv: ["/bin/sleep", "0.5"],
        cwd: "/tmp",
      });
      expect(typeof lines[0].pid).toBe("number");
      expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      const rules = spawnSync("auditctl", ["-l"], { encoding: "utf8" }).stdout;
      expect(rules).not.toContain("provflow-watch-");
    }, 60_000);
  }

  it("--group with text output", async () => {
    const w = startWatch([
      "--group",
      user,
      "--source",
      "proc",
      "--exe",
      "sleep",
      "--interval",
      "20",
      "--timeout",
      "20",
      "--count",
      "1",
    ]);
    await waitFor(() => /watching group/.test(w.err()), 15_000);
    asUser("/bin/sleep 0.5");
    const out = await w.out;
    expect(out).toMatch(
      new RegExp(
        `  ${user}:${user}  pid \\d+ \\(parent \\d+\\)  /usr/bin/sleep  /bin/sleep 0.5  in /tmp\\n$`,
      ),
    );
  }, 60_000);
});

describe("watch helpers", () => {
  it("patterns, filters and audit events", () => {
    expect(globToRegExp("py*3.[0-9]*").test("python3.11")).toBe(true);
    expect(globToRegExp("sle?p").test("sleep")).toBe(true);
    expect(globToRegExp("sle?p").test("/usr/bin/sleep")).toBe(false);
    expect(procMatches({ uids: [1000, 1000], gids: [100, 100], groups: [27] }, { gid: 27 })).toBe(true);
    expect(procMatches({ uids: [0, 1000], gids: [0, 0], groups: [] }, { uid: 1000 })).toBe(true);
    expect(procMatches({ uids: [0, 0], gids: [0, 0], groups: [] }, { uid: 1000 })).toBe(false);
    const ev = new LiveAuditEvents();
    const lines = [
      'type=SYSCALL msg=audit(1764980000.123:77): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=10 pid=11 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=(none) ses=3 comm="sleep" exe="/usr/bin/sleep" key="k"',
      'type=EXECVE msg=audit(1764980000.123:77): argc=2 a0="sleep" a1="1"',
      'type=CWD msg=audit(1764980000.123:77): cwd="/tmp"',
      'type=SYSCALL msg=audit(1764980000.200:78): arch=c000003e syscall=59 success=no exit=-2 items=1 ppid=10 pid=12 uid=1001 gid=1001 euid=1001 egid=1001 comm="x" exe="/usr/bin/dash" key="k"',
    ];
    const first = ev.push(lines, 1);
    expect(first).toHaveLength(1);
    const p = auditEventProcess(first[0]!, new AccountNames("/nonexistent", "/nonexistent"));
    expect(p).toEqual({
      time: "2025-12-06T00:13:20.123000Z",
      source: "audit",
      pid: 11,
      ppid: 10,
      uid: 1001,
      user: null,
      gid: 1001,
      group: null,
      exe: "/usr/bin/sleep",
      argv: ["sleep", "1"],
      cwd: "/tmp",
    });
    // the failed exec is not a new process
    const rest = ev.flush(Number.POSITIVE_INFINITY);
    expect(rest).toHaveLength(1);
    expect(auditEventProcess(rest[0]!, new AccountNames())).toBeNull();
  });
});
