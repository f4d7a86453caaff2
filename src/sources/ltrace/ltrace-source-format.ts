import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { LtraceParser } from "./ltrace-parser.js";

/** library functions strace never prints as calls (it has no such system calls) */
const LIBC_ONLY = [
  " __libc_start_main(",
  " __errno_location(",
  " __ctype_b_loc(",
  " malloc(",
  " strlen(",
  " getenv(",
  " setlocale(",
];

/** what only ltrace prints: `SYS_x(`, `x@SYS(`, `lib->f(`, `+++ exited (status N) +++`, `--- Called exec() ---` */
function looksLtrace(line: string): boolean {
  if (line.indexOf("@SYS(") > 0) return true;
  if (line.indexOf(" SYS_") >= 0 || line.startsWith("SYS_")) {
    const k = line.indexOf("SYS_");
    const paren = line.indexOf("(", k);
    return paren > k && line.slice(k, paren).indexOf(" ") < 0;
  }
  if (line.indexOf("+++ exited (status ") >= 0) return true;
  if (line.indexOf("--- Called exec() ---") >= 0) return true;
  // library calls without -S: return values only ltrace prints
  if (line.indexOf(") = nil") > 0 || line.indexOf("= <void>") > 0 || line.indexOf(" resumed> )") > 0)
    return true;
  for (const f of LIBC_ONLY) if (line.indexOf(f) >= 0) return true;
  const arrow = line.indexOf("->");
  if (arrow > 0) {
    const paren = line.indexOf("(", arrow);
    const quote = line.indexOf('"');
    return paren > arrow && (quote < 0 || quote > paren) && line.slice(arrow + 2, paren).indexOf(" ") < 0;
  }
  return false;
}

export const ltraceFormat: SourceFormat = {
  kind: "ltrace",
  detect(head: string[], fileName: string): number {
    let seen = 0;
    let hits = 0;
    for (const l of head) {
      if (l.length === 0 || l.startsWith("#")) continue;
      seen++;
      if (looksLtrace(l)) hits++;
      if (seen >= 100) break;
    }
    const named = /\.ltrace(\.|$)/.test(fileName) ? 0.3 : 0;
    if (hits === 0) return named > 0 && seen > 0 ? 0.4 : 0;
    return Math.min(1, 0.5 + (0.5 * hits) / seen + named);
  },
  createParser(opts: ParserOptions): LineParser {
    return new LtraceParser(opts);
  },
};
