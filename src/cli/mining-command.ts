import type { Command, Option } from "commander";
import { readCases, stepActivity } from "../export/event-logs.js";
import { storeExportInput } from "../export/export-input.js";
import { type DirectlyFollowsGraph, directlyFollows, splitEdgeKey } from "../graph/directly-follows.js";
import type { GraphStore, RunRecord } from "../store/store-types.js";
import { UsageError } from "../util/errors.js";
import { writeOut } from "./output.js";

/** What `provflow mining` borrows from main.ts, so that the store is opened one way everywhere. */
export interface MiningCommandDeps {
  withStore<T>(db: string | undefined, fn: (store: GraphStore) => Promise<T>): Promise<T>;
  findRunOrLatest(store: GraphStore, ref?: string): Promise<RunRecord>;
  dbOption(): Option;
}

const byCount = (m: Map<string, number>) =>
  [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

export function dfgJson(g: DirectlyFollowsGraph): unknown {
  return {
    cases: g.cases,
    events: g.events,
    activities: byCount(g.activities).map(([name, count]) => ({ name, count })),
    edges: byCount(g.edges).map(([key, count]) => {
      const [from, to] = splitEdgeKey(key);
      return { from, to, count };
    }),
    starts: byCount(g.starts).map(([name, count]) => ({ name, count })),
    ends: byCount(g.ends).map(([name, count]) => ({ name, count })),
  };
}

export function dfgText(g: DirectlyFollowsGraph): string {
  const out = [
    `${g.cases} cases (processes), ${g.events} events (steps), ${g.activities.size} activities, ${g.edges.size} directly-follows pairs`,
    "",
  ];
  const width = String(Math.max(1, ...g.activities.values())).length;
  const n = (c: number) => String(c).padStart(width);
  for (const [a, c] of byCount(g.starts)) out.push(`${n(c)}  ▶ -> ${a}`);
  for (const [key, c] of byCount(g.edges)) {
    const [from, to] = splitEdgeKey(key);
    out.push(`${n(c)}  ${from} -> ${to}`);
  }
  for (const [a, c] of byCount(g.ends)) out.push(`${n(c)}  ${a} -> ■`);
  return `${out.join("\n")}\n`;
}

/**
 * `provflow mining [RUN] --dfg`: the directly-follows graph of the run's calls log (cases =
 * processes, activities = call + resource category, as in the XES and OCEL exports), with
 * frequencies, most frequent first; `--json` for programs.
 */
export function miningCommand(mining: Command, deps: MiningCommandDeps): Command {
  return mining
    .description("process mining on the calls log: --dfg prints the directly-follows graph with frequencies")
    .addOption(deps.dbOption())
    .option("--dfg", "the directly-follows graph (activities = call + resource category, cases = processes)")
    .option("--json", "JSON: activities, edges {from,to,count}, starts, ends")
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string | undefined, o) => {
      if (!o.dfg) throw new UsageError("say what to mine: --dfg");
      await deps.withStore(o.db, async (store) => {
        const run = await deps.findRunOrLatest(store, ref);
        const input = storeExportInput(store, run, { redact: false });
        const cases = await readCases(input);
        const g = await directlyFollows(store.iterateSteps(run.id), (s) =>
          stepActivity(s, cases.get(s.pid)?.cwd),
        );
        await writeOut(o.json ? `${JSON.stringify(dfgJson(g), null, 2)}\n` : dfgText(g));
      });
    });
}
