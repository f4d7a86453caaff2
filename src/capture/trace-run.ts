import { type ChildProcess, spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { constants as osConstants, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { RunContext } from "../events/event-types.js";
import { redactArgv } from "../export/redact.js";
import { type PipelineResult, runPipeline } from "../ingest/ingest-pipeline.js";
import { followFileLines, type LineBatch } from "../sources/line-batches.js";
import { findFormat } from "../sources/source-registry.js";
import type { GraphStore, Problem } from "../store/store-types.js";
import { CaptureError } from "../util/errors.js";
import type { HostInfo } from "../util/host-info.js";
import { localNetworkMounts } from "../util/mount-table.js";
import { localOs } from "../util/os-release.js";
import {
  type EbpfSession,
  ebpfPreflight,
  spawnGated,
  startBpftrace,
  threadsOf,
  untilEndMark,
  waitStopped,
} from "./ebpf-capture.js";
import { planTracer, preflight, type TracerName, whichSync } from "./tracer-command.js";

/**
 * While the traced command runs, what was read is written at least this often (ms), so that the run
 * grows in the store as it runs (provflow serve shows it live); a busy trace writes every 5000 events anyway.
 */
const LIVE_FLUSH_MS = 500;

export interface TraceOptions {
  store: GraphStore;
  host: HostInfo;
  tracer: TracerName;
  command: string[] | null;
  pid: number | null;
  name?: string;
  /** keep the tracer's log here (else a temporary file, removed afterwards) */
  log?: string;
  env?: boolean;
  /** record environments as they are (default: their secrets are redacted as they are recorded) */
  keepSecrets?: boolean;
  /** also redact secrets in command lines as they are recorded */
  redactArgv?: boolean;
  onProblem?: (p: Problem) => void;
}

export interface TraceOutcome {
  runId: number;
  result: PipelineResult;
  /** the status provflow should exit with: the traced command's */
  exitStatus: number;
  interrupted: boolean;
  tracerFailed: boolean;
}

function procCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [`pid ${pid}`];
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 1;
}

/**
 * Runs the command (or attaches to a pid) under the tracer, recording to a log file that is parsed
 * while it grows; the command keeps provflow's stdin, stdout and stderr.
 */
export async function traceCommand(opts: TraceOptions): Promise<TraceOutcome> {
  const tmp = opts.log ? null : await mkdtemp(join(tmpdir(), "provflow-trace-"));
  const log = opts.log ? resolve(opts.log) : join(tmp!, `trace.${opts.tracer}`);
  const ebpf = opts.tracer === "ebpf";
  let cwd = process.cwd();
  if (ebpf && opts.pid !== null) cwd = procCwd(opts.pid) ?? cwd;
  const command = opts.command ?? procCmdline(opts.pid!);
  const ctx: RunContext = {
    host: opts.host.host,
    machineId: opts.host.machineId ?? undefined,
    bootId: opts.host.bootId ?? undefined,
    cwd,
    clock: "epoch",
    mounts: localNetworkMounts(opts.pid ?? "self"),
    os: localOs() ?? undefined,
  };
  if (opts.tracer === "ltrace" && opts.command) {
    ctx.rootCommand = { exe: whichSync(opts.command[0]!) ?? opts.command[0]!, argv: opts.command };
  }
  let interrupted = false;
  // the tracer (or, for eBPF, the gated command) and what ends the log; a signal that comes while
  // it starts is acted on once it has started
  let launch: Launch | null = null;
  let early: "int" | "term" | null = null;
  const onInt = () => {
    interrupted = true;
    if (launch) launch.interrupt();
    else early ??= "int";
  };
  const onTerm = () => {
    interrupted = true;
    if (launch) launch.terminate();
    else early = "term";
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  process.on("SIGHUP", onTerm);
  const off = () => {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    process.off("SIGHUP", onTerm);
  };
  let runId: number;
  try {
    if (opts.tracer === "ebpf") {
      launch = await launchEbpf(opts, log, cwd, tmp ?? dirname(log));
    } else {
      const req = { tracer: opts.tracer, log, command: opts.command, pid: opts.pid, env: opts.env };
      preflight(req);
      const plan = planTracer(req);
      await writeFile(log, "");
      launch = launchPtrace(plan.argv, plan.tracer, opts.pid !== null);
    }
    runId = await opts.store.createRun({
      name:
        opts.name ??
        command.map((a) => (a.includes("/") ? a.slice(a.lastIndexOf("/") + 1) : a))[0] ??
        "trace",
      source: opts.tracer,
      command: opts.redactArgv ? redactArgv(command) : command,
      tracerCommand: opts.redactArgv ? redactArgv(launch.argv) : launch.argv,
      host: opts.host.host,
      machineId: opts.host.machineId,
      bootId: opts.host.bootId,
      cwd,
      user: opts.host.user,
      start: Date.now() * 1000,
    });
  } catch (err) {
    off();
    if (launch) {
      launch.terminate();
      await launch.cleanup();
    }
    throw err;
  }
  launch.go();
  if (early === "term") launch.terminate();
  else if (early === "int") launch.interrupt();
  const exited = launch.exited;

  const format = findFormat(opts.tracer)!;
  let result: PipelineResult;
  try {
    result = await runPipeline(
      [
        {
          label: log,
          batches: launch.follow(followFileLines(log, { done: launch.logDone, idleMs: LIVE_FLUSH_MS })),
          parser: format.createParser({ file: log, ctx, attach: ebpf && opts.pid !== null }),
        },
      ],
      {
        store: opts.store,
        runId,
        ctx,
        user: opts.host.uid !== null ? { uid: opts.host.uid, name: opts.host.user ?? undefined } : undefined,
        onProblem: opts.onProblem,
        flushMs: LIVE_FLUSH_MS,
        redact: { env: !opts.keepSecrets, argv: opts.redactArgv === true },
      },
    );
  } finally {
    off();
    await launch.cleanup();
  }
  const status = await exited;
  const tracerFailed = ebpf ? launch.failed() : result.stats.lines === 0 && (status.code ?? 1) !== 0;
  const attached = opts.pid !== null;
  let exitStatus: number;
  if (attached) {
    // attaching ends when the process tree ends or at Ctrl-C, which detaches and leaves it running:
    // both are a normal end of the recording
    exitStatus = status.signal && !interrupted ? 128 + signalNumber(status.signal) : 0;
  } else {
    // strace exits with the command's status (or dies of its signal), eBPF's is the gated command's
    // own; ltrace always exits 0, so its command's status comes from the recorded exit of the first
    // process
    exitStatus = status.signal ? 128 + signalNumber(status.signal) : (status.code ?? 1);
    if (opts.tracer === "ltrace" && !status.signal && status.code === 0) {
      if (result.exitSignal) exitStatus = 128 + signalNumber(result.exitSignal as NodeJS.Signals);
      else if (result.exitCode !== null) exitStatus = result.exitCode;
    }
  }
  await opts.store.updateRun(runId, {
    status: interrupted && !attached ? "incomplete" : "complete",
    start: result.start,
    end: result.end ?? Date.now() * 1000,
    // an attached process's exit is only what the trace saw; the tracer's own status says nothing of it
    exitCode: result.exitCode ?? (attached || status.signal ? null : status.code),
    exitSignal: result.exitSignal ?? (attached ? null : status.signal),
    stats: { ...result.stats, interrupted: interrupted ? 1 : 0 },
  });
  if (tmp) await rm(tmp, { recursive: true, force: true });
  return { runId, result, exitStatus, interrupted, tracerFailed };
}

type Status = { code: number | null; signal: NodeJS.Signals | null };

/** What runs: its command line, its end, and how signals reach it. */
interface Launch {
  argv: string[];
  /** the status provflow reports: the tracer's (strace, ltrace), the command's (eBPF) */
  exited: Promise<Status>;
  /** the log is complete (the tracer has ended) */
  logDone: Promise<unknown>;
  /** the log's batches as the source reads them (eBPF: up to its end mark) */
  follow(batches: AsyncIterable<LineBatch>): AsyncIterable<LineBatch>;
  /** let the command run (eBPF: release the gate) */
  go(): void;
  interrupt(): void;
  terminate(): void;
  /** stop what is still running (after the log is read, or on failure) */
  cleanup(): Promise<void>;
  /** the tracer failed while the command ran (its message was printed) */
  failed(): boolean;
}

function launchPtrace(argv: string[], tracer: string, attached: boolean): Launch {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit" });
  const exited = new Promise<Status>((res, rej) => {
    child.on("error", (err) =>
      rej(new CaptureError(`cannot start ${tracer}: ${err.message}`, { cause: err })),
    );
    child.on("exit", (code, signal) => res({ code, signal }));
  });
  return {
    argv,
    exited,
    logDone: exited,
    follow: (batches) => batches,
    go: () => undefined,
    // the terminal already sent SIGINT to the whole foreground group; when provflow alone got it,
    // pass it on so strace detaches (-p) or the command stops
    interrupt: () => {
      if (attached) child.kill("SIGINT");
    },
    terminate: () => {
      child.kill("SIGTERM");
    },
    cleanup: async () => undefined,
    failed: () => false,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function procCwd(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/**
 * eBPF: the command starts stopped (a gate), bpftrace attaches to its pid (or to the threads of
 * `pid`), and the gate is released once the probes are in place. bpftrace ends by itself when the
 * last traced process has ended; Ctrl-C with -p stops it (the process goes on untraced).
 */
async function launchEbpf(opts: TraceOptions, log: string, cwd: string, dir: string): Promise<Launch> {
  const { bpftrace, arch } = ebpfPreflight();
  let gate: ChildProcess | null = null;
  let tids: number[];
  let commandExit: Promise<Status> | null = null;
  if (opts.pid !== null) {
    try {
      process.kill(opts.pid, 0);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ESRCH") throw new CaptureError(`no process with pid ${opts.pid}`);
    }
    tids = threadsOf(opts.pid);
  } else {
    const cmd = opts.command?.[0];
    if (!cmd) throw new CaptureError("no command to trace: provflow trace -- CMD [ARGS…]");
    const exe = whichSync(cmd);
    if (!exe) throw new CaptureError(`command not found: ${cmd} (not an executable file, nor in PATH)`);
    const g = spawnGated(exe, opts.command!);
    gate = g;
    commandExit = new Promise<Status>((res, rej) => {
      g.on("error", (err) => rej(new CaptureError(`cannot start ${cmd}: ${err.message}`, { cause: err })));
      g.on("exit", (code, signal) => res({ code, signal }));
    });
    if (!(await waitStopped(g.pid!))) {
      g.kill("SIGKILL");
      throw new CaptureError(`could not start ${cmd} stopped (the gate did not stop)`);
    }
    tids = [g.pid!];
  }
  // the program's last line is `Z ns endMark`: the log is complete there (see untilEndMark)
  const endMark = randomInt(1, 2 ** 47);
  let session: EbpfSession;
  try {
    session = await startBpftrace({
      bpftrace,
      arch,
      scope: { kind: "tree", tids, endMark },
      log,
      programFile: join(dir, `provflow-${process.pid}.bt`),
      cwd,
    });
  } catch (err) {
    gate?.kill("SIGKILL");
    throw err;
  }
  // attached: a process that ended while the probes were being attached is never seen to end
  if (opts.pid !== null && !alive(opts.pid)) session.stop();
  const bpfDone = session.exited;
  let released = false;
  let stopTimer: NodeJS.Timeout | null = null;
  let endSeen = false;
  let onEnd: (s: Status) => void = () => undefined;
  // attached: the recording's end (bpftrace is killed once its log is complete, not awaited)
  const ended = new Promise<Status>((res) => {
    onEnd = res;
  });
  return {
    argv: session.argv,
    exited: commandExit ?? Promise.race([bpfDone, ended]),
    logDone: bpfDone,
    follow: (batches) =>
      untilEndMark(batches, endMark, () => {
        endSeen = true;
        session.kill();
        onEnd({ code: 0, signal: null });
      }),
    go: () => {
      released = true;
      if (gate === null) return;
      // a gate that ended before its release (killed while stopped: no exit of it is ever traced)
      // leaves nothing to wait for: END prints the sums and the end mark
      if (gate.exitCode !== null || gate.signalCode !== null) {
        session.stop();
        return;
      }
      if (gate.pid !== undefined) gate.kill("SIGCONT");
    },
    interrupt: () => {
      // attached: Ctrl-C ends the recording; a command got the terminal's SIGINT itself
      if (gate === null) session.stop();
    },
    terminate: () => {
      if (!released) {
        // still stopped at the gate: a stopped process only ends with SIGKILL
        gate?.kill("SIGKILL");
        session.stop();
        return;
      }
      gate?.kill("SIGTERM");
      // descendants that outlive the command keep bpftrace going: stop it after a grace period
      stopTimer ??= setTimeout(() => session.stop(), 2000);
      if (gate === null) session.stop();
    },
    cleanup: async () => {
      if (stopTimer) clearTimeout(stopTimer);
      if (!endSeen) {
        session.stop();
        await bpfDone;
      }
      await rm(join(dir, `provflow-${process.pid}.bt`), { force: true });
    },
    failed: () => {
      const err = session.stderr();
      if (err !== "") process.stderr.write(`provflow: bpftrace: ${err.split("\n").slice(0, 5).join("\n")}\n`);
      return false;
    },
  };
}
