import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isSyscallRecord, StraceCallJoiner } from "../src/sources/strace/strace-call-joiner.js";
import {
  ffLineTime,
  ffPidOf,
  groupFfFiles,
  mergeFfFiles,
  mergeFfLineBatches,
} from "../src/sources/strace/strace-ff-merge.js";
import { CORPUS } from "./helpers/cli.js";

const C = CORPUS;
const dirFiles = (d: string) => readdirSync(d).map((f) => join(d, f));

/** `PID line` output (what strace-log-merge prints) and its md5 */
async function merged(paths: string[], chunkBytes?: number) {
  const h = createHash("md5");
  let n = 0;
  const batches: number[] = [];
  const opts = chunkBytes === undefined ? { batchSize: 100 } : { batchSize: 100, chunkBytes };
  for await (const b of mergeFfFiles(paths, opts)) {
    batches.push(b.length);
    for (const m of b) {
      h.update(`${m.pid} ${m.line}\n`);
      n++;
    }
  }
  return { n, md5: h.digest("hex"), batches };
}

describe("groupFfFiles", () => {
  it("recognises FILE.PID sets", () => {
    const g = groupFfFiles([
      "/x/trace.25947",
      "/x/trace.25944",
      "/x/README.md",
      "/x/other.12",
      "/x/trace.txt",
    ]);
    expect(g).toEqual([
      { prefix: "/x/other", files: [{ pid: 12, path: "/x/other.12" }], paths: ["/x/other.12"] },
      {
        prefix: "/x/trace",
        files: [
          { pid: 25944, path: "/x/trace.25944" },
          { pid: 25947, path: "/x/trace.25947" },
        ],
        paths: ["/x/trace.25944", "/x/trace.25947"],
      },
    ]);
    expect(ffPidOf("/x/ff.4660")).toBe(4660);
    expect(ffPidOf("/x/ff.strace")).toBeUndefined();
  });

  it("reads -ff timestamps", () => {
    expect(ffLineTime("1795400834.993916 execve(")).toBe(1795400834993916);
    expect(ffLineTime("02:27:14.830125 openat(")).toBe((2 * 3600 + 27 * 60 + 14) * 1e6 + 830125);
    expect(ffLineTime("+++ exited with 0 +++")).toBe(-1);
  });
});

describe("mergeFfFiles gives the same stream as strace-log-merge", () => {
  // md5 of `strace-log-merge PREFIX` output, computed with strace 6.1's script on these files
  it("strace-local/pipeline-ff (4 files, 527 lines)", async () => {
    const r = await merged(dirFiles(join(C, "strace-local/pipeline-ff")));
    expect(r.n).toBe(527);
    expect(r.md5).toBe("d4052f237bfba2c06a79131ea6e69dfb");
    expect(Math.max(...r.batches)).toBe(100);
  });

  it("fidelity/archive/ff (19 files, 2806 lines), reading 1000 bytes at a time", async () => {
    const r = await merged(dirFiles(join(C, "fidelity/archive/ff")), 1000);
    expect(r.n).toBe(2806);
    expect(r.md5).toBe("fb25a8c531f2da4dec7a75349f80fa13");
  });

  it("fidelity/edit/ff (10 files, 1494 lines)", async () => {
    const r = await merged(dirFiles(join(C, "fidelity/edit/ff")));
    expect(r.n).toBe(1494);
    expect(r.md5).toBe("d03dedde76054f80d70d17395ef9a787");
  });

  it("feeds the joiner: pids from the file names, clone returns match", async () => {
    const j = new StraceCallJoiner();
    const recs = [];
    for await (const b of mergeFfFiles(dirFiles(join(C, "strace-local/pipeline-ff")))) {
      recs.push(...j.pushMerged(b).filter(isSyscallRecord));
    }
    recs.push(...j.end().filter(isSyscallRecord));
    expect(j.stats.problems).toBe(0);
    const forks = recs.filter((r) => (r.name === "clone" || r.name === "vfork") && r.tid === 25944);
    // trace.25944 lines 59, 70, 94: clone = 25945, clone = 25946, vfork() = 25947
    expect(forks.map((r) => [r.name, r.retval, r.line])).toEqual([
      ["clone", 25945, 59],
      ["clone", 25946, 70],
      ["vfork", 25947, 94],
    ]);
    expect(recs.filter((r) => r.name === "execve").map((r) => r.tid)).toEqual([25944, 25945, 25946, 25947]);
  });
});

describe("mergeFfLineBatches", () => {
  it("gives pid-prefixed lines the ordinary joiner reads like an -o -f log", async () => {
    const j = new StraceCallJoiner();
    let lines = 0;
    let last = 0;
    for await (const b of mergeFfLineBatches(dirFiles(join(C, "strace-local/pipeline-ff")), {
      batchSize: 50,
    })) {
      expect(b.firstLine).toBe(last + 1);
      last = b.firstLine + b.lines.length - 1;
      lines += b.lines.length;
      j.push(b.lines, b.firstLine);
    }
    j.end();
    expect(lines).toBe(527);
    expect(j.stats.problems).toBe(0);
    // 4 processes, each ends with `+++ exited with N +++`
    expect(j.stats.notices).toBe(6);
  });
});

describe("files without timestamps", () => {
  it("are concatenated in pid order with a warning", async () => {
    const d = mkdtempSync(join(tmpdir(), "pf-ff-"));
    writeFileSync(join(d, "t.20"), 'execve("/bin/b", ["b"], 0x1 /* 1 var */) = 0\n+++ exited with 0 +++\n');
    writeFileSync(
      join(d, "t.3"),
      "clone(child_stack=NULL, flags=SIGCHLD) = 20\nexit_group(0) = ?\n+++ exited with 0 +++",
    );
    const warnings: string[] = [];
    const out: string[] = [];
    for await (const b of mergeFfFiles([join(d, "t.20"), join(d, "t.3")], {
      onWarning: (m) => warnings.push(m),
    })) {
      for (const m of b) out.push(`${m.pid}:${m.lineNo}:${m.line}`);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("no timestamps");
    expect(out).toEqual([
      "3:1:clone(child_stack=NULL, flags=SIGCHLD) = 20",
      "3:2:exit_group(0) = ?",
      "3:3:+++ exited with 0 +++",
      '20:1:execve("/bin/b", ["b"], 0x1 /* 1 var */) = 0',
      "20:2:+++ exited with 0 +++",
    ]);
  });
});
