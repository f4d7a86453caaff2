import { storeExportInput } from "../export/export-input.js";
import type { GraphEdge, GraphNode } from "../graph/prov-types.js";
import {
  linkEdge,
  type MergeLinkStats,
  type MergeSource,
  mergedEdge,
  mergedNode,
  RunLinker,
} from "../graph/run-merge.js";
import type { GraphStore, Problem, RunRecord, RunStats } from "../store/store-types.js";
import { UsageError } from "../util/errors.js";
import type { NetworkMount } from "../util/mount-table.js";

export interface MergeRunsOptions {
  /** name of the new run (default `merge-A+B+…`) */
  name?: string;
  /** a mount table given for a run (by run id), instead of the one recorded at trace time */
  mounts?: ReadonlyMap<number, NetworkMount[]>;
  /** clock skew tolerated between machines when comparing socket lifetimes (µs) */
  skewUs?: number;
  /** rows read and written per batch (default 5000) */
  batchSize?: number;
  /** the command line to record on the new run */
  command?: string[];
}

export interface MergeRunsResult {
  runId: number;
  sources: { runId: number; name: string; host: string; nodes: number; edges: number; mounts: number }[];
  nodes: number;
  edges: number;
  links: MergeLinkStats;
  problems: Problem[];
}

/** The network mounts recorded on a run's machine agent(s) at trace time. */
async function recordedMounts(store: GraphStore, runId: number): Promise<NetworkMount[]> {
  const machines = await store.getNodes(runId, { types: ["machine"] });
  const out: NetworkMount[] = [];
  for (const m of machines) {
    const list = m.attrs.networkMounts;
    if (Array.isArray(list))
      for (const x of list) if (x && typeof x === "object") out.push(x as NetworkMount);
  }
  return out;
}

/**
 * `provflow merge`: one new run holding the union of the runs' graphs, renumbered run after run,
 * every node keeping its gid and its origin (run, id, host) in its attributes, plus the links
 * (`alternateOf`) between the nodes of different runs that stand for the same resource. Reads the
 * runs batch by batch (nodes of every run, then their edges) and writes as it reads: memory holds
 * the link candidates (sockets, one node per gid and shared path), not the graphs.
 */
export async function mergeRuns(
  store: GraphStore,
  runs: readonly RunRecord[],
  opts: MergeRunsOptions = {},
): Promise<MergeRunsResult> {
  if (runs.length < 2) throw new UsageError("merge needs at least two runs");
  const ids = new Set<number>();
  for (const r of runs) {
    if (ids.has(r.id)) throw new UsageError(`run ${r.id} is given twice`);
    ids.add(r.id);
  }
  const batchSize = opts.batchSize ?? 5000;
  const problems: Problem[] = [];
  const sources: MergeSource[] = [];
  for (const [index, run] of runs.entries()) {
    const mounts = opts.mounts?.get(run.id) ?? (await recordedMounts(store, run.id));
    sources.push({ index, runId: run.id, name: run.name, host: run.host, machineId: run.machineId, mounts });
    if (run.status !== "complete")
      problems.push({
        file: `run ${run.id}`,
        line: 0,
        message: `run ${run.id} (${run.name}) is ${run.status}: merged as it is`,
        text: null,
      });
  }
  const hosts = [...new Set(runs.map((r) => r.host))];
  const machines = [...new Set(runs.map((r) => r.machineId).filter((m): m is string => m !== null))];
  const starts = runs.map((r) => r.start).filter((t): t is number => t !== null);
  const ends = runs.map((r) => r.end).filter((t): t is number => t !== null);
  const runId = await store.createRun({
    name: opts.name ?? `merge-${runs.map((r) => r.id).join("+")}`,
    source: "merge",
    command: opts.command ?? ["provflow", "merge", ...runs.map((r) => String(r.id))],
    host: hosts.join(","),
    machineId: machines.length === 1 ? machines[0]! : null,
    bootId: null,
    cwd: null,
    user: null,
    start: starts.length > 0 ? Math.min(...starts) : null,
  });
  const linker = new RunLinker({ skewUs: opts.skewUs });
  const perSource = sources.map((s) => ({
    runId: s.runId,
    name: s.name,
    host: s.host,
    nodes: 0,
    edges: 0,
    mounts: s.mounts.length,
  }));
  try {
    // nodes of every run (renumbered after the previous runs' highest id), indexed for the links
    const nodeOffsets: number[] = [];
    let nodeOffset = 0;
    for (const [i, src] of sources.entries()) {
      linker.addSource(src);
      nodeOffsets.push(nodeOffset);
      let maxId = 0;
      for await (const batch of storeExportInput(store, runs[i]!, { redact: false }, batchSize).nodes()) {
        const out: GraphNode[] = new Array(batch.length);
        for (let k = 0; k < batch.length; k++) {
          const n = batch[k]!;
          if (n.id > maxId) maxId = n.id;
          const m = mergedNode(n, src, nodeOffset);
          linker.addNode(i, m);
          out[k] = m;
        }
        perSource[i]!.nodes += out.length;
        await store.appendBatch(runId, { nodes: out, edges: [], steps: [], problems: [] });
      }
      nodeOffset += maxId;
    }
    // their edges, the same way
    let edgeOffset = 0;
    for (const [i, src] of sources.entries()) {
      let maxId = 0;
      for await (const batch of storeExportInput(store, runs[i]!, { redact: false }, batchSize).edges()) {
        const out: GraphEdge[] = new Array(batch.length);
        for (let k = 0; k < batch.length; k++) {
          const e = batch[k]!;
          if (e.id > maxId) maxId = e.id;
          const m = mergedEdge(e, src, nodeOffsets[i]!, edgeOffset);
          linker.addEdge(m);
          out[k] = m;
        }
        perSource[i]!.edges += out.length;
        await store.appendBatch(runId, { nodes: [], edges: out, steps: [], problems: [] });
      }
      edgeOffset += maxId;
    }
    // the calls logs (steps), renumbered after the previous runs' (pids are the machines' own)
    let stepOffset = 0;
    for (const run of runs) {
      let maxSeq = 0;
      for await (const batch of store.iterateSteps(run.id, batchSize)) {
        const steps = batch.map((st) => {
          if (st.seq > maxSeq) maxSeq = st.seq;
          return { ...st, seq: st.seq + stepOffset };
        });
        await store.appendBatch(runId, { nodes: [], edges: [], steps, problems: [] });
      }
      stepOffset += maxSeq;
    }
    // the links, after every edge
    const links = linker.finish();
    for (let k = 0; k < links.length; k += batchSize) {
      const edges = links.slice(k, k + batchSize).map((l, j) => linkEdge(l, edgeOffset + k + j + 1));
      await store.appendBatch(runId, { nodes: [], edges, steps: [], problems: k === 0 ? problems : [] });
    }
    if (links.length === 0 && problems.length > 0)
      await store.appendBatch(runId, { nodes: [], edges: [], steps: [], problems });
    const nodes = perSource.reduce((a, s) => a + s.nodes, 0);
    const edges = perSource.reduce((a, s) => a + s.edges, 0) + links.length;
    const stats: RunStats = {
      lines: 0,
      bytes: 0,
      events: 0,
      calls: 0,
      problems: problems.length,
      mergedRuns: runs.length,
      links: linker.stats.links,
      tcpNoOverlap: linker.stats.tcpNoOverlap,
      tcpNoTime: linker.stats.tcpNoTime,
    };
    for (const [rule, n] of Object.entries(linker.stats.byRule)) stats[`links:${rule}`] = n;
    await store.updateRun(runId, {
      status: "complete",
      end: ends.length > 0 ? Math.max(...ends) : null,
      stats,
    });
    return { runId, sources: perSource, nodes, edges, links: linker.stats, problems };
  } catch (err) {
    await store.updateRun(runId, { status: "incomplete" }).catch(() => undefined);
    throw err;
  }
}
