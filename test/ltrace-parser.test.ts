import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProvEvent } from "../src/events/event-types.js";
import { LtraceParser, ltraceCallee } from "../src/sources/ltrace/ltrace-parser.js";
import { ltraceFormat } from "../src/sources/ltrace/ltrace-source-format.js";
import { errnoName } from "../src/sources/syscalls/errno-names.js";
import { CORPUS } from "./helpers/cli.js";

const LOCAL = join(CORPUS, "strace-local");
const SURVOL = join(CORPUS, "strace/survol");

function readLines(path: string): string[] {
  const lines = readFileSync(path, "latin1").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** parse a file in batches of 100 lines, as the stream adapter would */
function parse(path: string, date?: string): ProvEvent[] {
  const p = ltraceFormat.createParser({ file: path, ctx: { host: "h", date } });
  const lines = readLines(path);
  const out: ProvEvent[] = [];
  for (let i = 0; i < lines.length; i += 100) out.push(...p.push(lines.slice(i, i + 100), i + 1));
  out.push(...p.end());
  return out;
}

function ofKind<K extends ProvEvent["kind"]>(
  evs: ProvEvent[],
  kind: K,
): Array<Extract<ProvEvent, { kind: K }>> {
  return evs.filter((e): e is Extract<ProvEvent, { kind: K }> => e.kind === kind);
}

describe("ltrace detection", () => {
  const strace = readLines(`${LOCAL}/pipeline.strace`).slice(0, 50);
  it("recognises Debian 0.7.3 and Fedora 0.7.91 logs, and not strace logs", () => {
    expect(
      ltraceFormat.detect(readLines(`${LOCAL}/ltrace-pipeline.ltrace`).slice(0, 50), "x.log"),
    ).toBeGreaterThan(0.9);
    expect(
      ltraceFormat.detect(readLines(`${LOCAL}/ltrace-libcalls.ltrace`).slice(0, 50), "x.log"),
    ).toBeGreaterThan(0.9);
    expect(
      ltraceFormat.detect(
        readLines(`${SURVOL}/ls_lr.ltrace.21366.log`).slice(0, 50),
        "ls_lr.ltrace.21366.log",
      ),
    ).toBeGreaterThan(0.9);
    expect(ltraceFormat.detect(strace, "pipeline.strace")).toBe(0);
  });
  it("names calls by layer", () => {
    expect(ltraceCallee("SYS_openat")).toEqual({ name: "openat", layer: "sys" });
    expect(ltraceCallee("brk@SYS")).toEqual({ name: "brk", layer: "sys" });
    expect(ltraceCallee("libaugeas.so.0->getenv")).toEqual({ name: "getenv", layer: "lib" });
    expect(ltraceCallee("__libc_start_main")).toEqual({ name: "__libc_start_main", layer: "lib" });
    expect(errnoName(2)).toBe("ENOENT");
  });
});

describe("ltrace-pipeline.ltrace (Debian 0.7.3, -S, getenv)", () => {
  const evs = parse(`${LOCAL}/ltrace-pipeline.ltrace`, "2026-11-23");
  it("process tree from SYS_clone returns (0x66f3, 0x66f4), exits (status 0), execs", () => {
    expect(ofKind(evs, "process.start").map((s) => [s.pid, s.ppid, s.via])).toEqual([
      [26354, null, "root"],
      [26355, 26354, "clone"],
      [26356, 26354, "clone"],
    ]);
    expect(ofKind(evs, "process.exit").map((e) => [e.pid, e.code])).toEqual([
      [26355, 0],
      [26356, 0],
      [26354, 0],
    ]);
    // SYS_execve has pointer arguments: the exec is known (from `--- Called exec() ---` and the later
    // file opens) only as far as ltrace shows it
    expect(ofKind(evs, "process.wait").map((w) => w.child)).toEqual([26355, 26356]);
    expect(ofKind(evs, "problem")).toEqual([]);
  });
  it("8 getenv library calls (grep -c -- '->getenv(' gives 8), one call event per call", () => {
    const g = ofKind(evs, "call").filter((c) => c.name === "getenv");
    expect(g).toHaveLength(8);
    expect(g.every((c) => c.ret === "nil")).toBe(true);
  });
  it("raw syscall returns: -2 is ENOENT, timestamps carry the date, durations from <…>", () => {
    // l.3: 26354 02:27:26.688100 SYS_access("/etc/ld.so.preload", 04) = -2 <0.000094>
    const c = ofKind(evs, "call").find((e) => e.at?.line === 3);
    expect(c).toMatchObject({ name: "access", ok: false, errno: "ENOENT", ret: "-2", dur: 94 });
    expect(c?.ts).toBe(Date.parse("2026-11-23T02:27:26.688Z") * 1000 + 100);
    expect(ofKind(evs, "access").find((e) => e.at?.line === 3)).toMatchObject({
      op: "probe",
      res: { type: "file", path: "/etc/ld.so.preload" },
    });
  });
});

describe("ltrace-libcalls.ltrace (library calls only, fork())", () => {
  const evs = parse(`${LOCAL}/ltrace-libcalls.ltrace`);
  it("fork() library calls give the tree; the child's `<... fork resumed> ) = 0` is not a problem", () => {
    expect(ofKind(evs, "process.start").map((s) => [s.pid, s.ppid, s.via])).toEqual([
      [26358, null, "root"],
      [26359, 26358, "fork"],
      [26360, 26358, "fork"],
    ]);
    expect(ofKind(evs, "process.exit")).toHaveLength(3);
    expect(ofKind(evs, "problem")).toEqual([]);
    // l.809: execve(0x…) <no return ...> then --- Called exec() --- : an exec whose path ltrace did not show
    expect(ofKind(evs, "process.exec")).toMatchObject([{ pid: 26360, ok: true, exe: "" }]);
  });
});

describe("survol ltrace logs (Fedora 0.7.91)", () => {
  it("gcc hello world: vfork@SYS tree, execve@SYS with PATH probing, 43 getenv", () => {
    const evs = parse(`${SURVOL}/dockit_gcc_hello_world.ltrace.log`);
    expect(ofKind(evs, "process.start").map((s) => [s.pid, s.ppid])).toEqual([
      [11758, null],
      [11759, 11758],
      [11760, 11758],
      [11761, 11758],
      [11762, 11761],
    ]);
    const ex = ofKind(evs, "process.exec").map((e) => [e.exe, e.ok]);
    expect(ex).toEqual([
      ["/usr/libexec/gcc/x86_64-redhat-linux/5.3.1/cc1", true],
      ["/usr/lib64/qt-3.3/bin/as", false],
      ["/usr/local/bin/as", false],
      ["/usr/bin/as", true],
      ["/usr/libexec/gcc/x86_64-redhat-linux/5.3.1/collect2", true],
      ["/usr/bin/ld", true],
    ]);
    expect(ofKind(evs, "call").filter((c) => c.name === "getenv")).toHaveLength(43);
    expect(ofKind(evs, "problem")).toEqual([]);
  });

  it("mysql: __libc_start_main gives the argv; program output spliced into a write line is absorbed", () => {
    const evs = parse(`${SURVOL}/dockit_mysql_show_databases.ltrace.log`);
    expect(ofKind(evs, "process.exec")).toMatchObject([
      { pid: 4784, argv: ["python", "TestProgs/mineit_mysql_select.py"], ok: true },
    ]);
    // l.3150: write@SYS(1, "('information_schema',)\n…", 69('informat… + 3 output lines + `) = 69`
    const w = ofKind(evs, "call").find((c) => c.at?.line === 3150);
    expect(w).toMatchObject({ name: "write", bytes: 69, ok: true });
    expect(ofKind(evs, "problem")).toEqual([]);
  });

  it("every ltrace log of the corpus parses; the only problem is a write whose return ltrace never printed", () => {
    const files = [
      `${LOCAL}/ltrace-pipeline.ltrace`,
      `${LOCAL}/ltrace-libcalls.ltrace`,
      `${SURVOL}/dockit_file.ltrace.24611.log`,
      `${SURVOL}/dockit_gcc_hello_world.ltrace.log`,
      `${SURVOL}/dockit_mysql_show_databases.ltrace.log`,
      `${SURVOL}/dockit_oracle_db_schemas.ltrace.log`,
      `${SURVOL}/dockit_sample_shell.ltrace.log`,
      `${SURVOL}/dockit_sample_short_shell.ltrace.log`,
      `${SURVOL}/dockit_simple_perl_file_write.ltrace.5903.log`,
      `${SURVOL}/ls_lr.ltrace.21366.log`,
    ];
    const problems: string[] = [];
    for (const f of files) {
      const evs = parse(f);
      expect(ofKind(evs, "process.start").length).toBeGreaterThan(0);
      for (const p of ofKind(evs, "problem")) problems.push(`${f.split("/").pop()}:${p.at.line}`);
    }
    // l.155: `write@SYS(1, "    251    2280   20757\n", 24    251    2280   20757` and no `) = 24` ever
    expect(problems).toEqual(["dockit_sample_short_shell.ltrace.log:155"]);
  });

  it("sample_shell: 5 processes from clone@SYS, exits with status 0; pid from the file name when lines have none", () => {
    const evs = parse(`${SURVOL}/dockit_sample_shell.ltrace.log`);
    expect(ofKind(evs, "process.start")).toHaveLength(5);
    expect(ofKind(evs, "process.exit").every((e) => e.code === 0)).toBe(true);
    const p = new LtraceParser({ file: "x.ltrace.4242.log", ctx: { host: "h" } });
    const e = [
      ...p.push(['22:39:28.550243 access@SYS("/etc/ld.so.preload", 04) = -2 <0.000184>'], 1),
      ...p.end(),
    ];
    expect(ofKind(e, "process.start")).toMatchObject([{ pid: 4242 }]);
  });

  it("-tt times are the capture machine's local time with --tz (here New York, EST in January)", () => {
    const line = '22:39:28.550243 access@SYS("/etc/ld.so.preload", 04) = -2 <0.000184>';
    const ts = (tz?: string) => {
      const p = new LtraceParser({
        file: "x.ltrace.4242.log",
        ctx: { host: "h", date: "2026-01-15", ...(tz ? { tz } : {}) },
      });
      const e = [...p.push([line], 1), ...p.end()];
      return ofKind(e, "process.start")[0]!.ts;
    };
    expect(ts()).toBe(Date.UTC(2026, 0, 15, 22, 39, 28) * 1000 + 550_243);
    // 22:39 EST is 03:39 UTC the next day
    expect(ts("America/New_York")).toBe(Date.UTC(2026, 0, 16, 3, 39, 28) * 1000 + 550_243);
  });
});
