import type { NodeKind, RelationType } from "../graph/prov-types.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { type Attrs, attributesComment, forEachProvRecord, type JsonValue, prefixes } from "./prov-json.js";

/**
 * PROV-O (https://www.w3.org/TR/prov-o/) in Turtle, written subject by subject from the records of
 * the PROV-JSON export. Every relation that has an id (all but specializationOf, alternateOf,
 * hadMember, mentionOf) goes out in the qualified pattern only, its id naming the qualified
 * influence (`run:n3 prov:qualifiedUsage run:e4. run:e4 a prov:Usage; prov:entity run:n4;
 * prov:atTime …`): the unqualified shortcut next to it would be read back by PROV tools
 * (python3-prov) as a second relation. The four others have no qualified form in PROV-O and go out
 * as plain properties, without id; their attributes go in a `#` comment before the triple.
 */

const RDFS_NS = "http://www.w3.org/2000/01/rdf-schema#";

interface Qualified {
  /** PROV-JSON key of the subject, of the object */
  subject: string;
  object: string;
  /** PROV-O: qualified property, class, property from the influence to the object */
  qualified: string;
  cls: string;
  objectProp: string;
}

const QUALIFIED: Partial<Record<RelationType, Qualified>> = {
  used: q("prov:activity", "prov:entity", "Usage", "prov:entity"),
  wasGeneratedBy: q("prov:entity", "prov:activity", "Generation", "prov:activity"),
  wasInvalidatedBy: q("prov:entity", "prov:activity", "Invalidation", "prov:activity"),
  wasInformedBy: q("prov:informed", "prov:informant", "Communication", "prov:activity"),
  wasDerivedFrom: q("prov:generatedEntity", "prov:usedEntity", "Derivation", "prov:entity"),
  wasAssociatedWith: q("prov:activity", "prov:agent", "Association", "prov:agent"),
  wasAttributedTo: q("prov:entity", "prov:agent", "Attribution", "prov:agent"),
  actedOnBehalfOf: q("prov:delegate", "prov:responsible", "Delegation", "prov:agent"),
  wasStartedBy: q("prov:activity", "prov:trigger", "Start", "prov:entity"),
  wasEndedBy: q("prov:activity", "prov:trigger", "End", "prov:entity"),
  wasInfluencedBy: q("prov:influencee", "prov:influencer", "Influence", "prov:influencer"),
};

function q(subject: string, object: string, cls: string, objectProp: string): Qualified {
  return { subject, object, qualified: `prov:qualified${cls}`, cls: `prov:${cls}`, objectProp };
}

/** Relations PROV-O states with a plain property only: [subject key, property, object key]. */
const PLAIN: Partial<Record<RelationType, [string, string, string]>> = {
  specializationOf: ["prov:specificEntity", "prov:specializationOf", "prov:generalEntity"],
  alternateOf: ["prov:alternate1", "prov:alternateOf", "prov:alternate2"],
  hadMember: ["prov:collection", "prov:hadMember", "prov:entity"],
  mentionOf: ["prov:specificEntity", "prov:mentionOf", "prov:generalEntity"],
};

/** Subtypes of Derivation with their own qualified property in PROV-O. */
const DERIVATION_SUBTYPES = new Set(["prov:Revision", "prov:Quotation", "prov:PrimarySource"]);

const CLASS_OF: Record<NodeKind, string> = {
  activity: "prov:Activity",
  entity: "prov:Entity",
  agent: "prov:Agent",
};

/** PROV attributes with a PROV-O (or RDFS) property of their own. */
const PROPERTY_OF: Record<string, string> = {
  "prov:label": "rdfs:label",
  "prov:location": "prov:atLocation",
  "prov:role": "prov:hadRole",
  "prov:value": "prov:value",
  "prov:time": "prov:atTime",
  "prov:startTime": "prov:startedAtTime",
  "prov:endTime": "prov:endedAtTime",
  "prov:plan": "prov:hadPlan",
};

const TTL_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls a literal must escape
const TTL_STRING_ESCAPED = /[\\"\u0000-\u001F\u007F]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters IRIREF forbids
const IRI_FORBIDDEN = /[\u0000-\u0020<>"{}|^`\\]/g;

/** A Turtle string literal: quotes, backslashes and controls escaped (`\uXXXX` for the rest). */
export function turtleString(text: string): string {
  const body = text
    .replace(LONE_SURROGATE, "\uFFFD")
    .replace(
      TTL_STRING_ESCAPED,
      (c) => TTL_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`,
    );
  return `"${body}"`;
}

/** An IRI between `<>`: characters IRIREF forbids percent-encoded. */
export function turtleIri(iri: string): string {
  return `<${iri.replace(LONE_SURROGATE, "\uFFFD").replace(IRI_FORBIDDEN, (c) => encodeURIComponent(c))}>`;
}

/** Local names written as `prefix:local`; anything else as a full IRI. */
const SAFE_LOCAL = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?$/;

class TurtleNames {
  constructor(private readonly ns: Record<string, string>) {}

  name(qname: string): string {
    const colon = qname.indexOf(":");
    const prefix = qname.slice(0, colon);
    const local = qname.slice(colon + 1);
    const uri = colon < 0 ? undefined : this.ns[prefix];
    if (uri === undefined) return turtleIri(qname);
    return SAFE_LOCAL.test(local) ? qname : turtleIri(uri + local);
  }

  value(v: Exclude<JsonValue, JsonValue[]>): string {
    if (typeof v === "string") return turtleString(v);
    if (typeof v === "boolean") return String(v);
    if (typeof v === "number") {
      return Number.isSafeInteger(v) ? String(v) : `${turtleString(String(v))}^^xsd:double`;
    }
    if (v.type === "prov:QUALIFIED_NAME") return this.name(String(v.$));
    return `${turtleString(String(v.$))}^^${this.name(v.type)}`;
  }
}

/** `a` classes and predicate/object pairs of a record's attributes (minus `skip`). */
function describe(
  names: TurtleNames,
  rec: Attrs,
  skip: readonly string[],
  classes: string[],
  pairs: string[],
): void {
  for (const key of Object.keys(rec)) {
    if (skip.includes(key)) continue;
    const v = rec[key] as JsonValue;
    for (const item of Array.isArray(v) ? v : [v]) {
      if (Array.isArray(item)) continue;
      if (key === "prov:type" && typeof item === "object" && item.type === "prov:QUALIFIED_NAME") {
        const cls = names.name(String(item.$));
        if (!classes.includes(cls)) classes.push(cls);
        continue;
      }
      const pred = key === "prov:type" ? "provflow:provType" : (PROPERTY_OF[key] ?? names.name(key));
      // PROV-O's times are xsd:dateTime literals
      const obj =
        PROPERTY_OF[key]?.endsWith("Time") && typeof item === "string"
          ? `${turtleString(item)}^^xsd:dateTime`
          : names.value(item);
      pairs.push(`${pred} ${obj}`);
    }
  }
}

function statement(subject: string, classes: string[], pairs: string[]): string {
  const all = classes.length > 0 ? [`a ${classes.join(", ")}`, ...pairs] : pairs;
  return `${subject} ${all.join(" ;\n    ")} .\n\n`;
}

async function writeTurtle(input: ExportInput, out: ExportSink): Promise<void> {
  const w = new ChunkedWriter(out);
  const ns = { ...prefixes(input.run), rdfs: RDFS_NS };
  const names = new TurtleNames(ns);
  for (const [prefix, uri] of Object.entries(ns)) w.write(`@prefix ${prefix}: ${turtleIri(uri)} .\n`);
  w.write("\n");
  await forEachProvRecord(input, {
    node(kind, id, rec) {
      const classes = [CLASS_OF[kind]];
      const pairs: string[] = [];
      describe(names, rec, [], classes, pairs);
      return w.write(statement(names.name(id), classes, pairs));
    },
    edge(rel, id, rec) {
      const plain = PLAIN[rel.type];
      if (plain !== undefined) {
        const [s, p, o] = plain;
        const subj = rec[s];
        const obj = rec[o];
        if (typeof subj !== "string" || typeof obj !== "string") return;
        // no qualified form to hold the attributes: they go in a comment before the triple
        const note = attributesComment(rec, [s, o]);
        return w.write(`${note ? `# ${note}\n` : ""}${names.name(subj)} ${p} ${names.name(obj)} .\n\n`);
      }
      const shape = QUALIFIED[rel.type];
      const subj = shape === undefined ? undefined : rec[shape.subject];
      if (shape === undefined || typeof subj !== "string") return;
      const types = rec["prov:type"];
      const sub = (Array.isArray(types) ? types : [types]).find(
        (t) => typeof t === "object" && !Array.isArray(t) && DERIVATION_SUBTYPES.has(String(t.$)),
      ) as { $: string } | undefined;
      const cls = rel.type === "wasDerivedFrom" && sub !== undefined ? String(sub.$) : shape.cls;
      const qualified = cls === shape.cls ? shape.qualified : `prov:qualified${cls.slice(5)}`;
      const classes = [cls];
      const pairs: string[] = [];
      const obj = rec[shape.object];
      if (typeof obj === "string") pairs.push(`${shape.objectProp} ${names.name(obj)}`);
      describe(names, rec, [shape.subject, shape.object], classes, pairs);
      const qid = names.name(id);
      return w.write(`${names.name(subj)} ${qualified} ${qid} .\n${statement(qid, classes, pairs)}`);
    },
  });
  await w.flush();
}

export const provTurtleExporter: Exporter = {
  format: "turtle",
  mediaType: "text/turtle",
  extension: "ttl",
  description: "W3C PROV-O in Turtle (qualified relations; same records as prov-json)",
  write: writeTurtle,
};
