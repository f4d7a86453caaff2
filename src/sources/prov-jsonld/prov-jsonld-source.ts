import type { ProvEvent } from "../../events/event-types.js";
import { CONTINUATION } from "../prov-json/json-line-batches.js";
import { W3cProvMapper } from "../prov-json/prov-json-mapper.js";
import { CAMFLOW_MARKS, PROV_JSON_SECTIONS, sniffJson } from "../prov-json/prov-json-source.js";
import { joinLines, ProvRecordSink } from "../prov-xml/prov-record-sink.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { ProvJsonLdReader } from "./prov-jsonld-reader.js";

/**
 * PROV-JSONLD as a source (`--kind prov-jsonld`; the run's kind is `prov`, as for PROV-JSON). A
 * JSON-LD document is one JSON text whose statements may come in any order after its `@context`,
 * so it is read whole with JSON.parse: an input longer than `MAX_JSONLD_CHARS` is reported and
 * skipped (PROV-JSON, streamed record by record, is the format for big graphs).
 */
export const MAX_JSONLD_CHARS = 64 << 20;

export class ProvJsonLdParser implements LineParser {
  readonly sink: ProvRecordSink;
  readonly reader: ProvJsonLdReader;
  private parts: string[] = [];
  private chars = 0;
  private started = false;
  private tooBig = false;

  constructor(
    file: string,
    private readonly maxChars = MAX_JSONLD_CHARS,
  ) {
    let sink: ProvRecordSink | null = null;
    const mapper = new W3cProvMapper((ev) => sink!.emit(ev));
    sink = new ProvRecordSink(file, mapper);
    this.sink = sink;
    this.reader = new ProvJsonLdReader(sink);
  }

  push(lines: string[], _firstLine: number): ProvEvent[] {
    if (lines.length === 0 || this.tooBig) return [];
    const text = joinLines(lines, this.started, CONTINUATION);
    this.started = true;
    this.chars += text.length;
    if (this.chars > this.maxChars) {
      this.tooBig = true;
      this.parts = [];
      this.sink.problem(1, `col 1: the JSON-LD document is longer than ${this.maxChars} characters: skipped`);
      return this.sink.take();
    }
    this.parts.push(text);
    return [];
  }

  end(): ProvEvent[] {
    if (this.tooBig) return this.sink.take();
    let text = this.parts.join("");
    this.parts = [];
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim().length === 0) {
      this.sink.problem(1, "no PROV-JSONLD document in the input (it is empty)");
      return this.sink.take();
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      const message = (e as Error).message;
      const [line, col] = position(text, jsonErrorIndex(text));
      this.sink.problem(line, `col ${col}: malformed JSON: ${message}`);
      return this.sink.take();
    }
    const lead = /^\s*/.exec(text)![0];
    const firstLine = 1 + (lead.match(/\n/g)?.length ?? 0);
    this.reader.document(doc, firstLine);
    return this.sink.take();
  }
}

/** Line and column (1-based) of an index of the text. */
function position(text: string, pos: number): [number, number] {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < pos; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return [line, pos - lineStart + 1];
}

/**
 * Where JSON text goes wrong (JSON.parse of Node 20 does not always say): the index of the first
 * character that cannot continue a JSON text. Called only after JSON.parse failed.
 */
export function jsonErrorIndex(text: string): number {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && " \t\r\n".includes(text[i]!)) i++;
  };
  const value = (): boolean => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return true;
      }
      for (;;) {
        if (c === "{") {
          ws();
          if (text[i] !== '"' || !string()) return false;
          ws();
          if (text[i] !== ":") return false;
          i++;
        }
        if (!value()) return false;
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === close) {
          i++;
          return true;
        } else return false;
      }
    }
    if (c === '"') return string();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  const string = (): boolean => {
    i++;
    while (i < n) {
      const c = text[i]!;
      if (c === "\\") i += 2;
      else if (c === '"') {
        i++;
        return true;
      } else if (c < " ") return false;
      else i++;
    }
    return false;
  };
  if (value()) ws();
  return Math.min(i, n);
}

/** Signs that a JSON-LD document speaks PROV: its namespace, PROV-JSONLD's context, PROV types. */
const PROV_MARKS =
  /http:\/\/www\.w3\.org\/ns\/prov#|openprovenance\.org\/prov-jsonld|"@type"\s*:\s*\[?\s*"(?:prov:)?(?:Entity|Activity|Agent|Usage|Generation|Derivation|Association|Attribution|Bundle)"/;

export const provJsonLdFormat: SourceFormat = {
  kind: "prov",
  detect(head: string[], fileName: string): number {
    const h = sniffJson(head);
    if (h.first !== "{" && h.first !== "[") return 0;
    // PROV-JSON and CamFlow's documents begin with a section or a CamFlow member: never JSON-LD
    if (h.firstKey !== undefined && PROV_JSON_SECTIONS.has(h.firstKey)) return 0;
    if (CAMFLOW_MARKS.test(h.text)) return 0;
    const jsonldKey = h.firstKey?.startsWith("@") === true;
    if (!jsonldKey && !/"@context"\s*:/.test(h.text)) return 0;
    if (PROV_MARKS.test(h.text)) return jsonldKey ? 0.9 : 0.7;
    // JSON-LD named as PROV-JSONLD would be: read, and told what is not PROV
    return /\.jsonld$/i.test(fileName) ? 0.4 : 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new ProvJsonLdParser(opts.file);
  },
};
