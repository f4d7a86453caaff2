import type { ProblemEvent, ProvClass, ProvEvent, SourceLocation } from "../../events/event-types.js";
import type { RelationType } from "../../graph/prov-types.js";
import type { JsonScanSink, ScanPos } from "./json-scanner.js";
import { isObject, Namespaces } from "./prov-json-values.js";

/**
 * The document level of PROV-JSON: documents one after the other (a stream of them: CamFlow),
 * their prefixes, bundles and sections. Each record is handed to a mapper (plain W3C PROV, or
 * CamFlow's flavour) that turns it into node and relation events.
 */

/** The PROV-JSON sections of elements, and the class of node each holds. */
export const ELEMENT_SECTIONS: Readonly<Record<string, ProvClass>> = {
  entity: "entity",
  activity: "activity",
  agent: "agent",
};

/** A relation section: its PROV relation, the keys of its two ends (subject first), their classes. */
export interface RelationSpec {
  type: RelationType;
  from: string;
  to: string;
  fromCls: ProvClass;
  toCls: ProvClass;
  /** the record's `prov:time` is the time of the relation */
  time: boolean;
}

const spec = (
  type: RelationType,
  from: string,
  to: string,
  fromCls: ProvClass,
  toCls: ProvClass,
  time = false,
): RelationSpec => ({ type, from, to, fromCls, toCls, time });

/**
 * Every relation section of PROV-JSON (https://www.w3.org/Submission/prov-json/), with the first
 * two formal attributes of each PROV-DM relation as its ends, and the sections PROV-Dictionary
 * adds (insertion and removal are derivations, a dictionary member a membership).
 */
export const RELATION_SECTIONS: Readonly<Record<string, RelationSpec>> = {
  used: spec("used", "prov:activity", "prov:entity", "activity", "entity", true),
  wasGeneratedBy: spec("wasGeneratedBy", "prov:entity", "prov:activity", "entity", "activity", true),
  wasInvalidatedBy: spec("wasInvalidatedBy", "prov:entity", "prov:activity", "entity", "activity", true),
  wasInformedBy: spec("wasInformedBy", "prov:informed", "prov:informant", "activity", "activity"),
  wasStartedBy: spec("wasStartedBy", "prov:activity", "prov:trigger", "activity", "entity", true),
  wasEndedBy: spec("wasEndedBy", "prov:activity", "prov:trigger", "activity", "entity", true),
  wasDerivedFrom: spec("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity", "entity", "entity"),
  wasAttributedTo: spec("wasAttributedTo", "prov:entity", "prov:agent", "entity", "agent"),
  wasAssociatedWith: spec("wasAssociatedWith", "prov:activity", "prov:agent", "activity", "agent"),
  actedOnBehalfOf: spec("actedOnBehalfOf", "prov:delegate", "prov:responsible", "agent", "agent"),
  wasInfluencedBy: spec("wasInfluencedBy", "prov:influencee", "prov:influencer", "entity", "entity"),
  specializationOf: spec("specializationOf", "prov:specificEntity", "prov:generalEntity", "entity", "entity"),
  alternateOf: spec("alternateOf", "prov:alternate1", "prov:alternate2", "entity", "entity"),
  hadMember: spec("hadMember", "prov:collection", "prov:entity", "entity", "entity"),
  mentionOf: spec("mentionOf", "prov:specificEntity", "prov:generalEntity", "entity", "entity"),
  derivedByInsertionFrom: spec("wasDerivedFrom", "prov:after", "prov:before", "entity", "entity"),
  derivedByRemovalFrom: spec("wasDerivedFrom", "prov:after", "prov:before", "entity", "entity"),
  hadDictionaryMember: spec("hadMember", "prov:dictionary", "prov:entity", "entity", "entity"),
};

/** Where a record is: its file, document and bundle, and the names in scope. */
export interface DocContext {
  file: string;
  /** 1-based index of the document in the input */
  doc: number;
  bundle: string | null;
  ns: Namespaces;
  /** reports a problem in the record being read */
  problem(message: string, at: SourceLocation, text?: string): void;
}

export interface ProvRecordMapper {
  /** names must be expanded with the document's prefixes: records before `prefix` wait for it */
  readonly usesPrefixes: boolean;
  /**
   * records reach `record` with their JSON text kept (events/attrs-text.ts): the mapper keeps it
   * true of the attributes it hands on (setAttr), or drops it
   */
  readonly keepsRecordText?: boolean;
  /** whether a section name is known (an unknown one is reported once per document) */
  knowsSection(name: string): boolean;
  /** A record of a section, or a bare member (`section` null). */
  record(
    section: string | null,
    id: string,
    rec: Record<string, unknown>,
    at: SourceLocation,
    cx: DocContext,
  ): void;
}

interface Scope {
  ns: Namespaces;
  bundle: string | null;
  prefixSeen: boolean;
  /** records that came before the prefix section (kept up to MAX_WAITING, then read as they are) */
  waiting: Array<{ section: string | null; id: string; value: unknown; at: ScanPos }> | null;
}

const MAX_WAITING = 10_000;

/** Reads PROV-JSON documents from a JsonScanner and collects the events of their records. */
export class ProvDocumentReader implements JsonScanSink {
  private out: ProvEvent[] = [];
  private scopes: Scope[] = [];
  private docIndex = 0;
  private unknownReported = new Set<string>();
  private readonly cx: DocContext;
  /** a record was read (inside a document or not) */
  sawRecords = false;
  /** problems reported so far */
  problems = 0;

  constructor(
    readonly file: string,
    private readonly mapper: ProvRecordMapper,
    private readonly base: () => Namespaces = Namespaces.standard,
  ) {
    this.cx = {
      file,
      doc: 0,
      bundle: null,
      ns: base(),
      problem: (message, at, text) => this.problemAt(at, message, text),
    };
  }

  /** The events collected since the last call. */
  take(): ProvEvent[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Adds events (the mapper writes here). */
  emit(ev: ProvEvent): void {
    this.out.push(ev);
  }

  get documents(): number {
    return this.docIndex;
  }

  /** the last location made: records of one line of one document share it (events only read it) */
  private lastLoc: SourceLocation | null = null;

  loc(at: ScanPos): SourceLocation {
    const last = this.lastLoc;
    const doc = this.docIndex > 0 ? this.docIndex : undefined;
    if (last !== null && last.line === at.line && last.doc === doc) return last;
    const loc: SourceLocation =
      doc !== undefined ? { file: this.file, line: at.line, doc } : { file: this.file, line: at.line };
    this.lastLoc = loc;
    return loc;
  }

  private problemAt(at: SourceLocation, message: string, text?: string): void {
    const where = at.doc !== undefined && this.docIndex > 0 ? `document ${at.doc}: ` : "";
    this.problems++;
    const ev: ProblemEvent = {
      kind: "problem",
      at: { file: at.file, line: at.line },
      message: where + message,
    };
    if (text !== undefined) ev.text = text.length > 200 ? text.slice(0, 200) : text;
    this.out.push(ev);
  }

  problem(at: ScanPos, message: string, text?: string): void {
    this.problemAt(this.loc(at), `col ${at.col}: ${message}`, text);
  }

  // ---------------------------------------------------------------- JsonScanSink

  documentStart(_at: ScanPos): void {
    this.docIndex++;
    this.unknownReported.clear();
    this.scopes = [{ ns: this.base(), bundle: null, prefixSeen: false, waiting: null }];
  }

  documentEnd(_at: ScanPos, _complete: boolean): void {
    while (this.scopes.length > 0) this.closeScope();
  }

  bundleStart(id: string, _at: ScanPos): void {
    const parent = this.scope();
    this.scopes.push({ ns: new Namespaces(parent.ns), bundle: id, prefixSeen: false, waiting: null });
  }

  bundleEnd(_id: string): void {
    if (this.scopes.length > 1) this.closeScope();
  }

  sectionStart(name: string, at: ScanPos): void {
    if (!this.mapper.knowsSection(name) && !this.unknownReported.has(name)) {
      this.unknownReported.add(name);
      this.problem(at, `${JSON.stringify(name)} is not a section of PROV-JSON: its records are skipped`);
    }
  }

  member(name: string, value: unknown, at: ScanPos): void {
    if (name === "prefix") {
      const s = this.scope();
      if (!isObject(value)) {
        this.problem(at, `the prefix section is ${describe(value)}, not an object of prefixes`);
      } else {
        for (const [p, uri] of Object.entries(value)) {
          if (typeof uri === "string") s.ns.set(p, uri);
          else this.problem(at, `prefix ${JSON.stringify(p)} is ${describe(uri)}, not a namespace IRI`);
        }
      }
      s.prefixSeen = true;
      this.flushWaiting(s);
      return;
    }
    if (name === "bundle") {
      this.problem(at, `the bundle section is ${describe(value)}, not an object of bundles`);
      return;
    }
    if (this.mapper.knowsSection(name)) {
      this.problem(at, `section ${JSON.stringify(name)} is ${describe(value)}, not an object of records`);
    } else if (!this.unknownReported.has(name)) {
      this.unknownReported.add(name);
      this.problem(at, `${JSON.stringify(name)} is not a section of PROV-JSON: skipped`);
    }
  }

  record(section: string | null, id: string, value: unknown, at: ScanPos): void {
    this.sawRecords = true;
    if (section === "bundle") {
      this.problem(at, `bundle ${JSON.stringify(id)} is ${describe(value)}, not a document`);
      return;
    }
    if (section !== null && !this.mapper.knowsSection(section)) return;
    const s = this.scopes[this.scopes.length - 1];
    if (s && this.mapper.usesPrefixes && !s.prefixSeen) {
      if (!s.waiting) s.waiting = [];
      s.waiting.push({ section, id, value, at });
      if (s.waiting.length >= MAX_WAITING) {
        // a prefix section this late is unusual: read what waits with the prefixes known so far
        this.problem(at, `no prefix section in the first ${MAX_WAITING} records: names stay unexpanded`);
        s.prefixSeen = true;
        this.flushWaiting(s);
      }
      return;
    }
    this.dispatch(section, id, value, at);
  }

  topValue(value: unknown, at: ScanPos): void {
    this.problem(at, `the input holds ${describe(value)}, not a PROV-JSON document (an object)`);
  }

  error(message: string, at: ScanPos, text?: string): void {
    this.problem(at, message, text);
  }

  // ---------------------------------------------------------------- records

  private scope(): Scope {
    let s = this.scopes[this.scopes.length - 1];
    if (!s) {
      // bare members at the top level belong to no document: they get one of their own
      s = { ns: this.base(), bundle: null, prefixSeen: true, waiting: null };
      this.scopes.push(s);
    }
    return s;
  }

  private closeScope(): void {
    const s = this.scopes[this.scopes.length - 1]!;
    this.flushWaiting(s);
    this.scopes.pop();
  }

  private flushWaiting(s: Scope): void {
    const waiting = s.waiting;
    if (!waiting) return;
    s.waiting = null;
    for (const w of waiting) this.dispatch(w.section, w.id, w.value, w.at, s);
  }

  private dispatch(section: string | null, id: string, value: unknown, at: ScanPos, scope?: Scope): void {
    const s = scope ?? this.scope();
    const cx = this.cx;
    cx.doc = this.docIndex;
    cx.bundle = s.bundle;
    cx.ns = s.ns;
    const loc = this.loc(at);
    if (isObject(value)) {
      this.mapper.record(section, id, value, loc, cx);
      return;
    }
    const what = section === null ? JSON.stringify(id) : `${section} ${JSON.stringify(id)}`;
    if (Array.isArray(value)) {
      // several records under one id ("scruffy" PROV-JSON)
      for (const v of value) {
        if (isObject(v)) this.mapper.record(section, id, v, loc, cx);
        else this.problem(at, `${what}: a record is ${describe(v)}, not an object`);
      }
      return;
    }
    this.problem(at, `${what}: the record is ${describe(value)}, not an object`);
  }
}

/** "a string", "null", "an array"… for messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "unreadable";
  if (Array.isArray(v)) return "an array";
  const t = typeof v;
  if (t === "object") return "an object";
  return `a ${t} (${JSON.stringify(v).slice(0, 40)})`;
}
