import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cliJson, runCli, type SummaryJson, tempDir } from "../helpers/cli.js";

function requireTool(name: string): void {
  if (spawnSync("sh", ["-c", `command -v ${name}`]).status !== 0) {
    throw new Error(`${name} is not installed: apt-get install ${name} (the CI script does)`);
  }
}

describe("provflow trace (strace, end to end)", () => {
  let dir: string;
  let db: string;
  beforeAll(() => {
    requireTool("strace");
    dir = tempDir();
    db = join(dir, "runs.db");
  });

  it("traces a pipeline with background jobs and wait, keeps the command's stdout and exit status", () => {
    const script = [
      "set -e",
      "printf 'b\\na\\nc\\n' > in.txt",
      "sort in.txt > sorted.txt &",
      "p1=$!",
      "cat in.txt | tr a-z A-Z > upper.txt &",
      "wait $p1",
      "wait",
      "cat sorted.txt upper.txt | wc -l",
      "exit 3",
    ].join("\n");
    const r = runCli(["trace", "--db", db, "--name", "pipeline", "-q", "--", "sh", "-c", script], {
      cwd: dir,
    });
    expect(r.stdout.trim()).toBe("6");
    expect(r.status).toBe(3);

    const s = cliJson<SummaryJson>(["summary", "--db", db, "pipeline", "--format", "json"]);
    expect(s.run.exitCode).toBe(3);
    const exes = new Set(s.processes.map((p) => p.exe?.split("/").pop()));
    for (const e of ["sort", "tr", "cat", "wc"]) expect(exes).toContain(e);
    const root = s.processes.find((p) => p.ppid === null || !s.processes.some((q) => q.pid === p.ppid));
    expect(root?.argv?.slice(0, 2)).toEqual(["sh", "-c"]);
    const sortProc = s.processes.find((p) => p.exe?.endsWith("/sort"))!;
    expect(sortProc.ppid).toBe(root!.pid);
    expect(sortProc.exit).toEqual({ code: 0 });
    for (const p of s.processes) expect(p.cwd).toBe(dir);
    const byPath = new Map(s.files.map((f) => [f.path, f]));
    for (const name of ["in.txt", "sorted.txt", "upper.txt"]) {
      const f = byPath.get(join(dir, name));
      expect(f, name).toBeDefined();
      expect(f!.created).toBe(true);
      expect(f!.written).toBe(true);
    }
    expect(byPath.get(join(dir, "in.txt"))!.read).toBe(true);
    // the pipe between cat and tr
    const pipes = s.pipes as Array<{ writers: number[]; readers: number[] }>;
    const cat = s.processes.find((p) => p.exe?.endsWith("/cat") && p.argv?.[1] === "in.txt")!;
    const tr = s.processes.find((p) => p.exe?.endsWith("/tr"))!;
    expect(pipes.some((p) => p.writers.includes(cat.pid) && p.readers.includes(tr.pid))).toBe(true);
  });

  it("records a process killed by a signal", () => {
    const r = runCli(
      [
        "trace",
        "--db",
        db,
        "--name",
        "killed",
        "-q",
        "--",
        "sh",
        "-c",
        "sleep 30 & p=$!; sleep 0.2; kill -9 $p; wait $p; exit 0",
      ],
      {
        cwd: dir,
      },
    );
    expect(r.status).toBe(0);
    const s = cliJson<SummaryJson>(["summary", "--db", db, "killed", "--format", "json"]);
    const sleeper = s.processes.find((p) => p.argv?.[1] === "30");
    expect(sleeper?.exit).toEqual({ signal: "SIGKILL" });
  });

  it("exits with 128+N when the command itself is killed by signal N", () => {
    const r = runCli(["trace", "--db", db, "-q", "--", "sh", "-c", "kill -TERM $$"], { cwd: dir });
    expect(r.status).toBe(143);
    const s = cliJson<SummaryJson>(["summary", "--db", db, "--format", "json"]);
    expect(s.processes[0]!.exit).toEqual({ signal: "SIGTERM" });
  });

  it("records a rename and a deletion", () => {
    writeFileSync(join(dir, "old.txt"), "x");
    writeFileSync(join(dir, "doomed.txt"), "y");
    const r = runCli(
      ["trace", "--db", db, "--name", "files", "-q", "--", "sh", "-c", "mv old.txt new.txt && rm doomed.txt"],
      { cwd: dir },
    );
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, "new.txt"))).toBe(true);
    const s = cliJson<SummaryJson>(["summary", "--db", db, "files", "--format", "json"]);
    const old = s.files.find((f) => f.path === join(dir, "old.txt"));
    expect(old?.renamedTo).toBe(join(dir, "new.txt"));
    const doomed = s.files.find((f) => f.path === join(dir, "doomed.txt"));
    expect(doomed?.deleted).toBe(true);
    expect(doomed?.created).toBe(false);
  });

  it("folds the threads of a multithreaded program into its process", () => {
    requireTool("gcc");
    const src = join(dir, "threads.c");
    writeFileSync(
      src,
      `#include <pthread.h>
#include <stdio.h>
static void *work(void *arg) {
  char path[64]; snprintf(path, sizeof path, "thread_%ld.txt", (long)arg);
  FILE *f = fopen(path, "w"); fprintf(f, "%ld\\n", (long)arg); fclose(f); return 0;
}
int main(void) {
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, work, (void *)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
  return 0;
}
`,
    );
    const cc = spawnSync("gcc", ["-O1", "-pthread", "-o", join(dir, "threads"), src]);
    expect(cc.status, cc.stderr?.toString()).toBe(0);
    const r = runCli(["trace", "--db", db, "--name", "threads", "-q", "--", "./threads"], { cwd: dir });
    expect(r.status).toBe(0);
    const s = cliJson<SummaryJson>(["summary", "--db", db, "threads", "--format", "json"]);
    expect(s.processes).toHaveLength(1);
    const written = s.files.filter((f) => /thread_\d\.txt$/.test(f.path) && f.written && f.created);
    expect(written).toHaveLength(4);
    const proc = s.processes[0] as SummaryJson["processes"][number] & { threads?: number[] };
    expect(proc.threads?.length).toBe(4);
  });

  it("stores the exact strace command line and lists the run", () => {
    const runs = cliJson<Array<{ name: string; tracerCommand: string[]; status: string }>>([
      "runs",
      "--db",
      db,
      "--json",
    ]);
    const run = runs.find((x) => x.name === "pipeline")!;
    expect(run.status).toBe("complete");
    expect(run.tracerCommand.slice(0, 8)).toEqual(["strace", "-f", "-q", "-ttt", "-T", "-s", "4096", "-yy"]);
    expect(run.tracerCommand).toContain("trace=%file,%desc,%process,%network,%ipc");
    expect(run.tracerCommand).toContain("signal=all");
  });

  it("records environments only with --env, their secrets redacted as recorded unless --keep-secrets", () => {
    const env = {
      PF_API_TOKEN: "tok-123456",
      PF_PLAIN: "visible",
      PF_URL: "https://u:pw-9876@example.invalid/",
    };
    expect(
      runCli(["trace", "--db", db, "--name", "noenv", "-q", "--", "true"], { cwd: dir, env }).status,
    ).toBe(0);
    const plain = runCli(["export", "--db", db, "noenv", "--format", "prov-json"]).stdout;
    expect(plain).not.toContain("PF_PLAIN");
    expect(
      runCli(["trace", "--db", db, "--name", "withenv", "-q", "--env", "--", "true"], { cwd: dir, env })
        .status,
    ).toBe(0);
    const recorded = runCli(["export", "--db", db, "withenv", "--format", "prov-json"]).stdout;
    expect(recorded).toContain("PF_API_TOKEN=***");
    expect(recorded).toContain("PF_URL=https://u:***@example.invalid/");
    expect(recorded).not.toContain("tok-123456");
    expect(recorded).not.toContain("pw-9876");
    expect(recorded).toContain("PF_PLAIN=visible");
    expect(
      runCli(["trace", "--db", db, "--name", "rawenv", "-q", "--env", "--keep-secrets", "--", "true"], {
        cwd: dir,
        env,
      }).status,
    ).toBe(0);
    const full = runCli(["export", "--db", db, "rawenv", "--format", "prov-json"]).stdout;
    expect(full).toContain("PF_API_TOKEN=tok-123456");
    const redacted = runCli(["export", "--db", db, "rawenv", "--format", "prov-json", "--redact"]).stdout;
    expect(redacted).not.toContain("tok-123456");
    expect(redacted).toContain("PF_PLAIN=visible");
  });

  it("--redact hides secrets in command lines as they are recorded", () => {
    const r = runCli(
      [
        "trace",
        "--db",
        db,
        "--name",
        "argv",
        "-q",
        "--redact",
        "--",
        "sh",
        "-c",
        "true",
        "x",
        "--db-password=hunter2",
        "postgres://a:b-secret@h/d",
      ],
      { cwd: dir },
    );
    expect(r.status, r.stderr).toBe(0);
    const all =
      runCli(["export", "--db", db, "argv", "--format", "jsonl"]).stdout +
      runCli(["runs", "--db", db, "--json"]).stdout;
    expect(all).not.toContain("hunter2");
    expect(all).not.toContain("b-secret");
    expect(all).toContain("--db-password=***");
  });

  it("keeps the log with -o and the command's stdin", () => {
    const log = join(dir, "kept.strace");
    const r = runCli(["trace", "--db", db, "-q", "-o", log, "--", "tr", "a-z", "A-Z"], {
      cwd: dir,
      input: "hello\n",
    });
    expect(r.stdout).toBe("HELLO\n");
    expect(readFileSync(log, "utf8")).toMatch(/execve\("\/usr\/bin\/tr"/);
  });

  it("says in one line what to do when the command does not exist", () => {
    const r = runCli(["trace", "--db", db, "--", "no-such-command-xyz"], { cwd: dir });
    expect(r.status).toBe(4);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/command not found: no-such-command-xyz/);
  });

  it("says so when the tracer is missing", () => {
    const r = runCli(["trace", "--db", db, "--", "true"], { cwd: dir, env: { PATH: "/nonexistent" } });
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/strace is not installed: install it/);
  });

  it("attaches to a running process with -p until it ends", async () => {
    const { spawn } = await import("node:child_process");
    const target = spawn(
      "sh",
      ["-c", "sleep 0.5; for i in 1 2 3; do cat /etc/hostname > /dev/null; sleep 0.2; done"],
      {
        stdio: "ignore",
      },
    );
    const r = runCli(["trace", "--db", db, "--name", "attached", "-q", "-p", String(target.pid)], {
      cwd: dir,
    });
    expect(r.status, r.stderr).toBe(0);
    const s = cliJson<SummaryJson>(["summary", "--db", db, "attached", "--format", "json"]);
    expect(s.processes.some((p) => p.pid === target.pid)).toBe(true);
    expect(s.processes.filter((p) => p.exe?.endsWith("/cat")).length).toBeGreaterThanOrEqual(2);
    expect(s.files.some((f) => f.path === "/etc/hostname" && f.read)).toBe(true);
  });

  it("stops attaching at Ctrl-C, leaves the process running and records a complete run", async () => {
    const { spawn } = await import("node:child_process");
    const { CLI } = await import("../helpers/cli.js");
    const target = spawn("sh", ["-c", "while true; do cat /etc/hostname > /dev/null; sleep 0.1; done"], {
      stdio: "ignore",
    });
    try {
      const tracer = spawn(
        process.execPath,
        [CLI, "trace", "--db", db, "--name", "detached", "-q", "-p", String(target.pid)],
        {
          stdio: "ignore",
        },
      );
      await new Promise((r) => setTimeout(r, 1500));
      tracer.kill("SIGINT");
      const code = await new Promise<number | null>((r) => tracer.on("exit", (c) => r(c)));
      expect(code).toBe(0);
      // detached, not killed
      expect(() => process.kill(target.pid!, 0)).not.toThrow();
      const runs = cliJson<
        Array<{ name: string; status: string; exitSignal: string | null; exitCode: number | null }>
      >(["runs", "--db", db, "--json"]);
      const run = runs.find((x) => x.name === "detached")!;
      expect(run).toMatchObject({ status: "complete", exitSignal: null, exitCode: null });
      const s = cliJson<SummaryJson>(["summary", "--db", db, "detached", "--format", "json"]);
      expect(s.processes.filter((p) => p.exe?.endsWith("/cat")).length).toBeGreaterThanOrEqual(3);
    } finally {
      target.kill("SIGKILL");
    }
  });

  it("marks the run incomplete when Ctrl-C interrupts the traced command, and exits 130", async () => {
    const { spawn } = await import("node:child_process");
    const { CLI } = await import("../helpers/cli.js");
    const child = spawn(
      process.execPath,
      [CLI, "trace", "--db", db, "--name", "interrupted", "-q", "--", "sh", "-c", "sleep 5; echo never"],
      {
        cwd: dir,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    await new Promise((r) => setTimeout(r, 800));
    // the terminal sends SIGINT to the whole foreground process group
    process.kill(-child.pid!, "SIGINT");
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    expect(code).toBe(130);
    expect(out).toBe("");
    const runs = cliJson<Array<{ name: string; status: string; exitSignal: string | null }>>([
      "runs",
      "--db",
      db,
      "--json",
    ]);
    const run = runs.find((x) => x.name === "interrupted")!;
    expect(run.status).toBe("incomplete");
    expect(run.exitSignal).toBe("SIGINT");
  });
});

describe("provflow trace --tracer ltrace", () => {
  it("records the process tree and the files the library and system calls name", () => {
    requireTool("ltrace");
    const dir = tempDir();
    const db = join(dir, "l.db");
    const r = runCli(
      [
        "trace",
        "--db",
        db,
        "--tracer",
        "ltrace",
        "-q",
        "--",
        "sh",
        "-c",
        "echo hi | tr a-z A-Z > out.txt; rm out.txt; exit 4",
      ],
      {
        cwd: dir,
      },
    );
    expect(r.status).toBe(4);
    const s = cliJson<SummaryJson>(["summary", "--db", db, "--format", "json"]);
    expect(s.run.exitCode).toBe(4);
    const root = s.processes[0]!;
    expect(root.exe).toBe("/usr/bin/sh");
    expect(root.argv).toEqual(["sh", "-c", "echo hi | tr a-z A-Z > out.txt; rm out.txt; exit 4"]);
    const exes = s.processes.map((p) => p.exe);
    expect(exes).toContain("/usr/bin/tr");
    expect(exes).toContain("/usr/bin/rm");
    // one entry per exec generation: tr is not counted twice (library execve + SYS_execve)
    expect(exes.filter((e) => e === "/usr/bin/tr")).toHaveLength(1);
    const out = s.files.find((f) => f.path === join(dir, "out.txt"));
    expect(out).toMatchObject({ created: true, written: true, deleted: true });
    const runs = cliJson<Array<{ tracerCommand: string[] }>>(["runs", "--db", db, "--json"]);
    expect(runs[0]!.tracerCommand.slice(0, 7)).toEqual(["ltrace", "-f", "-ttt", "-T", "-s", "4096", "-S"]);
  });
});
