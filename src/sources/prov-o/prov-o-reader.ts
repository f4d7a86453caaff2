import type { ProvClass } from "../../events/event-types.js";
import { RELATION_SECTIONS } from "../prov-json/prov-json-reader.js";
import { PROV_NS, XSD_NS } from "../prov-json/prov-json-values.js";

/**
 * PROV-O (https://www.w3.org/TR/prov-o/) triples → the PROV-JSON records they stand for, so that
 * the PROV-JSON mapper makes the same graph of them. Pure: the triples of one document (its default
 * graph and its named graphs, the bundles of TriG) are collected first, since the qualified pattern
 * (`:a prov:qualifiedUsage [ a prov:Usage; prov:entity :e; prov:atTime … ]`) spreads one relation
 * over several statements, then mapped graph by graph:
 * - a subject of a PROV class (prov:Entity/Activity/Agent or a subclass: Plan, Collection, Bundle,
 *   Person…) is an element record; the subclasses and other classes are its `prov:type`;
 * - a qualified influence (the object of prov:qualifiedX, or a subject of class prov:Usage…) is one
 *   relation record with its formal attributes (prov:entity → `prov:entity`, `prov:usedEntity`,
 *   `prov:trigger`… by the relation), prov:atTime → `prov:time`, prov:hadRole → `prov:role`,
 *   prov:hadPlan → `prov:plan`;
 * - a starting-point property (prov:used, prov:wasGeneratedBy… and the inverse prov:generated,
 *   prov:invalidated, and the derivation subproperties) is a relation record, unless a qualified
 *   influence of the same relation between the same two nodes says it already (it counts once);
 * - any other statement is an attribute: rdfs:label → `prov:label`, prov:atLocation →
 *   `prov:location`, prov:startedAtTime/endedAtTime → `prov:startTime`/`prov:endTime`, other
 *   predicates under their qualified name; IRIs as `prov:QUALIFIED_NAME` values, literals typed.
 * A subject with statements but no PROV class takes the class its relations imply (the subject of
 * prov:used is an activity); without any, its statements are reported and skipped.
 */

export const RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
export const RDFS_NS = "http://www.w3.org/2000/01/rdf-schema#";
const RDF_TYPE = `${RDF_NS}type`;
const XSD_STRING = `${XSD_NS}string`;
const RDF_LANG_STRING = `${RDF_NS}langString`;

export type RdfTerm =
  | { t: "iri"; v: string }
  | { t: "blank"; v: string }
  | { t: "literal"; v: string; dt: string; lang: string };

/** The default graph. */
export const DEFAULT_GRAPH = -1;

/**
 * The triples of one RDF document, held compactly: each distinct term once, each quad as five
 * numbers (subject, predicate, object, graph, line). At most `maxTriples`.
 */
export class RdfDocument {
  readonly terms: RdfTerm[] = [];
  private readonly ids = new Map<string, number>();
  readonly quads: number[] = [];
  /** prefixes the document declares (the last declaration of a prefix wins) */
  readonly prefixes = new Map<string, string>();

  constructor(readonly maxTriples: number) {}

  get size(): number {
    return this.quads.length / 5;
  }

  intern(term: RdfTerm): number {
    const key =
      term.t === "literal" ? `L${term.lang}\u0001${term.dt}\u0001${term.v}` : `${term.t[0]}${term.v}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.terms.length;
      this.terms.push(term);
      this.ids.set(key, id);
    }
    return id;
  }

  /** Adds a quad; false (and nothing added) when the document already holds `maxTriples`. */
  add(s: number, p: number, o: number, g: number, line: number): boolean {
    if (this.size >= this.maxTriples) return false;
    this.quads.push(s, p, o, g, line);
    return true;
  }
}

/** A PROV-JSON record made of triples: section, id and attributes as PROV-JSON writes them. */
export interface ProvORecord {
  section: string;
  id: string;
  rec: Record<string, unknown>;
  line: number;
  /** the bundle (named graph) it is in, as a qualified name */
  bundle: string | null;
}

// ------------------------------------------------------------------ vocabulary

/** Element classes of PROV-O and the PROV-JSON section of each. */
const ELEMENT_CLASSES: Readonly<Record<string, ProvClass>> = {
  Entity: "entity",
  Plan: "entity",
  Collection: "entity",
  EmptyCollection: "entity",
  Bundle: "entity",
  Dictionary: "entity",
  EmptyDictionary: "entity",
  Activity: "activity",
  Agent: "agent",
  Person: "agent",
  Organization: "agent",
  SoftwareAgent: "agent",
};
const BASE_CLASSES = new Set(["Entity", "Activity", "Agent"]);

interface InfluenceSpec {
  section: string;
  /** the PROV-JSON key of the node that has the qualified influence */
  subject: string;
  /** PROV-O properties of the influence → PROV-JSON formal attributes */
  props: Readonly<Record<string, string>>;
  /** the subclass, written as its prov:type */
  type?: string;
}

const COMMON_PROPS: Readonly<Record<string, string>> = {
  atTime: "prov:time",
  hadRole: "prov:role",
  atLocation: "prov:location",
  value: "prov:value",
};

const derivation = (type?: string): InfluenceSpec => ({
  section: "wasDerivedFrom",
  subject: "prov:generatedEntity",
  props: {
    entity: "prov:usedEntity",
    hadActivity: "prov:activity",
    hadGeneration: "prov:generation",
    hadUsage: "prov:usage",
  },
  ...(type ? { type } : {}),
});

/** Influence classes (https://www.w3.org/TR/prov-o/#description-qualified-terms). */
const INFLUENCE_CLASSES: Readonly<Record<string, InfluenceSpec>> = {
  Usage: { section: "used", subject: "prov:activity", props: { entity: "prov:entity" } },
  Generation: { section: "wasGeneratedBy", subject: "prov:entity", props: { activity: "prov:activity" } },
  Invalidation: { section: "wasInvalidatedBy", subject: "prov:entity", props: { activity: "prov:activity" } },
  Start: {
    section: "wasStartedBy",
    subject: "prov:activity",
    props: { entity: "prov:trigger", hadActivity: "prov:starter" },
  },
  End: {
    section: "wasEndedBy",
    subject: "prov:activity",
    props: { entity: "prov:trigger", hadActivity: "prov:ender" },
  },
  Communication: {
    section: "wasInformedBy",
    subject: "prov:informed",
    props: { activity: "prov:informant" },
  },
  Derivation: derivation(),
  Revision: derivation("prov:Revision"),
  Quotation: derivation("prov:Quotation"),
  PrimarySource: derivation("prov:PrimarySource"),
  Attribution: { section: "wasAttributedTo", subject: "prov:entity", props: { agent: "prov:agent" } },
  Association: {
    section: "wasAssociatedWith",
    subject: "prov:activity",
    props: { agent: "prov:agent", hadPlan: "prov:plan" },
  },
  Delegation: {
    section: "actedOnBehalfOf",
    subject: "prov:delegate",
    props: { agent: "prov:responsible", hadActivity: "prov:activity" },
  },
  Influence: {
    section: "wasInfluencedBy",
    subject: "prov:influencee",
    props: {
      influencer: "prov:influencer",
      entity: "prov:influencer",
      activity: "prov:influencer",
      agent: "prov:influencer",
    },
  },
};

/** prov:qualifiedX → the class of X. */
const QUALIFIERS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.keys(INFLUENCE_CLASSES).map((c) => [`qualified${c}`, c]),
);

interface PropertySpec {
  section: string;
  /** the triple's subject is the relation's second end (prov:generated: activity → entity) */
  inverse?: boolean;
  type?: string;
}

/** Starting-point and expanded properties that are relations. */
const RELATION_PROPERTIES: Readonly<Record<string, PropertySpec>> = {
  used: { section: "used" },
  wasGeneratedBy: { section: "wasGeneratedBy" },
  generated: { section: "wasGeneratedBy", inverse: true },
  wasInvalidatedBy: { section: "wasInvalidatedBy" },
  invalidated: { section: "wasInvalidatedBy", inverse: true },
  wasStartedBy: { section: "wasStartedBy" },
  wasEndedBy: { section: "wasEndedBy" },
  wasInformedBy: { section: "wasInformedBy" },
  wasDerivedFrom: { section: "wasDerivedFrom" },
  wasRevisionOf: { section: "wasDerivedFrom", type: "prov:Revision" },
  wasQuotedFrom: { section: "wasDerivedFrom", type: "prov:Quotation" },
  hadPrimarySource: { section: "wasDerivedFrom", type: "prov:PrimarySource" },
  wasAttributedTo: { section: "wasAttributedTo" },
  wasAssociatedWith: { section: "wasAssociatedWith" },
  actedOnBehalfOf: { section: "actedOnBehalfOf" },
  wasInfluencedBy: { section: "wasInfluencedBy" },
  specializationOf: { section: "specializationOf" },
  alternateOf: { section: "alternateOf" },
  hadMember: { section: "hadMember" },
  mentionOf: { section: "mentionOf" },
};

/** Attributes of elements whose PROV-JSON name differs from PROV-O's. */
const ELEMENT_ATTRIBUTES: Readonly<Record<string, string>> = {
  [`${RDFS_NS}label`]: "prov:label",
  [`${PROV_NS}atLocation`]: "prov:location",
  [`${PROV_NS}startedAtTime`]: "prov:startTime",
  [`${PROV_NS}endedAtTime`]: "prov:endTime",
};

/** Properties that imply the class of their subject (their domain) when it is not written. */
const DOMAINS: Readonly<Record<string, ProvClass>> = {
  startedAtTime: "activity",
  endedAtTime: "activity",
  generatedAtTime: "entity",
  invalidatedAtTime: "entity",
  value: "entity",
};

/** prov:asInBundle: the bundle of a mentionOf (not an attribute of the entity). */
const AS_IN_BUNDLE = `${PROV_NS}asInBundle`;

// ------------------------------------------------------------------ names

/** Names of IRIs as PROV-JSON writes them: `ex:e1` under the document's prefixes. */
export class QNames {
  private readonly spaces: Array<[string, string]>;
  private readonly cache = new Map<string, string>();

  constructor(prefixes: ReadonlyMap<string, string>) {
    const all = new Map<string, string>([
      ["prov", PROV_NS],
      ["xsd", XSD_NS],
      ["rdf", RDF_NS],
      ["rdfs", RDFS_NS],
    ]);
    for (const [p, iri] of prefixes) if (p !== "prov" && p !== "xsd") all.set(p, iri);
    // the longest namespace first
    this.spaces = [...all].filter(([, iri]) => iri.length > 0).sort((a, b) => b[1].length - a[1].length);
  }

  /** the prefixes to expand the names with (prov and xsd are PROV's own) */
  get entries(): ReadonlyArray<[string, string]> {
    return this.spaces;
  }

  name(iri: string): string {
    let q = this.cache.get(iri);
    if (q !== undefined) return q;
    q = iri;
    for (const [p, ns] of this.spaces) {
      if (iri.startsWith(ns) && iri.length > ns.length && !/[\s#/]/.test(iri.slice(ns.length))) {
        q = `${p}:${iri.slice(ns.length)}`;
        break;
      }
    }
    this.cache.set(iri, q);
    return q;
  }
}

// ------------------------------------------------------------------ mapping

export interface MapProblem {
  line: number;
  message: string;
}

/** What mapping one document found, besides its records. */
export interface MapStats {
  /** starting-point statements left out because a qualified influence says the same */
  duplicates: number;
  /** subjects whose statements were skipped (no PROV class) */
  skippedSubjects: number;
  /** records made */
  records: number;
}

const MAX_SUBJECT_REPORTS = 20;

/** Maps every graph of a document to PROV-JSON records, in the order of the document. */
export function mapProvO(
  doc: RdfDocument,
  emit: (r: ProvORecord) => void,
  problem: (p: MapProblem) => void,
): MapStats {
  const names = new QNames(doc.prefixes);
  const stats: MapStats = { duplicates: 0, skippedSubjects: 0, records: 0 };
  const q = doc.quads;
  const graphs = new Map<number, number[]>();
  for (let i = 0; i < q.length; i += 5) {
    const g = q[i + 3]!;
    const list = graphs.get(g);
    if (list) list.push(i);
    else graphs.set(g, [i]);
  }
  const reported = { n: 0 };
  for (const [g, quads] of graphs) {
    const bundle = g === DEFAULT_GRAPH ? null : termName(doc.terms[g]!, names);
    new GraphMapper(doc, names, quads, bundle, emit, problem, stats, reported).run();
  }
  if (reported.n > MAX_SUBJECT_REPORTS) {
    problem({
      line: 1,
      message: `${reported.n - MAX_SUBJECT_REPORTS} more subjects without a PROV class: their statements are skipped`,
    });
  }
  return stats;
}

function termName(t: RdfTerm, names: QNames): string {
  if (t.t === "iri") return names.name(t.v);
  if (t.t === "blank") return `_:${t.v}`;
  return t.v;
}

function local(iri: string): string | null {
  return iri.startsWith(PROV_NS) ? iri.slice(PROV_NS.length) : null;
}

interface Subject {
  id: number;
  quads: number[];
  line: number;
  cls: ProvClass | null;
  /** further element classes (an IRI said to be an entity and an activity: a record of each) */
  more: ProvClass[];
  /** the influence class (Usage…) when it is a qualified influence */
  influence: string | null;
  /** classes other than its PROV one: its prov:type */
  types: number[];
}

class GraphMapper {
  private readonly subjects = new Map<number, Subject>();
  /** influence node → the nodes that have it (prov:qualifiedX), with the class X */
  private readonly qualifiedBy = new Map<number, Array<{ s: number; cls: string }>>();
  /** `section from to` of every qualified relation made, for the duplicate check */
  private readonly said = new Set<string>();
  /** classes that relations imply for their ends */
  private readonly implied = new Map<number, ProvClass>();

  constructor(
    private readonly doc: RdfDocument,
    private readonly names: QNames,
    quads: number[],
    private readonly bundle: string | null,
    private readonly emit: (r: ProvORecord) => void,
    private readonly problem: (p: MapProblem) => void,
    private readonly stats: MapStats,
    private readonly reported: { n: number },
  ) {
    const q = doc.quads;
    for (const i of quads) {
      const s = q[i]!;
      let sub = this.subjects.get(s);
      if (!sub) {
        sub = { id: s, quads: [], line: q[i + 4]!, cls: null, more: [], influence: null, types: [] };
        this.subjects.set(s, sub);
      }
      sub.quads.push(i);
    }
  }

  private iri(id: number): string | null {
    const t = this.doc.terms[id]!;
    return t.t === "iri" ? t.v : null;
  }

  private name(id: number): string {
    return termName(this.doc.terms[id]!, this.names);
  }

  private isNode(id: number): boolean {
    return this.doc.terms[id]!.t !== "literal";
  }

  run(): void {
    const q = this.doc.quads;
    // classes, and the influences their qualifiers point at
    for (const sub of this.subjects.values()) {
      for (const i of sub.quads) {
        const p = this.iri(q[i + 1]!)!;
        const o = q[i + 2]!;
        if (p === RDF_TYPE) {
          const c = local(this.iri(o) ?? "");
          if (c !== null && Object.hasOwn(ELEMENT_CLASSES, c)) {
            const cls = ELEMENT_CLASSES[c]!;
            if (sub.cls === null) sub.cls = cls;
            else if (cls !== sub.cls && !sub.more.includes(cls)) sub.more.push(cls);
            if (!BASE_CLASSES.has(c)) sub.types.push(o);
          } else if (c !== null && Object.hasOwn(INFLUENCE_CLASSES, c)) {
            // a subclass (Revision) is more precise than its class (Derivation)
            if (sub.influence === null || INFLUENCE_CLASSES[c]!.type) sub.influence = c;
          } else sub.types.push(o);
          continue;
        }
        const pl = local(p);
        if (pl === null) continue;
        const qualified = QUALIFIERS[pl];
        if (qualified !== undefined && this.isNode(o)) {
          const list = this.qualifiedBy.get(o);
          if (list) list.push({ s: sub.id, cls: qualified });
          else this.qualifiedBy.set(o, [{ s: sub.id, cls: qualified }]);
          this.imply(sub.id, RELATION_SECTIONS[INFLUENCE_CLASSES[qualified]!.section]!.fromCls);
        }
        const rel = RELATION_PROPERTIES[pl];
        if (rel !== undefined && this.isNode(o)) {
          const spec = RELATION_SECTIONS[rel.section]!;
          this.imply(sub.id, rel.inverse ? spec.toCls : spec.fromCls);
          this.imply(o, rel.inverse ? spec.fromCls : spec.toCls);
        }
        if (Object.hasOwn(DOMAINS, pl)) this.imply(sub.id, DOMAINS[pl]!);
      }
    }
    for (const [inf, list] of this.qualifiedBy) {
      const sub = this.subjects.get(inf);
      if (!sub) continue;
      const byQualifier = list[0]!.cls;
      // prov:qualifiedRevision says more than a bare prov:Derivation class
      if (
        sub.influence === null ||
        (INFLUENCE_CLASSES[byQualifier]!.type && !INFLUENCE_CLASSES[sub.influence]!.type)
      )
        sub.influence = byQualifier;
    }
    const relationsLater: Subject[] = [];
    for (const sub of this.subjects.values()) {
      if (sub.influence !== null) this.influence(sub);
      else relationsLater.push(sub);
    }
    for (const sub of relationsLater) this.element(sub);
  }

  private imply(id: number, cls: ProvClass): void {
    if (!this.implied.has(id)) this.implied.set(id, cls);
  }

  private out(section: string, id: string, rec: Record<string, unknown>, line: number): void {
    this.stats.records++;
    this.emit({ section, id, rec, line, bundle: this.bundle });
  }

  /** A PROV-JSON value of an object: a qualified name, a string or a typed literal. */
  private value(id: number): unknown {
    const t = this.doc.terms[id]!;
    if (t.t === "iri") return { $: this.names.name(t.v), type: "prov:QUALIFIED_NAME" };
    if (t.t === "blank") return { $: `_:${t.v}`, type: "prov:QUALIFIED_NAME" };
    if (t.lang) return { $: t.v, lang: t.lang };
    if (t.dt === XSD_STRING || t.dt === RDF_LANG_STRING || t.dt === "") return t.v;
    return { $: t.v, type: this.names.name(t.dt) };
  }

  private static add(rec: Record<string, unknown>, key: string, v: unknown): void {
    const old = rec[key];
    if (old === undefined) rec[key] = v;
    else if (Array.isArray(old)) old.push(v);
    else rec[key] = [old, v];
  }

  /** The prov:type values of a subject. */
  private types(sub: Subject, rec: Record<string, unknown>, extra?: string): void {
    if (extra) GraphMapper.add(rec, "prov:type", { $: extra, type: "prov:QUALIFIED_NAME" });
    for (const t of sub.types) GraphMapper.add(rec, "prov:type", this.value(t));
  }

  private element(sub: Subject): void {
    const q = this.doc.quads;
    const rec: Record<string, unknown> = {};
    let attributes = 0;
    for (const i of sub.quads) {
      const p = this.iri(q[i + 1]!)!;
      const o = q[i + 2]!;
      const line = q[i + 4]!;
      if (p === RDF_TYPE) continue;
      const pl = local(p);
      if (pl !== null && Object.hasOwn(QUALIFIERS, pl) && this.isNode(o)) continue;
      if (p === AS_IN_BUNDLE) continue;
      const rel = pl !== null ? RELATION_PROPERTIES[pl] : undefined;
      if (rel !== undefined) {
        if (this.isNode(o)) this.starting(sub, rel, o, line);
        else
          this.problem({
            line,
            message: `${this.name(sub.id)} prov:${pl} ${JSON.stringify(this.doc.terms[o]!.v)}: a literal, not a node: skipped`,
          });
        continue;
      }
      attributes++;
      GraphMapper.add(rec, ELEMENT_ATTRIBUTES[p] ?? this.names.name(p), this.value(o));
    }
    const cls =
      sub.cls ?? (attributes > 0 || sub.types.length > 0 ? (this.implied.get(sub.id) ?? null) : null);
    if (cls === null) {
      if (attributes > 0 || sub.types.length > 0) {
        this.stats.skippedSubjects++;
        if (++this.reported.n <= MAX_SUBJECT_REPORTS)
          this.problem({
            line: sub.line,
            message: `${this.name(sub.id)} has no PROV class (prov:Entity, prov:Activity, prov:Agent…) nor a PROV relation: its statements are skipped`,
          });
      }
      return;
    }
    this.types(sub, rec);
    this.out(cls, this.name(sub.id), rec, sub.line);
    // the graph builder says which class it keeps
    for (const other of sub.more) this.out(other, this.name(sub.id), { ...rec }, sub.line);
  }

  /** A starting-point statement: a relation, unless a qualified one says it already. */
  private starting(sub: Subject, rel: PropertySpec, o: number, line: number): void {
    const spec = RELATION_SECTIONS[rel.section]!;
    const from = this.name(rel.inverse ? o : sub.id);
    const to = this.name(rel.inverse ? sub.id : o);
    if (this.said.has(`${rel.section} ${from} ${to}`)) {
      this.stats.duplicates++;
      return;
    }
    this.said.add(`${rel.section} ${from} ${to}`);
    const rec: Record<string, unknown> = { [spec.from]: from, [spec.to]: to };
    if (rel.type) rec["prov:type"] = { $: rel.type, type: "prov:QUALIFIED_NAME" };
    if (rel.section === "mentionOf") {
      const b = this.objectOf(sub, AS_IN_BUNDLE);
      if (b !== null) rec["prov:bundle"] = this.name(b);
    }
    // starting-point relations have no name of their own in RDF
    this.out(rel.section, "", rec, line);
  }

  private objectOf(sub: Subject, predicate: string): number | null {
    const q = this.doc.quads;
    for (const i of sub.quads) if (this.iri(q[i + 1]!) === predicate) return q[i + 2]!;
    return null;
  }

  private influence(sub: Subject): void {
    const spec = INFLUENCE_CLASSES[sub.influence!]!;
    const rel = RELATION_SECTIONS[spec.section]!;
    const q = this.doc.quads;
    const rec: Record<string, unknown> = {};
    for (const { s } of this.qualifiedBy.get(sub.id) ?? []) GraphMapper.add(rec, spec.subject, this.name(s));
    for (const i of sub.quads) {
      const p = this.iri(q[i + 1]!)!;
      const o = q[i + 2]!;
      if (p === RDF_TYPE) continue;
      const pl = local(p);
      const formal = pl !== null ? (spec.props[pl] ?? COMMON_PROPS[pl]) : undefined;
      if (formal !== undefined) {
        const isEnd =
          formal !== "prov:time" &&
          formal !== "prov:role" &&
          formal !== "prov:location" &&
          formal !== "prov:value";
        if (isEnd && !this.isNode(o)) {
          this.problem({
            line: q[i + 4]!,
            message: `${this.name(sub.id)} prov:${pl} ${JSON.stringify(this.doc.terms[o]!.v)}: a literal, not a node: skipped`,
          });
          continue;
        }
        GraphMapper.add(rec, formal, isEnd ? this.name(o) : this.value(o));
        if (formal === rel.to && this.isNode(o)) this.imply(o, rel.toCls);
        continue;
      }
      GraphMapper.add(rec, p === `${RDFS_NS}label` ? "prov:label" : this.names.name(p), this.value(o));
    }
    this.types(sub, rec, spec.type);
    for (const from of ends(rec[rel.from]))
      for (const to of ends(rec[rel.to])) this.said.add(`${spec.section} ${from} ${to}`);
    this.out(spec.section, this.name(sub.id), rec, sub.line);
  }
}

function ends(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return [];
}
