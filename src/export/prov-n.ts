import type { NodeKind, RelationType } from "../graph/prov-types.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { type Attrs, attributesComment, forEachProvRecord, type JsonValue, prefixes } from "./prov-json.js";

/**
 * W3C PROV-N (https://www.w3.org/TR/prov-n/), written statement by statement from the records of
 * the PROV-JSON export (same ids, types, labels, times and attributes). Relations without an id or
 * attributes in the PROV-N grammar (specializationOf, alternateOf, hadMember, mentionOf) keep them
 * in a `//` comment after the statement (a merge link's evidence).
 */

/**
 * The positional arguments of each relation, as their PROV-JSON keys, in PROV-N order (which is
 * also PROV-XML's element order); `id: false` for the relations that take no id nor attributes.
 */
export const RELATION_ARGS: Record<RelationType, { args: readonly string[]; id: boolean }> = {
  used: { args: ["prov:activity", "prov:entity", "prov:time"], id: true },
  wasGeneratedBy: { args: ["prov:entity", "prov:activity", "prov:time"], id: true },
  wasInvalidatedBy: { args: ["prov:entity", "prov:activity", "prov:time"], id: true },
  wasInformedBy: { args: ["prov:informed", "prov:informant"], id: true },
  wasDerivedFrom: {
    args: ["prov:generatedEntity", "prov:usedEntity", "prov:activity", "prov:generation", "prov:usage"],
    id: true,
  },
  wasAssociatedWith: { args: ["prov:activity", "prov:agent", "prov:plan"], id: true },
  wasAttributedTo: { args: ["prov:entity", "prov:agent"], id: true },
  actedOnBehalfOf: { args: ["prov:delegate", "prov:responsible", "prov:activity"], id: true },
  wasStartedBy: { args: ["prov:activity", "prov:trigger", "prov:starter", "prov:time"], id: true },
  wasEndedBy: { args: ["prov:activity", "prov:trigger", "prov:ender", "prov:time"], id: true },
  wasInfluencedBy: { args: ["prov:influencee", "prov:influencer"], id: true },
  specializationOf: { args: ["prov:specificEntity", "prov:generalEntity"], id: false },
  alternateOf: { args: ["prov:alternate1", "prov:alternate2"], id: false },
  hadMember: { args: ["prov:collection", "prov:entity"], id: false },
  mentionOf: { args: ["prov:specificEntity", "prov:generalEntity", "prov:bundle"], id: false },
};

/** The positional arguments of each node kind (activities carry their start and end). */
export const NODE_ARGS: Record<NodeKind, readonly string[]> = {
  activity: ["prov:startTime", "prov:endTime"],
  entity: [],
  agent: [],
};

/** Characters of a PROV-N local name that need a backslash (PN_CHARS_ESC). */
const PN_ESC = /[='(),:;[\]]/g;

/** A PROV-N qualified name: the local part escaped, non-name characters as `%XX`. */
export function provnQName(qname: string): string {
  const colon = qname.indexOf(":");
  if (colon < 0) return qname;
  let local = qname.slice(colon + 1).replace(PN_ESC, (c) => `\\${c}`);
  // whatever PN_LOCAL cannot hold (spaces, quotes, controls) as percent escapes (PLX)
  local = local.replace(/[^\p{L}\p{N}_\-.\\=(),:;[\]'/@~&+*?#$!%]/gu, (c) =>
    [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
  if (local.endsWith(".")) local = `${local.slice(0, -1)}\\.`;
  if (local.startsWith(".") || local.startsWith("-")) local = `\\${local}`;
  return `${qname.slice(0, colon)}:${local}`;
}

/** A PROV-N string literal: `\` `"` and the ECHAR controls escaped, on one line. */
export function provnString(text: string): string {
  return `"${text.replace(/[\\"\n\r\t\b\f]/g, (c) => ESCAPES[c] ?? c)}"`;
}

const ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** One attribute value in PROV-N. */
function provnValue(value: Exclude<JsonValue, JsonValue[]>): string {
  if (typeof value === "string") return provnString(value);
  if (typeof value === "boolean") return `"${value}" %% xsd:boolean`;
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? String(value) : `"${value}" %% xsd:double`;
  }
  if (value.type === "prov:QUALIFIED_NAME") return `'${provnQName(String(value.$))}'`;
  return `${provnString(String(value.$))} %% ${provnQName(value.type)}`;
}

/** `[k=v, …]` of the attributes not taken as arguments, or "" when there are none. */
function provnAttrs(rec: Attrs, formal: readonly string[]): string {
  const parts: string[] = [];
  for (const key of Object.keys(rec)) {
    if (formal.includes(key)) continue;
    const v = rec[key] as JsonValue;
    const name = provnQName(key);
    for (const item of Array.isArray(v) ? v : [v]) {
      if (!Array.isArray(item)) parts.push(`${name}=${provnValue(item)}`);
    }
  }
  return parts.length === 0 ? "" : `, [${parts.join(", ")}]`;
}

/** A positional argument: a node id, a bare time, or the `-` marker. */
function provnArg(rec: Attrs, key: string): string {
  const v = rec[key];
  if (typeof v !== "string") return "-";
  return key === "prov:time" || key.endsWith("Time") ? v : provnQName(v);
}

async function writeProvN(input: ExportInput, out: ExportSink): Promise<void> {
  const w = new ChunkedWriter(out);
  w.write("document\n");
  for (const [prefix, uri] of Object.entries(prefixes(input.run))) {
    if (prefix === "prov" || prefix === "xsd") continue; // predefined in PROV-N
    w.write(`  prefix ${prefix} <${uri.replace(/[\s<>"{}|^`\\]/g, (c) => encodeURIComponent(c))}>\n`);
  }
  w.write("\n");
  await forEachProvRecord(input, {
    node(kind, id, rec) {
      const formal = NODE_ARGS[kind];
      const args = [provnQName(id), ...formal.map((k) => provnArg(rec, k))];
      return w.write(`  ${kind}(${args.join(", ")}${provnAttrs(rec, formal)})\n`);
    },
    edge(rel, id, rec) {
      const shape = RELATION_ARGS[rel.type];
      const args = shape.args.map((k) => provnArg(rec, k)).join(", ");
      if (!shape.id) {
        // no attributes in the grammar: they follow in a comment
        const note = attributesComment(rec, shape.args);
        return w.write(`  ${rel.type}(${args})${note ? ` // ${note}` : ""}\n`);
      }
      return w.write(`  ${rel.type}(${provnQName(id)}; ${args}${provnAttrs(rec, shape.args)})\n`);
    },
  });
  w.write("endDocument\n");
  await w.flush();
}

export const provNExporter: Exporter = {
  format: "prov-n",
  mediaType: "text/provenance-notation",
  extension: "provn",
  description: "W3C PROV-N notation (same records as prov-json)",
  write: writeProvN,
};
