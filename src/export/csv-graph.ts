import type { GraphEdge, GraphNode } from "../graph/prov-types.js";
import { isoMicros } from "../graph/time-format.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { redactNode } from "./redact.js";

/**
 * The graph as CSV (RFC 4180: CRLF line ends, fields with `"`, `,`, CR or LF quoted, `"` doubled),
 * in two sections of one stream: the nodes table (header + one row per node), one empty line, the
 * relations table (header + one row per relation). The first column of both headers and rows is
 * `record` (`node` / `edge`), so a reader can split on it as well as on the empty line. Times are
 * UTC ISO 8601 with microseconds; `attrs` is the node's or relation's remaining attributes as JSON.
 */

export const NODE_COLUMNS = [
  "record",
  "id",
  "kind",
  "type",
  "gid",
  "version",
  "label",
  "start",
  "end",
  "pid",
  "path",
  "category",
  "attrs",
] as const;

export const EDGE_COLUMNS = [
  "record",
  "id",
  "type",
  "op",
  "from",
  "to",
  "ts",
  "ts_end",
  "count",
  "bytes",
  "attrs",
] as const;

/** One RFC 4180 field. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const time = (us: number | null): string => (us === null ? "" : isoMicros(us));

function restAttrs(attrs: Record<string, unknown>, skip: readonly string[]): string {
  const rest: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(attrs)) {
    if (skip.includes(key) || attrs[key] === undefined) continue;
    rest[key] = attrs[key];
    any = true;
  }
  return any ? JSON.stringify(rest) : "";
}

export function nodeRow(n: GraphNode): string[] {
  const a = n.attrs;
  return [
    "node",
    String(n.id),
    n.kind,
    n.type,
    n.gid,
    String(n.version),
    n.label,
    time(n.start),
    time(n.end),
    typeof a.pid === "number" ? String(a.pid) : "",
    typeof a.path === "string" ? a.path : "",
    typeof a.category === "string" ? a.category : "",
    restAttrs(a, ["pid", "path", "category"]),
  ];
}

export function edgeRow(e: GraphEdge): string[] {
  return [
    "edge",
    String(e.id),
    e.type,
    e.op,
    String(e.from),
    String(e.to),
    time(e.ts),
    time(e.tsEnd),
    String(e.count),
    String(e.bytes),
    restAttrs(e.attrs, []),
  ];
}

const line = (fields: readonly string[]): string => `${fields.map(csvField).join(",")}\r\n`;

async function writeCsv(input: ExportInput, out: ExportSink): Promise<void> {
  const w = new ChunkedWriter(out);
  const redact = input.options.redact;
  w.write(line(NODE_COLUMNS));
  for await (const batch of input.nodes()) {
    for (const n of batch) await w.write(line(nodeRow(redact ? redactNode(n) : n)));
  }
  w.write("\r\n");
  w.write(line(EDGE_COLUMNS));
  for await (const batch of input.edges()) {
    for (const e of batch) await w.write(line(edgeRow(e)));
  }
  await w.flush();
}

export const csvExporter: Exporter = {
  format: "csv",
  mediaType: "text/csv",
  extension: "csv",
  description: "CSV: a nodes table, an empty line, a relations table (RFC 4180)",
  write: writeCsv,
};
