import { describe, expect, it } from "vitest";
import { decodeCString, parseStringArray } from "../src/sources/strace/c-string.js";
import { parseFdDecoration, splitArgs } from "../src/sources/strace/strace-args.js";
import {
  isSyscallRecord,
  type JoinerItem,
  StraceCallJoiner,
} from "../src/sources/strace/strace-call-joiner.js";
import { detectStraceStyle } from "../src/sources/strace/strace-detect.js";
import {
  createLineState,
  NO_PID,
  parseReturn,
  parseStraceLine,
  type StraceLine,
} from "../src/sources/strace/strace-line-parser.js";
import type { SyscallRecord } from "../src/sources/syscalls/syscall-record.js";

const p = (line: string, date?: string): StraceLine => parseStraceLine(line, createLineState(date), 7);

function join(lines: string[], opts = {}): JoinerItem[] {
  const j = new StraceCallJoiner(opts);
  return [...j.push(lines, 1), ...j.end()];
}
const records = (items: JoinerItem[]): SyscallRecord[] => items.filter(isSyscallRecord);

describe("prefixes and clocks", () => {
  it("PID + -tt + -T + -y (strace-local/pipeline.strace line 5)", () => {
    const r = p(
      '25898 02:27:14.830125 openat(AT_FDCWD</tmp/pfwork>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache> <0.000075>',
      "2026-11-23",
    );
    expect(r).toMatchObject({
      kind: "call",
      pid: 25898,
      name: "openat",
      args: 'AT_FDCWD</tmp/pfwork>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC',
      ret: "3</etc/ld.so.cache>",
      retval: 3,
      dur: 75,
    });
    expect(r.ts).toBe(Date.UTC(2026, 10, 23, 2, 27, 14) * 1000 + 830125);
  });

  it("padded pid (gitlab bench_data.strace line 2) and restart_syscall", () => {
    const r = p("826   00:09:47.789757 restart_syscall(<... resuming interrupted poll ...> <unfinished ...>");
    expect(r).toMatchObject({
      kind: "unfinished",
      pid: 826,
      name: "restart_syscall",
      args: "<... resuming interrupted poll ...>",
    });
    expect(r.ts).toBe((9 * 60 + 47) * 1_000_000 + 789757);
  });

  it("[pid  N] stderr style (strace-process-tree test_snippets.strace) and no clock", () => {
    const r = p(
      '[pid   123] execve("bin/test", ["bin/test", "-pvc", "-t", "allowhosts.txt"], 0x7fffa04e8ba0 /* 71 vars */) = 0',
    );
    expect(r).toMatchObject({ kind: "call", pid: 123, name: "execve", ret: "0", retval: 0, ts: 7 });
  });

  it("-Y PID<comm> (strace-local/pipeline-Y-comm.strace line 2)", () => {
    const r = p("26397<sh> 02:27:29.246380 brk(NULL)     = 0x55e1bc25f000 <0.000037>");
    expect(r).toMatchObject({
      kind: "call",
      pid: 26397,
      comm: "sh",
      name: "brk",
      retval: 0x55e1bc25f000,
      dur: 37,
    });
  });

  it("-ttt epoch without pid (-ff file strace-local/pipeline-ff/trace.25944)", () => {
    const r = p("1795400834.994549 brk(NULL)             = 0x56098699f000 <0.000054>");
    expect(r).toMatchObject({ kind: "call", pid: NO_PID, ts: 1795400834994549, ret: "0x56098699f000" });
  });

  it("-t seconds and -r relative clocks, midnight roll-over", () => {
    const st = createLineState("2018-05-08");
    const a = parseStraceLine("23:59:59 brk(NULL) = 0x1", st);
    const b = parseStraceLine("00:00:01 brk(NULL) = 0x1", st);
    expect(b.ts - a.ts).toBe(2_000_000);
    expect(st.clock).toBe("time-of-day");
    const rs = createLineState();
    parseStraceLine('     0.000000 execve("/bin/true", ["true"], 0x7ffd /* 1 var */) = 0', rs);
    const r2 = parseStraceLine("     0.000250 brk(NULL)                 = 0x5581", rs);
    expect(rs.clock).toBe("relative");
    expect(r2.ts).toBe(250);
  });
});

describe("bodies", () => {
  it("unfinished / resumed with and without a space (strace-process-tree test_snippets.strace)", () => {
    expect(p("230473 02:47:49 <... vfork resumed>)    = 230474")).toMatchObject({
      kind: "resumed",
      name: "vfork",
      args: "",
      retval: 230474,
    });
    expect(p("27370 13:53:27.214899 <... execve resumed> ) = 0 <0.000132>")).toMatchObject({
      kind: "resumed",
      name: "execve",
      args: " ",
      ret: "0",
    });
  });

  it("= ? <unavailable> and ERESTARTSYS", () => {
    expect(p("230473 02:47:49 <... futex resumed>)    = ? <unavailable>")).toMatchObject({
      kind: "resumed",
      ret: "?",
      incomplete: true,
    });
    // survol dockit_proftpd.strace.26299.log line 1
    const r = p(
      "14:09:40.614998 select(1, [0<TCPv6:[:::21]>], NULL, NULL, {tv_sec=25, tv_usec=990631}) = ? ERESTARTNOHAND (To be restarted if no handler) <0.990357>",
    );
    expect(r).toMatchObject({
      kind: "call",
      ret: "?",
      errno: "ERESTARTNOHAND",
      incomplete: true,
      dur: 990357,
    });
  });

  it("errno returns and extra return text", () => {
    expect(parseReturn("-1 ENOENT (No such file or directory)")).toEqual({
      ret: "-1",
      retval: -1,
      errno: "ENOENT",
      incomplete: false,
    });
    expect(parseReturn("0 (Timeout)")).toEqual({ ret: "0 (Timeout)", retval: 0, incomplete: false });
    expect(parseReturn("0x7f08bc24d000").retval).toBe(0x7f08bc24d000);
    expect(parseReturn("25907")).toEqual({ ret: "25907", retval: 25907, incomplete: false });
  });

  it("signals, exits, kills, attach messages, detached calls", () => {
    expect(
      p(
        "26361 02:27:27.528069 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=26379, si_uid=0} ---",
      ),
    ).toMatchObject({
      kind: "signal",
      signal: "SIGCHLD",
      info: "{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=26379, si_uid=0}",
    });
    expect(p("8216  +++ exited with 0 +++")).toMatchObject({ kind: "exited", pid: 8216, code: 0 });
    // strace-local/signals.strace
    expect(p("26201 02:27:19.170028 +++ killed by SIGKILL +++")).toMatchObject({
      kind: "killed",
      signal: "SIGKILL",
      coreDumped: false,
    });
    expect(p("123 +++ killed by SIGSEGV (core dumped) +++")).toMatchObject({
      kind: "killed",
      coreDumped: true,
    });
    expect(p("strace: Process 27369 attached")).toMatchObject({ kind: "attached", pid: 27369 });
    // strace-local/attach-p.strace last line
    expect(
      p(
        "26393 02:27:29.212781 clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=300000000},  <detached ...>",
      ),
    ).toMatchObject({
      kind: "unfinished",
      detached: true,
      args: "CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=300000000},",
    });
  });

  it("garbage and cut lines", () => {
    expect(p("### from tests.py::test_events").kind).toBe("garbage");
    expect(p("27369 42").kind).toBe("garbage");
    // strace-local/pipeline-stderr.strace line 59
    const r = p(
      "02:27:14.904172 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLDstrace: Process 25907 attached",
    );
    expect(r).toMatchObject({ kind: "partial", splicedPid: 25907, splicedWhat: "attached" });
    expect((r as { text: string }).text.endsWith("SIGCHLD")).toBe(true);
  });
});

describe("argument helpers", () => {
  it("splits nested decorations, strings, structs and comments", () => {
    expect(
      splitArgs(
        '3</dev/null<char 1:3>>, "a,\\"b\\"", [1, 2], {st_mode=S_IFREG|0644, st_size=3}, 0x7ff /* 35 vars */',
      ),
    ).toEqual([
      "3</dev/null<char 1:3>>",
      '"a,\\"b\\""',
      "[1, 2]",
      "{st_mode=S_IFREG|0644, st_size=3}",
      "0x7ff /* 35 vars */",
    ]);
    // -yy sockets (strace-local/python-sockets.strace) and UNIX sockets
    expect(splitArgs('3<TCP:[127.0.0.1:5000->127.0.0.1:41234]>, "x"..., 4096, 0, NULL, NULL')).toEqual([
      "3<TCP:[127.0.0.1:5000->127.0.0.1:41234]>",
      '"x"...',
      "4096",
      "0",
      "NULL",
      "NULL",
    ]);
    expect(
      splitArgs(
        '4<UNIX:[123,"/run/a,b"]>, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 1<<CAP_CHOWN|1<<CAP_KILL, 0',
      ),
    ).toEqual([
      '4<UNIX:[123,"/run/a,b"]>',
      "[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]",
      "1<<CAP_CHOWN|1<<CAP_KILL",
      "0",
    ]);
    expect(splitArgs("")).toEqual([]);
  });

  it("fd decorations", () => {
    expect(parseFdDecoration("3</etc/passwd>")).toEqual({ fd: 3, path: "/etc/passwd" });
    expect(parseFdDecoration("AT_FDCWD</tmp/pfwork>")).toEqual({ fd: -100, path: "/tmp/pfwork" });
    expect(parseFdDecoration("1</dev/null<char 1:3>>")).toEqual({
      fd: 1,
      path: "/dev/null",
      detail: "char 1:3",
    });
    expect(parseFdDecoration("3<TCP:[127.0.0.1:5000->127.0.0.1:41234]>")).toEqual({
      fd: 3,
      path: "TCP:[127.0.0.1:5000->127.0.0.1:41234]",
    });
    expect(parseFdDecoration("7")).toEqual({ fd: 7 });
    expect(parseFdDecoration("NULL")).toBeNull();
  });

  it("C strings: escapes, octal, -xx hex, truncation", () => {
    expect(decodeCString('"a\\tb\\n\\"q\\"\\\\"')).toBe('a\tb\n"q"\\');
    expect(decodeCString('"caf\\303\\251"')).toBe("café");
    // strace-local/python-xx-ttt.strace: argv[0] of the first execve
    expect(decodeCString('"\\x70\\x79\\x74\\x68\\x6f\\x6e\\x33"')).toBe("python3");
    expect(decodeCString('"abc"...')).toBe("abc");
  });

  it("string arrays: argv, truncated, old-style env count", () => {
    expect(parseStringArray('["sh", "-c", "ls /etc | wc -l > /dev/null"]')).toEqual({
      values: ["sh", "-c", "ls /etc | wc -l > /dev/null"],
      truncated: false,
    });
    // survol dockit_graphviz_ps.strace.log line 1
    const a = parseStringArray('["dot", "-K", "fdp", "/tmp/Grph2Dot.26787."..., "-v", ...]');
    expect(a).toEqual({ values: ["dot", "-K", "fdp", "/tmp/Grph2Dot.26787.", "-v"], truncated: true });
    expect(parseStringArray("[/* 34 vars */]")).toEqual({ values: [], truncated: true, count: 34 });
    expect(parseStringArray("0x7ffcf8aa2568 /* 35 vars */")).toEqual({
      values: [],
      truncated: true,
      count: 35,
    });
    expect(parseStringArray("NULL")).toBeNull();
  });
});

describe("StraceCallJoiner", () => {
  it("joins per tid across interleaving (posix-omni-parser test/unfinished.strace)", () => {
    const items = join([
      "8215  wait4(8216,  <unfinished ...>",
      "8216  exit_group(0)                     = 1",
      "8216  +++ exited with 0 +++",
      "8215  <... wait4 resumed> NULL, 0, NULL) = 8216",
    ]);
    expect(items.map((i) => (isSyscallRecord(i) ? i.name : i.type))).toEqual([
      "exit_group",
      "exited",
      "wait4",
    ]);
    const w = records(items)[1] as SyscallRecord;
    expect(w).toMatchObject({ tid: 8215, args: ["8216", "NULL", "0", "NULL"], retval: 8216, line: 1 });
  });

  it("clone3 resumed with => (strace 6.1 form)", () => {
    const recs = records(
      join([
        "26251 02:27:30.000001 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0, stack=0x7f, stack_size=0x7fff00} <unfinished ...>",
        "26251 02:27:30.000090 <... clone3 resumed> => {parent_tid=[26253]}, 88) = 26253 <0.000089>",
      ]),
    );
    expect(recs[0]?.args).toEqual([
      "{flags=CLONE_VM|CLONE_THREAD, exit_signal=0, stack=0x7f, stack_size=0x7fff00} => {parent_tid=[26253]}",
      "88",
    ]);
    expect(recs[0]?.dur).toBe(89);
  });

  it("orphan resumed (attach) and unfinished at end", () => {
    const j = new StraceCallJoiner();
    const items = [
      ...j.push(
        [
          "123 <... wait4 resumed> [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 124",
          "123 read(0,  <unfinished ...>",
        ],
        1,
      ),
      ...j.end(),
    ];
    const recs = records(items);
    expect(recs[0]).toMatchObject({ name: "wait4", retval: 124, incomplete: undefined });
    expect(recs[1]).toMatchObject({ name: "read", incomplete: true, ret: "?" });
    expect(j.stats.orphanResumed).toBe(1);
  });

  it("stitches a spliced attach message and learns the top pid (pipeline-stderr.strace lines 58-61)", () => {
    const j = new StraceCallJoiner();
    const items = [
      ...j.push(
        [
          "02:27:14.904031 pipe2([3<pipe:[52471]>, 4<pipe:[52471]>], 0) = 0 <0.000055>",
          "02:27:14.904172 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLDstrace: Process 25907 attached",
          ", child_tidptr=0x7effb46f5a10) = 25907 <0.000204>",
          "[pid 25906] 02:27:14.904445 close(4<pipe:[52471]> <unfinished ...>",
          "[pid 25907] 02:27:14.904472 set_robust_list(0x7effb46f5a20, 24 <unfinished ...>",
          "[pid 25906] 02:27:14.904600 <... close resumed>) = 0 <0.000100>",
        ],
        58,
      ),
      ...j.end(),
    ];
    expect(j.topPid).toBe(25906);
    const clone = records(items).find((r) => r.name === "clone");
    expect(clone).toMatchObject({
      tid: 25906,
      line: 59,
      retval: 25907,
      args: [
        "child_stack=NULL",
        "flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD",
        "child_tidptr=0x7effb46f5a10",
      ],
    });
    expect(items.find((i) => !isSyscallRecord(i) && i.type === "attached")).toMatchObject({ tid: 25907 });
    expect(records(items)[0]?.tid).toBe(25906);
  });

  it("recovers a write cut by program output (survol dockit_graphviz_ps.strace.log lines 541-542)", () => {
    const recs = records(
      join([
        '08:08:41.953097 write(2</home/rchateau/rdfmon-code/Experimental/RetroBatch/mineit_graphviz_ps.log>, "dot - graphviz versi"..., 46dot - graphviz version 2.38.0 (20140413.2041)',
        ") = 46 <0.000015>",
      ]),
    );
    expect(recs).toHaveLength(1);
    expect(recs[0]?.args[2]).toBe("46");
    expect(recs[0]?.retval).toBe(46);
  });

  it("uses the given top pid for a single-process stderr log, and the ff pid", () => {
    const recs = records(
      join(["brk(NULL)                               = 0x5648fcbff000"], { topPid: 4924 }),
    );
    expect(recs[0]?.tid).toBe(4924);
    const ff = records(
      join(["1795400834.994549 brk(NULL)             = 0x56098699f000 <0.000054>"], { ffPid: 25944 }),
    );
    expect(ff[0]?.tid).toBe(25944);
  });

  it("reports garbage as a problem with line and text, without stopping", () => {
    const items = join([
      "### from tests.py::test_events",
      "27369 arch_prctl(ARCH_SET_FS, 0x7fbb38e89740) = 0 <0.000008>",
    ]);
    expect(items[0]).toMatchObject({ type: "problem", line: 1, text: "### from tests.py::test_events" });
    expect(records(items)).toHaveLength(1);
  });
});

describe("detectStraceStyle", () => {
  it("recognises styles", () => {
    expect(
      detectStraceStyle([
        '25898 02:27:14.828725 execve("/usr/bin/sh", ["sh"], 0x7ffcf8aa2568 /* 35 vars */) = 0 <0.000490>',
        '25898 02:27:14.830125 openat(AT_FDCWD</tmp/pfwork>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache> <0.000075>',
        "25898 02:27:14.829422 brk(NULL)         = 0x55fb38142000 <0.000055>",
      ]),
    ).toEqual({ prefix: "pid", clock: "time-of-day", durations: true, decorations: true, confidence: 1 });
  });

  it("does not claim ltrace logs, README text or JSON", () => {
    // strace-local/ltrace-pipeline.ltrace
    const lt = detectStraceStyle([
      "26354 02:27:26.687662 SYS_brk(0)                 = 0x5600e23d4000 <0.000079>",
      "26354 02:27:26.687994 SYS_mmap(0, 8192, 3, 34)   = 0x7f70f1a59000 <0.000079>",
      '26354 02:27:26.688100 SYS_access("/etc/ld.so.preload", 04) = -2 <0.000094>',
    ]);
    expect(lt?.confidence ?? 0).toBeLessThanOrEqual(0.1);
    const lib = detectStraceStyle([
      '26355 02:27:26.700000 sh->getenv("POSIXLY_CORRECT" <unfinished ...>',
      "26358 02:27:26.785127 getuid()                   = 0 <0.000164>",
      "26358 02:27:26.784798 __errno_location()         = 0x7fdb96a5d6c0 <0.000261>",
    ]);
    expect(lib?.confidence ?? 0).toBeLessThanOrEqual(0.1);
    expect(
      detectStraceStyle(["# Locally generated strace / ltrace logs", "", "Generated on this machine"]),
    ).toBeNull();
    expect(detectStraceStyle(['{"type":"EXECVE","argc":2}'])).toBeNull();
  });
});
