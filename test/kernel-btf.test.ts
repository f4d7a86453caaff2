import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cachedKernelFieldExprs, kernelFieldExprs } from "../src/capture/ebpf-program.js";
import { KernelBtf, readKernelBtf } from "../src/capture/kernel-btf.js";

/**
 * Kernel struct member offsets from BTF, for provflow's eBPF program (which reads them at these
 * offsets instead of bpftrace's `curtask->…`): a small BTF blob built here in the kernel's layout
 * (typedefs, pointers, anonymous unions, a bitfield), then this machine's own BTF.
 */

/** A BTF blob (version 1): the string section holds `names` in order, types are words as the kernel writes them. */
function btfBlob(names: string[], words: number[], bigEndian: boolean): Buffer {
  const strBuf = Buffer.from(`\0${names.join("\0")}\0`, "latin1");
  const hdr = 24;
  const buf = Buffer.alloc(hdr + words.length * 4 + strBuf.length);
  const w32 = (v: number, at: number) =>
    bigEndian ? buf.writeUInt32BE(v >>> 0, at) : buf.writeUInt32LE(v >>> 0, at);
  if (bigEndian) buf.writeUInt16BE(0xeb9f, 0);
  else buf.writeUInt16LE(0xeb9f, 0);
  buf[2] = 1;
  w32(hdr, 4);
  w32(0, 8);
  w32(words.length * 4, 12);
  w32(words.length * 4, 16);
  w32(strBuf.length, 20);
  for (let i = 0; i < words.length; i++) w32(words[i] as number, hdr + i * 4);
  strBuf.copy(buf, hdr + words.length * 4);
  return buf;
}

const INT = 1;
const PTR = 2;
const STRUCT = 4;
const UNION = 5;
const FWD = 7;
const TYPEDEF = 8;

/** a btf_type record: name offset, info (kind, vlen, kind_flag), size or type */
const t = (name: number, kind: number, vlen: number, sizeOrType: number, kflag = false) => [
  name,
  ((kflag ? 1 : 0) << 31) | (kind << 24) | vlen,
  sizeOrType,
];
/** a member: name offset, type id, offset in bits (with kind_flag: bitfield size << 24 | offset) */
const m = (name: number, type: number, bits: number) => [name, type, bits];

/**
 * ids: 1 int, 2 unsigned int, 3 typedef fmode_t, 4 pointer, 5 struct file { int f_ref; union { long
 * pad; fmode_t f_mode; }; void *f_u; } (the anonymous union at byte 8), 6 that union, 7 a forward
 * declaration of task_struct, 8 struct task_struct, 9 struct flags { unsigned int flags; unsigned int
 * bit:1; } (kind_flag: bitfield sizes in the offsets)
 */
function sample(bigEndian = false): KernelBtf {
  const names = [
    "int",
    "unsigned int",
    "fmode_t",
    "file",
    "f_ref",
    "f_mode",
    "f_u",
    "task_struct",
    "exit_code",
    "files",
    "flags",
    "bit",
  ];
  const o: Record<string, number> = {};
  let at = 1;
  for (const n of names) {
    o[n] = at;
    at += n.length + 1;
  }
  const words = [
    ...t(o.int!, INT, 0, 4),
    32,
    ...t(o["unsigned int"]!, INT, 0, 4),
    32,
    ...t(o.fmode_t!, TYPEDEF, 0, 2),
    ...t(0, PTR, 0, 5),
    ...t(o.file!, STRUCT, 3, 24),
    ...m(o.f_ref!, 1, 0),
    ...m(0, 6, 64),
    ...m(o.f_u!, 4, 128),
    ...t(0, UNION, 1, 8),
    ...m(o.f_mode!, 3, 0),
    ...t(o.task_struct!, FWD, 0, 0),
    ...t(o.task_struct!, STRUCT, 2, 2048),
    ...m(o.exit_code!, 1, 1164 * 8),
    ...m(o.files!, 4, 1824 * 8),
    ...t(o.flags!, STRUCT, 2, 8, true),
    ...m(o.flags!, 2, 0),
    ...m(o.bit!, 2, (1 << 24) | 32),
  ];
  return new KernelBtf(btfBlob(names, words, bigEndian), ["file", "task_struct", "flags"]);
}

describe("kernel struct members from BTF", () => {
  it("finds members and their sizes, through typedefs, pointers and anonymous unions", () => {
    for (const big of [false, true]) {
      const btf = sample(big);
      expect(btf.member("task_struct", "exit_code")).toEqual({ offset: 1164, size: 4 });
      expect(btf.member("task_struct", "files")).toEqual({ offset: 1824, size: 8 });
      expect(btf.member("file", "f_mode")).toEqual({ offset: 8, size: 4 });
      expect(btf.member("file", "f_u")).toEqual({ offset: 16, size: 8 });
      expect(btf.member("flags", "flags")).toEqual({ offset: 0, size: 4 });
      // a bitfield has no byte offset to read at; a missing member or struct is null
      expect(btf.member("flags", "bit")).toBeNull();
      expect(btf.member("file", "f_nope")).toBeNull();
      expect(btf.member("fdtable", "fd")).toBeNull();
    }
    expect(() => new KernelBtf(Buffer.alloc(32))).toThrow(/magic/);
  });

  it("turns the offsets into the program's reads, and falls back to curtask-> without them", () => {
    const fallback = kernelFieldExprs(null);
    expect(fallback.EXIT_CODE).toBe("curtask->exit_code");
    expect(fallback.FILE_OF_FD).toBe("*(curtask->files->fdt->fd + $fd)");
    expect(fallback.GROUP_EMPTY).toBe("(curtask->signal->live.counter == 0)");
    // the sample has exit_code but not the fd table: one of each
    const some = kernelFieldExprs(sample());
    expect(some.EXIT_CODE).toBe("*(int32 *)((uint64)curtask + 1164)");
    expect(some.FILE_OF_FD).toBe("*(curtask->files->fdt->fd + $fd)");
    // f_mode is 4 bytes in the sample: read as such
    expect(some.FMODE_OF_F).toBe("*(uint32 *)($f + 8)");
  });

  it.skipIf(!existsSync("/sys/kernel/btf/vmlinux"))(
    "reads this kernel's BTF for every field the program needs",
    () => {
      const btf = readKernelBtf();
      expect(btf).not.toBeNull();
      const x = kernelFieldExprs(btf);
      for (const [k, v] of Object.entries(x)) expect(v, k).not.toContain("curtask->");
      const exit = btf!.member("task_struct", "exit_code")!;
      expect(x.EXIT_CODE).toBe(`*(int32 *)((uint64)curtask + ${exit.offset})`);
      expect(x.FILE_OF_FD).toMatch(
        /^\*\(uint64 \*\)\(\*\(uint64 \*\)\(\*\(uint64 \*\)\(\*\(uint64 \*\)\(\(uint64\)curtask \+ \d+\) \+ \d+\) \+ \d+\) \+ \$fd \* 8\)$/,
      );
    },
  );

  it("remembers the expressions for the boot, in a file of this user's that others cannot write", () => {
    const dir = mkdtempSync(join(tmpdir(), "provflow-btf-test-"));
    try {
      const file = join(dir, "fields.json");
      let computed = 0;
      const compute = () => {
        computed++;
        return kernelFieldExprs(sample());
      };
      const first = cachedKernelFieldExprs({ file, bootId: "boot-1", compute });
      expect(computed).toBe(1);
      expect(cachedKernelFieldExprs({ file, bootId: "boot-1", compute })).toEqual(first);
      expect(computed).toBe(1);
      // another boot: computed again
      cachedKernelFieldExprs({ file, bootId: "boot-2", compute });
      expect(computed).toBe(2);
      // a file others may write is not trusted; nor is one with something else than expressions
      chmodSync(file, 0o666);
      cachedKernelFieldExprs({ file, bootId: "boot-2", compute });
      expect(computed).toBe(3);
      const text = JSON.parse(readFileSync(file, "utf8"));
      text.fields.EXIT_CODE = "0; } BEGIN { system(1)";
      writeFileSync(file, JSON.stringify(text), { mode: 0o600 });
      chmodSync(file, 0o600);
      expect(cachedKernelFieldExprs({ file, bootId: "boot-2", compute }).EXIT_CODE).toBe(first.EXIT_CODE);
      expect(computed).toBe(4);
      // no boot id: nothing remembered
      cachedKernelFieldExprs({ file, bootId: null, compute });
      expect(computed).toBe(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
