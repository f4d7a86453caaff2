import { chmodSync, existsSync, lstatSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type EbpfArch, syscallNumbers } from "../sources/ebpf/ebpf-syscalls.js";
import { CaptureError } from "../util/errors.js";
import { type KernelBtf, readKernelBtf } from "./kernel-btf.js";

/** Which threads the program follows. */
export type EbpfScope =
  /** these threads and their descendants (provflow trace); the program ends when the last one ends */
  | {
      kind: "tree";
      tids: number[];
      /** on the Z lines: provflow trace stops reading at `Z ns endMark` (a positive integer) */
      endMark?: number;
    }
  /** everything on the machine but provflow and bpftrace themselves (provflow agent --scope all) */
  | { kind: "all"; exclude: number[] }
  | { kind: "uid"; uid: number; exclude: number[] }
  /** the processes of one cgroup (v2), by its id (the inode number of its directory) */
  | { kind: "cgroup"; id: number; exclude: number[] };

/** provflow's bpftrace program, share/provflow.bt in the package */
export function ebpfProgramFile(): string {
  for (const rel of ["../share/provflow.bt", "../../share/provflow.bt"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new CaptureError("provflow's eBPF program (share/provflow.bt) is missing from the installation");
}

/**
 * The tracepoint fields the program reads, as `TP_<event>_<field>` offsets into the tracepoint's
 * record: the program reads the record through one `(uint64)args` per probe instead of `args->field`,
 * because bpftrace 0.17 reads tracefs' whole list of events (2,300 lines here) about twenty times
 * for every `args->field` it compiles, which was a second of its start-up.
 */
const TP_FIELDS: { event: string; field: string; size: number; fallback: number }[] = [
  { event: "raw_syscalls/sys_enter", field: "id", size: 8, fallback: 8 },
  { event: "raw_syscalls/sys_enter", field: "args", size: 48, fallback: 16 },
  { event: "raw_syscalls/sys_exit", field: "id", size: 8, fallback: 8 },
  { event: "raw_syscalls/sys_exit", field: "ret", size: 8, fallback: 16 },
  { event: "task/task_newtask", field: "pid", size: 4, fallback: 8 },
  { event: "task/task_newtask", field: "clone_flags", size: 8, fallback: 32 },
  { event: "sched/sched_process_exit", field: "group_dead", size: 1, fallback: -1 },
];

const TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** `field:TYPE NAME[N];\toffset:O;\tsize:S;` lines of a tracepoint's format file → name → offset, size */
export function formatFields(text: string): Map<string, { offset: number; size: number }> {
  const out = new Map<string, { offset: number; size: number }>();
  for (const m of text.matchAll(/field:[^;]*?(\w+)(?:\[\d*\])?;\s*offset:(\d+);\s*size:(\d+);/g)) {
    out.set(m[1] as string, { offset: Number(m[2]), size: Number(m[3]) });
  }
  return out;
}

function readFormat(event: string): string | null {
  for (const dir of TRACEFS) {
    try {
      return readFileSync(`${dir}/events/${event}/format`, "utf8");
    } catch {
      // next
    }
  }
  return null;
}

/**
 * The offsets of the fields the program reads, from this kernel's format files (the layouts every
 * kernel since 4.x has when a file cannot be read). A kernel whose sched_process_exit has no
 * group_dead (before 6.x) gets the test the kernel makes itself: no live thread left in the group.
 */
export function tracepointOffsets(
  read: (event: string) => string | null = readFormat,
): Record<string, string> {
  const out: Record<string, string> = {};
  const formats = new Map<string, Map<string, { offset: number; size: number }> | null>();
  for (const f of TP_FIELDS) {
    if (!formats.has(f.event)) {
      const text = read(f.event);
      formats.set(f.event, text === null ? null : formatFields(text));
    }
    const fields = formats.get(f.event);
    const got = fields?.get(f.field);
    let offset = f.fallback;
    if (fields && got === undefined) offset = -1;
    else if (got !== undefined) {
      if (got.size !== f.size) {
        throw new CaptureError(
          `the kernel's ${f.event} tracepoint has a ${got.size}-byte ${f.field} (provflow's eBPF program reads ${f.size} bytes)`,
        );
      }
      offset = got.offset;
    }
    const name = `${f.event.slice(f.event.indexOf("/") + 1)}_${f.field}`;
    if (f.field === "group_dead") {
      out.GROUP_DEAD = offset >= 0 ? `*(uint8 *)($a + ${offset})` : "KX_GROUP_EMPTY";
    } else if (offset < 0) {
      throw new CaptureError(`the kernel's ${f.event} tracepoint has no field ${f.field}`);
    } else out[name] = String(offset);
  }
  return out;
}

/**
 * The kernel struct fields the program reads, as `KX_<name>` expressions: through offsets taken from
 * the kernel's BTF when it has them all, with the sizes the program reads (`*(uint64 *)((uint64)curtask
 * + N)`), else as bpftrace's own `curtask->…` (the same values; bpftrace 0.17 then has clang parse
 * C definitions it generates from BTF, half a second of its start-up here).
 *   KX_EXIT_CODE    the exiting task's exit code (as wait(2) encodes it)
 *   KX_FILE_OF_FD   the struct file of fd `$fd` of the current task (0 when there is none)
 *   KX_FMODE_OF_F   that file's f_mode (`$f`)
 *   KX_PARENT_TGID  the pid of the current task's parent
 *   KX_GROUP_EMPTY  no live thread left in the current task's thread group
 */
const KERNEL_FIELDS: Record<string, { path: [string, string, number][]; fallback: string; read: string }> = {
  EXIT_CODE: { path: [["task_struct", "exit_code", 4]], fallback: "curtask->exit_code", read: "int32" },
  FILE_OF_FD: {
    path: [
      ["task_struct", "files", 8],
      ["files_struct", "fdt", 8],
      ["fdtable", "fd", 8],
    ],
    fallback: "*(curtask->files->fdt->fd + $fd)",
    read: "uint64",
  },
  FMODE_OF_F: { path: [["file", "f_mode", 4]], fallback: "$f->f_mode", read: "uint32" },
  PARENT_TGID: {
    path: [
      ["task_struct", "real_parent", 8],
      ["task_struct", "tgid", 4],
    ],
    fallback: "curtask->real_parent->tgid",
    read: "int32",
  },
  GROUP_EMPTY: {
    path: [
      ["task_struct", "signal", 8],
      ["signal_struct", "live", 4],
    ],
    fallback: "(curtask->signal->live.counter == 0)",
    read: "int32",
  },
};

/** The `KX_` expressions for a kernel's BTF (null: none readable, bpftrace's `curtask->…` forms). */
export function kernelFieldExprs(
  btf: KernelBtf | null = readKernelBtf(undefined, [
    ...new Set(Object.values(KERNEL_FIELDS).flatMap((f) => f.path.map((p) => p[0]))),
  ]),
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, f] of Object.entries(KERNEL_FIELDS)) {
    const offs: number[] = [];
    for (const [struct, member, size] of f.path) {
      const m = btf?.member(struct, member);
      if (!m || m.size !== size) break;
      offs.push(m.offset);
    }
    if (offs.length !== f.path.length) {
      out[name] = f.fallback;
      continue;
    }
    const last = offs.length - 1;
    // each step but the last reads a pointer; the fd table's entries are 8-byte pointers
    let base = name === "FMODE_OF_F" ? "$f" : "(uint64)curtask";
    let expr = "";
    offs.forEach((off, i) => {
      const at = `${base} + ${off}`;
      if (i < last) base = `*(uint64 *)(${at})`;
      else expr = `*(${f.read} *)(${at})`;
    });
    if (name === "FILE_OF_FD") expr = `*(uint64 *)(${expr} + $fd * 8)`;
    out[name] = name === "GROUP_EMPTY" ? `(${expr} == 0)` : expr;
  }
  return out;
}

/**
 * kernelFieldExprs, remembered for the boot (the running kernel's BTF cannot change before the next
 * one): reading and parsing the 5 MB of /sys/kernel/btf/vmlinux is 40-80 ms of every start-up. The
 * file is this user's own (not writable by others), else it is not used.
 */
export function cachedKernelFieldExprs(
  opts: { file?: string; bootId?: string | null; compute?: () => Record<string, string> } = {},
): Record<string, string> {
  const compute = opts.compute ?? (() => kernelFieldExprs());
  const bootId = opts.bootId !== undefined ? opts.bootId : readBootId();
  if (bootId === null) return compute();
  const uid = process.getuid?.() ?? 0;
  const file = opts.file ?? join(tmpdir(), `provflow-kernel-fields-${uid}.json`);
  try {
    const st = lstatSync(file);
    if (st.isFile() && st.uid === uid && (st.mode & 0o022) === 0) {
      const got = JSON.parse(readFileSync(file, "utf8")) as {
        boot?: unknown;
        fields?: Record<string, unknown>;
      };
      const fields = got.fields;
      if (
        got.boot === bootId &&
        fields &&
        Object.keys(KERNEL_FIELDS).every(
          (k) => typeof fields[k] === "string" && /^[\w\s*()+$.>=-]+$/.test(fields[k]),
        )
      ) {
        return fields as Record<string, string>;
      }
    }
  } catch {
    // none yet, or unreadable: computed below
  }
  const fields = compute();
  try {
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ boot: bootId, fields }), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch {
    // not remembered: the next run computes them again
  }
  return fields;
}

function readBootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
  } catch {
    return null;
  }
}

/**
 * The output of `provflow trace`'s bpftrace is fully buffered (`-B full`, BUFSIZ = 8 kB): the header
 * is followed by 16 kB of empty lines, so that it reaches the log as soon as the probes are attached;
 * so is the end mark.
 */
const FLUSH = `$i = 0; while ($i < 64) { printf("${"\\n".repeat(256)}"); $i = $i + 1; }`;

/** The number of possible CPUs (`/sys/devices/system/cpu/possible`, e.g. "0-1"): @live's keys. */
export function possibleCpus(text?: string): number {
  let spec = text;
  if (spec === undefined) {
    try {
      spec = readFileSync("/sys/devices/system/cpu/possible", "utf8");
    } catch {
      return 256;
    }
  }
  let max = -1;
  for (const part of spec.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m) max = Math.max(max, Number(m[2] ?? m[1]));
  }
  return max >= 0 ? Math.min(max + 1, 4096) : 256;
}

function endMarkText(mark: number | undefined): string {
  return mark !== undefined && Number.isSafeInteger(mark) && mark > 0 ? String(mark) : "0";
}

/** The program for a scope and an architecture: its placeholders filled in. */
export function ebpfProgram(
  scope: EbpfScope,
  arch: EbpfArch,
  template?: string,
  offsets: Record<string, string> = tracepointOffsets(),
  fields: Record<string, string> = cachedKernelFieldExprs(),
): string {
  const text = template ?? readFileSync(ebpfProgramFile(), "utf8");
  const nrs = syscallNumbers(arch);
  let roots: string;
  let predicate: string;
  if (scope.kind === "tree") {
    roots = `${scope.tids.map((t) => `@t[${t | 0}] = 1;`).join(" ")} @roots = ${scope.tids.length};`;
    predicate = "0";
  } else {
    roots = "@roots = 0;";
    // $4 started bpftrace (provflow, or the watchdog shell and its `sleep`s): none of them is captured
    const not = `${scope.exclude.map((p) => ` && pid != ${p | 0}`).join("")} && pid != $4 && KX_PARENT_TGID != $4`;
    const base =
      scope.kind === "all" ? "1" : scope.kind === "uid" ? `uid == ${scope.uid | 0}` : `cgroup == ${scope.id}`;
    predicate = `(${base}${not})`;
  }
  return text
    .replace(/^(\s*)__ROOTS__$/m, `$1${roots}`)
    .replaceAll("__SCOPE__", predicate)
    .replaceAll("__FOLLOW__", scope.kind === "tree" ? "1" : "0")
    .replaceAll("__NCPU__", String(possibleCpus()))
    .replace(/^(\s*)__FLUSH__$/gm, (_m, ind: string) => (scope.kind === "tree" ? `${ind}${FLUSH}` : ""))
    .replaceAll("__ENDMARK__", scope.kind === "tree" ? endMarkText(scope.endMark) : "0")
    .replace(/\bNR_([a-z0-9_]+)\b/g, (m, name: string) => (Object.hasOwn(nrs, name) ? String(nrs[name]) : m))
    .replace(/\bTP_([A-Za-z0-9_]+)\b/g, (m, name: string) =>
      Object.hasOwn(offsets, name) ? String(offsets[name]) : m,
    )
    .replace(/\bKX_([A-Z_]+)\b/g, (m, name: string) =>
      Object.hasOwn(fields, name) ? String(fields[name]) : m,
    );
}
