import { readFileSync, writeFileSync } from "node:fs";
import type { Command, Option } from "commander";
import {
  type DetectModel,
  detectProfile,
  parseModel,
  profileRun,
  type RunProfile,
  resolveSketchConfig,
  runTriples,
  serializeModel,
  trainModel,
} from "../detect/detect-model.js";
import type { SketchConfig } from "../detect/graph-sketch.js";
import type { StreamDetector } from "../detect/stream-detector.js";
import { findingLine, formatDetectReport } from "../export/detect-format.js";
import { isoMicros } from "../graph/time-format.js";
import type { GraphStore } from "../store/store-types.js";
import { ExitCode, InputError, NotFoundError, UsageError } from "../util/errors.js";
import { logErr, writeOut } from "./output.js";

/** What `provflow detect` borrows from main.ts, so that the store is opened one way everywhere. */
export interface DetectCommandDeps {
  withStore<T>(db: string | undefined, fn: (store: GraphStore) => Promise<T>): Promise<T>;
  dbOption(): Option;
}

function int(text: string | undefined, what: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${what} needs an integer >= ${min}, not ${text}`);
  return n;
}

interface ModelOptions {
  sketchSize?: string;
  hops?: string;
  maxNodes?: string;
  window?: string;
  margin?: string;
  minFindings?: string;
}

function modelOptions(o: ModelOptions): {
  config: SketchConfig;
  window: number;
  margin: number;
  minFindings: number;
} {
  let config: SketchConfig;
  try {
    config = resolveSketchConfig({
      ...(o.sketchSize !== undefined ? { size: int(o.sketchSize, "--sketch-size", 16) } : {}),
      ...(o.hops !== undefined ? { hops: int(o.hops, "--hops", 1) } : {}),
      ...(o.maxNodes !== undefined ? { maxNodes: int(o.maxNodes, "--max-nodes", 16) } : {}),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const margin = o.margin === undefined ? 1.5 : Number(o.margin);
  if (!Number.isFinite(margin) || margin < 1)
    throw new UsageError(`--margin needs a number >= 1, not ${o.margin}`);
  return {
    config,
    window: int(o.window, "--window", 0) ?? 0,
    margin,
    minFindings: int(o.minFindings, "--min-findings", 1) ?? 1,
  };
}

function withModelOptions(c: Command): Command {
  return c
    .option("--sketch-size <n>", "buckets of a graph sketch (bounded memory)", "1024")
    .option("--hops <n>", "neighbourhood hops of a shingle", "2")
    .option("--max-nodes <n>", "nodes whose neighbourhood labels are kept at most", "100000")
    .option(
      "--window <relations>",
      "one sketch per window of this many relations (0: one per run; needed for mqtt --detect)",
      "0",
    )
    .option("--margin <x>", "a sketch cluster's threshold is this times its radius", "1.5")
    .option("--min-findings <n>", "new behaviours that flag a run", "1");
}

async function loadProfile(
  store: GraphStore,
  ref: string,
  opts: { config: SketchConfig; window: number },
): Promise<{ profile: RunProfile; run: { id: number; name: string } }> {
  const run = await store.findRun(ref);
  if (!run) throw new NotFoundError(`no run ${ref} in the database`);
  const [nodes, edges] = await Promise.all([store.getNodes(run.id), store.getEdges(run.id)]);
  const { triples, dangling } = runTriples(nodes, edges);
  const profile = profileRun(run.name, triples, { ...opts, cwd: run.cwd, dangling });
  return { profile, run: { id: run.id, name: run.name } };
}

function readModel(file: string): DetectModel {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read the model ${file}: ${(err as Error).message}`);
  }
  try {
    return parseModel(text, file);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}

/**
 * `provflow mqtt --detect MODEL`: the stream detector, printing each finding as it arises (stdout:
 * one line, or one JSON object a line with --json).
 */
export async function streamDetection(o: {
  detect: string;
  detectLearn?: string;
  json?: boolean;
}): Promise<StreamDetector> {
  const model = readModel(o.detect);
  const learn = int(o.detectLearn, "--detect-learn", 0) ?? 0;
  const { StreamDetector } = await import("../detect/stream-detector.js");
  const d = new StreamDetector({
    model,
    learn,
    onFinding: (machine, f) => {
      const line = o.json
        ? JSON.stringify({ machine, time: isoMicros(Date.now() * 1000), ...f })
        : findingLine(f, machine);
      process.stdout.write(`${line}\n`);
    },
  });
  if (!d.sketching)
    logErr(`${o.detect}: trained without --window, so only the behaviour detector runs on the stream`);
  return d;
}

/** `provflow detect …`: defined on `detect` (made with the program's `.command("detect")`). */
export function detectCommand(detect: Command, deps: DetectCommandDeps): Command {
  withModelOptions(
    detect
      .command("train")
      .description("learn normal behaviour from baseline runs and save the model as JSON")
      .addOption(deps.dbOption())
      .requiredOption("-o, --output <model>", "the model file to write")
      .option("-q, --quiet", "no summary on stderr")
      .argument("<runs...>", "baseline runs (ids or names)"),
  ).action(async (refs: string[], o) => {
    const mo = modelOptions(o);
    const model = await deps.withStore(o.db, async (store) => {
      const profiles: RunProfile[] = [];
      for (const ref of refs) profiles.push((await loadProfile(store, ref, mo)).profile);
      return trainModel(profiles, mo);
    });
    try {
      writeFileSync(o.output, serializeModel(model));
    } catch (err) {
      throw new InputError(`cannot write the model ${o.output}: ${(err as Error).message}`);
    }
    if (!o.quiet)
      logErr(
        `model ${o.output}: ${Object.keys(model.behaviour.keys).length} behaviours, ${model.sketch.clusters.length} sketch clusters (cut ${model.sketch.cut}) from ${refs.length} runs`,
      );
  });

  return withModelOptions(
    detect
      .description(
        "flag what a run does that normal runs do not (new executables, file areas, peers, process trees; graph sketches far from normal); exit 1 when flagged",
      )
      .addOption(deps.dbOption())
      .option("--model <file>", "a model made by provflow detect train")
      .option(
        "--baseline <runs...>",
        "learn from these runs instead of a model (the last argument is the run to check)",
      )
      .option("--json", "the report, with every finding's evidence, as JSON")
      .argument("[run]", "the run to check (id or name)"),
  ).action(async (ref: string | undefined, o) => {
    let target = ref;
    let baseline: string[] | undefined = o.baseline;
    if (baseline !== undefined && target === undefined) {
      // `--baseline A B RUN`: the variadic option took the run too
      if (baseline.length < 2)
        throw new UsageError("--baseline needs baseline runs and then the run to check");
      target = baseline[baseline.length - 1];
      baseline = baseline.slice(0, -1);
    }
    if (target === undefined) throw new UsageError("which run? provflow detect --model MODEL RUN");
    if ((o.model === undefined) === (baseline === undefined))
      throw new UsageError("give --model MODEL or --baseline RUN…, one of them");
    const code = await deps.withStore(o.db, async (store) => {
      let model: DetectModel;
      if (o.model !== undefined) model = readModel(o.model);
      else {
        const mo = modelOptions(o);
        const profiles: RunProfile[] = [];
        for (const b of baseline as string[]) profiles.push((await loadProfile(store, b, mo)).profile);
        model = trainModel(profiles, mo);
      }
      const { profile, run } = await loadProfile(store, target as string, {
        config: model.sketch.config,
        window: model.sketch.window,
      });
      const report = detectProfile(model, profile, run);
      await writeOut(formatDetectReport(report, o.json ? "json" : "txt"));
      return report.flagged ? ExitCode.different : ExitCode.ok;
    });
    process.exitCode = code;
  });
}
