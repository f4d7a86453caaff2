import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import type { Quad, Term } from "n3";
import type { ProvEvent, SourceLocation } from "../../events/event-types.js";
import { CONTINUATION } from "../prov-json/json-line-batches.js";
import { W3cProvMapper } from "../prov-json/prov-json-mapper.js";
import type { DocContext } from "../prov-json/prov-json-reader.js";
import { Namespaces, PROV_NS } from "../prov-json/prov-json-values.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { DEFAULT_GRAPH, mapProvO, QNames, RdfDocument, type RdfTerm } from "./prov-o-reader.js";

/** n3, loaded when a Turtle file is read (10 MB that other commands need not pay for) */
let n3Module: typeof import("n3") | undefined;
function n3(): typeof import("n3") {
  n3Module ??= createRequire(import.meta.url)("n3") as typeof import("n3");
  return n3Module;
}

/**
 * PROV-O in RDF as a source: Turtle, TriG (its named graphs are bundles), N-Triples and N-Quads,
 * read with n3 as the lines arrive, into the same graph as PROV-JSON (`--kind prov` is detected; the
 * records are those of prov-o-reader.ts, made into events by the PROV-JSON mapper). The qualified
 * pattern needs the whole graph, so the triples of a file are collected first: at most
 * MAX_TRIPLES (some 25 MB of Turtle, under 1 GB of memory for the whole ingest); past that, the rest is left out with a problem.
 * A syntax error is a problem at its line; what came before it is read, the rest is skipped.
 * RDF/XML is not read.
 */

export const MAX_TRIPLES = 1_000_000;

export interface ProvOParserOptions {
  maxTriples?: number;
}

function toTerm(t: Term): RdfTerm {
  if (t.termType === "NamedNode") return { t: "iri", v: t.value };
  if (t.termType === "BlankNode") return { t: "blank", v: t.value };
  if (t.termType === "Literal") return { t: "literal", v: t.value, dt: t.datatype.value, lang: t.language };
  // variables and quoted triples (RDF-star) are no PROV: kept as their text
  return { t: "literal", v: t.value, dt: "", lang: "" };
}

export class ProvOParser implements LineParser {
  private readonly doc: RdfDocument;
  private readonly input = new EventEmitter();
  private out: ProvEvent[] = [];
  private line = 1;
  private failed = false;
  private full = false;
  private started = false;
  private problems = 0;

  constructor(
    readonly file: string,
    opts: ProvOParserOptions = {},
  ) {
    this.doc = new RdfDocument(opts.maxTriples ?? MAX_TRIPLES);
    const format = /\.nq$/i.test(file) ? "N-Quads" : "TriG";
    const parser = new (n3().Parser)({ format });
    const callbacks = {
      onQuad: (error: Error | null, quad: Quad | null) => {
        if (error) this.syntaxError(error);
        else if (quad) this.quad(quad);
      },
      onPrefix: (prefix: string, iri: Term) => {
        this.doc.prefixes.set(prefix, iri.value);
      },
      onToken: (token: { line?: number }) => {
        if (token.line !== undefined) this.line = token.line;
      },
    };
    // n3 parses a stream as its data arrives: quads are handed over during `emit("data")`
    (parser.parse as unknown as (input: EventEmitter, cb: typeof callbacks) => void).call(
      parser,
      this.input,
      callbacks,
    );
  }

  private problem(line: number, message: string, text?: string): void {
    this.problems++;
    this.out.push({
      kind: "problem",
      at: { file: this.file, line },
      message,
      ...(text !== undefined ? { text: text.slice(0, 200) } : {}),
    });
  }

  private syntaxError(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    const ctx = (error as Error & { context?: { line?: number } }).context;
    const line = ctx?.line ?? this.line;
    const message = error.message.replace(/\s*on line \d+\.?$/, "").replace(/\.$/, "");
    this.problem(line, `not valid Turtle/TriG: ${message}; the rest of the input is skipped`);
  }

  private quad(quad: Quad): void {
    if (this.full) return;
    const d = this.doc;
    const g = quad.graph.termType === "DefaultGraph" ? DEFAULT_GRAPH : d.intern(toTerm(quad.graph));
    const ok = d.add(
      d.intern(toTerm(quad.subject)),
      d.intern(toTerm(quad.predicate)),
      d.intern(toTerm(quad.object)),
      g,
      this.line,
    );
    if (!ok) {
      this.full = true;
      this.problem(
        this.line,
        `more than ${d.maxTriples} triples in one file: the rest is left out (PROV-O is read a whole file at a time)`,
      );
    }
  }

  push(lines: string[], _firstLine: number): ProvEvent[] {
    if (this.failed || this.full) return this.take();
    let text = "";
    for (let k = 0; k < lines.length; k++) {
      const l = lines[k]!;
      if (l.startsWith(CONTINUATION)) text += l.slice(1);
      else {
        if (this.started || k > 0) text += "\n";
        text += l;
      }
    }
    this.started = true;
    if (text.length > 0) this.input.emit("data", text);
    return this.take();
  }

  private take(): ProvEvent[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  end(): ProvEvent[] {
    if (!this.failed && !this.full) this.input.emit("end");
    const doc = this.doc;
    if (doc.size === 0) {
      if (this.problems === 0) this.problem(1, "no RDF statement in the input");
      return this.take();
    }
    const ns = Namespaces.standard();
    for (const [p, iri] of new QNames(doc.prefixes).entries) ns.set(p, iri);
    ns.set("prov", PROV_NS);
    const file = this.file;
    const cx: DocContext = {
      file,
      doc: 1,
      bundle: null,
      ns,
      problem: (message, at, text) => this.problem(at.line, message, text),
    };
    const mapper = new W3cProvMapper((ev) => this.out.push(ev));
    let last: SourceLocation | null = null;
    const stats = mapProvO(
      doc,
      (r) => {
        const at: SourceLocation = last !== null && last.line === r.line ? last : { file, line: r.line };
        last = at;
        cx.bundle = r.bundle;
        mapper.record(r.section, r.id, r.rec, at, cx);
      },
      (p) => this.problem(p.line, p.message),
    );
    if (stats.records === 0)
      this.problem(1, "no PROV-O statement in the input (prov: classes or properties)");
    return this.take();
  }
}

const RDF_EXT = /\.(ttl|trig|nt|nq|n3)$/i;
const PROV_IRI = /<http:\/\/www\.w3\.org\/ns\/prov#/;

export const provOFormat: SourceFormat = {
  kind: "prov",
  detect(head: string[], fileName: string): number {
    let text = head.join("\n");
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const start = text.trimStart();
    if (/^[{[]/.test(start) || start.startsWith("<?xml") || /^<rdf:RDF/i.test(start)) return 0;
    const turtle = /^\s*(@prefix|@base|PREFIX|BASE)\s/im.test(text);
    const triples = /^\s*(<[^>\s]*>|_:\S+)\s+<[^>\s]*>\s+\S/m.test(text);
    if ((turtle || triples) && PROV_IRI.test(text)) return 0.95;
    if (turtle) return RDF_EXT.test(fileName) ? 0.7 : 0.5;
    if (RDF_EXT.test(fileName)) return triples ? 0.6 : 0.35;
    return 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new ProvOParser(opts.file);
  },
};
