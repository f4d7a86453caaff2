import type { ProvEvent } from "../../events/event-types.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { CONTINUATION } from "./json-line-batches.js";
import { JsonScanner } from "./json-scanner.js";
import { W3cProvMapper } from "./prov-json-mapper.js";
import { ProvDocumentReader, type ProvRecordMapper, RELATION_SECTIONS } from "./prov-json-reader.js";

/**
 * W3C PROV-JSON (https://www.w3.org/Submission/prov-json/) as a source: any number of documents,
 * one per line or pretty-printed, read record by record (see json-scanner.ts), with bundles,
 * prefixes, typed values and lists of values, "scruffy" records (a list under one id) and every
 * PROV-DM relation. `--kind prov`.
 */

/** Feeds line batches (or the pieces of an overlong line, see json-line-batches.ts) to a scanner. */
export function feedLines(scanner: JsonScanner, lines: string[], firstLine: number): void {
  let line = firstLine;
  for (let k = 0; k < lines.length; k++) {
    let text = lines[k]!;
    let continuation = false;
    if (text.startsWith(CONTINUATION)) {
      continuation = true;
      text = text.slice(1);
    } else if (k > 0) line++;
    scanner.push(text, line, continuation);
  }
}

/** A LineParser over PROV-JSON documents whose records a mapper turns into events. */
export class ProvJsonParser implements LineParser {
  readonly reader: ProvDocumentReader;
  private readonly scanner: JsonScanner;

  constructor(file: string, makeMapper: (emit: (ev: ProvEvent) => void) => ProvRecordMapper) {
    let reader: ProvDocumentReader | null = null;
    const mapper = makeMapper((ev) => reader!.emit(ev));
    reader = new ProvDocumentReader(file, mapper);
    this.reader = reader;
    this.scanner = new JsonScanner("prov", reader, { keepRecordText: mapper.keepsRecordText === true });
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    feedLines(this.scanner, lines, firstLine);
    return this.reader.take();
  }

  /** One complete document (an MQTT message): it must end where the text ends. */
  pushDocument(text: string, line: number): ProvEvent[] {
    this.scanner.push(text, line, false);
    this.scanner.end();
    return this.reader.take();
  }

  end(): ProvEvent[] {
    this.scanner.end();
    const out = this.reader.take();
    if (this.reader.documents === 0 && !this.reader.sawRecords && this.reader.problems === 0) {
      out.push({
        kind: "problem",
        at: { file: this.reader.file, line: 1 },
        message: "no PROV-JSON document in the input",
      });
    }
    return out;
  }
}

/** What the first lines of a JSON input look like. */
export interface JsonHead {
  /** the text, without a BOM and leading blanks */
  text: string;
  /** first character: `{`, `[`, `"` or something else ("" when empty) */
  first: string;
  /** first name of the first object (of the first element of an array; of a bare member) */
  firstKey: string | undefined;
}

export function sniffJson(head: string[]): JsonHead {
  let text = head.join("\n");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.trimStart();
  const first = text.slice(0, 1);
  let m: RegExpExecArray | null = null;
  if (first === "{") m = /^\{\s*"((?:[^"\\]|\\.)*)"\s*:/.exec(text);
  else if (first === "[") m = /^\[\s*\{\s*"((?:[^"\\]|\\.)*)"\s*:/.exec(text);
  else if (first === '"') m = /^"((?:[^"\\]|\\.)*)"\s*:/.exec(text);
  return { text, first, firstKey: m ? m[1] : undefined };
}

/** The top-level names of a PROV-JSON document. */
export const PROV_JSON_SECTIONS = new Set([
  "prefix",
  "entity",
  "activity",
  "agent",
  "bundle",
  ...Object.keys(RELATION_SECTIONS),
]);

/** Signs of CamFlow in the first lines: its namespace, its attributes (either flavour). */
export const CAMFLOW_MARKS =
  /"cf"\s*:\s*"http:\/\/www\.camflow\.org|"cf:(?:machine_id|boot_id|id|jiffies|camflow)"\s*:|"object_type"\s*:\s*"|"relation_type"\s*:\s*"/;

export const provJsonFormat: SourceFormat = {
  kind: "prov",
  detect(head: string[]): number {
    const h = sniffJson(head);
    if (h.first !== "{" || h.firstKey === undefined || !PROV_JSON_SECTIONS.has(h.firstKey)) return 0;
    return CAMFLOW_MARKS.test(h.text) ? 0.6 : 0.9;
  },
  createParser(opts: ParserOptions): LineParser {
    return new ProvJsonParser(opts.file, (emit) => new W3cProvMapper(emit));
  },
};
