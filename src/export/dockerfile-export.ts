import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { categorizePath } from "../graph/file-category.js";
import type { FileAccess } from "../graph/graph-builder.js";
import type { RunRecord } from "../store/store-types.js";
import { UsageError } from "../util/errors.js";
import { imageOfOsRelease } from "../util/os-release.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { redactArgv, redactEnv } from "./redact.js";

/** Categories whose files are never copied: the kernel's, devices, runtime state, temporary files. */
const NOT_INPUT_CATEGORIES = new Set(["kernel", "device", "temporary", "runtime", "pipe", "socket"]);
const NOT_INPUT_DIRS = ["/proc/", "/sys/", "/dev/", "/run/", "/var/run/", "/tmp/", "/var/tmp/"];
/**
 * Unowned files a container gets from elsewhere: the runtime mounts hostname, hosts and
 * resolv.conf; ldconfig writes ld.so.cache for the image's own libraries.
 */
export const SYSTEM_MANAGED_FILES: ReadonlySet<string> = new Set([
  "/etc/hostname",
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/ld.so.cache",
  "/etc/mtab",
]);
/** Environment variables of the shell or the session, not of the program. */
const VOLATILE_ENV = new Set(["PWD", "OLDPWD", "SHLVL", "_", "HOSTNAME"]);
/** The /usr-merge: these top directories are symlinks into /usr (or the other way round). */
const MERGED_DIRS = ["/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"];
/** paths per dpkg -S / rpm -qf call (keeps each command line well under ARG_MAX) */
const QUERY_BATCH = 400;

/** What the context holds, also written as DIR/provflow-context.json. */
export interface DockerContextReport {
  image: string;
  /** where the distribution came from: this machine's os-release, or a fallback */
  imageSource: string;
  sameMachine: boolean;
  packageManager: "dpkg" | "rpm" | null;
  packages: string[];
  /** input path → the package owning it on this machine */
  packaged: Record<string, string>;
  /** inputs no package owns, copied into DIR at their path */
  copied: string[];
  /** unowned inputs left out on purpose (the runtime or ldconfig provides them) */
  skipped: string[];
  /** unowned inputs absent from (or unreadable on) this machine */
  missing: string[];
  cmd: string[] | null;
  workdir: string | null;
}

interface ProcInfo {
  pid: number;
  ppid: number | null;
  generation: number;
  exe: string | null;
  start: number;
  argv: string[];
  cwd: string | null;
  env: string[] | null;
}

function aliasOf(path: string): string | null {
  for (const d of MERGED_DIRS) {
    if (path.startsWith(d)) return `/usr${path}`;
    if (path.startsWith(`/usr${d}`)) return path.slice(4);
  }
  return null;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Whether the run was recorded here: its machine id (else its host name) is this machine's. */
function recordedHere(run: RunRecord): boolean {
  const mid = readOrNull("/etc/machine-id")?.trim() ?? null;
  if (run.machineId && mid) return run.machineId === mid;
  return run.host === hostname();
}

function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

interface Diversion {
  to: string;
  by: string | null;
}

/** `dpkg-divert --list`: from → {to, by} (by null for a local diversion), and to → from. */
function readDiversions(): { from: Map<string, Diversion>; to: Map<string, string> } {
  const from = new Map<string, Diversion>();
  const to = new Map<string, string>();
  const r = spawnSync("dpkg-divert", ["--list"], { encoding: "utf8", maxBuffer: 64 << 20 });
  for (const line of (r.stdout ?? "").split("\n")) {
    const m = /^(local )?diversion of (.+) to (.+?)(?: by (\S+))?$/.exec(line);
    if (!m?.[2] || !m[3]) continue;
    from.set(m[2], { to: m[3], by: m[1] ? null : (m[4] ?? null) });
    to.set(m[3], m[2]);
  }
  return { from, to };
}

/** dpkg -S patterns are globs: escape their special characters. */
function dpkgPattern(path: string): string {
  return path.replace(/[*?[\]\\]/g, "\\$&");
}

/** Owners of each path from the dpkg database, `dpkg -S` batched. */
function dpkgOwners(paths: string[]): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  const arch = spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).stdout?.trim() ?? "";
  for (let i = 0; i < paths.length; i += QUERY_BATCH) {
    const batch = paths.slice(i, i + QUERY_BATCH);
    const r = spawnSync("dpkg", ["-S", ...batch.map(dpkgPattern)], { encoding: "utf8", maxBuffer: 64 << 20 });
    for (const line of (r.stdout ?? "").split("\n")) {
      if (line.length === 0 || line.startsWith("diversion by ")) continue;
      const sep = line.indexOf(": /");
      if (sep < 0) continue;
      const path = line.slice(sep + 2);
      const pkgs = line
        .slice(0, sep)
        .split(", ")
        .map((p) => (arch && p.endsWith(`:${arch}`) ? p.slice(0, -arch.length - 1) : p));
      owners.set(path, [...(owners.get(path) ?? []), ...pkgs]);
    }
  }
  return owners;
}

/** Owners of each path from the rpm database, `rpm -qf` batched (one answer line per path). */
function rpmOwners(paths: string[]): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (let i = 0; i < paths.length; i += QUERY_BATCH) {
    const batch = paths.slice(i, i + QUERY_BATCH);
    const r = spawnSync("rpm", ["-qf", "--queryformat", "%{NAME}\n", ...batch], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    const lines = (r.stdout ?? "").split("\n").filter((l) => l.length > 0);
    if (lines.length !== batch.length) {
      // several owners for some path: ask path by path
      for (const p of batch) {
        const one = spawnSync("rpm", ["-qf", "--queryformat", "%{NAME}\n", p], { encoding: "utf8" });
        const names = (one.stdout ?? "").split("\n").filter((l) => l.length > 0 && !l.includes(" "));
        if (one.status === 0 && names.length > 0) owners.set(p, names);
      }
      continue;
    }
    batch.forEach((p, k) => {
      const l = lines[k] ?? "";
      if (!l.includes(" ")) owners.set(p, [l]);
    });
  }
  return owners;
}

function realpathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/**
 * The package owning each path, trying the path, its /usr-merge alias, the file a symlink
 * resolves to and its alias. A diverted path belongs to the diverting package (to nobody for a
 * local diversion); a diversion's target belongs to the packages shipping the original.
 */
function packageOwners(paths: string[], manager: "dpkg" | "rpm"): Map<string, string> {
  const candidates = new Map<string, string[]>();
  for (const p of paths) {
    const list = [p];
    const real = realpathOrNull(p);
    for (const c of [aliasOf(p), real, real ? aliasOf(real) : null]) if (c && !list.includes(c)) list.push(c);
    candidates.set(p, list);
  }
  const result = new Map<string, string>();
  if (manager === "rpm") {
    const owners = rpmOwners([...new Set([...candidates.values()].flat())]);
    for (const [p, list] of candidates) {
      const hit = list.map((c) => owners.get(c)).find((o) => o && o.length > 0);
      if (hit?.[0]) result.set(p, hit[0]);
    }
    return result;
  }
  const div = readDiversions();
  // what to ask dpkg for each candidate: a diversion target is asked as its original path
  const asked = new Set<string>();
  for (const list of candidates.values()) {
    for (const c of list) {
      const orig = div.to.get(c);
      if (orig !== undefined) asked.add(orig);
      else if (!div.from.has(c)) asked.add(c);
    }
  }
  const owners = dpkgOwners([...asked]);
  for (const [p, list] of candidates) {
    for (const c of list) {
      const diverted = div.from.get(c);
      if (diverted) {
        if (diverted.by) result.set(p, diverted.by);
        break;
      }
      const orig = div.to.get(c);
      const by = orig !== undefined ? div.from.get(orig)?.by : undefined;
      const found = (owners.get(orig ?? c) ?? []).filter((o) => o !== by);
      if (found[0]) {
        result.set(p, found[0]);
        break;
      }
    }
  }
  return result;
}

/** Whether a path is a program's input the image must hold (not kernel, device, runtime, temporary). */
function isCandidateInput(path: string, category: string): boolean {
  if (!path.startsWith("/")) return false;
  if (NOT_INPUT_CATEGORIES.has(category)) return false;
  return !NOT_INPUT_DIRS.some((d) => path.startsWith(d) || path === d.slice(0, -1));
}

/**
 * Whether a path lies under the run's working directory, which the image recreates as WORKDIR: the
 * files found there and read are the run's inputs even in a temporary directory (a build in /tmp/x),
 * where the files the run made itself are not inputs (they are `created`).
 */
function underWorkdir(path: string, workdir: string | null): boolean {
  if (workdir === null || workdir === "/" || !path.startsWith("/")) return false;
  if (["/proc", "/sys", "/dev", "/run"].some((d) => workdir === d || workdir.startsWith(`${d}/`)))
    return false;
  return path.startsWith(workdir.endsWith("/") ? workdir : `${workdir}/`);
}

/** A Dockerfile `ENV` value: double-quoted, with `"`, `\` and `$` escaped. */
function envValue(v: string): string {
  return `"${v.replace(/[\\"$]/g, "\\$&")}"`;
}

/**
 * `provflow export --format dockerfile -o DIR`: DIR/Dockerfile rebuilding the traced run's
 * environment (base image of the distribution, packages owning the files it executed and read,
 * the other inputs copied into DIR at their paths, WORKDIR, ENV, CMD), and DIR/provflow-context.json.
 */
export async function writeDockerContext(input: ExportInput, out: ExportSink): Promise<void> {
  const dir = input.options.outputDir;
  if (!dir) throw new UsageError("the dockerfile format writes a directory: give it with -o DIR");
  const run = input.run;

  // inputs: files the run read, executed or mapped, and did not create first
  const inputs = new Map<string, FileAccess & { category: string }>();
  const procs: ProcInfo[] = [];
  // the distribution `provflow trace` recorded on the machine agent
  let recordedOs: { image: string; name: string | null } | null = null;
  for await (const batch of input.nodes({ types: ["file", "process", "machine"] })) {
    for (const n of batch) {
      if (n.type === "machine") {
        if (recordedOs === null && typeof n.attrs.osImage === "string")
          recordedOs = {
            image: n.attrs.osImage,
            name: typeof n.attrs.osName === "string" ? n.attrs.osName : null,
          };
        continue;
      }
      if (n.type === "process") {
        procs.push({
          pid: n.attrs.pid ?? 0,
          ppid: n.attrs.ppid ?? null,
          generation: n.attrs.generation ?? 0,
          exe: n.attrs.exe ?? null,
          start: n.start ?? Number.MAX_SAFE_INTEGER,
          argv: n.attrs.argv ?? [],
          cwd: n.attrs.cwd ?? null,
          env: n.attrs.env ?? null,
        });
        continue;
      }
      const path = n.attrs.path ?? n.label;
      const acc = (n.attrs.access ?? {}) as FileAccess;
      const prev = inputs.get(path);
      const category = n.attrs.category ?? categorizePath(path, run.cwd);
      inputs.set(path, { ...(prev ?? {}), ...acc, category });
    }
  }
  for (const p of procs) if (p.argv.length > 0 && p.start === Number.MAX_SAFE_INTEGER) p.start -= 1;
  // the root process: no parent in the run, first to start; its first generation with an argv
  const pids = new Set(procs.map((p) => p.pid));
  const roots = procs.filter((p) => p.ppid === null || !pids.has(p.ppid));
  roots.sort((a, b) => a.start - b.start || a.generation - b.generation);
  const rootPid = roots[0]?.pid;
  const root = procs
    .filter((p) => p.pid === rootPid && p.argv.length > 0)
    .sort((a, b) => a.generation - b.generation)[0];

  const workdir = root?.cwd ?? run.cwd;
  const wanted: string[] = [];
  for (const [path, a] of inputs) {
    if (!(a.read || a.executed || a.mapped) || a.created) continue;
    if (isCandidateInput(path, a.category) || underWorkdir(path, workdir)) wanted.push(path);
  }
  // executables known only from a process's exe (an exec the source did not show as a file access)
  for (const p of procs) {
    if (p.exe && p.generation > 0 && !inputs.has(p.exe) && isCandidateInput(p.exe, categorizePath(p.exe))) {
      inputs.set(p.exe, { executed: true, category: categorizePath(p.exe) });
      wanted.push(p.exe);
    }
  }
  wanted.sort();

  // the distribution
  const sameMachine = recordedHere(run);
  const osRelease = readOrNull("/etc/os-release") ?? readOrNull("/usr/lib/os-release");
  const localImage = osRelease ? imageOfOsRelease(osRelease) : null;
  const image = recordedOs?.image ?? localImage ?? "debian:stable";
  const imageSource = recordedOs
    ? `the distribution recorded with the run on ${run.host}${recordedOs.name ? ` (${recordedOs.name})` : ""}`
    : !localImage
      ? "no os-release on this machine: a default"
      : sameMachine
        ? "the os-release of this machine, where the run was recorded"
        : `the os-release of this machine: the run was recorded on ${run.host}${run.machineId ? ` (machine-id ${run.machineId})` : ""}, whose distribution the run does not record`;
  const manager = hasCommand("dpkg") ? "dpkg" : hasCommand("rpm") ? "rpm" : null;

  const owners = manager ? packageOwners(wanted, manager) : new Map<string, string>();
  const packaged: Record<string, string> = {};
  const copied: string[] = [];
  const skipped: string[] = [];
  const missing: string[] = [];
  mkdirSync(dir, { recursive: true });
  for (const path of wanted) {
    const pkg = owners.get(path);
    if (pkg) {
      packaged[path] = pkg;
      continue;
    }
    if (SYSTEM_MANAGED_FILES.has(path)) {
      skipped.push(path);
      continue;
    }
    try {
      if (!statSync(path).isFile()) throw new Error("not a regular file");
      const dest = join(dir, path);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(path, dest);
      copied.push(path);
    } catch {
      missing.push(path);
    }
  }
  const packages = [...new Set(Object.values(packaged))].sort();

  const redact = (argv: string[]): string[] => redactArgv(argv);
  const cmd = root ? redact(root.argv) : null;
  const lines: string[] = [];
  lines.push(`# provflow run ${run.id} (${run.name}), source ${run.source}, host ${run.host}`);
  lines.push(`# base image: ${imageSource}`);
  lines.push(`FROM ${image}`);
  if (packages.length > 0) {
    const install =
      manager === "rpm"
        ? `RUN dnf install -y ${packages.join(" ")} && dnf clean all`
        : `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(" ")} && rm -rf /var/lib/apt/lists/*`;
    lines.push(`# packages owning the ${Object.keys(packaged).length} files the run executed and read`);
    lines.push(install);
  }
  // one COPY per top-level entry of the context (the files keep their absolute paths)
  const tops = [...new Set(copied.map((p) => p.split("/")[1] ?? ""))].filter((t) => t.length > 0).sort();
  if (tops.length > 0) lines.push(`# ${copied.length} inputs no package owns, copied from this machine`);
  for (const t of tops) {
    const isDir = copied.some((p) => p.startsWith(`/${t}/`));
    lines.push(`COPY ${JSON.stringify(isDir ? [`${t}/`, `/${t}/`] : [t, `/${t}`])}`);
  }
  for (const p of skipped) lines.push(`# not copied (the container runtime or ldconfig provides it): ${p}`);
  for (const p of missing) lines.push(`# missing (no package owns it, not on this machine): ${p}`);
  if (workdir) lines.push(`WORKDIR ${/^[\w./+@,:-]+$/.test(workdir) ? workdir : JSON.stringify(workdir)}`);
  if (root?.env) {
    const env = redactEnv(root.env);
    for (const entry of env) {
      const eq = entry.indexOf("=");
      const name = eq < 0 ? entry : entry.slice(0, eq);
      if (eq <= 0 || VOLATILE_ENV.has(name) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
      const value = entry.slice(eq + 1);
      if (/[\n\r]/.test(value)) {
        lines.push(`# ENV ${name} left out: its value spans lines`);
        continue;
      }
      lines.push(`ENV ${name}=${envValue(value)}`);
    }
  }
  if (cmd) lines.push(`CMD ${JSON.stringify(cmd)}`);
  else lines.push("# CMD unknown: the run's first process has no recorded argv");
  writeFileSync(join(dir, "Dockerfile"), `${lines.join("\n")}\n`);

  const report: DockerContextReport = {
    image,
    imageSource,
    sameMachine,
    packageManager: manager,
    packages,
    packaged,
    copied,
    skipped,
    missing,
    cmd,
    workdir,
  };
  writeFileSync(join(dir, "provflow-context.json"), `${JSON.stringify(report, null, 2)}\n`);
  await out(
    `${join(dir, "Dockerfile")}: ${image}, ${packages.length} packages (${Object.keys(packaged).length} files), ${copied.length} files copied, ${skipped.length} skipped, ${missing.length} missing\n`,
  );
}

export const dockerfileExporter: Exporter = {
  format: "dockerfile",
  mediaType: "text/x-dockerfile",
  extension: "",
  description: "a Dockerfile and its build context (a directory: -o DIR) rebuilding the run's environment",
  directory: true,
  write: writeDockerContext,
};
