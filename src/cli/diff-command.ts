import type { Command, Option } from "commander";
import { formatRunDiff } from "../export/diff-format.js";
import { diffRunSummaries, NORMALIZE_RULES, type NormalizeRule } from "../graph/run-diff.js";
import { buildRunSummary } from "../graph/run-summary.js";
import type { GraphStore, RunRecord } from "../store/store-types.js";
import { ExitCode, NotFoundError, UsageError } from "../util/errors.js";
import { writeOut } from "./output.js";

/** What `provflow diff` borrows from main.ts, so that the store is opened one way everywhere. */
export interface DiffCommandDeps {
  withStore<T>(db: string | undefined, fn: (store: GraphStore) => Promise<T>): Promise<T>;
  dbOption(): Option;
}

function parseRules(values: string[]): Set<NormalizeRule> {
  const off = new Set<NormalizeRule>();
  for (const v of values.flatMap((s) => s.split(","))) {
    const r = v.trim();
    if (!r) continue;
    if (r === "all") {
      for (const x of NORMALIZE_RULES) off.add(x);
      continue;
    }
    if (!(NORMALIZE_RULES as readonly string[]).includes(r))
      throw new UsageError(`--no-normalize: unknown rule ${r} (one of ${NORMALIZE_RULES.join(", ")}, all)`);
    off.add(r as NormalizeRule);
  }
  return off;
}

/**
 * `provflow diff RUN_A RUN_B`: defined on `diff` (made with the program's `.command("diff")`, so that it
 * inherits the program's settings). Exits 0 when the runs are the same after normalisation, 1 when not.
 */
export function diffCommand(diff: Command, deps: DiffCommandDeps): Command {
  return diff
    .description(
      "processes, executables, files, sockets and durations added, removed or changed between two runs (exit 1 when different)",
    )
    .addOption(deps.dbOption())
    .option("--json", "the differences as JSON")
    .option(
      "--no-normalize <rule...>",
      `keep what changes on every run: ${NORMALIZE_RULES.join(", ")} or all (repeatable, or comma-separated)`,
    )
    .option(
      "--duration-tolerance <seconds>",
      "a duration is changed when it moved by more than this and by more than half",
      "1",
    )
    .argument("<runA>", "run id or name")
    .argument("<runB>", "run id or name")
    .action(async (refA: string, refB: string, o) => {
      // commander gives `normalize: false` for a bare --no-normalize, an array when rules follow it
      const off = Array.isArray(o.normalize)
        ? parseRules(o.normalize as string[])
        : o.normalize === false
          ? new Set<NormalizeRule>(NORMALIZE_RULES)
          : new Set<NormalizeRule>();
      const tolerance = Number(o.durationTolerance);
      if (!Number.isFinite(tolerance) || tolerance < 0)
        throw new UsageError(`--duration-tolerance needs a number of seconds, not ${o.durationTolerance}`);
      const code = await deps.withStore(o.db, async (store) => {
        const load = async (ref: string) => {
          const run: RunRecord | null = await store.findRun(ref);
          if (!run) throw new NotFoundError(`no run ${ref} in the database`);
          const [nodes, edges] = await Promise.all([store.getNodes(run.id), store.getEdges(run.id)]);
          return { run, summary: buildRunSummary(run, nodes, edges) };
        };
        const a = await load(refA);
        const b = await load(refB);
        const d = diffRunSummaries(a.summary, b.summary, a.run.cwd, b.run.cwd, {
          rules: NORMALIZE_RULES.filter((r) => !off.has(r)),
          durationTolerance: tolerance,
        });
        await writeOut(formatRunDiff(d, o.json ? "json" : "txt"));
        return d.same ? ExitCode.ok : ExitCode.different;
      });
      process.exitCode = code;
    });
}
