import type { ProvEvent, RunContext, SourceLocation } from "../events/event-types.js";
import { redactArgv, redactEnv } from "../export/redact.js";
import { GraphBuilder } from "../graph/graph-builder.js";
import type { LineBatch } from "../sources/line-batches.js";
import type { LineParser } from "../sources/source-types.js";
import type { Batch, GraphStore, Problem, RunStats } from "../store/store-types.js";

/** One input of a run: its line batches and the parser for its format. */
export interface PipelineInput {
  label: string;
  batches: AsyncIterable<LineBatch>;
  parser: LineParser;
}

export interface PipelineOptions {
  store: GraphStore;
  runId: number;
  ctx: RunContext;
  user?: { uid: number; name?: string };
  /** write to the store once this many events have been added since the last write */
  flushEvents?: number;
  /**
   * also write when this many ms passed since the last write and events wait (default: never): a
   * run traced live shows up in the store, and in `provflow serve`, while it runs
   */
  flushMs?: number;
  /** called after each batch with the bytes consumed so far */
  onProgress?: (bytes: number) => void;
  /** called with each problem as it is found (for stderr reporting) */
  onProblem?: (p: Problem) => void;
  /** checked between batches: true stops reading (Ctrl-C) */
  shouldStop?: () => boolean;
  /** describe the recording machine as an agent (default true; PROV sources describe their own) */
  machineAgent?: boolean;
  /** hide secrets as they are recorded: in exec environments (env) and command lines (argv) */
  redact?: { env?: boolean; argv?: boolean };
}

export interface PipelineResult {
  stats: RunStats;
  start: number | null;
  end: number | null;
  /** exit of the first process of the run */
  exitCode: number | null;
  exitSignal: string | null;
  stopped: boolean;
}

/**
 * sources → events → graph → store: reads every input batch by batch, hands the events to the
 * graph builder and writes what changed in one transaction per flush. Only the graph being built
 * stays in memory.
 */
export async function runPipeline(inputs: PipelineInput[], opts: PipelineOptions): Promise<PipelineResult> {
  const builder = new GraphBuilder({
    ctx: opts.ctx,
    user: opts.user,
    ...(opts.machineAgent === false ? { machineAgent: false } : {}),
    // the store writes the attributes' text, and nothing here reads the drained nodes' attributes
    textAttrs: true,
  });
  const flushEvents = opts.flushEvents ?? 5_000;
  const stats: RunStats = { lines: 0, bytes: 0, events: 0, calls: 0, problems: 0 };
  let pendingEvents = 0;
  let lastFlush = Date.now();
  let stopped = false;

  const flush = async (batch: Batch) => {
    for (const p of batch.problems) opts.onProblem?.(p);
    if (batch.nodes.length || batch.edges.length || batch.steps.length || batch.problems.length) {
      await opts.store.appendBatch(opts.runId, batch);
    }
    pendingEvents = 0;
    lastFlush = Date.now();
  };
  const redact = opts.redact;
  const take = (events: ProvEvent[]) => {
    if (redact?.env || redact?.argv) {
      for (const e of events) {
        if (e.kind !== "process.exec") continue;
        if (redact.env && e.env !== undefined) e.env = redactEnv(e.env);
        if (redact.argv) e.argv = redactArgv(e.argv);
      }
    }
    builder.add(events);
    stats.events += events.length;
    pendingEvents += events.length;
  };

  outer: for (const input of inputs) {
    for await (const batch of input.batches) {
      stats.lines += batch.lines.length;
      stats.bytes += batch.bytes;
      // an empty batch: the input is quiet (followFileLines' idleMs), only a time to write
      if (batch.lines.length > 0 || (batch.data !== undefined && batch.data.length > 0)) {
        const events =
          batch.data && input.parser.pushBytes
            ? input.parser.pushBytes(batch.data, batch.offset ?? 0)
            : input.parser.push(batch.lines, batch.firstLine);
        if (batch.origins) relocateProblems(events, batch.firstLine, batch.origins);
        take(events);
      }
      const due = opts.flushMs !== undefined && pendingEvents > 0 && Date.now() - lastFlush >= opts.flushMs;
      if (pendingEvents >= flushEvents || due) await flush(builder.drain());
      opts.onProgress?.(stats.bytes);
      if (opts.shouldStop?.()) {
        stopped = true;
        take(input.parser.end());
        break outer;
      }
    }
    take(input.parser.end());
  }
  await flush(builder.drain());
  for (const input of inputs) {
    const extra = input.parser.runStats?.();
    if (extra) for (const [k, v] of Object.entries(extra)) stats[k] = (stats[k] ?? 0) + v;
  }
  await flush(builder.finish());

  // the reader's counts (lines, bytes, events) and the builder's (processes, files, calls, problems…)
  const { events: _builderEvents, ...built } = builder.stats;
  Object.assign(stats, built);
  const root = builder.rootExit();
  return {
    stats,
    start: builder.firstTs(),
    end: builder.lastTs(),
    exitCode: root?.code ?? null,
    exitSignal: root?.signal ?? null,
    stopped,
  };
}

/** Problems of merged lines point at the merged stream: give them their own file and line back. */
function relocateProblems(events: ProvEvent[], firstLine: number, origins: SourceLocation[]): void {
  for (const e of events) {
    if (e.kind !== "problem") continue;
    const origin = origins[e.at.line - firstLine];
    if (origin) e.at = origin;
  }
}
