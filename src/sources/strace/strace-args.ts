/**
 * Top-level argument splitting and fd decorations (`-y`/`-yy`) of strace call text.
 * One linear scan, no regular expressions: big read/write buffers are skipped with indexOf.
 */
import { decodeCStringBody, skipCString } from "./c-string.js";

const stack = new Uint8Array(256);

const OPEN_PAREN = 40;
const CLOSE_PAREN = 41;
const OPEN_SQUARE = 91;
const CLOSE_SQUARE = 93;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const LT = 60;
const GT = 62;
const COMMA = 44;
const QUOTE = 34;
const SLASH = 47;
const STAR = 42;
const SPACE = 32;

/** characters splitArgs must look at; every other character is skipped in a tight loop */
const SPECIAL = new Uint8Array(65536);
for (const ch of '",()[]{}<>/') SPECIAL[ch.charCodeAt(0)] = 1;

function pushTrimmed(out: string[], text: string, s: number, e: number): void {
  while (s < e && text.charCodeAt(s) === SPACE) s++;
  while (e > s && text.charCodeAt(e - 1) === SPACE) e--;
  out.push(s === 0 && e === text.length ? text : text.slice(s, e));
}

/**
 * Split call arguments on the commas that are outside C strings, `[...]`, `{...}`, `(...)`,
 * `/* comments *\/` and `<...>` decorations (nested ones included: `1</dev/null<char 1:3>>`).
 * Each argument is trimmed; empty text gives []. The pieces are slices of `text`. With `max`, only
 * the first `max` arguments are returned (the scan stops there).
 */
export function splitArgs(text: string, start = 0, end = text.length, max = 0x7fffffff): string[] {
  const out: string[] = [];
  if (max <= 0) return out;
  let i = start;
  while (i < end && text.charCodeAt(i) === SPACE) i++;
  if (i >= end) return out;
  let argStart = i;
  let depth = 0;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (SPECIAL[c] === 0) {
      i++;
      continue;
    }
    switch (c) {
      case QUOTE: {
        const e = skipCString(text, i);
        i = e < 0 || e > end ? end : e;
        continue;
      }
      case COMMA:
        if (depth === 0) {
          pushTrimmed(out, text, argStart, i);
          if (out.length >= max) return out;
          argStart = i + 1;
        }
        break;
      case OPEN_PAREN:
      case OPEN_SQUARE:
      case OPEN_BRACE:
        if (depth < 256) stack[depth] = c;
        depth++;
        break;
      case LT:
        // `1<<CAP_CHOWN` (capget) is a shift, not a decoration
        if (text.charCodeAt(i + 1) === LT) {
          i += 2;
          continue;
        }
        if (depth < 256) stack[depth] = c;
        depth++;
        break;
      case CLOSE_PAREN:
        if (depth > 0 && (depth > 256 || stack[depth - 1] === OPEN_PAREN)) depth--;
        break;
      case CLOSE_SQUARE:
        if (depth > 0 && (depth > 256 || stack[depth - 1] === OPEN_SQUARE)) depth--;
        break;
      case CLOSE_BRACE:
        if (depth > 0 && (depth > 256 || stack[depth - 1] === OPEN_BRACE)) depth--;
        break;
      case GT:
        if (depth > 0 && (depth > 256 || stack[depth - 1] === LT)) depth--;
        break;
      case SLASH:
        if (text.charCodeAt(i + 1) === STAR) {
          const e = text.indexOf("*/", i + 2);
          i = e < 0 || e + 2 > end ? end : e + 2;
          continue;
        }
        break;
    }
    i++;
  }
  pushTrimmed(out, text, argStart, end);
  return out;
}

/** AT_FDCWD as the kernel defines it */
export const AT_FDCWD = -100;

export interface FdDecoration {
  /** the descriptor number; AT_FDCWD is -100 */
  fd: number;
  /** the decoration (`-y`): a path, `pipe:[52471]`, `TCP:[127.0.0.1:5000->127.0.0.1:41234]`… */
  path?: string;
  /** a nested decoration (`-yy` devices): `char 1:3` in `</dev/null<char 1:3>>` */
  detail?: string;
}

/**
 * Parse an fd argument or return value: `3`, `3</etc/passwd>`, `AT_FDCWD</tmp/pfwork>`,
 * `1</dev/null<char 1:3>>`, `3<TCP:[127.0.0.1:5000->127.0.0.1:41234]>`. Returns null when the
 * text does not start with a descriptor.
 */
export function parseFdDecoration(text: string): FdDecoration | null {
  let s = 0;
  let e = text.length;
  while (s < e && text.charCodeAt(s) === SPACE) s++;
  while (e > s && text.charCodeAt(e - 1) === SPACE) e--;
  let i = s;
  let fd: number;
  if (text.startsWith("AT_FDCWD", s)) {
    fd = AT_FDCWD;
    i = s + 8;
  } else {
    let neg = false;
    if (text.charCodeAt(i) === 45) {
      neg = true;
      i++;
    }
    const d0 = i;
    let v = 0;
    while (i < e) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      i++;
    }
    if (i === d0) return null;
    fd = neg ? -v : v;
  }
  if (i === e) return { fd };
  if (text.charCodeAt(i) !== LT || text.charCodeAt(e - 1) !== GT) return null;
  const inner0 = i + 1;
  const inner1 = e - 1;
  // the path ends at the first nested `<` (strace escapes `<` and `>` inside paths)
  let p = inner0;
  let sq = 0;
  while (p < inner1) {
    const c = text.charCodeAt(p);
    if (c === QUOTE) {
      const q = skipCString(text, p);
      p = q < 0 ? inner1 : q;
      continue;
    }
    if (c === OPEN_SQUARE) sq++;
    else if (c === CLOSE_SQUARE && sq > 0) sq--;
    else if (c === LT && sq === 0) break;
    p++;
  }
  const rawPath = text.slice(inner0, p);
  const path = rawPath.indexOf("\\") >= 0 ? decodeCStringBody(rawPath) : rawPath;
  if (p < inner1 && text.charCodeAt(inner1 - 1) === GT) {
    return { fd, path, detail: text.slice(p + 1, inner1 - 1) };
  }
  return { fd, path };
}
