import type { ProvEvent } from "../../events/event-types.js";
import { CONTINUATION } from "../prov-json/json-line-batches.js";
import { W3cProvMapper } from "../prov-json/prov-json-mapper.js";
import { ProvDocumentReader } from "../prov-json/prov-json-reader.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { ProvNParser } from "./prov-n-parser.js";

/**
 * W3C PROV-N (https://www.w3.org/TR/prov-n/) as a source: `document … endDocument` (several in one
 * input too), prefixes, bundles, every statement of PROV-DM and PROV-Dictionary. Each statement is
 * read as the PROV-JSON record it stands for and goes through PROV-JSON's document reader and
 * mapper, so a PROV-N document and its PROV-JSON twin give the same graph. Its runs are `prov` runs.
 */

/** The longest line read (pieces of a longer one are joined up to this, then it is skipped). */
const MAX_LINE_CHARS = 64 << 20;

export class ProvNLineParser implements LineParser {
  readonly reader: ProvDocumentReader;
  private readonly parser: ProvNParser;
  /** the line being read when it comes in pieces (JSON line batches cut overlong lines) */
  private pieces: string[] = [];
  private piecesChars = 0;
  private pieceLine = 0;
  private lastLine = 0;

  constructor(file: string) {
    let reader: ProvDocumentReader | null = null;
    reader = new ProvDocumentReader(file, new W3cProvMapper((ev) => reader!.emit(ev)));
    this.reader = reader;
    this.parser = new ProvNParser(reader);
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    let line = firstLine - 1;
    for (let k = 0; k < lines.length; k++) {
      const text = lines[k]!;
      if (text.startsWith(CONTINUATION) && this.pieces.length > 0) {
        this.piecesChars += text.length - 1;
        if (this.piecesChars <= MAX_LINE_CHARS) this.pieces.push(text.slice(1));
        continue;
      }
      this.flushPieces();
      line++;
      this.pieces.push(text);
      this.piecesChars = text.length;
      this.pieceLine = line;
    }
    // the last line may go on in the next batch (a piece of an overlong line is 1 MiB characters)
    if (this.pieces.length === 1 && this.piecesChars < 1 << 20) this.flushPieces();
    return this.reader.take();
  }

  private flushPieces(): void {
    if (this.pieces.length === 0) return;
    const line = this.pieceLine;
    if (this.piecesChars > MAX_LINE_CHARS) {
      this.reader.error(`the line is longer than ${MAX_LINE_CHARS} characters: skipped`, { line, col: 1 });
    } else {
      this.parser.line(this.pieces.length === 1 ? this.pieces[0]! : this.pieces.join(""), line);
    }
    this.lastLine = line;
    this.pieces = [];
    this.piecesChars = 0;
  }

  end(): ProvEvent[] {
    this.flushPieces();
    this.parser.end(Math.max(this.lastLine, 1));
    const out = this.reader.take();
    if (this.parser.documents === 0 && this.reader.problems === 0) {
      out.push({
        kind: "problem",
        at: { file: this.reader.file, line: 1 },
        message: "no PROV-N document in the input",
      });
    }
    return out;
  }
}

/** The PROV-N keywords a document begins with, after blanks and comments. */
const PROV_N_START = /^(?:document|prefix\s+[A-Za-z_][\w.-]*\s*<|default\s*<)/;
const PROV_N_STATEMENT =
  /^(?:prov:)?(?:entity|activity|agent|wasGeneratedBy|used|wasDerivedFrom|wasAttributedTo|wasAssociatedWith|bundle)\s*\(/m;

export const provNFormat: SourceFormat = {
  kind: "prov",
  detect(head: string[], fileName: string): number {
    let text = head.join("\n");
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    // blanks and comments before the first word
    text = text.replace(/^(?:\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/, "");
    if (PROV_N_START.test(text)) return 0.9;
    if (/\.(provn|pn|prov-asn)$/i.test(fileName) && PROV_N_STATEMENT.test(text)) return 0.6;
    return 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new ProvNLineParser(opts.file);
  },
};
