/**
 * The tokens of PROV-N (https://www.w3.org/TR/prov-n/, section 3.7): qualified names (with `\`
 * escapes), IRIs, string literals ("…" and """…""" over several lines), 'prefix:name' literals,
 * integers, date-times, language tags, `%%` and punctuation; `//` and `/* … *\/` comments are
 * skipped. The tokenizer is fed whole lines and keeps what spans lines (a long string, a comment).
 */

export type TokenType =
  | "name"
  | "iri"
  | "string"
  | "qname-literal"
  | "int"
  | "time"
  | "lang"
  | "%%"
  | "punct"
  | "bad";

export interface Token {
  type: TokenType;
  /** the text: a name, an IRI without `<>`, a string's content (unescaped), the punctuation… */
  value: string;
  line: number;
  col: number;
  /** first token of its line */
  first: boolean;
}

const NAME_CHAR = /[A-Za-z0-9_\-.:/@~&+*?#$!%\u00B7\u00C0-\uFFFF]/;
const DATE_TIME = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?/;
const PUNCT = "()[]{},;=";
const ESCAPES: Readonly<Record<string, string>> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f" };

export class ProvNTokenizer {
  /** inside a block comment */
  private comment = false;
  /** inside a """long string""": its text so far and where it began */
  private long: { text: string; line: number; col: number } | null = null;

  constructor(private readonly onToken: (t: Token) => void) {}

  /** What is still open at the end of the input, or null. */
  unclosed(): { what: string; line: number; col: number } | null {
    if (this.long) return { what: 'a """string""" is not closed', line: this.long.line, col: this.long.col };
    if (this.comment) return { what: "a /* comment */ is not closed", line: 0, col: 0 };
    return null;
  }

  line(text: string, line: number): void {
    const n = text.length;
    let i = 0;
    let first = true;
    const emit = (type: TokenType, value: string, col: number) => {
      this.onToken({ type, value, line, col: col + 1, first });
      first = false;
    };
    if (this.long) {
      const end = text.indexOf('"""');
      if (end < 0) {
        this.long.text += `${text}\n`;
        return;
      }
      const lg = this.long;
      this.long = null;
      this.onToken({
        type: "string",
        value: unescapeString(lg.text + text.slice(0, end)),
        line: lg.line,
        col: lg.col,
        first: false,
      });
      first = false;
      i = end + 3;
    }
    while (i < n) {
      if (this.comment) {
        const end = text.indexOf("*/", i);
        if (end < 0) return;
        this.comment = false;
        i = end + 2;
        continue;
      }
      const c = text[i]!;
      if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\ufeff") {
        i++;
        continue;
      }
      if (c === "/" && text[i + 1] === "/") return;
      if (c === "/" && text[i + 1] === "*") {
        this.comment = true;
        i += 2;
        continue;
      }
      const start = i;
      if (PUNCT.includes(c)) {
        emit("punct", c, start);
        i++;
        continue;
      }
      if (c === "%" && text[i + 1] === "%") {
        emit("%%", "%%", start);
        i += 2;
        continue;
      }
      if (c === '"') {
        if (text.startsWith('"""', i)) {
          const end = text.indexOf('"""', i + 3);
          if (end < 0) {
            this.long = { text: `${text.slice(i + 3)}\n`, line, col: start + 1 };
            return;
          }
          emit("string", unescapeString(text.slice(i + 3, end)), start);
          i = end + 3;
          continue;
        }
        let j = i + 1;
        while (j < n && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
        if (j >= n) {
          emit("bad", 'a "string" is not closed on its line', start);
          return;
        }
        emit("string", unescapeString(text.slice(i + 1, j)), start);
        i = j + 1;
        continue;
      }
      if (c === "'") {
        const end = text.indexOf("'", i + 1);
        if (end < 0) {
          emit("bad", "a 'qualified name' literal is not closed", start);
          return;
        }
        emit("qname-literal", text.slice(i + 1, end), start);
        i = end + 1;
        continue;
      }
      if (c === "<") {
        const end = text.indexOf(">", i + 1);
        if (end < 0) {
          emit("bad", "an <IRI> is not closed", start);
          return;
        }
        emit("iri", text.slice(i + 1, end), start);
        i = end + 1;
        continue;
      }
      if (c === "@") {
        const m = /^@[A-Za-z]+(?:-[A-Za-z0-9]+)*/.exec(text.slice(i, i + 64));
        if (!m) {
          emit("bad", "@ without a language tag", start);
          i++;
          continue;
        }
        emit("lang", m[0].slice(1), start);
        i += m[0].length;
        continue;
      }
      if (c === "-" || (c >= "0" && c <= "9")) {
        const m = DATE_TIME.exec(text.slice(i, i + 48));
        if (m) {
          emit("time", m[0], start);
          i += m[0].length;
          continue;
        }
        if (c === "-") {
          const d = /^-\d+/.exec(text.slice(i, i + 32));
          if (d && !nameChar(text, i + d[0].length)) {
            emit("int", d[0], start);
            i += d[0].length;
            continue;
          }
          if (!nameChar(text, i + 1)) {
            emit("punct", "-", start);
            i++;
            continue;
          }
        }
      }
      if (nameChar(text, i) || c === "\\") {
        let j = i;
        while (j < n) {
          if (text[j] === "\\" && j + 1 < n) j += 2;
          else if (nameChar(text, j)) j++;
          else break;
        }
        // a name does not end with '.'
        while (j > i + 1 && text[j - 1] === "." && text[j - 2] !== "\\") j--;
        const raw = text.slice(i, j);
        emit(
          /^\d+$/.test(raw) ? "int" : "name",
          raw.includes("\\") ? raw.replace(/\\(.)/g, "$1") : raw,
          start,
        );
        i = j;
        continue;
      }
      emit("bad", `unexpected character ${JSON.stringify(c)}`, start);
      i++;
    }
  }
}

function nameChar(text: string, i: number): boolean {
  const c = text[i];
  return c !== undefined && NAME_CHAR.test(c);
}

function unescapeString(s: string): string {
  if (!s.includes("\\")) return s;
  return s.replace(/\\(.)/g, (_, ch: string) => ESCAPES[ch] ?? ch);
}
