import type { GraphEdge, GraphNode, NodeType, RelationOp, RelationType } from "../graph/prov-types.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { dotString } from "./graphviz-dot.js";
import { shellJoin } from "./prov-names.js";
import { redactNode } from "./redact.js";

/**
 * SPADE's two storage formats, so a run can be opened by SPADE's tools (and read back by ours):
 *
 * - SPADE JSON (its JSON storage / JSON reporter): a JSON array of vertices
 *   `{"type","id","annotations"}` then edges `{"type","from","to","annotations"}`, `from` being the
 *   effect and `to` the cause — PROV's subject → object order, which our relations already keep.
 * - SPADE DOT (its Graphviz storage): one quoted node per vertex and one edge per edge, labels
 *   `key:value` lines joined by DOT's `\n`, `from -> to` in the same direction as the JSON.
 *
 * Vocabulary: SPADE's Audit reporter's (OPM) where it has a word: processes are `Process`, other
 * activities `Activity`, entities `Artifact` (with SPADE's `subtype`: file, directory, character
 * device, unnamed pipe, network socket, memory), agents `Agent`; relations `Used`,
 * `WasGeneratedBy`, `WasTriggeredBy` (wasInformedBy), `WasDerivedFrom`, `WasControlledBy`
 * (wasAssociatedWith); PROV's names for the rest (WasInvalidatedBy, WasAttributedTo…). PROV's
 * specializationOf, alternateOf, hadMember and mentionOf have no SPADE edge type: they are written
 * as `WasInfluencedBy` with a `relation` annotation saying which. Annotations are SPADE's strings:
 * `pid`, `ppid`, `exe`, `command line`, `cwd`, `start time` (seconds since the epoch), `path`,
 * `version`, `uid`, `operation` (SPADE's syscall names), `time`, `size`; our other attributes are
 * kept under their own names. Vertex ids are the run's node ids.
 *
 * Both stream: nodes pass, then edges pass, nothing held.
 */

const SUBTYPES: Partial<Record<NodeType, string>> = {
  file: "file",
  directory: "directory",
  device: "character device",
  pipe: "unnamed pipe",
  socket: "network socket",
  memory: "memory",
};

const EDGE_TYPES: Record<RelationType, string> = {
  used: "Used",
  wasGeneratedBy: "WasGeneratedBy",
  wasInformedBy: "WasTriggeredBy",
  wasDerivedFrom: "WasDerivedFrom",
  wasAssociatedWith: "WasControlledBy",
  wasAttributedTo: "WasAttributedTo",
  wasInvalidatedBy: "WasInvalidatedBy",
  actedOnBehalfOf: "ActedOnBehalfOf",
  wasInfluencedBy: "WasInfluencedBy",
  wasStartedBy: "WasStartedBy",
  wasEndedBy: "WasEndedBy",
  specializationOf: "WasInfluencedBy",
  alternateOf: "WasInfluencedBy",
  hadMember: "WasInfluencedBy",
  mentionOf: "WasInfluencedBy",
};

/** Our operations under SPADE's Audit reporter's names (the others keep ours). */
const OPERATIONS: Partial<Record<RelationOp, string>> = {
  delete: "unlink",
  exec: "execve",
  execute: "load",
  map: "mmap",
  version: "update",
};

/** µs since the epoch → SPADE's seconds with a fraction. */
export function spadeSeconds(us: number): string {
  const whole = Math.round(us);
  const s = Math.floor(whole / 1_000_000);
  return `${s}.${String(whole - s * 1_000_000).padStart(6, "0")}`;
}

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** Attributes SPADE names itself (or that we write under SPADE's name). */
const HANDLED = new Set(["pid", "ppid", "exe", "argv", "cwd", "path", "uid", "sourceId", "sourceType"]);

export function spadeVertex(n: GraphNode): { type: string; annotations: Record<string, string> } {
  const a = n.attrs;
  const ann: Record<string, string> = {};
  let type: string;
  if (n.kind === "activity") {
    type = n.type === "process" ? "Process" : "Activity";
    if (a.pid !== undefined) ann.pid = String(a.pid);
    if (a.ppid !== undefined && a.ppid !== null) ann.ppid = String(a.ppid);
    if (a.exe !== undefined) ann.exe = a.exe;
    ann["command line"] = Array.isArray(a.argv) && a.argv.length > 0 ? shellJoin(a.argv) : n.label;
    if (a.cwd !== undefined) ann.cwd = a.cwd;
    if (n.start !== null) ann["start time"] = spadeSeconds(n.start);
    if (n.end !== null) ann["end time"] = spadeSeconds(n.end);
  } else if (n.kind === "entity") {
    type = "Artifact";
    const subtype = SUBTYPES[n.type];
    if (subtype !== undefined) ann.subtype = subtype;
    // a path that is not absolute (pipe:[…], sockets) would not name a file: kept as our label
    const path = typeof a.path === "string" ? a.path : n.label;
    if (path) ann.path = path;
    ann.version = String(n.version);
  } else {
    type = "Agent";
    if (n.type === "user" && a.uid !== undefined) ann.uid = String(a.uid);
    ann.name = n.label;
  }
  ann["provflow type"] = n.type;
  ann.gid = n.gid;
  for (const [k, v] of Object.entries(a)) {
    if (HANDLED.has(k) || Object.hasOwn(ann, k)) continue;
    const t = text(v);
    if (t !== undefined) ann[k] = t;
  }
  return { type, annotations: ann };
}

export function spadeEdge(e: GraphEdge): { type: string; annotations: Record<string, string> } {
  const ann: Record<string, string> = { id: String(e.id) };
  const type = EDGE_TYPES[e.type] ?? "WasInfluencedBy";
  if (type === "WasInfluencedBy" && e.type !== "wasInfluencedBy") ann.relation = e.type;
  if (e.op !== "other") ann.operation = OPERATIONS[e.op] ?? e.op;
  else if (typeof e.attrs.sourceType === "string") ann.operation = e.attrs.sourceType;
  if (e.ts !== null) ann.time = spadeSeconds(e.ts);
  if (e.tsEnd !== null && e.tsEnd !== e.ts) ann["end time"] = spadeSeconds(e.tsEnd);
  if (e.count > 1) ann.count = String(e.count);
  if (e.bytes > 0) ann.size = String(e.bytes);
  for (const [k, v] of Object.entries(e.attrs ?? {})) {
    if (k === "sourceId" || k === "sourceType" || Object.hasOwn(ann, k)) continue;
    const t = text(v);
    if (t !== undefined) ann[k] = t;
  }
  return { type, annotations: ann };
}

async function writeSpadeJson(input: ExportInput, out: ExportSink): Promise<void> {
  const redact = input.options.redact;
  const w = new ChunkedWriter(out);
  let count = 0;
  const record = (rec: Record<string, unknown>): void | Promise<void> => {
    const sep = count === 0 ? "\n" : ",\n";
    count += 1;
    return w.write(sep + JSON.stringify(rec));
  };
  w.write("[");
  for await (const batch of input.nodes()) {
    for (const raw of batch) {
      const v = spadeVertex(redact ? redactNode(raw) : raw);
      await record({ type: v.type, id: String(raw.id), annotations: v.annotations });
    }
  }
  for await (const batch of input.edges()) {
    for (const e of batch) {
      const r = spadeEdge(e);
      await record({ type: r.type, from: String(e.from), to: String(e.to), annotations: r.annotations });
    }
  }
  w.write("\n]\n");
  await w.flush();
}

/** SPADE's Graphviz storage look: processes blue boxes, artifacts yellow ellipses, agents octagons. */
const VERTEX_LOOK: Record<string, string> = {
  Process: 'shape="box" fillcolor="lightsteelblue1"',
  Activity: 'shape="box" fillcolor="lightsteelblue1"',
  Artifact: 'shape="ellipse" fillcolor="khaki1"',
  Agent: 'shape="octagon" fillcolor="rosybrown1"',
};

const EDGE_COLOURS: Record<string, string> = {
  Used: "green",
  WasGeneratedBy: "red",
  WasTriggeredBy: "blue",
  WasControlledBy: "purple",
  WasDerivedFrom: "orange",
};

/**
 * A SPADE label: `type:…` first, then `key:value` lines joined by DOT's `\n`. Keys lose their `:`
 * (the reader splits at the first one) and values their line breaks; dotString escapes the rest.
 */
function spadeLabel(type: string, ann: Record<string, string>): string {
  const parts = [`type:${type}`];
  for (const [k, v] of Object.entries(ann)) {
    parts.push(`${k.replace(/:/g, "_")}:${v.replace(/[\r\n]+/g, " ").replace(/\\/g, "/")}`);
  }
  // dotString would double the backslash of the separator: join after escaping each line
  return `"${parts.map((p) => dotString(p).slice(1, -1)).join("\\n")}"`;
}

async function writeSpadeDot(input: ExportInput, out: ExportSink): Promise<void> {
  const redact = input.options.redact;
  const w = new ChunkedWriter(out);
  w.write(
    "digraph spade2dot {\n" +
      'graph [rankdir = "RL"];\n' +
      'node [fontname="Helvetica" fontsize="8" style="filled" margin="0.0,0.0"];\n' +
      'edge [fontname="Helvetica" fontsize="8"];\n',
  );
  for await (const batch of input.nodes()) {
    for (const raw of batch) {
      const v = spadeVertex(redact ? redactNode(raw) : raw);
      await w.write(`"${raw.id}" [label=${spadeLabel(v.type, v.annotations)} ${VERTEX_LOOK[v.type]}];\n`);
    }
  }
  for await (const batch of input.edges()) {
    for (const e of batch) {
      const r = spadeEdge(e);
      const colour = EDGE_COLOURS[r.type] ?? "black";
      await w.write(
        `"${e.from}" -> "${e.to}" [label=${spadeLabel(r.type, r.annotations)} color="${colour}"];\n`,
      );
    }
  }
  w.write("}\n");
  await w.flush();
}

export const spadeJsonExporter: Exporter = {
  format: "spade-json",
  mediaType: "application/json",
  extension: "json",
  description: "SPADE's JSON (Process/Artifact/Agent vertices, Used/WasGeneratedBy… edges)",
  write: writeSpadeJson,
};

export const spadeDotExporter: Exporter = {
  format: "spade-dot",
  mediaType: "text/vnd.graphviz",
  extension: "dot",
  description: "SPADE's Graphviz DOT (key:value labels), readable by SPADE's tools and provflow ingest",
  write: writeSpadeDot,
};
