import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CaptureError } from "../util/errors.js";

/** the ptrace-based tracers (planTracer builds their command lines) */
export type PtraceTracer = "strace" | "ltrace";
/** every tracer of provflow trace: eBPF runs provflow's bpftrace program (src/capture/ebpf-capture.ts) */
export type TracerName = PtraceTracer | "ebpf";

export interface TracerPlan {
  tracer: PtraceTracer;
  /** the tracer's full command line, stored with the run */
  argv: string[];
  log: string;
}

export interface TracerRequest {
  tracer: PtraceTracer;
  log: string;
  /** the command to run, or null with `pid` to attach */
  command: string[] | null;
  pid: number | null;
  /** capture the environment of every exec (strace -v style envp); off by default: it holds secrets */
  env?: boolean;
  /** ltrace: also trace system calls (-S); default true */
  syscalls?: boolean;
  /** strace string size (-s) */
  stringSize?: number;
}

/** The strace call classes provflow records: everything that touches a file, fd, process, socket or IPC. */
export const STRACE_CLASSES = "%file,%desc,%process,%network,%ipc";

/**
 * Builds the tracer's command line. strace: record to a file (-o), never parse its stderr; -f
 * follows children; -ttt gives epoch time with µs; -T durations; -yy decodes fds into paths and
 * socket addresses; -q hides attach messages but keeps exits and kills (never -qq).
 */
export function planTracer(req: TracerRequest): TracerPlan {
  const s = String(req.stringSize ?? 4096);
  if (req.tracer === "strace") {
    const argv = [
      "strace",
      "-f",
      "-q",
      "-ttt",
      "-T",
      "-s",
      s,
      "-yy",
      "-e",
      `trace=${STRACE_CLASSES}`,
      "-e",
      "signal=all",
    ];
    if (req.env) argv.push("-e", "abbrev=!execve");
    argv.push("-o", req.log);
    if (req.pid !== null) argv.push("-p", String(req.pid));
    else argv.push("--", ...(req.command ?? []));
    return { tracer: "strace", argv, log: req.log };
  }
  const argv = ["ltrace", "-f", "-ttt", "-T", "-s", s];
  if (req.syscalls !== false) {
    argv.push("-S");
    const conf = ltraceSyscallPrototypes();
    if (conf) argv.push("-F", "/etc/ltrace.conf", "-F", conf);
  }
  argv.push("-o", req.log);
  if (req.pid !== null) argv.push("-p", String(req.pid));
  else argv.push(...(req.command ?? []));
  return { tracer: "ltrace", argv, log: req.log };
}

/**
 * provflow's ltrace prototypes for file, process and socket system calls (share/ in the package):
 * without them ltrace -S prints paths as pointers.
 */
export function ltraceSyscallPrototypes(): string | null {
  for (const rel of ["../share/ltrace-syscalls.conf", "../../share/ltrace-syscalls.conf"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return null;
}

/** Looks a program up like execvp does; null when not found or not executable. */
export function whichSync(cmd: string, path = process.env.PATH ?? ""): string | null {
  const candidates = cmd.includes("/") ? [cmd] : path.split(delimiter).map((d) => join(d || ".", cmd));
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
      accessSync(c, constants.X_OK);
      return isAbsolute(c) ? c : join(process.cwd(), c);
    } catch {
      // next
    }
  }
  return null;
}

function readYama(): number | null {
  try {
    return Number(readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8").trim());
  } catch {
    return null;
  }
}

/**
 * Checks, before anything runs, what would make tracing fail, and says what to do about it in one
 * line: a missing tracer, a missing command, a kernel that forbids ptrace.
 */
export function preflight(req: TracerRequest): void {
  if (!whichSync(req.tracer)) {
    throw new CaptureError(
      `${req.tracer} is not installed: install it (Debian/Ubuntu: sudo apt-get install ${req.tracer}) or replay an existing log with 'provflow ingest'`,
    );
  }
  const yama = readYama();
  if (yama === 3) {
    throw new CaptureError(
      "the kernel forbids ptrace for everyone (kernel.yama.ptrace_scope=3, fixed until reboot): tracing is impossible on this boot",
    );
  }
  if (req.pid !== null) {
    try {
      process.kill(req.pid, 0);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ESRCH") throw new CaptureError(`no process with pid ${req.pid}`);
      if (code === "EPERM") {
        throw new CaptureError(
          `not allowed to trace pid ${req.pid} (it belongs to another user): run provflow as that user or as root`,
        );
      }
    }
    const uid = process.getuid?.() ?? 0;
    if (yama !== null && yama >= 1 && uid !== 0) {
      throw new CaptureError(
        `attaching needs ptrace rights: kernel.yama.ptrace_scope=${yama} only lets a parent trace its children; run as root, or 'sudo sysctl kernel.yama.ptrace_scope=0'`,
      );
    }
    return;
  }
  const cmd = req.command?.[0];
  if (!cmd) throw new CaptureError("no command to trace: provflow trace -- CMD [ARGS…]");
  if (!whichSync(cmd)) {
    throw new CaptureError(`command not found: ${cmd} (not an executable file, nor in PATH)`);
  }
}
