import { describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { EbpfLogParser, quoteC } from "../src/sources/ebpf/ebpf-line-parser.js";
import { ebpfFormat } from "../src/sources/ebpf/ebpf-source.js";
import { detectFormat } from "../src/sources/source-registry.js";

/** The eBPF source on hand-written lines of share/provflow.bt's output (x86_64 call numbers). */

const T = (...f: Array<string | number>) => f.join("\t");
// the monotonic clock starts at 1 s; the header's offset puts it at 2026-01-01T00:00:00Z
const OFFSET = `${Date.UTC(2026, 0, 1) * 1_000_000 - 1_000_000_000}`;
const NS = (ms: number) => 1_000_000_000 + ms * 1_000_000;
const AT_FDCWD_RAW = "4294967196";

function parse(lines: string[], batch = lines.length): { events: ProvEvent[]; parser: EbpfLogParser } {
  const parser = new EbpfLogParser({ file: "t.ebpf", ctx: { host: "h", cwd: "/ignored", clock: "epoch" } });
  const events: ProvEvent[] = [];
  for (let i = 0; i < lines.length; i += batch) events.push(...parser.push(lines.slice(i, i + batch), i + 1));
  events.push(...parser.end());
  return { events, parser };
}

const LOG = [
  "Attaching 11 probes...",
  T("H", OFFSET, 99, 1, "/work"),
  // the root (pid 100) execs make with its argv
  T("A", NS(1), 100, 0, "make"),
  T("A", NS(1), 100, 1, "-j2"),
  T("S", NS(1), 100, 100, 59, AT_FDCWD_RAW, 0, 0, "/usr/bin/make"),
  T("E", NS(2), 100, 100, "-", 0),
  // chdir into build, then openat(dirfd of "src") creating out.o: FMODE_CREATED said yes
  T("S", NS(3), 100, 100, 80, AT_FDCWD_RAW, 0, 0, "build"),
  T("E", NS(3), 100, 100, "-", 0),
  T("S", NS(4), 100, 100, 257, AT_FDCWD_RAW, 65536, 0, "src"),
  T("E", NS(4), 100, 100, "open", 3, 0),
  T("S", NS(5), 100, 100, 257, 3, 577, 0, "out.o"),
  T("E", NS(5), 100, 100, "open", 4, 1),
  // an O_CREAT open of an existing file: not created
  T("S", NS(6), 100, 100, 257, AT_FDCWD_RAW, 577, 0, "old.txt"),
  T("E", NS(6), 100, 100, "open", 5, 0),
  // bytes summed in the kernel, flushed at close
  T("R", NS(7), 100, 100, 4, 0, 4096),
  T("S", NS(7), 100, 100, 3, 4, 0, 0, ""),
  T("E", NS(7), 100, 100, "-", 0),
  // a fork, whose child's first line comes before the parent's task line (another CPU's buffer)
  T("S", NS(9), 101, 101, 263, AT_FDCWD_RAW, 0, 0, "tmp.x"),
  T("F", NS(8), 100, 100, 101, "1200000"),
  T("E", NS(9), 101, 101, "-", -2),
  // rename with its second path on a P line
  T("S", NS(10), 101, 101, 316, AT_FDCWD_RAW, 0, 0, "a.txt"),
  T("P", NS(10), 101, AT_FDCWD_RAW, "b.txt"),
  T("E", NS(10), 101, 101, "-", 0),
  // connect to [::1]:8080 (port in network order, the address as two little-endian words)
  T("S", NS(11), 101, 101, 41, 10, 1, 0, ""),
  T("E", NS(11), 101, 101, "-", 6),
  T("N", NS(12), 101, "0", "100000000000000"),
  T("S", NS(12), 101, 101, 42, 6, 10, 36895, ""),
  T("E", NS(12), 101, 101, "-", 0),
  T("R", NS(13), 101, 101, 6, 10, 20),
  "Lost 7 events",
  // the child is killed by SIGKILL, the root exits 2
  T("X", NS(14), 101, 101, 9, 1),
  T("X", NS(15), 100, 100, 512, 1),
  "this is not ours",
  T("Z", NS(16)),
];

describe("eBPF source", () => {
  it("is detected from its header line and named", () => {
    expect(ebpfFormat.detect(LOG.slice(0, 5), "x.log")).toBe(1);
    expect(detectFormat(LOG.slice(0, 20), "run.log")?.format.kind).toBe("ebpf");
    expect(ebpfFormat.detect(['execve("/bin/ls", ["ls"], 0x7ffd /* 10 vars */) = 0'], "x")).toBe(0);
  });

  for (const batch of [LOG.length, 1, 3]) {
    it(`turns the lines into the strace pipeline's events (batches of ${batch})`, () => {
      const { events, parser } = parse(LOG, batch);
      const exec = events.find((e) => e.kind === "process.exec");
      expect(exec).toMatchObject({ pid: 100, exe: "/usr/bin/make", argv: ["make", "-j2"], cwd: "/work" });
      expect(exec?.ts).toBe(Date.UTC(2026, 0, 1) * 1000 + 1000);
      const opens = events.filter((e) => e.kind === "access" && e.op === "open");
      expect(opens.map((e) => e.kind === "access" && [e.res, e.create, e.fd])).toEqual([
        [{ type: "file", path: "/work/build/src" }, undefined, 3],
        [{ type: "file", path: "/work/build/src/out.o" }, true, 4],
        [{ type: "file", path: "/work/build/old.txt" }, false, 5],
      ]);
      const writes = events.filter((e) => e.kind === "access" && e.op === "write");
      expect(writes).toMatchObject([{ res: { path: "/work/build/src/out.o" }, bytes: 4096, fd: 4 }]);
      const child = events.find((e) => e.kind === "process.start" && e.pid === 101);
      expect(child).toMatchObject({ ppid: 100, via: "clone" });
      // the child inherited the cwd; unlink failed with ENOENT
      const del = events.find((e) => e.kind === "access" && e.op === "delete");
      expect(del).toMatchObject({ pid: 101, res: { path: "/work/build/tmp.x" }, ok: false, errno: "ENOENT" });
      expect(events.find((e) => e.kind === "rename")).toMatchObject({
        from: "/work/build/a.txt",
        to: "/work/build/b.txt",
        ok: true,
      });
      const connect = events.find((e) => e.kind === "socket" && e.op === "connect");
      expect(connect).toMatchObject({ address: "[::1]:8080", res: { family: "inet6", protocol: "TCPv6" } });
      const io = events.filter((e) => e.kind === "socket" && (e.op === "send" || e.op === "recv"));
      expect(io.map((e) => e.kind === "socket" && [e.op, e.bytes])).toEqual([
        ["recv", 10],
        ["send", 20],
      ]);
      const exits = events.filter((e) => e.kind === "process.exit");
      expect(exits).toMatchObject([
        { pid: 101, signal: "SIGKILL" },
        { pid: 100, code: 2 },
      ]);
      const problems = events.filter((e) => e.kind === "problem");
      expect(problems.map((p) => p.kind === "problem" && [p.at.line, p.message])).toEqual([
        [30, "the kernel dropped 7 events (bpftrace's buffer was full): the trace is incomplete"],
        [33, "not a line of provflow's eBPF program"],
      ]);
      expect(parser.runStats()).toEqual({ lost: 7 });
    });
  }

  it("takes the leftover sums bpftrace prints at the end, and reports lines it cannot read", () => {
    const { events } = parse([
      T("H", OFFSET, 99, 1, "/w"),
      T("S", NS(1), 7, 7, 257, AT_FDCWD_RAW, 0, 0, "in.txt"),
      T("E", NS(1), 7, 7, "open", 70, 0),
      T("X", NS(2), 7, 7, 0, 1),
      T("S", "soon", 7, 7, 3, 70, 0, 0, ""),
      T("S", NS(3), 7, 7, 999, 0, 0, 0, ""),
      "@rb[7, 70]: 12345",
    ]);
    expect(events.find((e) => e.kind === "access" && e.op === "read")).toMatchObject({
      res: { path: "/w/in.txt" },
      bytes: 12345,
      fd: 70,
    });
    expect(events.filter((e) => e.kind === "problem").map((p) => p.kind === "problem" && p.message)).toEqual([
      "eBPF line without a time",
      "unknown system call number 999",
    ]);
  });
  it("takes whole calls printed at their return (O: opens, C: close, fcntl) as an S and an E line", () => {
    const { events } = parse([
      T("H", OFFSET, 99, 1, "/w"),
      // an open printed at its return: openat(AT_FDCWD, "out.txt", O_CREAT|O_TRUNC|O_WRONLY) = 3, created
      T("O", NS(1), 7, 7, 257, AT_FDCWD_RAW, 577, 3, 1, "out.txt"),
      // fcntl(3, F_DUPFD, 10) = 10, close(3) = 0, a failed close(3) = -EBADF
      T("C", NS(2), 7, 7, 72, 3, 0, 10, 10),
      T("C", NS(3), 7, 7, 3, 3, 0, 0, 0),
      T("C", NS(4), 7, 7, 3, 3, 0, 0, -9),
      T("R", NS(5), 7, 7, 10, 0, 100),
      // fcntl(10, F_SETFD, FD_CLOEXEC): the exec closes fd 10, whose later write is on no known file
      T("C", NS(6), 7, 7, 72, 10, 2, 1, 0),
      T("S", NS(7), 7, 7, 59, AT_FDCWD_RAW, 0, 0, "/bin/true"),
      T("E", NS(7), 7, 7, "-", 0),
      T("R", NS(8), 7, 7, 10, 0, 200),
      T("C", NS(9), 7, 7, 999, 0, 0, 0, 0),
      T("X", NS(10), 7, 7, 0, 1),
    ]);
    const opens = events.filter((e) => e.kind === "access" && e.op === "open");
    expect(opens).toMatchObject([{ res: { path: "/w/out.txt" }, create: true, fd: 3, ok: true }]);
    const writes = events.filter((e) => e.kind === "access" && e.op === "write");
    expect(writes.map((e) => e.kind === "access" && [e.fd, e.bytes, e.res])).toEqual([
      [10, 100, { type: "file", path: "/w/out.txt" }],
      [10, 200, { type: "unknown", name: "fd:10@7" }],
    ]);
    expect(events.filter((e) => e.kind === "problem").map((p) => p.kind === "problem" && p.message)).toEqual([
      "unknown system call number 999",
    ]);
  });

  it("takes a close's read and write sums (its C line's x1, x2) as reads and writes on the fd before it is closed", () => {
    const { events } = parse([
      T("H", OFFSET, 99, 1, "/w"),
      T("O", NS(1), 7, 7, 257, AT_FDCWD_RAW, 0, 3, 0, "in.txt"),
      // close(3) = 0 after 500 bytes read
      T("C", NS(2), 7, 7, 3, 3, 500, 0, 0),
      // fd 3 again, another file: 7 bytes written, 2 read, then a close without sums
      T("O", NS(3), 7, 7, 257, AT_FDCWD_RAW, 577, 3, 1, "out.txt"),
      T("C", NS(4), 7, 7, 3, 3, 2, 7, 0),
      T("C", NS(5), 7, 7, 3, 3, 0, 0, -9),
      T("X", NS(6), 7, 7, 0, 1),
    ]);
    // taken after the close, fd 3 would name no file (or the file closed before)
    const io = events.filter((e) => e.kind === "access" && (e.op === "read" || e.op === "write"));
    expect(io.map((e) => e.kind === "access" && [e.op, e.fd, e.bytes, e.res])).toEqual([
      ["read", 3, 500, { type: "file", path: "/w/in.txt" }],
      ["read", 3, 2, { type: "file", path: "/w/out.txt" }],
      ["write", 3, 7, { type: "file", path: "/w/out.txt" }],
    ]);
  });

  it("quotes paths as strace does: plain ones as they are, quotes, backslashes and controls escaped", () => {
    expect(quoteC("/usr/include/stdio.h")).toBe('"/usr/include/stdio.h"');
    expect(quoteC("é ü/x")).toBe('"é ü/x"');
    expect(quoteC("")).toBe('""');
    expect(quoteC('a"b\\c\nd\te\u0001')).toBe('"a\\"b\\\\c\\nd\\te\\001"');
  });

  it("keeps paths with tabs, quotes and newlines whole, on O, S and P lines", () => {
    const { events } = parse([
      T("H", OFFSET, 99, 1, "/w"),
      T("O", NS(1), 7, 7, 257, AT_FDCWD_RAW, 0, 3, 0, "a\tb", 'c"d'),
      T("S", NS(2), 7, 7, 316, AT_FDCWD_RAW, 0, 0, "x\\y", "z"),
      T("P", NS(2), 7, AT_FDCWD_RAW, "n\nl", "t"),
      T("E", NS(2), 7, 7, "-", 0),
      T("O", NS(3), 7, 7, 257, AT_FDCWD_RAW, 0, 4, 0),
      T("X", NS(4), 7, 7, 0, 1),
    ]);
    const opens = events.filter((e) => e.kind === "access" && e.op === "open");
    expect(opens.map((e) => e.kind === "access" && e.res)).toEqual([
      { type: "file", path: '/w/a\tb\tc"d' },
      { type: "file", path: "/w" },
    ]);
    expect(events.find((e) => e.kind === "rename")).toMatchObject({ from: "/w/x\\y\tz", to: "/w/n\nl\tt" });
  });

  it("reads the time field in place: lines sorted by it across batches, odd fields as Number reads them", () => {
    const lines = [
      T("H", OFFSET, 99, 1, "/w"),
      // the second open was printed first (another CPU's buffer); 1e9 is Number's reading of 1000000000
      T("O", NS(2), 7, 7, 257, AT_FDCWD_RAW, 0, 4, 0, "second"),
      T("O", "1e9", 7, 7, 257, AT_FDCWD_RAW, 0, 3, 0, "zeroth"),
      T("O", NS(1), 7, 7, 257, AT_FDCWD_RAW, 0, 3, 0, "first"),
      T("O", "-5", 7, 7, 257, AT_FDCWD_RAW, 0, 6, 0, "before"),
      T("O", "", 7, 7, 257, AT_FDCWD_RAW, 0, 5, 0, "untimed"),
      T("O", "12x", 7, 7, 257, AT_FDCWD_RAW, 0, 6, 0, "bad"),
      T("X", NS(3), 7, 7, 0, 1),
    ];
    for (const batch of [1, 2, lines.length]) {
      const { events } = parse(lines, batch);
      const opens = events.filter((e) => e.kind === "access" && e.op === "open");
      expect(opens.map((e) => e.kind === "access" && e.res.type === "file" && e.res.path)).toEqual([
        "/w/before",
        "/w/untimed",
        "/w/zeroth",
        "/w/first",
        "/w/second",
      ]);
      expect(
        events.filter((e) => e.kind === "problem").map((p) => p.kind === "problem" && p.at.line),
      ).toEqual([7]);
    }
  });
});
