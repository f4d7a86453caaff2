import type { GraphEdge, GraphNode } from "../graph/prov-types.js";
import { isoMicros } from "../graph/time-format.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { redactNode } from "./redact.js";

/**
 * JSON Lines: one object per line, nodes first then relations, each with `"record": "node"` or
 * `"record": "edge"`. Nodes: id, kind, type, gid, version, label, start, end (UTC ISO 8601 with
 * µs, or null), attrs. Relations: id, type, op, from, to, ts, tsEnd, count, bytes, attrs.
 */

function nodeObject(n: GraphNode): Record<string, unknown> {
  return {
    record: "node",
    id: n.id,
    kind: n.kind,
    type: n.type,
    gid: n.gid,
    version: n.version,
    label: n.label,
    start: n.start === null ? null : isoMicros(n.start),
    end: n.end === null ? null : isoMicros(n.end),
    attrs: n.attrs,
  };
}

function edgeObject(e: GraphEdge): Record<string, unknown> {
  return {
    record: "edge",
    id: e.id,
    type: e.type,
    op: e.op,
    from: e.from,
    to: e.to,
    ts: e.ts === null ? null : isoMicros(e.ts),
    tsEnd: e.tsEnd === null ? null : isoMicros(e.tsEnd),
    count: e.count,
    bytes: e.bytes,
    attrs: e.attrs,
  };
}

async function writeJsonl(input: ExportInput, out: ExportSink): Promise<void> {
  const w = new ChunkedWriter(out);
  const redact = input.options.redact;
  for await (const batch of input.nodes()) {
    for (const n of batch) await w.write(`${JSON.stringify(nodeObject(redact ? redactNode(n) : n))}\n`);
  }
  for await (const batch of input.edges()) {
    for (const e of batch) await w.write(`${JSON.stringify(edgeObject(e))}\n`);
  }
  await w.flush();
}

export const jsonlExporter: Exporter = {
  format: "jsonl",
  mediaType: "application/jsonl",
  extension: "jsonl",
  description: 'JSON Lines: one node or relation per line ("record": "node" | "edge")',
  write: writeJsonl,
};
