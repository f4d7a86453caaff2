/**
 * Runs the strace line parser + call joiner over every strace log of the shared corpus. The
 * expected numbers were counted with grep on the logs (commands in the comments).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  isSyscallRecord,
  type JoinerItem,
  type JoinerOptions,
  StraceCallJoiner,
} from "../src/sources/strace/strace-call-joiner.js";
import type { StraceNotice, SyscallRecord } from "../src/sources/syscalls/syscall-record.js";
import { CORPUS } from "./helpers/cli.js";

const C = CORPUS;

function run(file: string, opts: JoinerOptions = {}) {
  const j = new StraceCallJoiner({ file, ...opts });
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  // feed in batches as the stream adapter does
  const items: JoinerItem[] = [];
  for (let k = 0; k < lines.length; k += 1000) items.push(...j.push(lines.slice(k, k + 1000), k + 1));
  items.push(...j.end());
  const recs = items.filter(isSyscallRecord) as SyscallRecord[];
  const notices = items.filter((i) => !isSyscallRecord(i) && i.type !== "problem") as StraceNotice[];
  const problems = items.filter((i) => !isSyscallRecord(i) && i.type === "problem");
  return { j, recs, notices, problems };
}

const list = (dir: string, re: RegExp) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => re.test(f))
        .map((f) => join(dir, f))
    : [];

/** logs that are broken for real, with the number of problems that is right for them */
const KNOWN_BROKEN: Record<string, number> = {
  // last line cut: `select(1, [0<TCPv6:[:::21]>], NULL, NULL, {tv_sec=30, tv_usec=0}` (line 15690)
  "dockit_proftpd.strace.26299.log": 1,
  // last line cut: `20655 accept(7, NULL, NULL`
  "server.strace": 1,
  // line 551 lost its syscall name: `27497 "/proc/21", {st_dev=…`
  "shell.strace": 1,
  // 5 `### from tests.py::…` headers + 5 deliberately bogus lines after the last header
  "test_snippets.strace": 10,
};

const ALL = [
  ...list(join(C, "strace-local"), /\.strace$/),
  ...list(join(C, "strace-local/pipeline-ff"), /^trace\.\d+$/),
  ...list(join(C, "strace/survol"), /\.strace.*\.log$/),
  join(C, "strace/gitlab-strace-parser/bench_data.strace"),
  ...list(join(C, "strace/stracepy"), /\.log$/),
  join(C, "strace/stracetools/ls.strace.out"),
  join(C, "strace/exodus/exodus-output.txt"),
  ...list(join(C, "strace/posix-omni-parser/test"), /\.strace$/),
  ...list(join(C, "strace/posix-omni-parser/testbins"), /\.strace$/),
  join(C, "strace/strace-process-tree/test_snippets.strace"),
  ...["archive", "edit", "pyproc"].flatMap((w) => [
    join(C, "fidelity", w, "full.strace"),
    join(C, "fidelity", w, "dockit.strace"),
    ...list(join(C, "fidelity", w, "ff"), /^ff\.\d+$/),
  ]),
];

describe("every strace log of the corpus", () => {
  it("has the corpus", () => {
    expect(ALL.length).toBeGreaterThan(90);
  });
  for (const file of ALL) {
    it(`parses ${file.slice(C.length + 1)}`, () => {
      const { problems, recs } = run(file);
      const base = file.slice(file.lastIndexOf("/") + 1);
      expect(problems.length, JSON.stringify(problems.slice(0, 3))).toBe(KNOWN_BROKEN[base] ?? 0);
      expect(recs.length).toBeGreaterThan(0);
    });
  }
});

describe("facts counted with grep", () => {
  it("pipeline.strace (-o, -f -tt -T -y -yy)", () => {
    const { j, recs, notices } = run(join(C, "strace-local/pipeline.strace"));
    // grep -c ' execve(' → 5 ; grep -c '+++ exited with' → 5 ; grep -c -- '--- SIG' → 4
    expect(recs.filter((r) => r.name === "execve")).toHaveLength(5);
    expect(notices.filter((n) => n.type === "exited")).toHaveLength(5);
    expect(notices.filter((n) => n.type === "signal")).toHaveLength(4);
    // 439 '<unfinished ...>' and 439 'resumed>' lines: all joined, none left over
    expect(j.stats.orphanResumed).toBe(0);
    expect(j.stats.incompleteFlushed).toBe(0);
    const ls = recs.find((r) => r.name === "execve" && r.tid === 25899);
    expect(ls?.args.slice(0, 2)).toEqual(['"/usr/bin/ls"', '["ls", "/etc"]']);
    expect(ls?.retval).toBe(0);
  });

  it("make.strace: 26 execve (PATH probing included), 10 exits", () => {
    const { j, recs, notices } = run(join(C, "strace-local/make.strace"));
    const ex = recs.filter((r) => r.name === "execve");
    expect(ex).toHaveLength(26);
    expect(ex.filter((r) => r.errno === "ENOENT").length).toBeGreaterThan(0);
    expect(notices.filter((n) => n.type === "exited")).toHaveLength(10);
    expect(j.stats.incompleteFlushed).toBe(0);
  });

  it("signals.strace: 4 killed (SIGKILL, SIGTERM, SIGPIPE, SIGSEGV), 44 exited", () => {
    const { notices } = run(join(C, "strace-local/signals.strace"));
    const killed = notices.filter((n) => n.type === "killed").map((n) => (n as { signal: string }).signal);
    expect(killed).toEqual(["SIGKILL", "SIGTERM", "SIGPIPE", "SIGSEGV"]);
    expect(notices.filter((n) => n.type === "exited")).toHaveLength(44);
  });

  it("gitlab bench_data.strace (-yyy, attach): 315 unfinished, 289 resumed → 26 left at the end", () => {
    const { j, recs } = run(join(C, "strace/gitlab-strace-parser/bench_data.strace"));
    expect(j.stats.orphanResumed).toBe(0);
    expect(j.stats.incompleteFlushed).toBe(26);
    expect(recs.filter((r) => r.incomplete === true && r.ret === "?").length).toBeGreaterThanOrEqual(26);
    expect(recs.filter((r) => r.name === "execve")).toHaveLength(11);
  });

  it("attach-p.strace: 51 unfinished, 50 resumed, 1 <detached ...>", () => {
    const { j, recs } = run(join(C, "strace-local/attach-p.strace"));
    expect(j.stats.incompleteFlushed).toBe(2);
    const last = recs.find((r) => r.line === 1577);
    expect(last).toMatchObject({ name: "clock_nanosleep", incomplete: true, tid: 26393 });
  });

  it("pipeline-stderr.strace: top pid learnt, spliced attach messages stitched", () => {
    const { j, recs, notices } = run(join(C, "strace-local/pipeline-stderr.strace"));
    // grep -c 'strace: Process [0-9]* attached' → 4 (3 of them spliced into a call line)
    expect(notices.filter((n) => n.type === "attached").map((n) => n.tid)).toEqual([
      25907, 25908, 25909, 25917,
    ]);
    expect(j.stats.stitched).toBe(3);
    expect(j.topPid).toBe(25906);
    // the unprefixed first line is the top process's execve
    expect(recs[0]).toMatchObject({ tid: 25906, name: "execve", line: 1 });
    const vfork = recs.find((r) => r.line === 990);
    expect(vfork).toMatchObject({ name: "vfork", tid: 25906, retval: 25917 });
    expect(recs.filter((r) => r.name === "execve")).toHaveLength(5);
  });

  it("survol dockit_graphviz_ps: 1140 writes cut by the program's own output are recovered", () => {
    // grep -c '^) = ' → 1140
    const { j, recs, problems } = run(join(C, "strace/survol/dockit_graphviz_ps.strace.log"), {
      topPid: 12345,
    });
    expect(j.stats.stitched).toBe(1140);
    expect(problems).toHaveLength(0);
    const w = recs.find((r) => r.line === 541);
    expect(w).toMatchObject({ name: "write", retval: 46, tid: 12345 });
    expect(w?.args[2]).toBe("46");
  });

  it("survol bash_fedora (attach, stderr style): top pid 4233 from the log", () => {
    const { j } = run(join(C, "strace/survol/bash_fedora.strace.4233.log"));
    expect(j.topPid).toBe(4233);
  });

  it("survol dockit_sample_shell: cat's output (with fake `) = 32` lines) stays inside the write", () => {
    const { recs, problems } = run(join(C, "strace/survol/dockit_sample_shell.strace.log"));
    expect(problems).toHaveLength(0);
    expect(recs.find((r) => r.line === 3244)).toMatchObject({ name: "write", retval: 533, dur: 52 });
  });

  it("strace-process-tree test_snippets: split vfork/execve joined, <unavailable>", () => {
    const { recs } = run(join(C, "strace/strace-process-tree/test_snippets.strace"));
    const vfork = recs.find((r) => r.name === "vfork");
    expect(vfork).toMatchObject({ tid: 230473, retval: 230474, line: 13 });
    expect(recs.find((r) => r.name === "futex")).toMatchObject({ ret: "?", incomplete: true });
  });

  it("threads.strace: 5 exits (4 threads + main)", () => {
    const { notices, j } = run(join(C, "strace-local/threads.strace"));
    expect(notices.filter((n) => n.type === "exited")).toHaveLength(5);
    expect(j.stats.incompleteFlushed).toBe(0);
  });
});
