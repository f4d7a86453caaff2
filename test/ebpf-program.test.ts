import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { untilEndMark } from "../src/capture/ebpf-capture.js";
import { ebpfProgram, formatFields, possibleCpus, tracepointOffsets } from "../src/capture/ebpf-program.js";
import type { LineBatch } from "../src/sources/line-batches.js";

/**
 * The tracepoint offsets provflow's eBPF program reads at, taken from the kernel's format files:
 * checked on a format file as the kernel writes it (raw_syscalls/sys_enter of Linux 6.x), on this
 * machine's own files when tracefs is readable, and on a kernel without the exit's group_dead.
 */
const SYS_ENTER = `name: sys_enter
ID: 443
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;
\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;

print fmt: "NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)", REC->id, REC->args[0], REC->args[1], REC->args[2], REC->args[3], REC->args[4], REC->args[5]
`;

function liveFormat(event: string): string | null {
  try {
    return readFileSync(`/sys/kernel/tracing/events/${event}/format`, "utf8");
  } catch {
    return null;
  }
}

describe("tracepoint offsets for the eBPF program", () => {
  it("reads field offsets and sizes from a format file, arrays included", () => {
    const f = formatFields(SYS_ENTER);
    expect(f.get("id")).toEqual({ offset: 8, size: 8 });
    expect(f.get("args")).toEqual({ offset: 16, size: 48 });
    expect(f.get("common_pid")).toEqual({ offset: 4, size: 4 });
  });

  it.skipIf(liveFormat("raw_syscalls/sys_enter") === null)("agrees with this kernel's format files", () => {
    const o = tracepointOffsets(liveFormat);
    for (const [key, event, field] of [
      ["sys_enter_id", "raw_syscalls/sys_enter", "id"],
      ["sys_enter_args", "raw_syscalls/sys_enter", "args"],
      ["sys_exit_id", "raw_syscalls/sys_exit", "id"],
      ["sys_exit_ret", "raw_syscalls/sys_exit", "ret"],
      ["task_newtask_pid", "task/task_newtask", "pid"],
      ["task_newtask_clone_flags", "task/task_newtask", "clone_flags"],
    ] as const) {
      const line = (liveFormat(event) ?? "")
        .split("\n")
        .find((l) => new RegExp(`\\b${field}(\\[\\d+\\])?;`).test(l));
      expect(line, `${event} ${field}`).toBeDefined();
      expect(o[key]).toBe(/offset:(\d+);/.exec(line!)![1]);
    }
    const exit = liveFormat("sched/sched_process_exit") ?? "";
    const gd = /group_dead;\toffset:(\d+);/.exec(exit);
    expect(o.GROUP_DEAD).toBe(gd ? `*(uint8 *)($a + ${gd[1]})` : "KX_GROUP_EMPTY");
  });

  it("tests the thread group itself on a kernel whose exit tracepoint has no group_dead", () => {
    const o = tracepointOffsets((event) =>
      event === "sched/sched_process_exit"
        ? "format:\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n"
        : null,
    );
    expect(o.GROUP_DEAD).toBe("KX_GROUP_EMPTY");
    expect(o.sys_enter_args).toBe("16");
    // without BTF offsets, bpftrace's own struct access
    const text = ebpfProgram({ kind: "tree", tids: [1] }, "x64", undefined, o, {
      GROUP_EMPTY: "(curtask->signal->live.counter == 0)",
    });
    expect(text).toContain("$dead = (curtask->signal->live.counter == 0);");
  });

  it("refuses a layout it does not read correctly, and leaves no placeholder in the program", () => {
    expect(() =>
      tracepointOffsets((event) =>
        event === "raw_syscalls/sys_enter"
          ? SYS_ENTER.replace("size:8;\tsigned:1", "size:4;\tsigned:1")
          : null,
      ),
    ).toThrow(/sys_enter tracepoint has a 4-byte id/);
    const text = ebpfProgram(
      { kind: "tree", tids: [42] },
      "x64",
      undefined,
      tracepointOffsets((e) => (e === "raw_syscalls/sys_enter" ? SYS_ENTER : null)),
    );
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "");
    expect(code).not.toMatch(/\b(TP|NR|KX)_[A-Za-z]|__[A-Z]+__/);
    expect(code).not.toMatch(/args->/);
    expect(code).toContain("$id = *(int64 *)($a + 8);");
    expect(text).toContain("@t[42] = 1;");
  });

  it("counts the possible CPUs from the kernel's list, for the per-CPU count of live threads", () => {
    expect(possibleCpus("0-1\n")).toBe(2);
    expect(possibleCpus("0\n")).toBe(1);
    expect(possibleCpus("0-3,8-11")).toBe(12);
    expect(possibleCpus("garbage")).toBe(256);
    const text = ebpfProgram({ kind: "tree", tids: [7, 8] }, "x64");
    expect(text).toContain("@roots = 2;");
    // an agent's program never reads @roots, but bpftrace types every map it compiles
    expect(ebpfProgram({ kind: "uid", uid: 1000, exclude: [] }, "x64")).toContain("@roots = 0;");
    expect(text).toContain(`while ($i < ${possibleCpus()})`);
    // the program never ends at a thread's exit: only bpftrace's own epoll_wait return calls exit()
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "");
    expect(code.match(/exit\(\);/g)).toHaveLength(1);
    const exitProbe = code.slice(
      code.indexOf("tracepoint:sched:sched_process_exit"),
      code.indexOf("tracepoint:raw_syscalls:sys_enter"),
    );
    expect(exitProbe).toContain("@c[@self] = 10;");
    expect(exitProbe).not.toContain("exit();");
  });
});

describe("the end of a trace's log", () => {
  async function* batches(list: string[][]): AsyncIterable<LineBatch> {
    let n = 1;
    for (const lines of list) {
      yield { lines, firstLine: n, bytes: 0 };
      n += lines.length;
    }
  }

  it("puts provflow's mark on the Z lines of a trace's program, and 0 on an agent's", () => {
    const code = ebpfProgram({ kind: "tree", tids: [5], endMark: 987654321 }, "x64").replace(
      /\/\*[\s\S]*?\*\//g,
      "",
    );
    const z = code.match(/printf\("Z[^;]*;/g) ?? [];
    // the tree's end (before exit(), pushed out of the buffer) and END
    expect(z).toEqual(Array(2).fill('printf("Z\\t%llu\\t987654321\\n", nsecs);'));
    const end = code.slice(code.indexOf('printf("Z'), code.indexOf("exit();"));
    expect(end).toContain("while ($i < 64)");
    expect(ebpfProgram({ kind: "all", exclude: [] }, "x64")).toContain('printf("Z\\t%llu\\t0\\n", nsecs);');
  });

  it("stops at the line `Z ns MARK`, not at a Z line with another mark (a path with a newline)", async () => {
    const seen: string[] = [];
    let ends = 0;
    let pulled = 0;
    async function* source(): AsyncIterable<LineBatch> {
      for await (const b of batches([
        ["H\t1\t2\t1\t/", "S\t5\t1\t1\t2\t0\t0\t0\tx", "Z\t6\t999"],
        ["Z\t7\t4242x", "X\t8\t1\t1\t0\t1", "Z\t9\t4242", "", "@rb[1, 70]: 5"],
        ["never read"],
      ])) {
        pulled++;
        yield b;
      }
    }
    for await (const b of untilEndMark(source(), 4242, () => ends++)) {
      expect(ends).toBe(b.lines.includes("Z\t9\t4242") ? 1 : 0);
      seen.push(...b.lines);
    }
    expect(ends).toBe(1);
    expect(pulled).toBe(2);
    expect(seen.at(-1)).toBe("Z\t9\t4242");
    expect(seen).toContain("Z\t6\t999");
    expect(seen).toContain("Z\t7\t4242x");
    expect(seen).not.toContain("@rb[1, 70]: 5");
  });
});
