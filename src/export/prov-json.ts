import type { GraphEdge, GraphNode, NodeKind, RelationType } from "../graph/prov-types.js";
import type { RunRecord } from "../store/store-types.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import {
  edgeQName,
  localName,
  nodeQName,
  PROV_NS,
  PROVFLOW_NS,
  RUN_PREFIX,
  runNamespace,
  shellJoin,
  XSD_NS,
  xsdDateTime,
} from "./prov-names.js";
import { redactArgv, redactNode, redactText } from "./redact.js";

/**
 * W3C PROV-JSON (https://www.w3.org/Submission/prov-json/), written section by section: prefixes,
 * activities, entities, agents, then one section per relation type. Nodes and relations are read
 * in batches and written record by record, so a big run never becomes one object in memory.
 */

export type JsonValue = string | number | boolean | { $: string | number; type: string } | JsonValue[];
export type Attrs = Record<string, JsonValue>;

const qname = (value: string): JsonValue => ({ $: value, type: "prov:QUALIFIED_NAME" });
const dateTime = (us: number): JsonValue => ({ $: xsdDateTime(us), type: "xsd:dateTime" });

/** Relation sections in output order, with the PROV-JSON keys of their subject and object. */
export type ProvRelation = (typeof RELATIONS)[number];

export const RELATIONS: readonly { type: RelationType; from: string; to: string; time: boolean }[] = [
  { type: "used", from: "prov:activity", to: "prov:entity", time: true },
  { type: "wasGeneratedBy", from: "prov:entity", to: "prov:activity", time: true },
  { type: "wasInvalidatedBy", from: "prov:entity", to: "prov:activity", time: true },
  { type: "wasInformedBy", from: "prov:informed", to: "prov:informant", time: false },
  { type: "wasDerivedFrom", from: "prov:generatedEntity", to: "prov:usedEntity", time: false },
  { type: "wasAssociatedWith", from: "prov:activity", to: "prov:agent", time: false },
  { type: "wasAttributedTo", from: "prov:entity", to: "prov:agent", time: false },
  { type: "actedOnBehalfOf", from: "prov:delegate", to: "prov:responsible", time: false },
  // relations only PROV sources (PROV-JSON, CamFlow, SPADE) make
  { type: "wasStartedBy", from: "prov:activity", to: "prov:trigger", time: true },
  { type: "wasEndedBy", from: "prov:activity", to: "prov:trigger", time: true },
  { type: "wasInfluencedBy", from: "prov:influencee", to: "prov:influencer", time: false },
  { type: "specializationOf", from: "prov:specificEntity", to: "prov:generalEntity", time: false },
  { type: "alternateOf", from: "prov:alternate1", to: "prov:alternate2", time: false },
  { type: "hadMember", from: "prov:collection", to: "prov:entity", time: false },
  { type: "mentionOf", from: "prov:specificEntity", to: "prov:generalEntity", time: false },
];

/** Node attributes written explicitly (or not at all); the rest go out generically. */
const HANDLED_NODE_ATTRS = new Set(["argv", "env", "tids"]);

/** A value as a PROV-JSON attribute value, or undefined to leave it out. */
function jsonValue(value: unknown): JsonValue | undefined {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
      return Number.isFinite(value) ? value : undefined;
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "object":
      return value === null ? undefined : JSON.stringify(value);
    default:
      return undefined;
  }
}

function putAttrs(out: Attrs, attrs: Record<string, unknown>, skip?: ReadonlySet<string>): void {
  for (const key of Object.keys(attrs)) {
    if (skip?.has(key)) continue;
    const v = jsonValue(attrs[key]);
    if (v !== undefined) out[`provflow:${localName(key)}`] = v;
  }
}

function nodeTypes(node: GraphNode): JsonValue {
  const own = qname(`provflow:${node.type}`);
  if (node.type === "user") return [qname("prov:Person"), own];
  if (node.kind === "agent") return [qname("prov:Agent"), own];
  return own;
}

export function nodeRecord(node: GraphNode): Attrs {
  const rec: Attrs = { "prov:type": nodeTypes(node), "prov:label": node.label, "provflow:gid": node.gid };
  const a = node.attrs;
  if (node.kind === "activity") {
    if (node.start !== null) rec["prov:startTime"] = xsdDateTime(node.start);
    if (node.end !== null) rec["prov:endTime"] = xsdDateTime(node.end);
    // CamFlow's activities have versions (a task's successive states)
    if (node.version !== 0) rec["provflow:version"] = node.version;
  } else {
    if (node.kind === "entity") rec["provflow:version"] = node.version;
    if (node.start !== null) rec["provflow:startTime"] = dateTime(node.start);
    if (node.end !== null) rec["provflow:endTime"] = dateTime(node.end);
  }
  if (Array.isArray(a.argv)) rec["provflow:argv"] = shellJoin(a.argv);
  if (Array.isArray(a.env)) {
    rec["provflow:env"] = a.env.join("\n");
    rec["provflow:envCount"] = a.env.length;
  }
  if (Array.isArray(a.tids)) rec["provflow:tids"] = a.tids.join(",");
  putAttrs(rec, a, HANDLED_NODE_ATTRS);
  return rec;
}

export function edgeRecord(edge: GraphEdge, rel: ProvRelation): Attrs {
  const rec: Attrs = { [rel.from]: nodeQName(edge.from), [rel.to]: nodeQName(edge.to) };
  if (edge.ts !== null) {
    if (rel.time) rec["prov:time"] = xsdDateTime(edge.ts);
    else rec["provflow:time"] = dateTime(edge.ts);
  }
  if (edge.type === "wasDerivedFrom" && edge.op === "version") rec["prov:type"] = qname("prov:Revision");
  rec["provflow:op"] = edge.op;
  rec["provflow:count"] = edge.count;
  rec["provflow:bytes"] = edge.bytes;
  if (edge.tsEnd !== null && edge.tsEnd !== edge.ts) rec["provflow:endTime"] = dateTime(edge.tsEnd);
  putAttrs(rec, edge.attrs);
  return rec;
}

/**
 * The attributes of a record other than its positional arguments, as one line of text
 * (`provflow:link="tcp-4-tuple" provflow:overlapUs=5502 …`): what the formats whose grammar gives
 * some relations no attributes (PROV-N, PROV-XML, PROV-O's alternateOf, specializationOf,
 * hadMember, mentionOf) keep in a comment, so the evidence of a merge link is not lost. "" when
 * there are none.
 */
export function attributesComment(rec: Attrs, formal: readonly string[]): string {
  const parts: string[] = [];
  for (const key of Object.keys(rec)) {
    if (formal.includes(key)) continue;
    const v = rec[key] as JsonValue;
    for (const item of Array.isArray(v) ? v : [v]) {
      if (Array.isArray(item)) continue;
      const text = typeof item === "object" ? String(item.$) : item;
      parts.push(`${key}=${typeof text === "string" ? JSON.stringify(text) : String(text)}`);
    }
  }
  // one line, and nothing that ends a comment in any of the three formats
  return parts
    .join(" ")
    .replace(/[\r\n]/g, " ")
    .replace(/--/g, "- -")
    .replace(/\*\//g, "* /");
}

export function prefixes(run: RunRecord): Record<string, string> {
  return {
    prov: PROV_NS,
    xsd: XSD_NS,
    provflow: PROVFLOW_NS,
    [RUN_PREFIX]: runNamespace(run.host, run.id),
  };
}

/** Writes `"name": {` lazily on the first record so empty sections are left out. */
class SectionWriter {
  private sections = 0;
  private records = 0;

  constructor(private readonly w: ChunkedWriter) {}

  open(name: string): void {
    this.w.write(`${this.sections === 0 ? "\n" : ",\n"}  ${JSON.stringify(name)}: {`);
    this.sections += 1;
    this.records = 0;
  }

  record(id: string, body: Attrs): void | Promise<void> {
    const sep = this.records === 0 ? "\n" : ",\n";
    this.records += 1;
    return this.w.write(`${sep}    ${JSON.stringify(id)}: ${JSON.stringify(body)}`);
  }

  close(): void {
    this.w.write("\n  }");
  }
}

async function writeProvJson(input: ExportInput, out: ExportSink): Promise<void> {
  const w = new ChunkedWriter(out);
  const sections = new SectionWriter(w);
  const redact = input.options.redact;
  w.write("{");
  sections.open("prefix");
  for (const [prefix, uri] of Object.entries(prefixes(input.run))) {
    w.write(`${prefix === "prov" ? "\n" : ",\n"}    ${JSON.stringify(prefix)}: ${JSON.stringify(uri)}`);
  }
  sections.close();
  for (const kind of ["activity", "entity", "agent"] as NodeKind[]) {
    let opened = false;
    if (kind === "entity") {
      // the run itself: how this provenance was captured (tracer command, host, status)
      sections.open(kind);
      opened = true;
      await sections.record(RUN_ENTITY, runAttributes(input.run, redact));
    }
    for await (const batch of input.nodes({ kinds: [kind] })) {
      for (const raw of batch) {
        if (!opened) {
          sections.open(kind);
          opened = true;
        }
        const node = redact ? redactNode(raw) : raw;
        await sections.record(nodeQName(node.id), nodeRecord(node));
      }
    }
    if (opened) sections.close();
  }
  for (const rel of RELATIONS) {
    let opened = false;
    for await (const batch of input.edges({ types: [rel.type] })) {
      for (const edge of batch) {
        if (edge.type !== rel.type) continue;
        if (!opened) {
          sections.open(rel.type);
          opened = true;
        }
        await sections.record(edgeQName(edge.id), edgeRecord(edge, rel));
      }
    }
    if (opened) sections.close();
  }
  w.write("\n}\n");
  await w.flush();
}

/** QName of the entity describing the run itself. */
export const RUN_ENTITY = `${RUN_PREFIX}:run`;

/** The run's own description (command, tracer, host…) as the attributes of the run entity. */
export function runAttributes(run: RunRecord, redact: boolean): Attrs {
  const command = redact ? redactArgv(run.command) : run.command;
  const rec: Attrs = {
    "prov:type": qname("provflow:Run"),
    "prov:label": `provflow run ${run.id}`,
    "provflow:runId": run.id,
    "provflow:runName": redact ? redactText(run.name) : run.name,
    "provflow:source": run.source,
    "provflow:command": shellJoin(command),
    "provflow:host": run.host,
    "provflow:status": run.status,
  };
  if (run.machineId !== null) rec["provflow:machineId"] = run.machineId;
  if (run.bootId !== null) rec["provflow:bootId"] = run.bootId;
  if (run.user !== null) rec["provflow:user"] = run.user;
  if (run.cwd !== null) rec["provflow:cwd"] = run.cwd;
  if (run.exitCode !== null) rec["provflow:exitCode"] = run.exitCode;
  if (run.exitSignal !== null) rec["provflow:exitSignal"] = run.exitSignal;
  if (run.tracerCommand !== null) {
    rec["provflow:tracerCommand"] = shellJoin(redact ? redactArgv(run.tracerCommand) : run.tracerCommand);
  }
  if (run.start !== null) rec["provflow:startTime"] = dateTime(run.start);
  if (run.end !== null) rec["provflow:endTime"] = dateTime(run.end);
  return rec;
}

/** What the other PROV exporters (PROV-N, PROV-XML, Turtle) are handed, record by record. */
export interface ProvRecordVisitor {
  node(kind: NodeKind, id: string, rec: Attrs): void | Promise<void>;
  edge(rel: ProvRelation, id: string, rec: Attrs): void | Promise<void>;
}

/**
 * The records of the PROV-JSON export, in its order (the run entity first among entities), so
 * every PROV format holds the same ids, types, labels, times and attributes. Awaits only when the
 * visitor returns a promise (backpressure).
 */
export async function forEachProvRecord(input: ExportInput, visit: ProvRecordVisitor): Promise<void> {
  const redact = input.options.redact;
  for (const kind of ["activity", "entity", "agent"] as NodeKind[]) {
    if (kind === "entity") {
      const p = visit.node(kind, RUN_ENTITY, runAttributes(input.run, redact));
      if (p) await p;
    }
    for await (const batch of input.nodes({ kinds: [kind] })) {
      for (const raw of batch) {
        const node = redact ? redactNode(raw) : raw;
        const p = visit.node(kind, nodeQName(node.id), nodeRecord(node));
        if (p) await p;
      }
    }
  }
  for (const rel of RELATIONS) {
    for await (const batch of input.edges({ types: [rel.type] })) {
      for (const edge of batch) {
        if (edge.type !== rel.type) continue;
        const p = visit.edge(rel, edgeQName(edge.id), edgeRecord(edge, rel));
        if (p) await p;
      }
    }
  }
}

export const provJsonExporter: Exporter = {
  format: "prov-json",
  mediaType: "application/json",
  extension: "json",
  description: "W3C PROV-JSON document (activities, entities, agents and their relations)",
  write: writeProvJson,
};
