import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { constants as osConstants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { RunContext } from "../events/event-types.js";
import { type PipelineResult, runPipeline } from "../ingest/ingest-pipeline.js";
import { followFileLines } from "../sources/line-batches.js";
import { findFormat } from "../sources/source-registry.js";
import type { GraphStore, Problem } from "../store/store-types.js";
import { CaptureError } from "../util/errors.js";
import type { HostInfo } from "../util/host-info.js";
import { localNetworkMounts } from "../util/mount-table.js";
import { localOs } from "../util/os-release.js";
import { planTracer, preflight, type TracerName, whichSync } from "./tracer-command.js";

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
  const req = { tracer: opts.tracer, log, command: opts.command, pid: opts.pid, env: opts.env };
  preflight(req);
  const plan = planTracer(req);
  await writeFile(log, "");

  const command = opts.command ?? procCmdline(opts.pid!);
  const ctx: RunContext = {
    host: opts.host.host,
    machineId: opts.host.machineId ?? undefined,
    bootId: opts.host.bootId ?? undefined,
    cwd: process.cwd(),
    clock: "epoch",
    mounts: localNetworkMounts(opts.pid ?? "self"),
    os: localOs() ?? undefined,
  };
  if (opts.tracer === "ltrace" && opts.command) {
    ctx.rootCommand = { exe: whichSync(opts.command[0]!) ?? opts.command[0]!, argv: opts.command };
  }
  const runId = await opts.store.createRun({
    name:
      opts.name ?? command.map((a) => (a.includes("/") ? a.slice(a.lastIndexOf("/") + 1) : a))[0] ?? "trace",
    source: opts.tracer,
    command,
    tracerCommand: plan.argv,
    host: opts.host.host,
    machineId: opts.host.machineId,
    bootId: opts.host.bootId,
    cwd: process.cwd(),
    user: opts.host.user,
    start: Date.now() * 1000,
  });

  let interrupted = false;
  const child = spawn(plan.argv[0]!, plan.argv.slice(1), { stdio: "inherit" });
  const onInt = () => {
    interrupted = true;
    // the terminal already sent SIGINT to the whole foreground group; when provflow alone got it,
    // pass it on so strace detaches (-p) or the command stops
    if (opts.pid !== null) child.kill("SIGINT");
  };
  const onTerm = () => {
    interrupted = true;
    child.kill("SIGTERM");
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  process.on("SIGHUP", onTerm);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
    child.on("error", (err) =>
      rej(new CaptureError(`cannot start ${plan.tracer}: ${err.message}`, { cause: err })),
    );
    child.on("exit", (code, signal) => res({ code, signal }));
  });

  const format = findFormat(opts.tracer)!;
  let result: PipelineResult;
  try {
    result = await runPipeline(
      [
        {
          label: log,
          batches: followFileLines(log, { done: exited }),
          parser: format.createParser({ file: log, ctx }),
        },
      ],
      {
        store: opts.store,
        runId,
        ctx,
        user: opts.host.uid !== null ? { uid: opts.host.uid, name: opts.host.user ?? undefined } : undefined,
        onProblem: opts.onProblem,
      },
    );
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    process.off("SIGHUP", onTerm);
  }
  const status = await exited;
  const tracerFailed = result.stats.lines === 0 && (status.code ?? 1) !== 0;
  const attached = opts.pid !== null;
  let exitStatus: number;
  if (attached) {
    // attaching ends when the process tree ends or at Ctrl-C, which detaches and leaves it running:
    // both are a normal end of the recording
    exitStatus = status.signal && !interrupted ? 128 + signalNumber(status.signal) : 0;
  } else {
    // strace exits with the command's status (or dies of its signal); ltrace always exits 0, so its
    // command's status comes from the recorded exit of the first process
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
