import { createReadStream } from "node:fs";
import type { ProvEvent } from "../../src/events/event-types.js";
import { GraphBuilder } from "../../src/graph/graph-builder.js";
import type { GraphEdge, GraphNode } from "../../src/graph/prov-types.js";
import { readLineBatches } from "../../src/sources/line-batches.js";
import type { SourceFormat } from "../../src/sources/source-types.js";
import type { Problem } from "../../src/store/store-types.js";

/** Reads a file with a source format into a graph (the builder's last state of every node and edge). */
export async function readSourceGraph(format: SourceFormat, file: string) {
  const ctx = { host: "testhost" };
  const parser = format.createParser({ file, ctx });
  const builder = new GraphBuilder({ ctx, machineAgent: false });
  const byId = new Map<number, GraphNode>();
  const edges = new Map<number, GraphEdge>();
  const problems: Problem[] = [];
  const take = (events: ProvEvent[], end = false) => {
    builder.add(events);
    const b = end ? builder.finish() : builder.drain();
    for (const n of b.nodes) byId.set(n.id, n);
    for (const e of b.edges) edges.set(e.id, e);
    problems.push(...b.problems);
  };
  for await (const batch of readLineBatches(createReadStream(file))) {
    take(parser.push(batch.lines, batch.firstLine));
  }
  take(parser.end(), true);
  return { nodes: [...byId.values()], edges: [...edges.values()], problems, byId, stats: builder.stats };
}
