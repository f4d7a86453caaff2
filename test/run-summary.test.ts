import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { formatSummary } from "../src/export/summary-format.js";
import { GraphBuilder } from "../src/graph/graph-builder.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { buildRunSummary } from "../src/graph/run-summary.js";
import type { Batch, RunRecord } from "../src/store/store-types.js";
import { CORPUS } from "./helpers/cli.js";

function t(clock: string): number {
  return Date.parse(`2026-11-23T${clock.slice(0, 8)}Z`) * 1000 + Number(clock.slice(9));
}
const P = "/tmp/pf-fidelity/pyproc";
const TMP = `${P}/.res-q5s2uy2f`; // mkstemp name of the strace capture (the audit capture had another)

// pyproc/full.strace, abridged: sh → python3; python vfork → ls | wc over pipe:[372813]; mkstemp + os.replace;
// a unix socket server thread; reply.txt written
const events: ProvEvent[] = [
  { kind: "process.start", ts: t("03:07:11.784500"), pid: 4802, ppid: null, via: "root" },
  {
    kind: "process.exec",
    ts: t("03:07:11.784599"),
    pid: 4802,
    exe: `${P}/pyproc.sh`,
    argv: ["./pyproc.sh"],
    ok: true,
    cwd: P,
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
  {
    kind: "access",
    ts: t("03:07:11.790000"),
    pid: 4803,
    op: "map",
    res: { type: "file", path: "/lib/x86_64-linux-gnu/libc.so.6" },
    call: "mmap",
    ok: true,
  },
  {
    kind: "pipe",
    ts: t("03:07:12.051847"),
    pid: 4803,
    res: { type: "pipe", inode: "372813" },
    fds: [3, 4],
    call: "pipe2",
  },
  { kind: "process.start", ts: t("03:07:12.052900"), pid: 4804, ppid: 4803, via: "vfork" },
  {
    kind: "process.exec",
    ts: t("03:07:12.056007"),
    pid: 4804,
    exe: "/usr/bin/ls",
    argv: ["ls", "-1", "/etc"],
    ok: true,
  },
  { kind: "process.start", ts: t("03:07:12.058600"), pid: 4805, ppid: 4803, via: "vfork" },
  {
    kind: "process.exec",
    ts: t("03:07:12.065079"),
    pid: 4805,
    exe: "/root/.cargo/bin/wc",
    argv: ["wc", "-l"],
    ok: false,
    errno: "ENOENT",
  },
  {
    kind: "process.exec",
    ts: t("03:07:12.065907"),
    pid: 4805,
    exe: "/usr/bin/wc",
    argv: ["wc", "-l"],
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:12.072911"),
    pid: 4804,
    op: "write",
    res: { type: "pipe", inode: "372813" },
    call: "write",
    bytes: 1451,
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:12.073659"), pid: 4804, code: 0 },
  {
    kind: "access",
    ts: t("03:07:12.079991"),
    pid: 4805,
    op: "read",
    res: { type: "pipe", inode: "372813" },
    call: "read",
    bytes: 1451,
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:12.081200"), pid: 4805, code: 0 },
  { kind: "process.wait", ts: t("03:07:12.081294"), pid: 4803, child: 4805, code: 0 },
  { kind: "process.wait", ts: t("03:07:12.081481"), pid: 4803, child: 4804, code: 0 },
  {
    kind: "access",
    ts: t("03:07:12.082155"),
    pid: 4803,
    op: "open",
    res: { type: "file", path: TMP },
    call: "openat",
    read: true,
    write: true,
    create: true,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:12.082900"),
    pid: 4803,
    op: "write",
    res: { type: "file", path: TMP },
    call: "write",
    bytes: 4,
    ok: true,
  },
  {
    kind: "rename",
    ts: t("03:07:12.083196"),
    pid: 4803,
    from: TMP,
    to: "result.txt",
    call: "rename",
    ok: true,
  },
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
  { kind: "thread.start", ts: t("03:07:12.084785"), pid: 4803, newTid: 4806 },
  {
    kind: "socket",
    ts: t("03:07:12.086238"),
    pid: 4806,
    op: "accept",
    res: {
      type: "socket",
      family: "unix",
      protocol: "UNIX-STREAM",
      local: "372818",
      remote: "372819",
      path: "s.sock",
    },
    call: "accept4",
    ok: true,
  },
  {
    kind: "socket",
    ts: t("03:07:12.086979"),
    pid: 4806,
    op: "send",
    res: {
      type: "socket",
      family: "unix",
      protocol: "UNIX-STREAM",
      local: "372818",
      remote: "372819",
      path: "s.sock",
    },
    call: "sendto",
    bytes: 4,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:12.087020"),
    pid: 4803,
    op: "open",
    res: { type: "file", path: `${P}/reply.txt` },
    call: "openat",
    write: true,
    create: true,
    truncate: true,
    ok: true,
  },
  {
    kind: "access",
    ts: t("03:07:12.087400"),
    pid: 4803,
    op: "write",
    res: { type: "file", path: `${P}/reply.txt` },
    call: "write",
    bytes: 4,
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:12.087925"), pid: 4806, code: 0 },
  {
    kind: "access",
    ts: t("03:07:12.088725"),
    pid: 4803,
    op: "delete",
    res: { type: "file", path: "s.sock" },
    call: "unlink",
    ok: true,
  },
  { kind: "process.exit", ts: t("03:07:12.096124"), pid: 4803, code: 0 },
  { kind: "process.wait", ts: t("03:07:12.096188"), pid: 4802, child: 4803, code: 0 },
  { kind: "process.exit", ts: t("03:07:12.096658"), pid: 4802, code: 0 },
  { kind: "problem", at: { file: "full.strace", line: 7 }, message: "test problem" },
];

function graph(): { nodes: GraphNode[]; edges: GraphEdge[]; b: GraphBuilder } {
  const b = new GraphBuilder({ ctx: { host: "vm1", cwd: P }, user: { uid: 0, name: "root" } });
  const nodes = new Map<number, GraphNode>();
  const edges = new Map<number, GraphEdge>();
  const take = (x: Batch) => {
    for (const n of x.nodes) nodes.set(n.id, structuredClone(n));
    for (const e of x.edges) edges.set(e.id, structuredClone(e));
  };
  b.add(events);
  take(b.drain());
  take(b.finish());
  return { nodes: [...nodes.values()], edges: [...edges.values()], b };
}

const run: RunRecord = {
  id: 3,
  name: "pyproc",
  source: "strace",
  command: ["./pyproc.sh"],
  tracerCommand: null,
  host: "vm1",
  machineId: null,
  bootId: null,
  cwd: P,
  user: "root",
  start: t("03:07:11.784500"),
  end: t("03:07:12.096658"),
  exitCode: 0,
  exitSignal: null,
  status: "complete",
  stats: { lines: 2735, bytes: 321705, events: events.length, calls: 0, problems: 1 },
  nodeCount: 0,
  edgeCount: 0,
};

describe("buildRunSummary", () => {
  const { nodes, edges } = graph();
  const s = buildRunSummary(run, nodes, edges);

  it("keeps the keys other tools rely on", () => {
    const j = JSON.parse(formatSummary(s, "json"));
    expect(Object.keys(j.run)).toEqual(
      expect.arrayContaining(["id", "command", "host", "start", "end", "exitCode"]),
    );
    expect(j.run.start).toBe("2026-11-23T03:07:11.784500Z");
    for (const p of j.processes) {
      expect(Object.keys(p)).toEqual(
        expect.arrayContaining(["pid", "ppid", "exe", "argv", "cwd", "start", "end", "exit", "generation"]),
      );
    }
    for (const f of j.files) {
      expect(Object.keys(f)).toEqual(
        expect.arrayContaining([
          "path",
          "category",
          "read",
          "written",
          "created",
          "deleted",
          "executed",
          "renamedTo",
        ]),
      );
      expect(f.path.startsWith("/")).toBe(true);
    }
    expect(Object.keys(j.sockets[0])).toEqual(expect.arrayContaining(["family", "local", "remote", "role"]));
    expect(j.problems).toBe(1);
  });

  it("processes: one entry per exec generation with exit", () => {
    const py = s.processes.find((p) => p.pid === 4803 && p.generation === 1)!;
    expect(py.exe).toBe("/usr/bin/python3");
    expect(py.exit).toEqual({ code: 0 });
    expect(py.threads).toEqual([4806]);
    expect(py.start).toBe("2026-11-23T03:07:11.788658Z");
    expect(s.processes.filter((p) => p.pid === 4805).map((p) => p.generation)).toEqual([0, 1]);
    expect(s.counts.processes).toBe(4);
  });

  it("matches the kernel oracle (pyproc/oracle.json) for exec, created, deleted, renamed", () => {
    const oracle = JSON.parse(readFileSync(join(CORPUS, "fidelity/pyproc/oracle.json"), "utf8")) as {
      executed: string[];
      created: string[];
      deleted: string[];
      renamed: [string, string][];
    };
    const realName = (p: string) => p.replace(/\.res-[a-z0-9_]{8}$/, ".res-RANDOM");
    const exes = new Set([
      ...s.files.filter((f) => f.executed).map((f) => f.path),
      ...s.processes.flatMap((p) => p.exe ?? []),
    ]);
    // the kernel names python3's target and dash; the log names what was called
    expect([...exes].filter((e) => e.startsWith("/usr/bin/")).sort()).toEqual([
      "/usr/bin/ls",
      "/usr/bin/python3",
      "/usr/bin/wc",
    ]);
    expect(oracle.executed).toEqual(
      expect.arrayContaining(["/usr/bin/ls", "/usr/bin/wc", "/usr/bin/python3.11"]),
    );
    const under = (p: string) => p.startsWith(P);
    expect(
      s.files
        .filter((f) => f.created && under(f.path))
        .map((f) => realName(f.path))
        .sort(),
    ).toEqual(oracle.created.map(realName).sort());
    expect(s.files.filter((f) => f.deleted && under(f.path)).map((f) => f.path)).toEqual(oracle.deleted);
    expect(s.files.filter((f) => f.renamedTo).map((f) => [realName(f.path), f.renamedTo])).toEqual(
      oracle.renamed.map(([a, b]) => [realName(a), b]),
    );
  });

  it("pipes between processes and sockets with peers", () => {
    expect(s.pipes).toEqual([{ inode: "372813", writers: [4804], readers: [4805], bytes: 1451 }]);
    const listener = s.sockets.find((k) => k.role === "listening")!;
    expect(listener.path).toBe(`${P}/s.sock`);
    const conn = s.sockets.find((k) => k.role === "connected")!;
    expect(conn).toMatchObject({ local: "372818", remote: "372819", pids: [4803], bytesSent: 4 });
    expect(s.sharedLibraries).toEqual(["/lib/x86_64-linux-gnu/libc.so.6"]);
    expect(s.filesByCategory.temporary).toEqual(
      expect.arrayContaining([`${P}/reply.txt`, `${P}/result.txt`]),
    );
    expect(s.files.find((f) => f.path === "/root/.cargo/bin/wc")!.probedOnly).toBe(true);
  });

  it("txt shows the process tree indented by parent", () => {
    const txt = formatSummary(s, "txt");
    const lines = txt.split("\n");
    const i = lines.findIndex((l) => l.includes("[4802] ./pyproc.sh"));
    expect(i).toBeGreaterThan(0);
    expect(lines[i + 1]).toMatch(/^ {4}\[4803\] \/usr\/bin\/python3 - +\(0\.30\d s, exit 0\)/);
    expect(lines.some((l) => /^ {6}\[4804\] ls -1 \/etc/.test(l))).toBe(true);
    expect(txt).toContain("pipe:[372813]  4804 -> 4805  1451 B");
  });

  it("XML is well-formed (parsed back by python's minidom), with escaping", () => {
    const tricky = { ...s, run: { ...s.run, command: ["sh", "-c", "a < b && echo \"x\" 'y' \u0001"] } };
    const xml = formatSummary(tricky, "xml");
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<provflow-summary')).toBe(true);
    const file = join(tmpdir(), `pf-summary-${process.pid}.xml`);
    writeFileSync(file, xml);
    const out = execFileSync(
      "/usr/bin/python3",
      [
        "-c",
        "import xml.dom.minidom,sys; d=xml.dom.minidom.parse(sys.argv[1]); r=d.documentElement; print(r.tagName, len(r.getElementsByTagName('process')), r.getElementsByTagName('arg')[2].firstChild.data)",
        file,
      ],
      { encoding: "utf8" },
    );
    expect(out.trim()).toBe("provflow-summary 4 a < b && echo \"x\" 'y' \\x01");
  });
});
