import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { Progress } from "../cli/output.js";
import type { RunContext } from "../events/event-types.js";
import { JSON_KINDS } from "../sources/source-registry.js";
import type { GraphStore, Problem } from "../store/store-types.js";
import { InputError } from "../util/errors.js";
import { currentHostInfo } from "../util/host-info.js";
import { checkTimeZone } from "../util/time-zone.js";
import { pipelineInputs, resolveInputs, totalSize } from "./ingest-files.js";
import { runPipeline } from "./ingest-pipeline.js";

export interface IngestRequest {
  store: GraphStore;
  files: string[];
  name?: string;
  kind?: string;
  date?: string;
  /** the capture machine's time zone, for logs that print local time without a zone */
  tz?: string;
  host?: string;
  cwd?: string;
  quiet?: boolean;
  onProblem?: (p: Problem) => void;
}

/** dockit writes NAME.ini beside its logs (date of -tt clocks, host, top pid, cwd). */
function readSiblingIni(file: string): Record<string, string> {
  const candidates = [file.replace(/\.log$/, ".ini"), `${file}.ini`];
  for (const c of candidates) {
    if (c === file || !existsSync(c)) continue;
    const out: Record<string, string> = {};
    for (const line of readFileSync(c, "utf8").split("\n")) {
      const m = /^\s*([A-Za-z]\w*)\s*=\s*(.*?)\s*$/.exec(line);
      if (m) out[m[1]!] = m[2]!;
    }
    return out;
  }
  return {};
}

/** The first process's command line, when the log shows its exec (a log of an attach may not). */
async function rootCommand(store: GraphStore, runId: number): Promise<string[] | null> {
  const procs = await store.getNodes(runId, { types: ["process"], limit: 16 });
  const root = procs[0]?.attrs.pid;
  const exec = procs.find((n) => n.attrs.pid === root && (n.attrs.argv?.length ?? 0) > 0);
  return exec?.attrs.argv ?? null;
}

/** Replays logs into a new run: resolve and detect the inputs, run the pipeline, close the run. */
export async function runIngest(req: IngestRequest): Promise<{ runId: number; stopped: boolean }> {
  if (req.files.length === 0) throw new InputError("no input files");
  if (req.date && !/^\d{4}-\d{2}-\d{2}$/.test(req.date))
    throw new InputError(`--date wants YYYY-MM-DD, not ${req.date}`);
  let tz: string | undefined;
  if (req.tz !== undefined) {
    try {
      tz = checkTimeZone(req.tz);
    } catch (err) {
      throw new InputError(`--tz: ${(err as Error).message}`);
    }
  }
  const inputs = await resolveInputs(req.files, req.kind);
  const first = inputs[0]!;
  const firstPath = first.type === "file" ? first.path : first.paths[0]!;
  const ini = firstPath === "-" ? {} : readSiblingIni(firstPath);
  const here = currentHostInfo();
  // a CamFlow log names its machine (its machine record, its machine ids): not the one reading it
  const recorded = first.type === "file" ? first.head : undefined;
  const recordedHost = recorded
    ? (recorded.host ?? (recorded.machineId ? `camflow-${recorded.machineId}` : undefined))
    : undefined;
  const host = req.host ?? recordedHost ?? ini.CurrentHostname ?? here.host;
  const ctx: RunContext = {
    host,
    machineId: recorded ? recorded.machineId : host === here.host ? (here.machineId ?? undefined) : undefined,
    ...(recorded?.bootId ? { bootId: recorded.bootId } : {}),
    date: req.date ?? ini.CurrentDate,
    cwd: req.cwd ?? ini.CurrentDirectory,
    ...(tz !== undefined && tz !== "UTC" ? { tz } : {}),
  };
  // PROV sources describe their machines themselves (or none): no agent for the ingesting one
  const provOnly = inputs.every((i) => JSON_KINDS.has(i.format.kind));
  const source = inputs.map((i) => (i.type === "ff-set" ? `${i.format.kind}-ff` : i.format.kind))[0]!;
  const runId = await req.store.createRun({
    name: req.name ?? basename(first.type === "file" ? first.path : first.prefix),
    source,
    command: req.files,
    host,
    machineId: ctx.machineId ?? null,
    ...(ctx.bootId ? { bootId: ctx.bootId } : {}),
    cwd: ctx.cwd ?? null,
  });
  const progress = new Progress("ingest", totalSize(inputs), req.quiet);
  let stop = false;
  const onInt = () => {
    stop = true;
  };
  process.on("SIGINT", onInt);
  try {
    const topPid = ini.TopProcessId && /^\d+$/.test(ini.TopProcessId) ? Number(ini.TopProcessId) : undefined;
    const result = await runPipeline(pipelineInputs(inputs, ctx, topPid), {
      store: req.store,
      runId,
      ctx,
      onProblem: req.onProblem,
      onProgress: (b) => progress.update(b),
      shouldStop: () => stop,
      ...(provOnly ? { machineAgent: false } : {}),
    });
    progress.done();
    const command = await rootCommand(req.store, runId);
    await req.store.updateRun(runId, {
      ...(command ? { command } : {}),
      status: result.stopped ? "incomplete" : "complete",
      start: result.start,
      end: result.end,
      exitCode: result.exitCode,
      exitSignal: result.exitSignal,
      stats: result.stats,
    });
    return { runId, stopped: result.stopped };
  } finally {
    process.off("SIGINT", onInt);
  }
}
