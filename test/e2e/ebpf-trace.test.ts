import { spawn, spawnSync } from "node:child_process";
import { chmodSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, cliJson, runCli, type SummaryJson, tempDir } from "../helpers/cli.js";
import { ebpfUnavailable, provflowBpftraces } from "../helpers/ebpf.js";

/**
 * `provflow trace --tracer ebpf`, live: what the kernel saw a script do (files, bytes summed in the
 * kernel, renames, links, directories, pipes, sockets, a process killed by a signal, the exit status),
 * the saved log replayed by `provflow ingest`, attaching with -p, and the one-line refusals without
 * privileges or BTF. No bpftrace may outlive a test.
 */
const unavailable = ebpfUnavailable("live eBPF trace tests");

const SCRIPT = `set -e
mkdir sub
cd sub
head -c 123457 /dev/zero > big.bin
cat big.bin > copy.bin
mv copy.bin moved.bin
ln moved.bin hard.bin
ln -s moved.bin soft.bin
truncate -s 10 hard.bin
mkdir d
rmdir d
rm soft.bin
cat big.bin | wc -c > count.txt
/usr/bin/python3 -c '
import os, socket, threading
srv = socket.socket(socket.AF_UNIX); srv.bind("s.sock"); srv.listen(1)
def serve():
    c, _ = srv.accept(); c.sendall(c.recv(100).upper()); c.close()
t = threading.Thread(target=serve); t.start()
cl = socket.socket(socket.AF_UNIX); cl.connect("s.sock"); cl.sendall(b"ping"); open("reply.txt", "wb").write(cl.recv(100)); cl.close()
t.join(); srv.close(); os.unlink("s.sock")
tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen(1)
c2 = socket.create_connection(tcp.getsockname()); a, peer = tcp.accept(); a.sendall(b"12345"); c2.recv(10)
'
sh -c 'kill -9 $$' || true
exit 3
`;

describe.skipIf(unavailable !== null)("provflow trace --tracer ebpf", () => {
  afterAll(() => {
    expect(provflowBpftraces()).toEqual([]);
  });

  it("records files, bytes, renames, links, pipes, sockets, signals and the exit status; ingest replays the log", () => {
    const dir = realpathSync(tempDir());
    writeFileSync(join(dir, "w.sh"), SCRIPT);
    const db = join(dir, "t.db");
    const log = join(dir, "run.ebpf");
    const r = runCli(["trace", "--db", db, "-q", "--tracer", "ebpf", "-o", log, "--", "sh", "w.sh"], {
      cwd: dir,
    });
    expect(r.status, r.stderr).toBe(3);
    expect(readFileSync(join(dir, "sub/reply.txt"), "utf8")).toBe("PING");
    const s = cliJson<SummaryJson>(["summary", "--db", db, "--json"]);
    const sub = join(dir, "sub");
    type F = SummaryJson["files"][number] & {
      bytesRead: number;
      bytesWritten: number;
      renamedFrom: string | null;
    };
    const file = (p: string) => s.files.find((f) => f.path === p) as F | undefined;
    // bytes are summed in the kernel per process and fd
    expect(file(`${sub}/big.bin`)).toMatchObject({ created: true, written: true, bytesWritten: 123457 });
    expect(file(`${sub}/big.bin`)!.bytesRead).toBe(2 * 123457);
    expect(file(`${sub}/copy.bin`)).toMatchObject({
      created: true,
      renamedTo: `${sub}/moved.bin`,
      bytesWritten: 123457,
    });
    expect(file(`${sub}/soft.bin`)).toMatchObject({ deleted: true });
    expect(file(`${sub}/count.txt`)).toMatchObject({ created: true, bytesWritten: 7 });
    expect(file(`${sub}/reply.txt`)).toMatchObject({ created: true, bytesWritten: 4 });
    expect(file(`${sub}/hard.bin`)).toBeDefined();
    const dirs = s.directories as Array<{ path: string; created?: boolean; deleted?: boolean }>;
    expect(dirs.find((d) => d.path === `${sub}/d`)).toMatchObject({ created: true, deleted: true });
    // the process tree: argv at exec, cwd, the exit status and the signal
    const root = s.processes.find((p) => p.ppid === null)!;
    expect(root.exit).toEqual({ code: 3 });
    expect(root.cwd).toBe(dir);
    const py = s.processes.find((p) => p.exe === "/usr/bin/python3")!;
    expect(py.cwd).toBe(sub);
    expect(py.argv?.[1]).toBe("-c");
    expect(s.processes.some((p) => p.exit?.signal === "SIGKILL")).toBe(true);
    expect(s.processes.filter((p) => p.exe?.endsWith("/cat")).length).toBe(2);
    // pipes and sockets, with addresses
    expect((s.pipes as unknown[]).length).toBeGreaterThanOrEqual(1);
    type Sock = SummaryJson["sockets"][number] & {
      path: string | null;
      bytesSent: number;
      bytesReceived: number;
    };
    const socks = s.sockets as Sock[];
    expect(socks.some((k) => k.family === "unix" && (k.path ?? k.local ?? "").endsWith("s.sock"))).toBe(true);
    expect(
      socks.some((k) => k.family === "inet" && k.role === "listening" && k.local?.startsWith("127.0.0.1:")),
    ).toBe(true);
    expect(socks.some((k) => k.family === "inet" && k.bytesSent === 5)).toBe(true);
    expect(socks.some((k) => k.family === "inet" && k.bytesReceived === 5)).toBe(true);
    // the run's statistics count what the kernel dropped
    const runs = cliJson<Array<{ source: string; stats: Record<string, number> }>>([
      "runs",
      "--db",
      db,
      "--json",
    ]);
    expect(runs[0]!.source).toBe("ebpf");
    expect(runs[0]!.stats.lost).toBe(0);

    // the saved log replays to the same summary
    const db2 = join(dir, "replay.db");
    const ing = runCli(["ingest", "--db", db2, "-q", log]);
    expect(ing.status, ing.stderr).toBe(0);
    const s2 = cliJson<SummaryJson>(["summary", "--db", db2, "--json"]);
    expect(s2.files).toEqual(s.files);
    expect(s2.processes.map((p) => [p.exe, p.argv, p.cwd, p.exit])).toEqual(
      s.processes.map((p) => [p.exe, p.argv, p.cwd, p.exit]),
    );
  }, 300_000);

  it("attaches to a running process with -p and resolves its relative paths from its cwd", async () => {
    const dir = realpathSync(tempDir());
    const db = join(dir, "p.db");
    // long enough for bpftrace to attach on a loaded machine; the tree must end the recording by itself
    const target = spawn("sh", ["-c", "sleep 12; echo hi > attached.txt; sleep 0.2"], {
      cwd: dir,
      stdio: "ignore",
      detached: true,
    });
    const t = spawn(
      process.execPath,
      [CLI, "trace", "--db", db, "-q", "--tracer", "ebpf", "-p", String(target.pid)],
      {
        stdio: "ignore",
      },
    );
    try {
      const code = await new Promise<number | null>((res) => t.on("exit", (c) => res(c)));
      expect(code).toBe(0);
      const s = cliJson<SummaryJson>(["summary", "--db", db, "--json"]);
      expect(s.files.find((f) => f.path === join(dir, "attached.txt"))).toMatchObject({ created: true });
      expect(s.processes.some((p) => p.exe?.endsWith("/sleep"))).toBe(true);
    } finally {
      // provflow stops its bpftrace on SIGTERM
      if (t.exitCode === null) {
        t.kill("SIGTERM");
        await new Promise((r) => t.on("exit", r));
      }
      try {
        process.kill(-target.pid!, "SIGKILL");
      } catch {
        // ended
      }
    }
  }, 180_000);

  it("ends, with the command's signal, when the command is killed at the gate before its release", async () => {
    const dir = realpathSync(tempDir());
    const db = join(dir, "g.db");
    const t = spawn(
      process.execPath,
      [CLI, "trace", "--db", db, "-q", "--tracer", "ebpf", "--", "sleep", "30"],
      {
        stdio: "ignore",
      },
    );
    // the gate: provflow's child (a shell named provflow-gate), stopped (state T) while its sibling
    // bpftrace compiles and attaches; killed in that window
    const stoppedGate = (): number | null => {
      let kids: string[] = [];
      try {
        kids = readFileSync(`/proc/${t.pid}/task/${t.pid}/children`, "utf8").trim().split(/\s+/);
      } catch {
        return null;
      }
      let gate: number | null = null;
      let bpftrace = false;
      for (const k of kids.filter(Boolean)) {
        try {
          const st = readFileSync(`/proc/${k}/stat`, "utf8");
          const cmd = readFileSync(`/proc/${k}/cmdline`, "utf8");
          const state = st.slice(st.lastIndexOf(")") + 2, st.lastIndexOf(")") + 3);
          if (state === "T" && cmd.startsWith("provflow-gate\0")) gate = Number(k);
          if (/provflow-\d+\.bt/.test(cmd)) bpftrace = true;
        } catch {
          // gone
        }
      }
      return bpftrace ? gate : null;
    };
    try {
      let gate: number | null = null;
      const until = Date.now() + 30_000;
      while (gate === null && t.exitCode === null && Date.now() < until) {
        gate = stoppedGate();
        if (gate === null) await new Promise((r) => setTimeout(r, 5));
      }
      expect(gate, "the gated command was never seen stopped beside bpftrace").not.toBeNull();
      process.kill(gate!, "SIGKILL");
      // before the fix provflow waited for ever for the exit of a process the probes never saw
      const code = await new Promise<number | null>((res) => {
        const timer = setTimeout(() => res(-1), 60_000);
        t.on("exit", (c) => {
          clearTimeout(timer);
          res(c);
        });
      });
      expect(code).toBe(128 + 9);
    } finally {
      if (t.exitCode === null) {
        t.kill("SIGTERM");
        await new Promise((r) => t.on("exit", r));
      }
    }
  }, 120_000);

  it("refuses in one line, naming what is missing and --tracer strace, without privileges or BTF", () => {
    const dir = tempDir();
    chmodSync(dir, 0o777);
    const asNobody = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        CLI,
        "trace",
        "--db",
        join(dir, "n.db"),
        "--tracer",
        "ebpf",
        "--",
        "true",
      ],
      { encoding: "utf8" },
    );
    const noCaps = spawnSync(
      "setpriv",
      [
        "--bounding-set",
        "-all",
        "--inh-caps",
        "-all",
        process.execPath,
        CLI,
        "trace",
        "--db",
        join(dir, "c.db"),
        "--tracer",
        "ebpf",
        "--",
        "true",
      ],
      { encoding: "utf8" },
    );
    for (const r of [asNobody, noCaps]) {
      expect(r.status).toBe(4);
      expect(r.stderr.trim().split("\n")).toEqual([
        "provflow: eBPF tracing needs root or CAP_BPF + CAP_PERFMON (missing: CAP_BPF, CAP_PERFMON); '--tracer strace' works everywhere",
      ]);
    }
    const noBtf = runCli(["trace", "--db", join(dir, "b.db"), "--tracer", "ebpf", "--", "true"], {
      env: { PROVFLOW_BTF: join(dir, "no-vmlinux") },
    });
    expect(noBtf.status).toBe(4);
    expect(noBtf.stderr.trim().split("\n")).toHaveLength(1);
    expect(noBtf.stderr).toMatch(
      /needs a kernel with BTF .*no-vmlinux is missing.*'--tracer strace' works everywhere/,
    );
    // nothing ran, nothing was recorded
    expect(() => statSync(join(dir, "b.db"))).not.toThrow();
    expect(cliJson<unknown[]>(["runs", "--db", join(dir, "b.db"), "--json"])).toEqual([]);
  }, 180_000);
});
