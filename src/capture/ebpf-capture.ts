import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { type EbpfArch, ebpfArch } from "../sources/ebpf/ebpf-syscalls.js";
import type { LineBatch } from "../sources/line-batches.js";
import { CaptureError } from "../util/errors.js";
import { type EbpfScope, ebpfProgram } from "./ebpf-program.js";
import { whichSync } from "./tracer-command.js";

/**
 * Running provflow's bpftrace program: the checks before (privileges, BTF, tracefs, bpftrace), the
 * start (its output goes to a log file, line by line, which the source follows as it grows), and
 * the knowledge of when its probes are attached (its header line is printed by BEGIN, which bpftrace
 * runs once every probe is in place).
 */

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;
const STRACE_HINT = "'--tracer strace' works everywhere";

/** The effective capabilities of this process (from /proc/self/status). */
function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

const has = (caps: bigint, bit: number) => (caps & (1n << BigInt(bit))) !== 0n;

/** /sys/kernel/btf/vmlinux, or what PROVFLOW_BTF names (to check the message on a machine that has BTF) */
function btfPath(): string {
  return process.env.PROVFLOW_BTF || "/sys/kernel/btf/vmlinux";
}

/** tracefs at /sys/kernel/tracing, mounted when missing (bpftrace reads tracepoint formats there). */
export function ensureTracefs(): void {
  if (existsSync("/sys/kernel/tracing/events") || existsSync("/sys/kernel/debug/tracing/events")) return;
  const r = spawnSync("mount", ["-t", "tracefs", "nodev", "/sys/kernel/tracing"], { encoding: "utf8" });
  if (r.status !== 0 || !existsSync("/sys/kernel/tracing/events")) {
    throw new CaptureError(
      `tracefs is not mounted and mounting it failed (mount -t tracefs nodev /sys/kernel/tracing: ${(r.stderr || r.error?.message || "").trim()}); ${STRACE_HINT}`,
    );
  }
}

/**
 * Everything eBPF capture needs, checked before anything runs; each failure is one line naming what
 * is missing. Returns bpftrace's path and the architecture.
 */
export function ebpfPreflight(): { bpftrace: string; arch: EbpfArch } {
  const caps = effectiveCaps();
  const missing: string[] = [];
  if (!has(caps, CAP_SYS_ADMIN)) {
    if (!has(caps, CAP_BPF)) missing.push("CAP_BPF");
    if (!has(caps, CAP_PERFMON)) missing.push("CAP_PERFMON");
  }
  if (missing.length > 0) {
    throw new CaptureError(
      `eBPF tracing needs root or CAP_BPF + CAP_PERFMON (missing: ${missing.join(", ")}); ${STRACE_HINT}`,
    );
  }
  if (!existsSync(btfPath())) {
    throw new CaptureError(
      `eBPF tracing needs a kernel with BTF type information (${btfPath()} is missing; CONFIG_DEBUG_INFO_BTF); ${STRACE_HINT}`,
    );
  }
  const arch = ebpfArch();
  if (arch === null) {
    throw new CaptureError(
      `eBPF tracing knows the system calls of x86_64 and arm64, not ${process.arch}; ${STRACE_HINT}`,
    );
  }
  const bpftrace = whichSync("bpftrace");
  if (bpftrace === null) {
    throw new CaptureError(
      `bpftrace is not installed (Debian/Ubuntu: sudo apt-get install bpftrace); ${STRACE_HINT}`,
    );
  }
  ensureTracefs();
  return { bpftrace, arch };
}

/** The thread ids of a process (its /proc/PID/task), for attaching. */
export function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [pid];
  }
}

/** The wall clock minus the monotonic clock (bpf_ktime_get_ns), in nanoseconds. */
export function clockOffsetNs(): bigint {
  const mono = process.hrtime.bigint();
  const wall = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
  return wall - mono;
}

export interface EbpfSession {
  /** bpftrace's command line, stored with the run */
  argv: string[];
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** bpftrace's stderr without its harmless warnings (bounded) */
  stderr(): string;
  /** ask bpftrace to stop (SIGINT: it prints what it holds and ends) */
  stop(): void;
  /**
   * kill bpftrace at once (SIGKILL to its group) once its log is complete, without waiting for it:
   * the kernel detaches its probes as the process goes, which takes a while (tenths of a second)
   */
  kill(): void;
}

/**
 * bpftrace must stop (SIGINT: it prints what it holds, then ends) when provflow goes away without
 * stopping it (killed with SIGKILL): an agent's bpftrace never ends by itself. util-linux's setpriv
 * sets the parent-death signal and execs bpftrace, so bpftrace is provflow's own child. Where setpriv
 * is missing, bpftrace runs under a small shell that watches provflow once a second instead (SIGINT or
 * SIGTERM to the shell are passed on; the shell ends with bpftrace's status). bpftrace's last argument
 * ($4) is the process that started it (provflow, or the shell): the agent's program leaves its
 * children out.
 */
const WATCHDOG = `p=$1; shift
"$@" $$ & b=$!
trap 'kill -INT $b 2>/dev/null' INT TERM
while kill -0 $b 2>/dev/null; do
  kill -0 $p 2>/dev/null || kill -INT $b 2>/dev/null
  sleep 1 & wait $!
done
wait $b`;

/** how long bpftrace has to print what it holds and end after SIGINT, before SIGTERM (then SIGKILL) */
const STOP_GRACE_MS = 10_000;

/** A signal to a process group (bpftrace runs in its own: it leads it under setpriv, the watchdog shell does otherwise), else to the leader. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

/** how bpftrace is started: setpriv with a parent-death signal, else the watchdog shell */
function launcher(argv: string[]): { file: string; args: string[] } {
  const setpriv = whichSync("setpriv");
  if (setpriv !== null) {
    return { file: setpriv, args: ["--pdeathsig", "INT", ...argv, String(process.pid)] };
  }
  return { file: "/bin/sh", args: ["-c", WATCHDOG, "provflow-bpftrace", String(process.pid), ...argv] };
}

const HARMLESS = [/RLIMIT_MEMLOCK/, /WARNING: arithmetic on integers/, /^\s+[~^]+\s*$/, /^\s*$/];

/** bpftrace's stderr without the harmless warnings and the source lines they quote */
function cleanStderr(text: string): string {
  const out: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (/WARNING: arithmetic on integers/.test(l)) {
      i += 2;
      continue;
    }
    if (HARMLESS.some((re) => re.test(l))) continue;
    out.push(l);
  }
  return out.join("\n").trim();
}

export interface StartOptions {
  bpftrace: string;
  arch: EbpfArch;
  scope: EbpfScope;
  /** the log bpftrace writes (created or truncated); null: its stdout is a pipe (session.child.stdout) */
  log: string | null;
  /** where the program text is written */
  programFile: string;
  /** the working directory of the traced command, in the header */
  cwd: string;
  /** give up waiting for the probes after this long (ms) */
  timeout?: number;
}

/**
 * Starts bpftrace on the program for `scope`, writing to `log`, and resolves once its probes are
 * attached (the header line is in the log). Rejects with bpftrace's own error when it ends first.
 * bpftrace runs in its own process group: a Ctrl-C at the terminal does not stop it before the
 * traced command has ended.
 */
export async function startBpftrace(opts: StartOptions): Promise<EbpfSession> {
  await writeFile(opts.programFile, ebpfProgram(opts.scope, opts.arch));
  const out = opts.log === null ? "pipe" : openSync(opts.log, "w");
  const argv = [
    opts.bpftrace,
    // provflow trace reads a log to its end: its lines need no flushing one by one (see FLUSH)
    ...(opts.scope.kind === "tree" ? ["-B", "full"] : []),
    opts.programFile,
    clockOffsetNs().toString(),
    opts.arch === "arm64" ? "2" : "1",
    opts.cwd,
  ];
  let child: ChildProcess;
  try {
    const l = launcher(argv);
    child = spawn(l.file, l.args, {
      stdio: ["ignore", out, "pipe"],
      detached: true,
      env: {
        ...process.env,
        BPFTRACE_STRLEN: "200",
        BPFTRACE_MAP_KEYS_MAX: "65536",
        BPFTRACE_PERF_RB_PAGES: "1024",
      },
    });
  } finally {
    if (typeof out === "number") closeSync(out);
  }
  let err = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    if (err.length < 65536) err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on("error", (e) => {
      err += e.message;
      res({ code: 127, signal: null });
    });
    child.on("exit", (code, signal) => res({ code, signal }));
  });
  let ended = false;
  let stopping = false;
  void exited.then(() => {
    ended = true;
  });
  const session: EbpfSession = {
    kill: () => {
      if (child.pid !== undefined && !ended) signalGroup(child.pid, "SIGKILL");
      // nothing of it keeps provflow waiting: its stderr pipe closes only when the kernel is done
      child.stderr?.destroy();
      child.unref();
    },
    argv,
    child,
    exited,
    stderr: () => cleanStderr(err),
    stop: () => {
      if (ended || child.pid === undefined || stopping) return;
      stopping = true;
      // the whole group (the watchdog shell, bpftrace, its sleep): a SIGINT to the shell alone was
      // seen not to reach bpftrace, and then nothing ended; bpftrace prints what its maps hold on
      // SIGINT, so that comes first, then SIGTERM and SIGKILL if it is still there
      const pid = child.pid;
      signalGroup(pid, "SIGINT");
      const t1 = setTimeout(() => signalGroup(pid, "SIGTERM"), STOP_GRACE_MS);
      const t2 = setTimeout(() => signalGroup(pid, "SIGKILL"), 2 * STOP_GRACE_MS);
      t1.unref();
      t2.unref();
      void exited.then(() => {
        clearTimeout(t1);
        clearTimeout(t2);
      });
    },
  };
  if (opts.log === null) return session;
  const log = opts.log;
  const deadline = Date.now() + (opts.timeout ?? 60_000);
  for (;;) {
    if (ended) {
      const msg = session.stderr().split("\n").slice(0, 3).join(" / ") || "no message";
      throw new CaptureError(`bpftrace failed to start: ${msg}; ${STRACE_HINT}`);
    }
    if (headerWritten(log)) return session;
    if (Date.now() > deadline) {
      session.stop();
      throw new CaptureError("bpftrace did not attach its probes within a minute");
    }
    await new Promise((r) => setTimeout(r, 15));
  }
}

/**
 * The log's batches up to the end mark of provflow's program (the line `Z ns MARK`, printed once
 * everything the traced tree printed is in the log): the batch is cut after it, `onEnd` is called,
 * and the reading stops there without waiting for bpftrace to end.
 */
export async function* untilEndMark(
  batches: AsyncIterable<LineBatch>,
  mark: number,
  onEnd: () => void,
): AsyncIterable<LineBatch> {
  const suffix = `\t${mark}`;
  for await (const batch of batches) {
    const lines = batch.lines;
    let end = -1;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i] as string;
      if (l.charCodeAt(0) === 90 && l.charCodeAt(1) === 9 && l.endsWith(suffix) && /^Z\t\d+\t\d+$/.test(l)) {
        end = i;
        break;
      }
    }
    if (end < 0) {
      yield batch;
      continue;
    }
    onEnd();
    yield end + 1 === lines.length ? batch : { ...batch, lines: lines.slice(0, end + 1) };
    return;
  }
}

function headerWritten(log: string): boolean {
  try {
    if (statSync(log).size === 0) return false;
    const head = readFileSync(log, "utf8").slice(0, 4096);
    return /^H\t/m.test(head);
  } catch {
    return false;
  }
}

/** `/proc/PID/stat` state T (stopped): the gate has stopped itself and waits for SIGCONT. */
export function isStopped(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3);
    return state === "T" || state === "t";
  } catch {
    return false;
  }
}

/** Waits until `pid` is stopped (or gone); false when it ended instead. */
export async function waitStopped(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isStopped(pid)) return true;
    if (!existsSync(`/proc/${pid}`)) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/**
 * The gate: `sh` stops itself, then (on SIGCONT) execs the command in place, keeping its pid and
 * provflow's stdin, stdout and stderr. bpftrace is started on that pid in between, so the command's
 * first instruction already runs traced.
 */
export function spawnGated(exe: string, argv: string[]): ChildProcess {
  return spawn("/bin/sh", ["-c", 'kill -STOP $$ && exec "$@"', argv[0] ?? exe, exe, ...argv.slice(1)], {
    stdio: "inherit",
    argv0: "provflow-gate",
  });
}
