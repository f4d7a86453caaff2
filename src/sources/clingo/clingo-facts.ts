/**
 * Ground facts in clingo's syntax, as ProvMark writes its graphs: `name(term, term, …).` with terms
 * that are constants (`n5`, `e10`), integers or strings (`"mmap (read)"`, with `\"`, `\\`, `\n`).
 * `%` starts a comment (outside strings). A fact may span lines. Predicate names are read as ProvMark
 * writes them, which allows `-` after the first letter (`nprogram-ca09…`).
 */

export interface ClingoFact {
  pred: string;
  args: Array<string | number>;
  /** the line the fact starts on */
  line: number;
}

export type ClingoItem = ClingoFact | { error: string; line: number; text: string };

/** Longest statement kept waiting for its end, in characters: longer is reported and dropped. */
const MAX_STATEMENT = 1 << 20;

/** Reads facts from lines; keeps an unfinished statement across lines and batches. */
export class ClingoFactReader {
  private pending = "";
  private pendingLine = 0;

  /** The facts (and errors) of these lines. */
  push(lines: string[], firstLine: number): ClingoItem[] {
    const out: ClingoItem[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = firstLine + i;
      let text = lines[i]!;
      if (this.pending === "") {
        if (text.trim() === "" || text.trimStart().startsWith("%")) continue;
        this.pendingLine = line;
      }
      text = this.pending === "" ? text : `${this.pending}\n${text}`;
      this.pending = "";
      let pos = 0;
      for (;;) {
        const end = statementEnd(text, pos);
        if (end < 0) {
          const rest = text.slice(pos);
          if (rest.trim() !== "" && !rest.trimStart().startsWith("%")) {
            if (rest.length > MAX_STATEMENT) {
              out.push({
                error: "a statement longer than 1 MiB without its final '.'",
                line: this.pendingLine,
                text: rest.slice(0, 200),
              });
            } else this.pending = rest;
          }
          break;
        }
        const stmt = text.slice(pos, end);
        if (stmt.trim() !== "") out.push(parseFact(stmt, this.pendingLine));
        pos = end + 1;
        this.pendingLine = line;
      }
    }
    return out;
  }

  /** End of input: an unfinished statement is an error. */
  end(): ClingoItem[] {
    if (this.pending === "") return [];
    const text = this.pending;
    this.pending = "";
    return [
      {
        error: "the input ends inside a statement (no final '.')",
        line: this.pendingLine,
        text: text.slice(0, 200),
      },
    ];
  }
}

/** Index of the '.' ending the statement that starts at `from` (outside strings and comments), or -1. */
function statementEnd(text: string, from: number): number {
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "%") {
      const nl = text.indexOf("\n", i);
      if (nl < 0) return -1;
      i = nl;
    } else if (c === "." && !/[0-9]/.test(text[i + 1] ?? "")) return i;
  }
  return -1;
}

/** Past blanks and `%` comments. */
function skipBlank(s: string, from: number): number {
  let i = from;
  for (;;) {
    while (/\s/.test(s[i] ?? "")) i++;
    if (s[i] !== "%") return i;
    const nl = s.indexOf("\n", i);
    if (nl < 0) return s.length;
    i = nl;
  }
}

const NAME = /([A-Za-z_][\w'-]*)\s*/y;

function parseFact(stmt: string, line: number): ClingoItem {
  const bad = (why: string): ClingoItem => ({ error: why, line, text: stmt.trim().slice(0, 200) });
  const s = stmt;
  NAME.lastIndex = skipBlank(s, 0);
  const m = NAME.exec(s);
  if (!m) return bad("not a fact (a predicate name first)");
  const pred = m[1]!;
  let i = NAME.lastIndex;
  i = skipBlank(s, i);
  if (i >= s.length) return { pred, args: [], line };
  if (s[i] !== "(") return bad(`not a fact: ${JSON.stringify(s[i])} after ${pred}`);
  i++;
  const args: Array<string | number> = [];
  for (;;) {
    i = skipBlank(s, i);
    const c = s[i];
    if (c === undefined) return bad("a fact without its closing ')'");
    if (c === '"') {
      let v = "";
      i++;
      for (;;) {
        const d = s[i];
        if (d === undefined) return bad("a string without its closing quote");
        if (d === '"') break;
        if (d === "\\") {
          const e = s[i + 1];
          v += e === "n" ? "\n" : e === "t" ? "\t" : (e ?? "");
          i += 2;
          continue;
        }
        v += d;
        i++;
      }
      i++;
      args.push(v);
    } else {
      const t = /^-?\d+\b|^[A-Za-z_][\w'-]*/.exec(s.slice(i));
      if (!t) return bad(`not a term at ${JSON.stringify(s.slice(i, i + 20))}`);
      args.push(/^-?\d+$/.test(t[0]) ? Number(t[0]) : t[0]);
      i += t[0].length;
    }
    i = skipBlank(s, i);
    if (s[i] === ",") {
      i++;
      continue;
    }
    if (s[i] === ")") {
      i++;
      break;
    }
    return bad(`expected ',' or ')' at ${JSON.stringify(s.slice(i, i + 20))}`);
  }
  if (skipBlank(s, i) < s.length) return bad(`text after the fact: ${JSON.stringify(s.slice(i, i + 20))}`);
  return { pred, args, line };
}
