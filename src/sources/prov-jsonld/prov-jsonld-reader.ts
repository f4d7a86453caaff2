import { isObject, Namespaces, PROV_NS } from "../prov-json/prov-json-values.js";
import type { ProvRecordSink } from "../prov-xml/prov-record-sink.js";

/**
 * PROV-JSONLD (https://www.w3.org/submissions/prov-jsonld/): a JSON-LD document whose `@graph`
 * holds one object per PROV statement, `{"@type": "Entity" | "Usage" | …, "@id": …, "activity":
 * "ex:a", …}`. Each object becomes the PROV-JSON record it stands for and goes to the PROV-JSON
 * mapper, so both serialisations give the same graph.
 *
 * - `@type` in the submission's compact form (`Entity`, `Usage`) or ProvToolbox's (`prov:Entity`,
 *   `prov:Usage`), or the full PROV IRI; subtypes (`Plan`, `Person`, `Revision`…) are read as their
 *   base statement with one more `prov:type`; a `Bundle` object with its own `@graph` is a bundle.
 * - property names without a prefix are PROV's (`activity` → `prov:activity`, `type` → `prov:type`);
 *   prefixed ones are kept as written (`foaf:givenName`).
 * - values: `{"@value": v, "@type": T}` → `{"$": v, "type": T}`, `{"@value": v, "@language": L}`
 *   → `{"$": v, "lang": L}`, `{"@value": v}` → v, `{"@id": x}` → a qualified name; a list of one
 *   value is that value.
 * - prefixes: the string members of the objects of `@context` (remote contexts are not fetched:
 *   the PROV-JSONLD context's terms are known here), `@vocab` as the default namespace.
 *
 * Records have no line of their own (JSON.parse keeps none): they are placed at the document's
 * first line.
 */

/** `@type` names of PROV-JSONLD, with their PROV-JSON section and the subtype they assert. */
const TYPES: Readonly<Record<string, [string, string | null]>> = {
  Entity: ["entity", null],
  Activity: ["activity", null],
  Agent: ["agent", null],
  Plan: ["entity", "prov:Plan"],
  Collection: ["entity", "prov:Collection"],
  EmptyCollection: ["entity", "prov:EmptyCollection"],
  Dictionary: ["entity", "prov:Dictionary"],
  EmptyDictionary: ["entity", "prov:EmptyDictionary"],
  Person: ["agent", "prov:Person"],
  Organization: ["agent", "prov:Organization"],
  SoftwareAgent: ["agent", "prov:SoftwareAgent"],
  Usage: ["used", null],
  Generation: ["wasGeneratedBy", null],
  Invalidation: ["wasInvalidatedBy", null],
  Start: ["wasStartedBy", null],
  End: ["wasEndedBy", null],
  Communication: ["wasInformedBy", null],
  Derivation: ["wasDerivedFrom", null],
  Revision: ["wasDerivedFrom", "prov:Revision"],
  Quotation: ["wasDerivedFrom", "prov:Quotation"],
  PrimarySource: ["wasDerivedFrom", "prov:PrimarySource"],
  Association: ["wasAssociatedWith", null],
  Attribution: ["wasAttributedTo", null],
  Delegation: ["actedOnBehalfOf", null],
  Influence: ["wasInfluencedBy", null],
  Specialization: ["specializationOf", null],
  Alternate: ["alternateOf", null],
  Membership: ["hadMember", null],
  Mention: ["mentionOf", null],
  Insertion: ["derivedByInsertionFrom", null],
  Removal: ["derivedByRemovalFrom", null],
  DictionaryMembership: ["hadDictionaryMember", null],
};

const ELEMENT_SECTIONS = new Set(["entity", "activity", "agent"]);

/** The PROV name of a `@type`: `Entity`, `prov:Entity` and PROV's IRI all give `Entity`. */
function provLocal(t: string, ns: Namespaces): string | null {
  if (Object.hasOwn(TYPES, t) || t === "Bundle") return t;
  const iri = ns.expand(t);
  if (iri.startsWith(PROV_NS)) {
    const local = iri.slice(PROV_NS.length);
    if (Object.hasOwn(TYPES, local) || local === "Bundle") return local;
  }
  return null;
}

export class ProvJsonLdReader {
  private blank = 0;
  private readonly unknownReported = new Set<string>();
  /** statements read */
  statements = 0;

  constructor(private readonly sink: ProvRecordSink) {}

  /** One parsed JSON-LD document that starts at `line`. */
  document(doc: unknown, line: number): void {
    const ns = Namespaces.standard();
    if (Array.isArray(doc)) {
      for (const node of doc) this.node(node, line, ns, null);
      return;
    }
    if (!isObject(doc)) {
      this.sink.problem(
        line,
        "col 1: the input is not a JSON-LD document (an object or an array of objects)",
      );
      return;
    }
    this.container(doc, line, ns, null);
  }

  /** An object that may hold `@context` and `@graph` (the document, a bundle), or a statement. */
  private container(
    obj: Record<string, unknown>,
    line: number,
    parent: Namespaces,
    bundle: string | null,
  ): void {
    const ns = "@context" in obj ? this.context(obj["@context"], parent, line) : parent;
    if (!("@graph" in obj)) {
      this.node(obj, line, ns, bundle);
      return;
    }
    const graph = obj["@graph"];
    const nodes = Array.isArray(graph) ? graph : [graph];
    for (const node of nodes) this.node(node, line, ns, bundle);
  }

  private context(ctx: unknown, parent: Namespaces, line: number): Namespaces {
    const ns = new Namespaces(parent);
    for (const c of Array.isArray(ctx) ? ctx : [ctx]) {
      if (typeof c === "string" || c === null) continue; // a remote context: not fetched
      if (!isObject(c)) {
        this.sink.problem(line, "col 1: a @context that is neither an object nor a URL: ignored");
        continue;
      }
      for (const [k, v] of Object.entries(c)) {
        if (k === "@vocab" && typeof v === "string") ns.set("default", v);
        else if (!k.startsWith("@") && typeof v === "string" && /^[a-z][\w+.-]*:/i.test(v)) ns.set(k, v);
      }
    }
    return ns;
  }

  private node(node: unknown, line: number, ns: Namespaces, bundle: string | null): void {
    if (!isObject(node)) {
      this.sink.problem(
        line,
        `col 1: a member of @graph is ${JSON.stringify(node)?.slice(0, 40)}, not an object`,
      );
      return;
    }
    const types = node["@type"];
    let local: string | null = null;
    const extraTypes: string[] = [];
    for (const t of Array.isArray(types) ? types : [types]) {
      if (typeof t !== "string") continue;
      const l = provLocal(t, ns);
      if (l !== null && local === null) local = l;
      else extraTypes.push(t);
    }
    const id = typeof node["@id"] === "string" ? node["@id"] : undefined;
    if (local === "Bundle" || (local === null && "@graph" in node)) {
      this.container(node, line, ns, id ?? "_:bundle");
      return;
    }
    if (local === null) {
      const what = JSON.stringify(types ?? null).slice(0, 60);
      if (!this.unknownReported.has(what)) {
        this.unknownReported.add(what);
        this.sink.problem(line, `col 1: @type ${what} is not a PROV statement: skipped`);
      }
      return;
    }
    const [section, subtype] = TYPES[local]!;
    if (ELEMENT_SECTIONS.has(section) && id === undefined) {
      this.sink.problem(line, `col 1: ${local} without @id: skipped`);
      return;
    }
    const rec: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "@type" || k === "@id" || k === "@context") continue;
      if (k.startsWith("@")) continue;
      const name = k.includes(":") ? k : `prov:${k}`;
      const value = jsonLdValue(v, name === "prov:type");
      if (value !== undefined) rec[name] = value;
    }
    const asserted = extraTypes.map((t) => ({ $: t, type: "prov:QUALIFIED_NAME" }));
    if (subtype !== null) asserted.push({ $: subtype, type: "prov:QUALIFIED_NAME" });
    if (asserted.length > 0) {
      const had = rec["prov:type"];
      const list = had === undefined ? [] : Array.isArray(had) ? had : [had];
      list.push(...asserted);
      rec["prov:type"] = list.length === 1 ? list[0] : list;
    }
    this.statements++;
    this.sink.record(section, id ?? `_:id${++this.blank}`, rec, line, ns, bundle);
  }
}

/** A JSON-LD value as a PROV-JSON value; undefined when it has none. */
function jsonLdValue(v: unknown, qualified: boolean): unknown {
  if (Array.isArray(v)) {
    const list = v.map((x) => jsonLdValue(x, qualified)).filter((x) => x !== undefined);
    return list.length === 0 ? undefined : list.length === 1 ? list[0] : list;
  }
  if (typeof v === "string") return qualified ? { $: v, type: "prov:QUALIFIED_NAME" } : v;
  if (typeof v === "number" || typeof v === "boolean") return v;
  if (!isObject(v)) return undefined;
  if ("@id" in v && typeof v["@id"] === "string") return { $: v["@id"], type: "prov:QUALIFIED_NAME" };
  if ("@value" in v) {
    const val = v["@value"];
    if (typeof v["@type"] === "string") return { $: String(val), type: v["@type"] };
    if (typeof v["@language"] === "string") return { $: String(val), lang: v["@language"] };
    return typeof val === "string" || typeof val === "number" || typeof val === "boolean" ? val : undefined;
  }
  if ("@list" in v || "@set" in v) return jsonLdValue(v["@list"] ?? v["@set"], qualified);
  return undefined;
}
