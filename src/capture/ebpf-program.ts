import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type EbpfArch, syscallNumbers } from "../sources/ebpf/ebpf-syscalls.js";
import { CaptureError } from "../util/errors.js";

/** Which threads the program follows. */
export type EbpfScope =
  /** these threads and their descendants (provflow trace); the program ends when the last one ends */
  | { kind: "tree"; tids: number[] }
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
      out.GROUP_DEAD = offset >= 0 ? `*(uint8 *)($a + ${offset})` : "(curtask->signal->live.counter == 0)";
    } else if (offset < 0) {
      throw new CaptureError(`the kernel's ${f.event} tracepoint has no field ${f.field}`);
    } else out[name] = String(offset);
  }
  return out;
}

/**
 * The output of `provflow trace`'s bpftrace is fully buffered (`-B full`, BUFSIZ = 8 kB): the header
 * is followed by 16 kB of empty lines, so that it reaches the log as soon as the probes are attached.
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

/** The program for a scope and an architecture: its placeholders filled in. */
export function ebpfProgram(
  scope: EbpfScope,
  arch: EbpfArch,
  template?: string,
  offsets: Record<string, string> = tracepointOffsets(),
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
    const not = `${scope.exclude.map((p) => ` && pid != ${p | 0}`).join("")} && pid != $4 && curtask->real_parent->tgid != $4`;
    const base =
      scope.kind === "all" ? "1" : scope.kind === "uid" ? `uid == ${scope.uid | 0}` : `cgroup == ${scope.id}`;
    predicate = `(${base}${not})`;
  }
  return text
    .replace(/^(\s*)__ROOTS__$/m, `$1${roots}`)
    .replaceAll("__SCOPE__", predicate)
    .replaceAll("__FOLLOW__", scope.kind === "tree" ? "1" : "0")
    .replaceAll("__NCPU__", String(possibleCpus()))
    .replace(/^(\s*)__FLUSH__$/m, (_m, ind: string) => (scope.kind === "tree" ? `${ind}${FLUSH}` : ""))
    .replace(/\bNR_([a-z0-9_]+)\b/g, (m, name: string) => (Object.hasOwn(nrs, name) ? String(nrs[name]) : m))
    .replace(/\bTP_([A-Za-z0-9_]+)\b/g, (m, name: string) =>
      Object.hasOwn(offsets, name) ? String(offsets[name]) : m,
    );
}
