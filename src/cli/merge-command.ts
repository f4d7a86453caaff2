import { readFile } from "node:fs/promises";
import type { Command, Option } from "commander";
import { mergeRuns } from "../ingest/run-merge-writer.js";
import type { GraphStore, RunRecord } from "../store/store-types.js";
import { InputError, NotFoundError, UsageError } from "../util/errors.js";
import { type NetworkMount, parseMountTable } from "../util/mount-table.js";
import { logErr, writeOut } from "./output.js";

/** What `provflow merge` borrows from main.ts, so that the store is opened one way everywhere. */
export interface MergeCommandDeps {
  withStore<T>(db: string | undefined, fn: (store: GraphStore) => Promise<T>): Promise<T>;
  dbOption(): Option;
}

/** `--mounts RUN=FILE`: the mount table of a run's machine (mountinfo or /proc/mounts text). */
async function readMounts(
  store: GraphStore,
  specs: string[],
  quiet: boolean,
): Promise<Map<number, NetworkMount[]>> {
  const out = new Map<number, NetworkMount[]>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq <= 0 || eq === spec.length - 1)
      throw new UsageError(
        `--mounts needs RUN=FILE (a copy of /proc/self/mountinfo of the run's machine), not ${spec}`,
      );
    const ref = spec.slice(0, eq);
    const file = spec.slice(eq + 1);
    const run = await store.findRun(ref);
    if (!run) throw new NotFoundError(`--mounts ${spec}: no run ${ref} in the database`);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new InputError(`--mounts ${spec}: cannot read ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const { mounts, bad } = parseMountTable(text);
    if (!quiet)
      for (const b of bad.slice(0, 5))
        logErr(`${file}:${b.line}: not a mount table line: ${b.text.slice(0, 120)}`);
    if (
      bad.length > 0 &&
      mounts.length === 0 &&
      bad.length === text.split("\n").filter((l) => l.trim()).length
    )
      throw new InputError(
        `${file}: not a mount table (neither /proc/self/mountinfo nor /proc/mounts lines)`,
      );
    out.set(run.id, [...(out.get(run.id) ?? []), ...mounts]);
  }
  return out;
}

/**
 * `provflow merge RUN… [--name NAME] [--mounts RUN=FILE]… [--json]`: a new run holding the runs'
 * graphs and the links between their nodes that stand for the same resource.
 */
export function mergeCommand(merge: Command, deps: MergeCommandDeps): Command {
  return merge
    .description(
      "join runs (from several machines or one) into a new run: the union of their graphs, with the same resources linked (alternateOf, with the evidence)",
    )
    .addOption(deps.dbOption())
    .option("--name <name>", "name of the new run (default merge-A+B+…)")
    .option(
      "--mounts <run=file...>",
      "the mount table (a copy of /proc/self/mountinfo or /proc/mounts) of a run's machine, for its NFS/CIFS files; repeatable (default: the one `provflow trace` recorded)",
    )
    .option("--skew <seconds>", "clock skew tolerated between machines when matching socket lifetimes", "1")
    .option("--json", "the new run and its links as JSON")
    .option("-q, --quiet", "no warnings on stderr")
    .argument("<runs...>", "run ids or names (at least two)")
    .action(async (refs: string[], o) => {
      const skew = Number(o.skew);
      if (!Number.isFinite(skew) || skew < 0)
        throw new UsageError(`--skew needs a number of seconds, not ${o.skew}`);
      if (refs.length < 2) throw new UsageError("merge needs at least two runs");
      await deps.withStore(o.db, async (store) => {
        const runs: RunRecord[] = [];
        for (const ref of refs) {
          const run = await store.findRun(ref);
          if (!run) throw new NotFoundError(`no run ${ref} in the database`);
          runs.push(run);
        }
        const mounts = await readMounts(store, (o.mounts as string[] | undefined) ?? [], Boolean(o.quiet));
        const result = await mergeRuns(store, runs, {
          name: o.name,
          mounts,
          skewUs: Math.round(skew * 1e6),
          command: ["provflow", "merge", ...refs],
        });
        if (!o.quiet) for (const p of result.problems) logErr(p.message);
        const run = await store.findRun(result.runId);
        if (o.json) {
          await writeOut(
            `${JSON.stringify({ run, sources: result.sources, links: result.links }, null, 2)}\n`,
          );
          return;
        }
        const lines = [
          `run ${result.runId} (${run?.name ?? ""}): ${result.nodes} nodes, ${result.edges} relations from ${runs.length} runs`,
          ...result.sources.map(
            (s) =>
              `  run ${s.runId} ${s.name} on ${s.host}: ${s.nodes} nodes, ${s.edges} relations, ${s.mounts} network mounts`,
          ),
          `${result.links.links} links (alternateOf):`,
          ...Object.entries(result.links.byRule).map(([rule, n]) => `  ${rule}: ${n}`),
        ];
        if (result.links.tcpNoOverlap > 0)
          lines.push(
            `  (${result.links.tcpNoOverlap} socket pairs matched without overlapping lifetimes: not linked)`,
          );
        if (result.links.tcpNoTime > 0)
          lines.push(`  (${result.links.tcpNoTime} socket pairs matched without times: not linked)`);
        await writeOut(`${lines.join("\n")}\n`);
      });
    });
}
