import type { ProvEvent } from "../../events/event-types.js";
import { CONTINUATION } from "../prov-json/json-line-batches.js";
import { W3cProvMapper } from "../prov-json/prov-json-mapper.js";
import { RELATION_SECTIONS } from "../prov-json/prov-json-reader.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { joinLines, ProvRecordSink } from "./prov-record-sink.js";
import { ProvXmlReader } from "./prov-xml-reader.js";

/**
 * W3C PROV-XML as a source (`--kind prov-xml`; the run's kind is `prov`, as for PROV-JSON): the
 * lines (or pieces of an overlong line) go to the streaming reader of prov-xml-reader.ts, whose
 * statements the PROV-JSON mapper turns into the same nodes and relations as PROV-JSON.
 */
export class ProvXmlParser implements LineParser {
  readonly sink: ProvRecordSink;
  readonly reader: ProvXmlReader;
  private started = false;

  constructor(file: string) {
    let sink: ProvRecordSink | null = null;
    const mapper = new W3cProvMapper((ev) => sink!.emit(ev));
    sink = new ProvRecordSink(file, mapper);
    this.sink = sink;
    this.reader = new ProvXmlReader(sink, (name) => Object.hasOwn(RELATION_SECTIONS, name));
  }

  push(lines: string[], _firstLine: number): ProvEvent[] {
    if (lines.length === 0) return [];
    let text = joinLines(lines, this.started, CONTINUATION);
    if (!this.started && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.started = true;
    this.reader.write(text);
    return this.sink.take();
  }

  end(): ProvEvent[] {
    if (this.started) this.reader.end();
    if (!this.started || (!this.reader.sawRoot && !this.reader.broken)) {
      this.sink.problem(1, "no PROV-XML document in the input (it is empty)");
    }
    return this.sink.take();
  }
}

/** Signs of PROV-XML: its document element, or the PROV namespace declared on an element. */
const PROV_XML_MARKS = /<prov:document\b|xmlns(?::[\w.-]+)?\s*=\s*["']http:\/\/www\.w3\.org\/ns\/prov#["']/;

export const provXmlFormat: SourceFormat = {
  kind: "prov",
  detect(head: string[], fileName: string): number {
    let text = head.join("\n");
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    text = text.trimStart();
    const xmlName = /\.(xml|provx)$/i.test(fileName);
    if (text.startsWith("<")) {
      // the root must be a document (`prov:document`, or a prefix of PROV's namespace): RDF/XML
      // declares PROV's namespace too, under an rdf:RDF root
      const root = /<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]/.exec(text.replace(/<[?!][\s\S]*?>/g, ""));
      if (root?.[2] === "document" && PROV_XML_MARKS.test(text)) return 0.9;
      // some other XML named as PROV-XML would be: read, and told why it is not
      return xmlName ? 0.4 : 0;
    }
    // an empty .xml file: read, and told that it is empty
    return xmlName && text.length === 0 ? 0.3 : 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new ProvXmlParser(opts.file);
  },
};
