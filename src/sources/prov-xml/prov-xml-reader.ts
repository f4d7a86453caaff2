import { createRequire } from "node:module";
import type { SaxesAttributeNS, SaxesParser, SaxesTagNS } from "saxes";
import { Namespaces, PROV_NS, XSD_NS } from "../prov-json/prov-json-values.js";
import type { ProvRecordSink } from "./prov-record-sink.js";

/** saxes, loaded when an XML file is read (other commands need not pay for it) */
let saxesModule: typeof import("saxes") | undefined;
export function saxes(): typeof import("saxes") {
  saxesModule ??= createRequire(import.meta.url)("saxes") as typeof import("saxes");
  return saxesModule;
}

/**
 * W3C PROV-XML (https://www.w3.org/TR/prov-xml/) read as it streams (saxes), one statement at a
 * time: each child of `prov:document` (or of a `prov:bundleContent`) becomes the PROV-JSON record
 * it stands for and goes to the PROV-JSON mapper, so both serialisations give the same graph.
 *
 * - elements: `prov:entity`, `prov:activity`, `prov:agent` and their subtypes (`prov:plan`,
 *   `prov:collection`, `prov:emptyCollection`, `prov:bundle`, `prov:person`, `prov:organization`,
 *   `prov:softwareAgent`…), which keep their subtype as one more `prov:type`;
 * - relations: every PROV-DM relation under its PROV-JSON name, and the subtypes of derivation
 *   (`prov:wasRevisionOf`, `prov:wasQuotedFrom`, `prov:hadPrimarySource`) as `wasDerivedFrom` with
 *   their `prov:type`; a relation without `prov:id` gets a blank id (`_:idN`) as python-prov does;
 * - attributes: the children of a statement. `prov:ref` gives a qualified name (the ends of a
 *   relation, `"prov:activity": "ex:a1"`), `xsi:type` a typed value (`{"$": …, "type": "xsd:int"}`),
 *   `xml:lang` a language-tagged one, plain text a string; names that repeat make a list. Children
 *   from other namespaces (`<ex:version>`, `<dct:title>`) are attributes under their qualified name.
 * - names: the namespaces declared on each element are in scope for its qualified names (a prefix
 *   declared again deeper down means what the nearest declaration says); the default namespace
 *   names unprefixed ids; XML Schema's namespace without `#` is taken as `xsd:`.
 *
 * Malformed XML is one problem with its line and column; the rest of that input is skipped.
 * Memory: the statement being read (its text is capped at `maxRecordChars`).
 */

const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XSD_NS_BARE = "http://www.w3.org/2001/XMLSchema";

/** PROV-XML element names of elements, with their PROV-JSON section and the subtype they assert. */
const ELEMENTS: Readonly<Record<string, [string, string | null]>> = {
  entity: ["entity", null],
  activity: ["activity", null],
  agent: ["agent", null],
  plan: ["entity", "prov:Plan"],
  collection: ["entity", "prov:Collection"],
  emptyCollection: ["entity", "prov:EmptyCollection"],
  bundle: ["entity", "prov:Bundle"],
  dictionary: ["entity", "prov:Dictionary"],
  emptyDictionary: ["entity", "prov:EmptyDictionary"],
  person: ["agent", "prov:Person"],
  organization: ["agent", "prov:Organization"],
  softwareAgent: ["agent", "prov:SoftwareAgent"],
};

/** PROV-XML relation names that are not PROV-JSON sections: subtypes of a relation. */
const RELATION_SUBTYPES: Readonly<Record<string, [string, string]>> = {
  wasRevisionOf: ["wasDerivedFrom", "prov:Revision"],
  wasQuotedFrom: ["wasDerivedFrom", "prov:Quotation"],
  hadPrimarySource: ["wasDerivedFrom", "prov:PrimarySource"],
};

/** whether a name is a relation section of PROV-JSON (PROV-XML names its relations the same) */
export type SectionTest = (name: string) => boolean;

export interface ProvXmlReaderOptions {
  /** a statement whose text is longer than this is skipped and reported (default 16 Mi chars) */
  maxRecordChars?: number;
}

interface Scope {
  ns: Namespaces;
}

/** The statement being read. */
interface Statement {
  section: string;
  id: string;
  subtype: string | null;
  line: number;
  ns: Namespaces;
  /** depth of the statement element */
  depth: number;
  rec: Record<string, unknown>;
  chars: number;
  tooBig: boolean;
}

/** An attribute (child element of a statement) being read. */
interface Attribute {
  name: string;
  ref: string | null;
  type: string | null;
  lang: string | null;
  text: string;
}

export class ProvXmlReader {
  private readonly parser: SaxesParser<{ xmlns: true; position: true }>;
  private readonly maxRecordChars: number;
  private depth = 0;
  private readonly scopes: Scope[] = [];
  /** the bundles being read, innermost last */
  private readonly bundles: Array<{ depth: number; id: string }> = [];
  private rootSeen = false;
  /** the root is not prov:document: its content is skipped */
  private skipRoot = false;
  private stmt: Statement | null = null;
  private attr: Attribute | null = null;
  /** depth of an element whose content is skipped (unknown statement), or -1 */
  private skipTo = -1;
  private blank = 0;
  private tagLine = 1;
  private tagCol = 1;
  private readonly unknownReported = new Set<string>();
  /** the XML is broken: the rest of the input is ignored */
  broken = false;
  /** a prov:document root was read */
  documents = 0;

  constructor(
    private readonly sink: ProvRecordSink,
    private readonly isSection: SectionTest,
    opts: ProvXmlReaderOptions = {},
  ) {
    this.maxRecordChars = opts.maxRecordChars ?? 16 << 20;
    this.parser = new (saxes().SaxesParser)({ xmlns: true, position: true });
    this.parser.on("error", (e) => this.fail(e.message));
    this.parser.on("opentagstart", () => {
      this.tagLine = this.parser.line;
      this.tagCol = this.parser.column;
    });
    this.parser.on("opentag", (t) => this.open(t));
    this.parser.on("closetag", (t) => this.close(t));
    this.parser.on("text", (t) => this.text(t));
    this.parser.on("cdata", (t) => this.text(t));
  }

  /** More of the input. */
  write(text: string): void {
    if (this.broken || text.length === 0) return;
    this.parser.write(text);
  }

  /** End of the input. */
  end(): void {
    if (!this.broken) this.parser.close();
  }

  private fail(message: string): void {
    if (this.broken) return;
    this.broken = true;
    const p = this.parser;
    // saxes says "LINE:COL: message": the place is said our way
    const m = /^(\d+):(\d+): (.*)$/s.exec(message);
    const line = m ? Number(m[1]) : p.line;
    const col = m ? Number(m[2]) + 1 : p.column + 1;
    const what = m ? m[3]! : message;
    this.sink.problem(
      line,
      `col ${col}: malformed XML: ${what.replace(/\.$/, "")}: the rest of the input is skipped`,
    );
  }

  private problem(message: string): void {
    this.sink.problem(this.tagLine, `col ${this.tagCol}: ${message}`);
  }

  private get ns(): Namespaces {
    return this.scopes[this.scopes.length - 1]!.ns;
  }

  private open(t: SaxesTagNS): void {
    this.depth++;
    // namespaces declared here
    let ns = this.scopes.length > 0 ? this.ns : Namespaces.standard();
    const own = Object.entries(t.ns);
    if (own.length > 0) {
      ns = new Namespaces(ns);
      for (const [prefix, uri] of own) {
        ns.set(prefix === "" ? "default" : prefix, uri === XSD_NS_BARE ? XSD_NS : uri);
      }
      // a declaration inside a statement: its names are in scope for the statement's record
      if (this.stmt && this.depth > this.stmt.depth) {
        const sns = new Namespaces(this.stmt.ns);
        for (const [prefix, uri] of own) {
          sns.set(prefix === "" ? "default" : prefix, uri === XSD_NS_BARE ? XSD_NS : uri);
        }
        this.stmt.ns = sns;
      }
    }
    this.scopes.push({ ns });

    if (this.skipTo >= 0 || this.skipRoot) return;
    if (this.depth === 1) {
      this.rootSeen = true;
      if (t.uri !== PROV_NS || t.local !== "document") {
        this.skipRoot = true;
        this.problem(
          `the root element is <${t.name}>, not <prov:document> (${PROV_NS}): not PROV-XML, skipped`,
        );
        return;
      }
      this.documents++;
      return;
    }
    if (this.stmt) {
      if (this.depth === this.stmt.depth + 1) this.openAttribute(t);
      // deeper content of an attribute: its text counts, its markup is not kept
      return;
    }
    this.openStatement(t);
  }

  private openStatement(t: SaxesTagNS): void {
    const id = attrValue(t, PROV_NS, "id");
    if (t.uri === PROV_NS && t.local === "bundleContent") {
      if (id === undefined)
        this.problem("<prov:bundleContent> without prov:id: read as a bundle named _:bundle");
      this.bundles.push({ depth: this.depth, id: id ?? "_:bundle" });
      return;
    }
    let section: string | null = null;
    let subtype: string | null = null;
    if (t.uri === PROV_NS) {
      const el = ELEMENTS[t.local];
      const sub = RELATION_SUBTYPES[t.local];
      if (el) [section, subtype] = el;
      else if (sub) [section, subtype] = sub;
      else if (this.isSection(t.local)) section = t.local;
      else if (t.local === "other") {
        // PROV-XML's extension point: content that is no PROV statement
        this.skipTo = this.depth;
        return;
      }
    }
    if (section === null) {
      this.skipTo = this.depth;
      if (!this.unknownReported.has(t.name)) {
        this.unknownReported.add(t.name);
        this.problem(`<${t.name}> is not a PROV-XML statement: skipped`);
      }
      return;
    }
    const isElement = Object.hasOwn(ELEMENTS, t.local);
    if (isElement && id === undefined) {
      this.skipTo = this.depth;
      this.problem(`<${t.name}> without prov:id: skipped`);
      return;
    }
    const rec: Record<string, unknown> = {};
    const xsiType = attrValue(t, XSI_NS, "type");
    if (xsiType !== undefined) addValue(rec, "prov:type", { $: xsiType, type: "xsd:QName" });
    this.stmt = {
      section,
      id: id ?? `_:id${++this.blank}`,
      subtype,
      line: this.tagLine,
      ns: this.ns,
      depth: this.depth,
      rec,
      chars: 0,
      tooBig: false,
    };
  }

  private openAttribute(t: SaxesTagNS): void {
    this.attr = {
      name: t.uri === PROV_NS ? `prov:${t.local}` : t.prefix ? `${t.prefix}:${t.local}` : t.local,
      ref: attrValue(t, PROV_NS, "ref") ?? null,
      type: attrValue(t, XSI_NS, "type") ?? null,
      lang: attrValue(t, XML_NS, "lang") ?? null,
      text: "",
    };
  }

  private text(text: string): void {
    const s = this.stmt;
    if (!this.attr || !s || s.tooBig) return;
    s.chars += text.length;
    if (s.chars > this.maxRecordChars) {
      s.tooBig = true;
      this.attr = null;
      return;
    }
    this.attr.text += text;
  }

  private close(_t: SaxesTagNS): void {
    const depth = this.depth;
    this.depth--;
    this.scopes.pop();
    if (this.skipTo >= 0) {
      if (depth === this.skipTo) this.skipTo = -1;
      return;
    }
    const s = this.stmt;
    if (s) {
      if (depth === s.depth + 1 && this.attr) {
        this.closeAttribute(s, this.attr);
        this.attr = null;
      } else if (depth === s.depth) {
        this.stmt = null;
        this.closeStatement(s);
      }
      return;
    }
    const b = this.bundles[this.bundles.length - 1];
    if (b && b.depth === depth) this.bundles.pop();
  }

  private closeAttribute(s: Statement, a: Attribute): void {
    let value: unknown;
    if (a.ref !== null) value = a.ref;
    else if (a.type !== null) value = { $: a.text, type: a.type };
    else if (a.lang !== null) value = { $: a.text, lang: a.lang };
    else value = a.text;
    addValue(s.rec, a.name, value);
  }

  private closeStatement(s: Statement): void {
    if (s.tooBig) {
      this.sink.problem(
        s.line,
        `${s.section} ${s.id}: longer than ${this.maxRecordChars} characters: skipped`,
      );
      return;
    }
    if (s.subtype !== null) addValue(s.rec, "prov:type", { $: s.subtype, type: "xsd:QName" });
    const b = this.bundles[this.bundles.length - 1];
    this.sink.record(s.section, s.id, s.rec, s.line, s.ns, b ? b.id : null);
  }

  /** What the input held, for the end of the input. */
  get sawRoot(): boolean {
    return this.rootSeen;
  }
}

function attrValue(t: SaxesTagNS, uri: string, local: string): string | undefined {
  for (const k in t.attributes) {
    const a: SaxesAttributeNS = t.attributes[k]!;
    if (a.local === local && a.uri === uri) return a.value;
  }
  return undefined;
}

/** Sets an attribute; a name given again makes a list of values, as PROV-JSON writes them. */
function addValue(rec: Record<string, unknown>, name: string, value: unknown): void {
  if (!Object.hasOwn(rec, name)) {
    rec[name] = value;
    return;
  }
  const had = rec[name];
  if (Array.isArray(had)) had.push(value);
  else rec[name] = [had, value];
}
