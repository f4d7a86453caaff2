import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProvEvent, RunContext } from "../src/events/event-types.js";
import { type FileAccess, GraphBuilder } from "../src/graph/graph-builder.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { findFormat } from "../src/sources/source-registry.js";
import type { Batch } from "../src/store/store-types.js";
import { CORPUS } from "./helpers/cli.js";

/** 2026-11-23 + HH:MM:SS.uuuuuu (strace -tt) → µs since the epoch */
function t(clock: string): number {
  return Date.parse(`2026-11-23T${clock.slice(0, 8)}Z`) * 1000 + Number(clock.slice(9));
}

const ctx: RunContext = { host: "vm1", bootId: "b00t", cwd: "/tmp/pf-fidelity/edit", clock: "time-of-day" };

/** Collects every drained batch as the store would: upserts by id. */
function run(events: ProvEvent[], user?: { uid: number }) {
  const b = new GraphBuilder({ ctx, user });
  const nodes = new Map<number, GraphNode>();
  const edges = new Map<number, GraphEdge>();
  const batches: Batch[] = [];
  const take = (batch: Batch) => {
    batches.push(batch);
    for (const n of batch.nodes) nodes.set(n.id, structuredClone(n));
    for (const e of batch.edges) edges.set(e.id, structuredClone(e));
  };
  // feed in two halves with a drain between, as the pipeline does
  const half = Math.floor(events.length / 2);
  b.add(events.slice(0, half));
  take(b.drain());
  b.add(events.slice(half));
  take(b.drain());
  take(b.finish());
  const all = [...nodes.values()];
  const procs = all.filter((n) => n.type === "process");
  const byPath = (p: string) =>
    all.filter((n) => n.attrs.path === p && n.type !== "socket").sort((a, c) => a.version - c.version);
  const rel = (type: string, op: string, from?: number, to?: number) =>
    [...edges.values()].filter(
      (e) =>
        e.type === type &&
        e.op === op &&
        (from === undefined || e.from === from) &&
        (to === undefined || e.to === to),
    );
  const gen = (pid: number, g: number) => procs.find((n) => n.attrs.pid === pid && n.attrs.generation === g);
  const access = (p: string) => (byPath(p)[0]?.attrs.access ?? {}) as FileAccess;
  return { b, nodes: all, edges: [...edges.values()], batches, procs, byPath, rel, gen, access };
}

const E = "/tmp/pf-fidelity/edit";

// pyproc/full.strace: 4802 sh runs ./pyproc.sh, clone → 4803 execs /usr/bin/python3, wait4 joins it
const forkExecWait: ProvEvent[] = [
  { kind: "process.start", ts: t("03:07:11.784599"), pid: 4802, ppid: null, via: "root" },
  {
    kind: "process.exec",
    ts: t("03:07:11.784599"),
    pid: 4802,
    exe: "/tmp/pf-fidelity/pyproc/pyproc.sh",
    argv: ["./pyproc.sh"],
    envCount: 38,
    ok: true,
  },
  { kind: "process.start", ts: t("03:07:11.788400"), pid: 4803, ppid: 4802, via: "clone" },
  {
    kind: "process.exec",
    ts: t("03:07:11.788658"),
    pid: 4803,
    exe: "/usr/bin/python3",
    argv: ["/usr/bin/python3", "-"],
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:12.096124"), pid: 4803, code: 0 },
  { kind: "process.wait", ts: t("03:07:12.096188"), pid: 4802, child: 4803, code: 0 },
  { kind: "process.exit", ts: t("03:07:12.096658"), pid: 4802, code: 0 },
];

describe("GraphBuilder processes", () => {
  it("fork + exec + wait: generations, wasInformedBy fork/exec/wait, agents", () => {
    const g = run(forkExecWait, { uid: 0 });
    expect(g.procs).toHaveLength(4); // two pids × (gen 0 + one exec generation)
    const sh0 = g.gen(4802, 0)!;
    const sh1 = g.gen(4802, 1)!;
    const py0 = g.gen(4803, 0)!;
    const py1 = g.gen(4803, 1)!;
    expect(sh1.attrs.exe).toBe("/tmp/pf-fidelity/pyproc/pyproc.sh");
    expect(sh1.attrs.envCount).toBe(38);
    expect(sh0.end).toBe(t("03:07:11.784599"));
    expect(py0.attrs.ppid).toBe(4802);
    expect(py0.attrs.cwd).toBe(ctx.cwd); // inherited from the root's cwd
    expect(py0.attrs.exe).toBe(sh1.attrs.exe); // a fork runs the parent's program until it execs
    expect(g.rel("wasInformedBy", "clone", py0.id, sh1.id)).toHaveLength(1);
    expect(g.rel("wasInformedBy", "exec", py1.id, py0.id)).toHaveLength(1);
    expect(g.rel("wasInformedBy", "wait", sh1.id, py1.id)).toHaveLength(1);
    expect(py1.end).toBe(t("03:07:12.096124"));
    expect(py1.attrs.exitCode).toBe(0);
    expect(py1.gid).toBe(`proc://vm1/b00t/4803@${t("03:07:11.788400")}#1`);
    const exe = g.byPath("/usr/bin/python3")[0]!;
    expect(g.rel("used", "execute", py1.id, exe.id)).toHaveLength(1);
    expect((exe.attrs.access as FileAccess).executed).toBe(true);
    expect(exe.attrs.category).toBe("executable");
    // every activity is associated with the user and the machine
    const machine = g.nodes.find((n) => n.gid === "machine://vm1")!;
    const user = g.nodes.find((n) => n.gid === "user://vm1/0")!;
    for (const p of g.procs) {
      expect(g.rel("wasAssociatedWith", "associated", p.id, machine.id)).toHaveLength(1);
      expect(g.rel("wasAssociatedWith", "associated", p.id, user.id)).toHaveLength(1);
    }
    expect(g.b.rootExit()).toEqual({ code: 0, signal: null });
    expect(g.b.stats.processes).toBe(2);
    expect(g.b.stats.generations).toBe(4);
  });

  it("a child announced before its parent's clone returns gets its ppid and fork link later", () => {
    const g = run([
      { kind: "process.start", ts: 1, pid: 4802, ppid: null, via: "root" },
      {
        kind: "access",
        ts: 2,
        pid: 4803,
        op: "read",
        res: { type: "file", path: "/etc/hostname" },
        call: "read",
        bytes: 5,
        ok: true,
      },
      { kind: "process.start", ts: 3, pid: 4803, ppid: 4802, via: "clone" },
    ]);
    expect(g.procs).toHaveLength(2);
    const c = g.gen(4803, 0)!;
    expect(c.attrs.ppid).toBe(4802);
    expect(c.attrs.via).toBe("clone");
    expect(g.rel("wasInformedBy", "clone", c.id, g.gen(4802, 0)!.id)).toHaveLength(1);
  });

  it("PATH probes (failed execve ENOENT) are probes, not generations", () => {
    // pyproc/full.strace lines 2279-2315: 4805 tries /root/.cargo/bin/wc … then /usr/bin/wc succeeds
    const probes = ["/root/.cargo/bin/wc", "/root/.pyenv/shims/wc", "/usr/local/bin/wc", "/usr/sbin/wc"];
    const g = run([
      { kind: "process.start", ts: t("03:07:12.060000"), pid: 4805, ppid: null, via: "root" },
      ...probes.map(
        (p, i): ProvEvent => ({
          kind: "process.exec",
          ts: t("03:07:12.065079") + i,
          pid: 4805,
          exe: p,
          argv: ["wc", "-l"],
          ok: false,
          errno: "ENOENT",
        }),
      ),
      {
        kind: "process.exec",
        ts: t("03:07:12.065907"),
        pid: 4805,
        exe: "/usr/bin/wc",
        argv: ["wc", "-l"],
        ok: true,
      },
    ]);
    expect(g.procs.map((p) => p.attrs.generation)).toEqual([0, 1]);
    for (const p of probes) {
      const f = g.byPath(p)[0]!;
      expect(g.rel("used", "probe", g.gen(4805, 0)!.id, f.id)).toHaveLength(1);
      expect(f.attrs.access).toEqual({ probed: true });
    }
  });

  it("threads fold into their process; a thread's exit does not end it", () => {
    // pyproc: 4803 clone3(CLONE_THREAD) = 4806; 4806 accept4 on the unix listener; 4806 exits
    const g = run([
      { kind: "process.start", ts: t("03:07:11.788400"), pid: 4803, ppid: null, via: "root" },
      { kind: "thread.start", ts: t("03:07:12.084785"), pid: 4803, newTid: 4806 },
      {
        kind: "access",
        ts: t("03:07:12.086665"),
        pid: 4806,
        op: "read",
        res: { type: "file", path: "/etc/passwd" },
        call: "read",
        bytes: 10,
        ok: true,
      },
      {
        kind: "call",
        ts: t("03:07:12.086665"),
        pid: 4806,
        name: "recvfrom",
        resource: "UNIX-STREAM:[372818->372819]",
        bytes: 4,
        ok: true,
      },
      { kind: "process.exit", ts: t("03:07:12.087925"), pid: 4806, code: 0 },
      { kind: "process.exit", ts: t("03:07:12.096124"), pid: 4803, code: 0 },
    ]);
    expect(g.procs).toHaveLength(1);
    const p = g.procs[0]!;
    expect(p.attrs.tids).toEqual([4806]);
    expect(p.end).toBe(t("03:07:12.096124"));
    expect(g.rel("used", "read", p.id, g.byPath("/etc/passwd")[0]!.id)).toHaveLength(1);
    expect(g.batches.flatMap((b) => b.steps).map((s) => s.pid)).toEqual([4803]);
    expect(g.b.stats.threads).toBe(1);
  });

  it("pid reuse: a start for an ended pid is a new process", () => {
    const g = run([
      { kind: "process.start", ts: 100, pid: 300, ppid: null, via: "root" },
      { kind: "process.start", ts: 110, pid: 301, ppid: 300, via: "fork" },
      { kind: "process.exit", ts: 120, pid: 301, code: 2 },
      { kind: "process.start", ts: 130, pid: 301, ppid: 300, via: "fork" },
    ]);
    const p301 = g.procs.filter((p) => p.attrs.pid === 301);
    expect(p301).toHaveLength(2);
    expect(new Set(p301.map((p) => p.gid)).size).toBe(2);
    expect(p301[0]!.attrs.exitCode).toBe(2);
    // the second one never exits: finish marks it unfinished at the last ts seen for it
    expect(p301[1]!.attrs.unfinished).toBe(true);
    expect(p301[1]!.end).toBe(130);
  });

  it("an unknown pid gets an implicit start; -qq logs take the exit from wait4", () => {
    const g = run([
      {
        kind: "access",
        ts: 5,
        pid: 26000,
        op: "read",
        res: { type: "file", path: "/etc/hostname" },
        call: "read",
        bytes: 3,
        ok: true,
      },
      { kind: "process.start", ts: 6, pid: 26001, ppid: 26000, via: "clone" },
      { kind: "process.wait", ts: 9, pid: 26000, child: 26001, signal: "SIGPIPE" },
    ]);
    expect(g.gen(26000, 0)!.attrs.via).toBe("unknown");
    const c = g.gen(26001, 0)!;
    expect(c.attrs.exitSignal).toBe("SIGPIPE");
    expect(c.attrs.unfinished).toBeUndefined();
  });
});

// edit/full.strace (pids 4488 sh … 4497 rm), abridged to the calls that matter
const editEvents: ProvEvent[] = [
  { kind: "process.start", ts: t("03:07:02.585000"), pid: 4488, ppid: null, via: "root" },
  {
    kind: "process.exec",
    ts: t("03:07:02.585460"),
    pid: 4488,
    exe: `${E}/edit.sh`,
    argv: ["./edit.sh"],
    ok: true,
    cwd: E,
  },
  {
    kind: "access",
    ts: t("03:07:02.588350"),
    pid: 4488,
    op: "read",
    res: { type: "file", path: `${E}/edit.sh` },
    call: "read",
    bytes: 304,
    ok: true,
  },
  // mkdir -p a/b
  { kind: "process.start", ts: t("03:07:02.588900"), pid: 4489, ppid: 4488, via: "clone" },
  {
    kind: "process.exec",
    ts: t("03:07:02.589013"),
    pid: 4489,
    exe: "/usr/bin/mkdir",
    argv: ["mkdir", "-p", "a/b"],
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.595477"),
    pid: 4489,
    op: "mkdir",
    res: { type: "file", path: `${E}/a` },
    call: "mkdir",
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.595699"),
    pid: 4489,
    op: "mkdir",
    res: { type: "file", path: `${E}/a/b` },
    call: "mkdir",
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:02.596000"), pid: 4489, code: 0 },
  { kind: "process.wait", ts: t("03:07:02.596230"), pid: 4488, child: 4489, code: 0 },
  // printf … > a/b/f.txt (the shell itself)
  {
    kind: "access",
    ts: t("03:07:02.596393"),
    pid: 4488,
    op: "open",
    res: { type: "file", path: `${E}/a/b/f.txt` },
    call: "openat",
    write: true,
    create: true,
    truncate: true,
    fd: 3,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.596500"),
    pid: 4488,
    op: "write",
    res: { type: "file", path: `${E}/a/b/f.txt` },
    call: "write",
    bytes: 6,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.596510"),
    pid: 4488,
    op: "write",
    res: { type: "file", path: `${E}/a/b/f.txt` },
    call: "write",
    bytes: 5,
    ok: true,
  },
  // sed -i
  { kind: "process.start", ts: t("03:07:02.597300"), pid: 4490, ppid: 4488, via: "clone" },
  {
    kind: "process.exec",
    ts: t("03:07:02.597433"),
    pid: 4490,
    exe: "/usr/bin/sed",
    argv: ["sed", "-i", "s/beta/gamma/", "a/b/f.txt"],
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.598000"),
    pid: 4490,
    op: "map",
    res: { type: "file", path: "/lib/x86_64-linux-gnu/libc.so.6" },
    call: "mmap",
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.598100"),
    pid: 4490,
    op: "read",
    res: { type: "file", path: "/etc/ld.so.cache" },
    call: "read",
    bytes: 100,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.604530"),
    pid: 4490,
    op: "open",
    res: { type: "file", path: `${E}/a/b/f.txt` },
    call: "openat",
    read: true,
    fd: 3,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.604729"),
    pid: 4490,
    op: "open",
    res: { type: "file", path: `${E}/a/b/sedSY9hE9` },
    call: "openat",
    read: true,
    write: true,
    create: true,
    fd: 4,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.604981"),
    pid: 4490,
    op: "read",
    res: { type: "file", path: `${E}/a/b/f.txt` },
    call: "read",
    bytes: 11,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.605114"),
    pid: 4490,
    op: "read",
    res: { type: "file", path: `${E}/a/b/f.txt` },
    call: "read",
    bytes: 0,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.605505"),
    pid: 4490,
    op: "write",
    res: { type: "file", path: `${E}/a/b/sedSY9hE9` },
    call: "write",
    bytes: 12,
    ok: true,
  },
  {
    kind: "rename",
    ts: t("03:07:02.605600"),
    pid: 4490,
    from: `${E}/a/b/sedSY9hE9`,
    to: `${E}/a/b/f.txt`,
    call: "rename",
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:02.606102"), pid: 4490, code: 0 },
  // cp -r a c
  { kind: "process.start", ts: t("03:07:02.606900"), pid: 4491, ppid: 4488, via: "clone" },
  {
    kind: "process.exec",
    ts: t("03:07:02.606995"),
    pid: 4491,
    exe: "/usr/bin/cp",
    argv: ["cp", "-r", "a", "c"],
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.615062"),
    pid: 4491,
    op: "open",
    res: { type: "file", path: `${E}/c` },
    call: "openat",
    ok: false,
    errno: "ENOENT",
  },
  {
    kind: "access",
    ts: t("03:07:02.615224"),
    pid: 4491,
    op: "mkdir",
    res: { type: "file", path: `${E}/c` },
    call: "mkdirat",
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.615694"),
    pid: 4491,
    op: "mkdir",
    res: { type: "file", path: `${E}/c/b` },
    call: "mkdirat",
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.616097"),
    pid: 4491,
    op: "open",
    res: { type: "file", path: `${E}/a/b/f.txt` },
    call: "openat",
    read: true,
    fd: 3,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.616250"),
    pid: 4491,
    op: "open",
    res: { type: "file", path: `${E}/c/b/f.txt` },
    call: "openat",
    write: true,
    create: true,
    fd: 4,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.616300"),
    pid: 4491,
    op: "write",
    res: { type: "file", path: `${E}/c/b/f.txt` },
    call: "copy_file_range",
    bytes: 12,
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:02.617207"), pid: 4491, code: 0 },
  // ln -s ../a/b/f.txt c/link.txt
  { kind: "process.start", ts: t("03:07:02.617900"), pid: 4492, ppid: 4488, via: "clone" },
  {
    kind: "access",
    ts: t("03:07:02.623155"),
    pid: 4492,
    op: "symlink",
    res: { type: "file", path: `${E}/c/link.txt` },
    call: "symlinkat",
    target: "../a/b/f.txt",
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:02.623640"), pid: 4492, code: 0 },
  // cat c/link.txt > joined.txt
  {
    kind: "access",
    ts: t("03:07:02.623868"),
    pid: 4488,
    op: "open",
    res: { type: "file", path: `${E}/joined.txt` },
    call: "openat",
    write: true,
    create: true,
    truncate: true,
    fd: 3,
    ok: true,
  },
  // mv c/b/f.txt c/moved.txt
  { kind: "process.start", ts: t("03:07:02.632200"), pid: 4494, ppid: 4488, via: "clone" },
  {
    kind: "rename",
    ts: t("03:07:02.652561"),
    pid: 4494,
    from: `${E}/c/b/f.txt`,
    to: `${E}/c/moved.txt`,
    call: "renameat2",
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:02.653603"), pid: 4494, code: 0 },
  // truncate -s 0 joined.txt
  { kind: "process.start", ts: t("03:07:02.654400"), pid: 4495, ppid: 4488, via: "clone" },
  {
    kind: "access",
    ts: t("03:07:02.670262"),
    pid: 4495,
    op: "open",
    res: { type: "file", path: `${E}/joined.txt` },
    call: "openat",
    write: true,
    create: true,
    fd: 3,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.670405"),
    pid: 4495,
    op: "truncate",
    res: { type: "file", path: `${E}/joined.txt` },
    call: "ftruncate",
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:02.671213"), pid: 4495, code: 0 },
  // touch stamp
  { kind: "process.start", ts: t("03:07:02.671900"), pid: 4496, ppid: 4488, via: "clone" },
  {
    kind: "access",
    ts: t("03:07:02.686417"),
    pid: 4496,
    op: "open",
    res: { type: "file", path: `${E}/stamp` },
    call: "openat",
    write: true,
    create: true,
    fd: 3,
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:02.687701"), pid: 4496, code: 0 },
  // rm -r a
  { kind: "process.start", ts: t("03:07:02.688500"), pid: 4497, ppid: 4488, via: "clone" },
  {
    kind: "access",
    ts: t("03:07:02.707219"),
    pid: 4497,
    op: "delete",
    res: { type: "file", path: `${E}/a/b/f.txt` },
    call: "unlinkat",
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.707835"),
    pid: 4497,
    op: "rmdir",
    res: { type: "file", path: `${E}/a/b` },
    call: "unlinkat",
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:02.708224"),
    pid: 4497,
    op: "rmdir",
    res: { type: "file", path: `${E}/a` },
    call: "unlinkat",
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:02.709331"), pid: 4497, code: 0 },
  { kind: "process.exit", ts: t("03:07:02.710000"), pid: 4488, code: 0 },
];

describe("GraphBuilder files", () => {
  const g = run(editEvents);
  const sh = g.gen(4488, 1)!;
  const sed = g.gen(4490, 1)!;

  it("a created file is version 0 generated by its creator; consecutive writes by it add no version", () => {
    const f = g.byPath(`${E}/a/b/f.txt`);
    const v0 = f[0]!;
    expect(v0.version).toBe(0);
    const gen = g.rel("wasGeneratedBy", "write", v0.id, sh.id);
    expect(gen).toHaveLength(1);
    expect(gen[0]!.count).toBe(2);
    expect(gen[0]!.bytes).toBe(11);
    expect(g.rel("wasGeneratedBy", "create", v0.id, sh.id)).toHaveLength(1);
    expect(g.rel("wasDerivedFrom", "version", v0.id)).toHaveLength(0);
  });

  it("reads aggregate into one used edge with count, bytes and first/last ts", () => {
    const v0 = g.byPath(`${E}/a/b/f.txt`)[0]!;
    const u = g.rel("used", "read", sed.id, v0.id);
    expect(u).toHaveLength(1);
    expect(u[0]!.count).toBe(2);
    expect(u[0]!.bytes).toBe(11);
    expect(u[0]!.ts).toBe(t("03:07:02.604981"));
    expect(u[0]!.tsEnd).toBe(t("03:07:02.605114"));
  });

  it("sed -i: temp file derived (copy) from what sed read, renamed over the original", () => {
    const tmp = g.byPath(`${E}/a/b/sedSY9hE9`);
    expect(tmp).toHaveLength(1);
    const f = g.byPath(`${E}/a/b/f.txt`);
    expect(f.map((n) => n.version)).toEqual([0, 1]);
    const [v0, v1] = [f[0]!, f[1]!];
    // copy lineage: data file read, not libc nor ld.so.cache
    const copies = g.rel("wasDerivedFrom", "copy", tmp[0]!.id);
    expect(copies.map((e) => e.to)).toEqual([v0.id]);
    expect(g.rel("wasDerivedFrom", "rename", v1.id, tmp[0]!.id)).toHaveLength(1);
    expect(g.rel("wasGeneratedBy", "rename", v1.id, sed.id)).toHaveLength(1);
    expect(g.rel("wasInvalidatedBy", "rename", tmp[0]!.id, sed.id)).toHaveLength(1);
    // the replaced original is invalidated (replaced), not deleted
    const replaced = g.rel("wasInvalidatedBy", "rename", v0.id, sed.id);
    expect(replaced[0]!.attrs).toEqual({ replaced: true });
    expect(g.access(`${E}/a/b/sedSY9hE9`)).toMatchObject({
      created: true,
      written: true,
      renamedTo: `${E}/a/b/f.txt`,
    });
    expect(g.access(`${E}/a/b/sedSY9hE9`).deleted).toBeUndefined();
  });

  it("created / deleted / renamed follow the kernel's view (edit/oracle.json)", () => {
    const created = g.nodes
      .filter((n) => n.version === 0 && n.type === "file" && (n.attrs.access as FileAccess).created)
      .map((n) => n.attrs.path)
      .sort();
    // oracle: a/b/f.txt, a/b/sed*, c/b/f.txt, c/link.txt, joined.txt, stamp — not the rename target c/moved.txt
    expect(created).toEqual(
      ["a/b/f.txt", "a/b/sedSY9hE9", "c/b/f.txt", "c/link.txt", "joined.txt", "stamp"].map(
        (p) => `${E}/${p}`,
      ),
    );
    const deleted = g.nodes.filter(
      (n) => n.version === 0 && n.type === "file" && (n.attrs.access as FileAccess).deleted,
    );
    expect(deleted.map((n) => n.attrs.path)).toEqual([`${E}/a/b/f.txt`]);
    expect(g.access(`${E}/c/b/f.txt`).renamedTo).toBe(`${E}/c/moved.txt`);
    expect(g.access(`${E}/c/moved.txt`)).toEqual({ renamedFrom: `${E}/c/b/f.txt` });
    expect(g.access(`${E}/joined.txt`)).toMatchObject({ created: true, truncated: true });
    // directories: mkdir created, rmdir deleted
    const dirs = g.nodes.filter((n) => n.type === "directory").map((n) => n.attrs.path);
    expect(new Set(dirs)).toEqual(new Set([`${E}/a`, `${E}/a/b`, `${E}/c`, `${E}/c/b`]));
    expect(g.access(`${E}/c`)).toMatchObject({ created: true, probed: true });
    expect(g.access(`${E}/a`)).toMatchObject({ created: true, deleted: true });
  });

  it("a delete invalidates the current version and marks it deleted", () => {
    const f = g.byPath(`${E}/a/b/f.txt`);
    const last = f[f.length - 1]!;
    expect(last.attrs.deleted).toBe(true);
    expect(g.rel("wasInvalidatedBy", "delete", last.id, g.gen(4497, 0)!.id)).toHaveLength(1);
  });

  it("a second writer makes a new version derived from the previous one", () => {
    // joined.txt: created by the shell, then truncated by truncate(1)
    const j = g.byPath(`${E}/joined.txt`);
    expect(j.map((n) => n.version)).toEqual([0, 1]);
    expect(g.rel("wasDerivedFrom", "version", j[1]!.id, j[0]!.id)).toHaveLength(1);
    const tr = g.gen(4495, 0)!;
    expect(g.rel("wasGeneratedBy", "truncate", j[1]!.id, tr.id)[0]!.count).toBe(1);
  });

  it("symlink keeps its target; categories on nodes", () => {
    expect(g.byPath(`${E}/c/link.txt`)[0]!.attrs.symlinkTo).toBe("../a/b/f.txt");
    expect(g.byPath("/lib/x86_64-linux-gnu/libc.so.6")[0]!.attrs.category).toBe("shared-library");
    expect(g.byPath("/etc/ld.so.cache")[0]!.attrs.category).toBe("system-config");
  });

  it("drain hands over only what changed; finish closes steps", () => {
    const b = new GraphBuilder({ ctx });
    b.add(editEvents.slice(0, 3));
    const first = b.drain();
    expect(first.nodes.length).toBeGreaterThan(0);
    const empty = b.drain();
    expect(empty.nodes).toHaveLength(0);
    expect(empty.edges).toHaveLength(0);
    b.add([
      {
        kind: "access",
        ts: t("03:07:02.588400"),
        pid: 4488,
        op: "read",
        res: { type: "file", path: `${E}/edit.sh` },
        call: "read",
        bytes: 0,
        ok: true,
      },
    ]);
    const again = b.drain();
    expect(again.nodes).toHaveLength(0);
    expect(again.edges).toHaveLength(1);
    expect(again.edges[0]!.count).toBe(2);
  });
});

describe("GraphBuilder pipes, sockets, problems, steps", () => {
  it("pipe between two processes: writer wasGeneratedBy, reader used", () => {
    // pyproc: ls (4804) writes pipe:[372813], wc (4805) reads it
    const g = run([
      { kind: "process.start", ts: t("03:07:11.788400"), pid: 4803, ppid: null, via: "root" },
      {
        kind: "pipe",
        ts: t("03:07:12.051847"),
        pid: 4803,
        res: { type: "pipe", inode: "372813" },
        fds: [3, 4],
        call: "pipe2",
      },
      { kind: "process.start", ts: t("03:07:12.055000"), pid: 4804, ppid: 4803, via: "vfork" },
      { kind: "process.start", ts: t("03:07:12.060000"), pid: 4805, ppid: 4803, via: "vfork" },
      {
        kind: "access",
        ts: t("03:07:12.072911"),
        pid: 4804,
        op: "write",
        res: { type: "pipe", inode: "372813" },
        call: "write",
        bytes: 1451,
        fd: 1,
        ok: true,
      },
      {
        kind: "access",
        ts: t("03:07:12.079991"),
        pid: 4805,
        op: "read",
        res: { type: "pipe", inode: "372813" },
        call: "read",
        bytes: 1451,
        fd: 0,
        ok: true,
      },
    ]);
    const pipe = g.nodes.find((n) => n.type === "pipe")!;
    expect(pipe.gid).toBe("pipe://vm1/b00t/372813");
    expect(g.rel("wasGeneratedBy", "write", pipe.id, g.gen(4804, 0)!.id)[0]!.bytes).toBe(1451);
    expect(g.rel("used", "read", g.gen(4805, 0)!.id, pipe.id)[0]!.bytes).toBe(1451);
    expect(g.rel("wasInformedBy", "vfork", g.gen(4804, 0)!.id)).toHaveLength(1);
  });

  it("sockets: a TCP listener and a connection seen from both ends are distinct from each other", () => {
    const g = run([
      { kind: "process.start", ts: 1, pid: 25890, ppid: null, via: "root" },
      {
        kind: "socket",
        ts: 2,
        pid: 25890,
        op: "bind",
        res: { type: "socket", family: "inet", protocol: "TCP", inode: "900" },
        address: "127.0.0.1:5000",
        call: "bind",
        ok: true,
      },
      {
        kind: "socket",
        ts: 3,
        pid: 25890,
        op: "listen",
        res: { type: "socket", family: "inet", protocol: "TCP", local: "127.0.0.1:5000", inode: "900" },
        call: "listen",
        ok: true,
      },
      {
        kind: "socket",
        ts: 4,
        pid: 25890,
        op: "connect",
        res: {
          type: "socket",
          family: "inet",
          protocol: "TCP",
          local: "127.0.0.1:41234",
          remote: "127.0.0.1:5000",
        },
        call: "connect",
        ok: true,
      },
      {
        kind: "socket",
        ts: 5,
        pid: 25890,
        op: "send",
        res: {
          type: "socket",
          family: "inet",
          protocol: "TCP",
          local: "127.0.0.1:41234",
          remote: "127.0.0.1:5000",
        },
        call: "sendto",
        bytes: 4,
        ok: true,
      },
      {
        kind: "socket",
        ts: 6,
        pid: 25890,
        op: "recv",
        res: {
          type: "socket",
          family: "inet",
          protocol: "TCP",
          local: "127.0.0.1:5000",
          remote: "127.0.0.1:41234",
        },
        call: "recvfrom",
        bytes: 4,
        ok: true,
      },
    ]);
    const socks = g.nodes.filter((n) => n.type === "socket");
    expect(socks.map((s) => s.gid).sort()).toEqual([
      "tcp://vm1/127.0.0.1:41234->127.0.0.1:5000",
      "tcp://vm1/127.0.0.1:5000",
    ]);
    const listener = socks.find((s) => s.gid === "tcp://vm1/127.0.0.1:5000")!;
    expect(listener.attrs.role).toBe("listening");
    const conn = socks.find((s) => s.attrs.remote)!;
    expect(conn.attrs.role).toBe("connected");
    const p = g.procs[0]!;
    expect(g.rel("wasGeneratedBy", "send", conn.id, p.id)[0]!.bytes).toBe(4);
    expect(g.rel("used", "recv", p.id, conn.id)[0]!.bytes).toBe(4); // the server end is the same connection
  });

  it("a unix socket bind creates its file (pyproc s.sock), unlink deletes it", () => {
    const P = "/tmp/pf-fidelity/pyproc";
    const g = run([
      { kind: "process.start", ts: 1, pid: 4803, ppid: null, via: "root" },
      { kind: "process.chdir", ts: 1, pid: 4803, cwd: P },
      {
        kind: "socket",
        ts: t("03:07:12.083547"),
        pid: 4803,
        op: "bind",
        res: { type: "socket", family: "unix", protocol: "UNIX-STREAM", inode: "372817" },
        address: "s.sock",
        call: "bind",
        ok: true,
      },
      {
        kind: "socket",
        ts: t("03:07:12.083798"),
        pid: 4803,
        op: "listen",
        res: { type: "socket", family: "unix", protocol: "UNIX-STREAM", inode: "372817", path: "s.sock" },
        call: "listen",
        ok: true,
      },
      {
        kind: "access",
        ts: t("03:07:12.088725"),
        pid: 4803,
        op: "delete",
        res: { type: "file", path: `${P}/s.sock` },
        call: "unlink",
        ok: true,
      },
    ]);
    const s = g.nodes.find((n) => n.type === "socket")!;
    expect(s.attrs.role).toBe("listening");
    expect(s.attrs.path).toBe(`${P}/s.sock`);
    expect(g.access(`${P}/s.sock`)).toMatchObject({ created: true, deleted: true });
  });

  it("problems are passed on at drain time, with file and line", () => {
    const b = new GraphBuilder({ ctx });
    b.add([
      {
        kind: "problem",
        at: { file: "pipeline.strace", line: 59 },
        message: "unparsable line",
        text: "clone(",
      },
    ]);
    const batch = b.drain();
    expect(batch.problems).toEqual([
      { file: "pipeline.strace", line: 59, message: "unparsable line", text: "clone(" },
    ]);
    expect(b.drain().problems).toHaveLength(0);
    expect(b.stats.problems).toBe(1);
  });

  it("steps fold consecutive calls per process, interleaving does not break them", () => {
    const b = new GraphBuilder({ ctx });
    const call = (
      ts: number,
      pid: number,
      name: string,
      resource: string,
      bytes = 0,
      ok = true,
    ): ProvEvent => ({
      kind: "call",
      ts,
      pid,
      name,
      resource,
      bytes,
      ok,
      ret: ok ? String(bytes) : "-1",
      dur: 10,
      ...(ok ? {} : { errno: "EAGAIN" }),
    });
    b.add([
      call(1, 25898, "read", "/etc/passwd", 4096),
      call(2, 25899, "write", "pipe:[1]", 10),
      call(3, 25898, "read", "/etc/passwd", 4096),
      call(4, 25899, "write", "pipe:[1]", 10),
      call(5, 25898, "read", "/etc/passwd", 0, false),
      call(6, 25898, "close", "/etc/passwd"),
    ]);
    const s1 = b.drain().steps;
    expect(s1).toHaveLength(1);
    expect(s1[0]).toMatchObject({
      seq: 1,
      pid: 25898,
      call: "read",
      count: 3,
      bytes: 8192,
      errors: 1,
      start: 1,
      end: 15,
      dur: 30,
      ret: "-1",
    });
    const rest = b.finish().steps;
    expect(rest.map((s) => [s.seq, s.pid, s.call, s.count, s.start])).toEqual([
      [2, 25899, "write", 2, 2],
      [3, 25898, "close", 1, 6],
    ]);
    expect(b.stats.calls).toBe(6);
  });
});

describe("GraphBuilder bounded memory", () => {
  const corpus = join(CORPUS, "strace-local");
  const fold = (file: string, drainEvery: number) => {
    const parser = findFormat("strace")?.createParser({ file, ctx: { host: "vm1" } });
    if (!parser) throw new Error("no strace format");
    const lines = readFileSync(file, "utf8").split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const events: ProvEvent[] = [];
    for (let k = 0; k < lines.length; k += 500) events.push(...parser.push(lines.slice(k, k + 500), k + 1));
    events.push(...parser.end());
    const b = new GraphBuilder({ ctx: { host: "vm1" } });
    const nodes = new Map<number, GraphNode>();
    const edges = new Map<number, GraphEdge>();
    let steps = 0;
    const take = (batch: Batch) => {
      for (const n of batch.nodes) nodes.set(n.id, structuredClone(n));
      for (const e of batch.edges) edges.set(e.id, structuredClone(e));
      steps += batch.steps.length;
    };
    for (let k = 0; k < events.length; k += drainEvery) {
      b.add(events.slice(k, k + drainEvery));
      take(b.drain());
    }
    take(b.finish());
    return { b, nodes, edges, steps };
  };

  for (const name of ["make", "pipeline", "signals", "threads", "python-sockets", "attach-p"]) {
    it(`${name}.strace: draining every 7 events gives the graph of one drain, no relation twice`, () => {
      const file = `${corpus}/${name}.strace`;
      const once = fold(file, Number.MAX_SAFE_INTEGER);
      const often = fold(file, 7);
      expect(often.edges.size).toBe(once.edges.size);
      expect([...often.edges.values()]).toEqual([...once.edges.values()]);
      expect([...often.nodes.values()]).toEqual([...once.nodes.values()]);
      expect(often.steps).toBe(once.steps);
      const keys = new Set([...often.edges.values()].map((e) => `${e.type} ${e.op} ${e.from} ${e.to}`));
      expect(keys.size).toBe(often.edges.size);
      // after the end nothing of the processes is kept: every generation ended and was evicted
      const mem = often.b.memory();
      expect(mem).toMatchObject({ liveProcesses: 0, edgesKept: 0, ownedEdges: 0, openSteps: 0 });
    });
  }

  it("make.strace: ended processes leave only their pid → last generation; wait4 after exit still links", () => {
    // `awk '{print $1}' make.strace | sort -u | wc -l` → 10 pids; `grep -c '+++ exited'` → 10
    const g = fold(`${corpus}/make.strace`, 50);
    const procs = [...g.nodes.values()].filter((n) => n.type === "process");
    expect(new Set(procs.map((n) => n.attrs.pid)).size).toBe(10);
    expect(g.b.memory().endedPids).toBe(10);
    // every wait4 edge points at the last generation of a child that had exited before
    const waits = [...g.edges.values()].filter((e) => e.op === "wait");
    expect(waits.length).toBeGreaterThan(0);
    for (const w of waits) {
      const child = g.nodes.get(w.to);
      expect(child?.type).toBe("process");
      expect(child?.end).not.toBeNull();
      expect(child?.attrs.exitCode).toBe(0);
    }
  });
});
