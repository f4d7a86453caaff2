import type { Command, Option } from "commander";
import { storeExportInput } from "../export/export-input.js";
import { formatNode, formatPackets, formatProcesses, formatTypes } from "../export/query-format.js";
import {
  describeNode,
  type ProcessSelector,
  packetFlows,
  parseAttrSelector,
  type RunGraphReader,
  selectProcesses,
  typeInventory,
} from "../graph/run-query.js";
import type { GraphStore, RunRecord } from "../store/store-types.js";
import { NotFoundError, UsageError } from "../util/errors.js";
import { writeOut } from "./output.js";

/** What `provflow query` borrows from main.ts, so that the store is opened one way everywhere. */
export interface QueryCommandDeps {
  withStore<T>(db: string | undefined, fn: (store: GraphStore) => Promise<T>): Promise<T>;
  findRunOrLatest(store: GraphStore, ref?: string): Promise<RunRecord>;
  dbOption(): Option;
}

/** A run of a store as the queries read it: batches through the store contract, never SQL. */
export function storeGraphReader(store: GraphStore, run: RunRecord): RunGraphReader {
  const input = storeExportInput(store, run, { redact: false });
  return {
    nodes: (types) => input.nodes(types ? { types } : undefined),
    edges: () => input.edges(),
    nodesById: (ids) => store.getNodes(run.id, { ids: [...ids] }),
    edgesTouching: (ids) => store.getEdges(run.id, { nodeIds: [...ids] }),
  };
}

function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} needs a whole number, not ${text}`);
  return n;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * `provflow query types|packets|processes|node`, defined on `query` (made with the program's
 * `.command("query")`, so that it inherits the program's settings: exit override, help after errors).
 */
export function queryCommand(query: Command, deps: QueryCommandDeps): Command {
  query.description(
    "ask a run: its type and label inventory, who sent and received its packets, a container's processes, one node",
  );
  const withRun = (
    db: string | undefined,
    ref: string | undefined,
    fn: (reader: RunGraphReader, run: RunRecord) => Promise<string>,
  ) =>
    deps.withStore(db, async (store) => {
      const run = await deps.findRunOrLatest(store, ref);
      await writeOut(await fn(storeGraphReader(store, run), run));
    });

  query
    .command("types")
    .description(
      "counts per node kind/type and relation type, prov:type values, and the most frequent labels",
    )
    .addOption(deps.dbOption())
    .option("--json", "JSON")
    .option("--limit <n>", "labels shown (the most frequent first)", "20")
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string | undefined, o) => {
      const limit = positiveInt(o.limit, "--limit");
      await withRun(o.db, ref, async (reader, run) =>
        formatTypes(run, await typeInventory(reader, limit), Boolean(o.json)),
      );
    });

  query
    .command("packets")
    .description(
      "senders and receivers of packets and socket traffic: processes and addresses, aggregated with counts",
    )
    .addOption(deps.dbOption())
    .option("--json", "JSON")
    .option("--each", "also list every packet and socket with its senders and receivers")
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string | undefined, o) => {
      await withRun(o.db, ref, async (reader, run) =>
        formatPackets(run, await packetFlows(reader, { each: Boolean(o.each) }), Boolean(o.json)),
      );
    });

  query
    .command("processes")
    .description(
      "the processes of a container: by security context (cf:secctx), cgroup namespace (cf:cgroupns) or any attribute",
    )
    .addOption(deps.dbOption())
    .option("--json", "JSON")
    .option(
      "--secctx <pattern>",
      "security context: a glob matching all of it (*, ?, [..]), else a substring",
    )
    .option("--cgroupns <id>", "cgroup namespace (the inode number CamFlow writes as cf:cgroupns)")
    .option(
      "--attr <key=value>",
      "attribute KEY is VALUE (a glob when it has *, ? or [); repeatable",
      collect,
    )
    .argument("[run]", "run id or name (default: the latest)")
    .action(async (ref: string | undefined, o) => {
      const sel: ProcessSelector = {};
      if (o.secctx !== undefined) sel.secctx = String(o.secctx);
      if (o.cgroupns !== undefined) sel.cgroupns = String(o.cgroupns);
      if (o.attr !== undefined) {
        sel.attrs = (o.attr as string[]).map((a) => {
          const parsed = parseAttrSelector(a);
          if (!parsed) throw new UsageError(`--attr needs KEY=VALUE, not ${a}`);
          return parsed;
        });
      }
      await withRun(o.db, ref, async (reader, run) =>
        formatProcesses(run, sel, await selectProcesses(reader, sel), Boolean(o.json)),
      );
    });

  query
    .command("node")
    .description("all the attributes of a node and its relations in and out")
    .addOption(deps.dbOption())
    .option("--json", "JSON")
    .option("--limit <n>", "nodes described when several answer to the reference", "10")
    .usage("[options] [RUN] NODE")
    .argument("<run-or-node>", "run id or name (default: the latest), when NODE follows")
    .argument("[node]", "node id, global id, label (prov:label) or the source's id (CamFlow's cf:…)")
    .action(async (first: string, second: string | undefined, o) => {
      // `query node 12` is node 12 of the latest run, `query node RUN 12` node 12 of RUN
      const runRef = second === undefined ? undefined : first;
      const ref = second ?? first;
      const limit = positiveInt(o.limit, "--limit");
      const nodeRef = ref;
      await withRun(o.db, runRef, async (reader, run) => {
        const rep = await describeNode(reader, nodeRef, limit);
        if (rep.matches === 0) throw new NotFoundError(`no node ${nodeRef} in run ${run.id}`);
        return formatNode(run, nodeRef, rep, Boolean(o.json));
      });
    });

  return query;
}
