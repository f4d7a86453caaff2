/**
 * Graphviz DOT's tokens, read line by line with state kept across lines and batches: identifiers and
 * numerals, quoted strings (`\"` escapes, `\` + newline continuations, `"a" + "b"` concatenation),
 * HTML strings (`<…>`, nested), punctuation and edge operators; `/* … *\/`, `//` comments and `#`
 * lines (C preprocessor output) are skipped.
 */

export type DotTokenType = "id" | "punct" | "edgeop";

export interface DotToken {
  type: DotTokenType;
  /** the identifier's text (quotes removed, `\"` unescaped; an HTML string keeps its `<…>`), or the punctuation */
  text: string;
  /** quoted or HTML: never a keyword */
  quoted: boolean;
  line: number;
}

const PUNCT = new Set(["{", "}", "[", "]", "=", ";", ",", ":"]);
const MAX_STRING = 1 << 22;

export class DotTokenizer {
  private mode: "code" | "comment" | "string" | "html" = "code";
  private buf = "";
  private depth = 0;
  private startLine = 0;
  /** the string's line ended with `\`: its newline is not part of it */
  private continued = false;
  /** a quoted string waiting for a possible `+ "…"` */
  private concat: DotToken | null = null;
  private plus = false;
  readonly errors: Array<{ line: number; message: string }> = [];

  push(lines: string[], firstLine: number): DotToken[] {
    const out: DotToken[] = [];
    for (let k = 0; k < lines.length; k++) this.line(lines[k]!, firstLine + k, out);
    return out;
  }

  end(): DotToken[] {
    const out: DotToken[] = [];
    if (this.mode === "string" || this.mode === "html") {
      this.errors.push({
        line: this.startLine,
        message: `the input ends inside a ${this.mode === "html" ? "HTML " : "quoted "}string`,
      });
    } else if (this.mode === "comment") {
      this.errors.push({ line: this.startLine, message: "the input ends inside a comment" });
    }
    this.mode = "code";
    this.flushConcat(out);
    return out;
  }

  private flushConcat(out: DotToken[]): void {
    if (this.concat) out.push(this.concat);
    this.concat = null;
    this.plus = false;
  }

  private emit(out: DotToken[], t: DotToken): void {
    if (t.quoted && t.text[0] !== "<" && this.concat && this.plus) {
      this.concat.text += t.text;
      this.plus = false;
      return;
    }
    this.flushConcat(out);
    if (t.type === "id" && t.quoted && t.text[0] !== "<") this.concat = t;
    else out.push(t);
  }

  private line(s: string, line: number, out: DotToken[]): void {
    let i = 0;
    if (this.mode === "code" && s.trimStart().startsWith("#")) return;
    while (i < s.length) {
      if (this.mode === "comment") {
        const e = s.indexOf("*/", i);
        if (e < 0) return;
        this.mode = "code";
        i = e + 2;
        continue;
      }
      if (this.mode === "string") {
        while (i < s.length) {
          const c = s[i]!;
          if (c === "\\" && s[i + 1] === '"') {
            this.buf += '"';
            i += 2;
          } else if (c === "\\" && i === s.length - 1) {
            i++; // a continuation: the newline is dropped
            this.continued = true;
          } else if (c === '"') {
            this.mode = "code";
            i++;
            this.emit(out, {
              type: "id",
              text: this.buf,
              quoted: true,
              line: this.startLine,
            });
            this.buf = "";
            break;
          } else {
            this.buf += c;
            i++;
          }
        }
        if (this.mode === "string") {
          if (!this.continued) this.buf += "\n";
          this.continued = false;
          this.checkLength();
        }
        continue;
      }
      if (this.mode === "html") {
        while (i < s.length) {
          const c = s[i++]!;
          this.buf += c;
          if (c === "<") this.depth++;
          else if (c === ">" && --this.depth === 0) {
            this.mode = "code";
            this.emit(out, { type: "id", text: this.buf, quoted: true, line: this.startLine });
            this.buf = "";
            break;
          }
        }
        if (this.mode === "html") {
          this.buf += "\n";
          this.checkLength();
        }
        continue;
      }
      const c = s[i]!;
      if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\ufeff") {
        i++;
      } else if (c === "/" && s[i + 1] === "*") {
        this.mode = "comment";
        this.startLine = line;
        i += 2;
      } else if (c === "/" && s[i + 1] === "/") {
        return;
      } else if (c === '"') {
        this.mode = "string";
        this.startLine = line;
        this.buf = "";
        i++;
      } else if (c === "<") {
        this.mode = "html";
        this.startLine = line;
        this.buf = "<";
        this.depth = 1;
        i++;
      } else if (c === "+" && this.concat) {
        this.plus = true;
        i++;
      } else if (c === "-" && (s[i + 1] === ">" || s[i + 1] === "-")) {
        this.emit(out, { type: "edgeop", text: s.slice(i, i + 2), quoted: false, line });
        i += 2;
      } else if (PUNCT.has(c)) {
        this.emit(out, { type: "punct", text: c, quoted: false, line });
        i++;
      } else {
        const m = /^(?:-?(?:\.\d+|\d+(?:\.\d*)?)|[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)/.exec(
          s.slice(i, i + 4096),
        );
        if (!m) {
          this.errors.push({ line, message: `unexpected ${JSON.stringify(c)}` });
          i++;
          continue;
        }
        this.emit(out, { type: "id", text: m[0], quoted: false, line });
        i += m[0].length;
      }
    }
  }

  private checkLength(): void {
    if (this.buf.length > MAX_STRING) {
      this.errors.push({ line: this.startLine, message: "a string longer than 4 MiB: cut" });
      this.buf = this.buf.slice(0, 1024);
    }
  }
}
