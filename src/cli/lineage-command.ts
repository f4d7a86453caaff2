import { type Command, Option } from "commander";
import {
  formatLineage,
  formatPaths,
  LINEAGE_FORMATS,
  type LineageAsk,
  type LineageFormat,
  type PathAsk,
} from "../export/lineage-format.js";
import { redactNode } from "../export/redact.js";
import { lineageOf, pathsBetween } from "../graph/lineage-nodes.js";
import type { GraphNode, RelationType } from "../graph/prov-types.js";
import {
  ALL_RELATIONS,
  DEFAULT_LINEAGE_LIMIT,
  DEFAULT_LINEAGE_RELATIONS,
  DEFAULT_MAX_PATHS,
  MAX_LINEAGE_DEPTH,
  MAX_LINEAGE_LIMIT,
  MAX_PATHS,
} from "../store/lineage-params.js";
import type { GraphStore, LineageDirection, RunRecord } from "../store/store-types.js";
import { ExitCode, UsageError } from "../util/errors.js";
import { writeOut } from "./output.js";

/** What `provflow lineage` and `provflow path` borrow from main.ts, so that the store is opened one way everywhere. */
export interface LineageCommandDeps {
  withStore<T>(db: string | undefined, fn: (store: GraphStore) => Promise<T>): Promise<T>;
  findRunOrLatest(store: GraphStore, ref?: string): Promise<RunRecord>;
  dbOption(): Option;
}

const DEFAULT_DEPTH = 5;

function wholeNumber(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${what} needs a whole number from ${min} to ${max}, not ${text}`);
  return n;
}

function relationsOption(o: { relations?: string; allRelations?: boolean }): RelationType[] {
  if (o.allRelations) return [...ALL_RELATIONS];
  if (o.relations === undefined) return [...DEFAULT_LINEAGE_RELATIONS];
  const out: RelationType[] = [];
  for (const r of o.relations
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(ALL_RELATIONS as readonly string[]).includes(r))
      throw new UsageError(`--relations: unknown relation ${r} (one of ${ALL_RELATIONS.join(", ")})`);
    out.push(r as RelationType);
  }
  if (out.length === 0) throw new UsageError("--relations needs at least one relation type");
  return out;
}

function formatOption(o: { format: string; json?: boolean }): LineageFormat {
  return o.json ? "json" : (o.format as LineageFormat);
}

function sharedOptions(cmd: Command, deps: LineageCommandDeps): Command {
  return cmd
    .addOption(deps.dbOption())
    .addOption(
      new Option("--format <format>", "txt, json or dot (Graphviz)").choices(LINEAGE_FORMATS).default("txt"),
    )
    .option("--json", "same as --format json")
    .option(
      "--relations <types>",
      `relation types to follow, comma-separated (default: ${DEFAULT_LINEAGE_RELATIONS.join(",")})`,
    )
    .option("--all-relations", "follow every relation type, agents' and invalidations too")
    .option("--redact", "redact secrets in command lines and environments");
}

const redactAll = <T extends GraphNode>(nodes: T[], on: boolean): T[] =>
  on ? nodes.map((n) => ({ ...n, ...redactNode(n) })) : nodes;

/**
 * `provflow lineage NODE [RUN]` and `provflow path A B [RUN]`: ancestors or descendants of a node,
 * and the chains between two, found in the database by recursive queries.
 */
export function registerLineageCommands(program: Command, deps: LineageCommandDeps): void {
  sharedOptions(
    program
      .command("lineage")
      .description(
        "what a file or process came from (--ancestors, default) or everything it went on to affect (--descendants)",
      ),
    deps,
  )
    .option("--ancestors", "what NODE came from: followed in PROV's direction (default)")
    .option("--descendants", "what NODE went on to affect")
    .option(
      "--depth <n>",
      `relations away from NODE, at most (0..${MAX_LINEAGE_DEPTH})`,
      String(DEFAULT_DEPTH),
    )
    .option(
      "--limit <n>",
      `nodes at most (1..${MAX_LINEAGE_LIMIT}); more is cut and flagged`,
      String(DEFAULT_LINEAGE_LIMIT),
    )
    .option(
      "--causal",
      "keep time order: only relations that happened before what they lead to (ancestors) or after what they come from (descendants)",
    )
    .argument(
      "<node>",
      "a path (relative: to the run's cwd), pid:N, a node id or a global id (file://…, proc://…)",
    )
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string, runRef: string | undefined, o) => {
      if (o.ancestors && o.descendants) throw new UsageError("give --ancestors or --descendants, not both");
      const direction: LineageDirection = o.descendants ? "descendants" : "ancestors";
      const depth = wholeNumber(o.depth, "--depth", 0, MAX_LINEAGE_DEPTH);
      const limit = wholeNumber(o.limit, "--limit", 1, MAX_LINEAGE_LIMIT);
      const relations = relationsOption(o);
      const format = formatOption(o);
      await deps.withStore(o.db, async (store) => {
        const run = await deps.findRunOrLatest(store, runRef);
        const { start, result: res } = await lineageOf(store, run, ref, {
          direction,
          depth,
          limit,
          relations,
          causal: Boolean(o.causal),
        });
        const ask: LineageAsk = {
          ref,
          start: start.nodes,
          direction,
          depth,
          limit,
          relations,
          causal: Boolean(o.causal),
        };
        const redact = Boolean(o.redact);
        await writeOut(
          formatLineage(
            run,
            { ...ask, start: redactAll(ask.start, redact) },
            { ...res, nodes: redactAll(res.nodes, redact) },
            format,
          ),
        );
      });
    });

  sharedOptions(
    program
      .command("path")
      .description(
        "the chains of relations by which A went on to affect B (or, when none, B affected A), shortest first; exit 1 when there is none",
      ),
    deps,
  )
    .option("--depth <n>", `relations in a chain, at most (1..${MAX_LINEAGE_DEPTH})`, "10")
    .option("--max-paths <n>", `chains at most (1..${MAX_PATHS})`, String(DEFAULT_MAX_PATHS))
    .option("--causal", "keep time order: each relation of a chain happened after its content got there")
    .argument("<a>", "upstream node: a path, pid:N, a node id or a global id")
    .argument("<b>", "downstream node, likewise")
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (refA: string, refB: string, runRef: string | undefined, o) => {
      const depth = wholeNumber(o.depth, "--depth", 1, MAX_LINEAGE_DEPTH);
      const maxPaths = wholeNumber(o.maxPaths, "--max-paths", 1, MAX_PATHS);
      const relations = relationsOption(o);
      const format = formatOption(o);
      const found = await deps.withStore(o.db, async (store) => {
        const run = await deps.findRunOrLatest(store, runRef);
        const causal = Boolean(o.causal);
        const c = await pathsBetween(store, run, refA, refB, { depth, maxPaths, relations, causal });
        const reversed = c.reversed;
        const redact = Boolean(o.redact);
        const ask: PathAsk = {
          from: { ref: refA, nodes: redactAll(c.from.nodes, redact) },
          to: { ref: refB, nodes: redactAll(c.to.nodes, redact) },
          depth,
          maxPaths,
          relations,
          reversed,
          causal,
        };
        await writeOut(
          formatPaths(run, ask, { ...c.result, nodes: redactAll(c.result.nodes, redact) }, format),
        );
        return c.result.paths.length > 0;
      });
      if (!found) process.exitCode = ExitCode.different;
    });
}
