import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditCaptureUnavailable,
  auditdPids,
  auditStatus,
  lockAuditCaptures,
  provflowRules,
} from "../helpers/audit-capture.js";
import { CLI, cliJson, runCli, type SummaryJson, tempDir } from "../helpers/cli.js";

/**
 * `provflow audit -- CMD`, live: the command's own events only (a busy process beside it stays
 * out), its exit status, its raw log, and the machine left as it was found: no rule with a
 * provflow key, no auditd of ours, the enabled flag and the audit daemon pid as before, also after
 * Ctrl-C, SIGTERM and a command that cannot be executed. Without root, one line and exit 4.
 */
const unavailable = auditCaptureUnavailable("provflow audit capture tests");

interface RunJson {
  id: number;
  name: string;
  source: string;
  status: string;
  command: string[];
  tracerCommand: string[] | null;
  exitCode: number | null;
  exitSignal: string | null;
  stats: Record<string, number>;
}

function waitExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((res) => child.on("exit", (code, signal) => res({ code, signal })));
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(unavailable !== null)("provflow audit -- CMD (live capture, root)", () => {
  let unlock: () => void = () => {};
  let before: { enabled?: string; pid?: string; auditd: number[] };
  let dir: string;
  let db: string;

  beforeAll(async () => {
    unlock = await lockAuditCaptures();
    const st = auditStatus();
    before = { enabled: st.get("enabled"), pid: st.get("pid"), auditd: auditdPids() };
    expect(provflowRules()).toEqual([]);
    dir = tempDir();
    db = join(dir, "runs.db");
  }, 320_000);

  afterAll(() => unlock());

  /** nothing of the capture is left: rules, auditd, enabled flag, audit daemon */
  function expectMachineAsBefore(): void {
    expect(provflowRules()).toEqual([]);
    const st = auditStatus();
    expect(st.get("enabled")).toBe(before.enabled);
    expect(st.get("pid")).toBe(before.pid);
    expect(auditdPids()).toEqual(before.auditd);
  }

  it("records the command's own events, passes its output and exit status through, keeps the raw log", () => {
    const work = join(dir, "basic");
    spawnSync("mkdir", ["-p", work]);
    // a busy neighbour outside the command's session: none of its files may show up
    const neighbour = spawn(
      "sh",
      ["-c", "while :; do echo n > outside.txt; rm -f outside.txt; sleep 0.02; done"],
      { cwd: work, stdio: "ignore" },
    );
    const script = [
      "printf 'x\\n' > a.txt",
      "mv a.txt b.txt",
      "cat b.txt > c.txt",
      "rm b.txt",
      "mkdir d",
      "echo hello",
      "exit 7",
    ].join("; ");
    const raw = join(dir, "basic.log");
    let r: ReturnType<typeof runCli>;
    try {
      r = runCli(["audit", "--db", db, "--name", "basic", "--log", raw, "--", "sh", "-c", script], {
        cwd: work,
      });
    } finally {
      neighbour.kill("SIGKILL");
    }
    expect(r.stdout).toBe("hello\n");
    expect(r.status, r.stderr).toBe(7);
    expectMachineAsBefore();

    const run = cliJson<RunJson[]>(["runs", "--db", db, "--json"]).find((x) => x.name === "basic")!;
    expect(run.source).toBe("audit");
    expect(run.status).toBe("complete");
    expect(run.command).toEqual(["sh", "-c", script]);
    expect(run.exitCode).toBe(7);
    expect(run.stats.lost).toBe(0);
    // the rule is scoped to one audit session under a key of its own
    const rule = run.tracerCommand!.join(" ");
    expect(rule).toMatch(
      /^auditctl -a always,exit -F arch=b64 -S \S+ -F sessionid=\d+ -k provflow-\d+-[0-9a-f]+$/,
    );
    const key = run.tracerCommand!.at(-1)!;
    const session = /sessionid=(\d+)/.exec(rule)![1]!;

    const s = cliJson<SummaryJson>(["summary", "--db", db, "basic", "--json"]);
    expect(s.run.exitCode).toBe(7);
    const exes = new Set(s.processes.map((p) => (p.exe ? realpathSync(p.exe) : null)));
    for (const e of ["mv", "cat", "rm", "mkdir"]) expect(exes).toContain(realpathSync(`/usr/bin/${e}`));
    const root = s.processes.find((p) => !s.processes.some((q) => q.pid === p.ppid))!;
    expect(root.argv).toEqual(["sh", "-c", script]);
    expect(root.exit).toEqual({ code: 7 });
    const byPath = new Map(s.files.map((f) => [f.path, f]));
    const real = realpathSync(work);
    expect(byPath.get(join(real, "a.txt"))).toMatchObject({ created: true, renamedTo: join(real, "b.txt") });
    expect(byPath.get(join(real, "b.txt"))).toMatchObject({ read: true, deleted: true });
    expect(byPath.get(join(real, "c.txt"))).toMatchObject({ created: true, written: true });
    expect(s.files.some((f) => f.path.endsWith("/outside.txt"))).toBe(false);

    // the raw log: every SYSCALL record is of the command's session, none of the neighbour
    const lines = readFileSync(raw, "utf8").split("\n").filter(Boolean);
    const syscalls = lines.filter((l) => l.startsWith("type=SYSCALL "));
    expect(syscalls.length).toBeGreaterThan(10);
    for (const l of syscalls) {
      expect(l).toContain(` ses=${session} `);
      expect(l).toContain(`key="${key}"`);
    }
    // ausearch (the audit package's own reader) finds the same events under the key
    const aus = spawnSync("ausearch", ["--input", raw, "--raw", "-k", key], { encoding: "utf8" });
    const ausIds = new Set(
      aus.stdout
        .split("\n")
        .filter((l) => l.startsWith("type=SYSCALL "))
        .map((l) => /msg=audit\(([^)]+)\)/.exec(l)![1]),
    );
    expect(ausIds.size).toBe(syscalls.length);
    // and the log reads back as laurel-style JSON lines
    const laurel = runCli(["audit", "ingest", "--format", "laurel", raw]);
    expect(laurel.status, laurel.stderr).toBe(0);
    expect(laurel.stdout.trim().split("\n").length).toBe(syscalls.length);
  });

  it("a command that passes the checks but cannot be executed: its status, and nothing left behind", () => {
    const bad = join(dir, "bad-interpreter");
    writeFileSync(bad, "#!/nonexistent/interpreter\n");
    chmodSync(bad, 0o755);
    const r = runCli(["audit", "--db", db, "--name", "bad", "-q", "--", bad], { cwd: dir });
    expect(r.status).toBe(127);
    expectMachineAsBefore();
    const s = cliJson<SummaryJson>(["summary", "--db", db, "bad", "--json"]);
    expect(s.run.exitCode).toBe(127);
  });

  it("a command that does not exist: one line, exit 4, nothing changed", () => {
    const r = runCli(["audit", "--db", db, "--", "no-such-command-pf"], { cwd: dir });
    expect(r.status).toBe(4);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("no-such-command-pf");
    expectMachineAsBefore();
  });

  it("Ctrl-C (SIGINT to the process group) ends the command and the capture and cleans up", async () => {
    const started = join(dir, "started");
    const child = spawn(
      process.execPath,
      [CLI, "audit", "--db", db, "--name", "ctrlc", "-q", "--", "sh", "-c", `touch ${started}; sleep 60`],
      { cwd: dir, stdio: "ignore", detached: true },
    );
    const exited = waitExit(child);
    await waitFor(() => existsSync(started), "the command to start");
    // while it runs: one rule per architecture, scoped to the command's session
    const rules = provflowRules();
    expect(rules.length).toBeGreaterThanOrEqual(1);
    for (const rule of rules) expect(rule).toMatch(/-F sessionid=\d+ -F key=provflow-/);
    process.kill(-child.pid!, "SIGINT");
    const status = await exited;
    expect(status.code).toBe(130);
    expectMachineAsBefore();
    const run = cliJson<RunJson[]>(["runs", "--db", db, "--json"]).find((x) => x.name === "ctrlc")!;
    expect(run.status).toBe("incomplete");
    expect(run.exitSignal).toBe("SIGINT");
  });

  it("SIGTERM to provflow alone stops the command and cleans up", async () => {
    const started = join(dir, "started-term");
    const child = spawn(
      process.execPath,
      [CLI, "audit", "--db", db, "--name", "term", "-q", "--", "sh", "-c", `touch ${started}; exec sleep 60`],
      { cwd: dir, stdio: "ignore" },
    );
    const exited = waitExit(child);
    await waitFor(() => existsSync(started), "the command to start");
    child.kill("SIGTERM");
    const status = await exited;
    expect(status.code).toBe(143);
    expectMachineAsBefore();
  });

  it("not root: one line saying so, exit 4, nothing changed", () => {
    const out = tempDir();
    chmodSync(out, 0o777);
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        CLI,
        "audit",
        "--db",
        join(out, "n.db"),
        "--",
        "true",
      ],
      { cwd: out, encoding: "utf8" },
    );
    expect(r.status).toBe(4);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/needs root/);
    expect(existsSync(join(out, "n.db"))).toBe(false);
    expectMachineAsBefore();
  });
});
