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

/** The program for a scope and an architecture: its placeholders filled in. */
export function ebpfProgram(scope: EbpfScope, arch: EbpfArch, template?: string): string {
  const text = template ?? readFileSync(ebpfProgramFile(), "utf8");
  const nrs = syscallNumbers(arch);
  let roots: string;
  let predicate: string;
  if (scope.kind === "tree") {
    roots = `${scope.tids.map((t) => `@t[${t | 0}] = 1;`).join(" ")} @live = ${scope.tids.length};`;
    predicate = "0";
  } else {
    roots = "";
    // $4 is the watchdog shell bpftrace runs under: neither it nor its `sleep`s are captured
    const not = `${scope.exclude.map((p) => ` && pid != ${p | 0}`).join("")} && pid != $4 && curtask->real_parent->tgid != $4`;
    const base =
      scope.kind === "all" ? "1" : scope.kind === "uid" ? `uid == ${scope.uid | 0}` : `cgroup == ${scope.id}`;
    predicate = `(${base}${not})`;
  }
  return text
    .replace(/^(\s*)__ROOTS__$/m, `$1${roots}`)
    .replaceAll("__SCOPE__", predicate)
    .replaceAll("__FOLLOW__", scope.kind === "tree" ? "1" : "0")
    .replace(/\bNR_([a-z0-9_]+)\b/g, (m, name: string) => (Object.hasOwn(nrs, name) ? String(nrs[name]) : m));
}
