/**
 * A streaming scanner for the JSON that PROV sources write, fed piece by piece (lines, or the
 * pieces of an overlong line), that never holds more than one record:
 *
 * - `prov` mode: a stream of PROV-JSON documents (`{"prefix":…, "entity":{ID: RECORD, …}, …}`), one
 *   per line (CamFlow) or pretty-printed over many lines, back to back; bundles nest documents.
 *   The scanner walks the document and section levels itself and hands over each record (the
 *   value under a record id) as soon as it is complete, parsed by `JSON.parse`. Bare members at the
 *   top level (`"ID": {…}`, CamFlow's documentation fragments) are records without a section.
 * - `spade` mode: SPADE JSON, objects back to back or in arrays, separated by commas or not (SPADE's
 *   own reader takes all of these); each object is handed over whole.
 *
 * Tolerated everywhere, as the producers write them: a UTF-8 BOM, trailing commas (SPADE's wiki
 * sample), integers beyond 2^53 (kept as strings: no precision is lost silently).
 *
 * Bad input never stops the scan: the error is reported with its line and column, the rest of the
 * broken document is skipped up to the next line that starts a document (`{` in column 1; in spade
 * mode a line whose first non-blank character is `{` or `[`), and scanning goes on.
 */

import { keepAttrsJson } from "../../events/attrs-text.js";
import type { ProvEvent } from "../../events/event-types.js";

export interface ScanPos {
  line: number;
  col: number;
}

export interface JsonScanSink {
  /** A top-level document begins (prov mode). */
  documentStart(at: ScanPos): void;
  /** It ends; `complete` is false when it was cut short by an error or the end of the input. */
  documentEnd(at: ScanPos, complete: boolean): void;
  bundleStart(id: string, at: ScanPos): void;
  bundleEnd(id: string): void;
  /** A section of records begins (its records follow through `record`). */
  sectionStart(name: string, at: ScanPos): void;
  /** A document member that is not a section of records: `prefix`, or a section of the wrong shape. */
  member(name: string, value: unknown, at: ScanPos): void;
  /** A record of a section; `section` null for a bare member at the top level. */
  record(section: string | null, id: string, value: unknown, at: ScanPos): void;
  /** A value at the top level that is not a document (prov mode), or a record (spade mode). */
  topValue(value: unknown, at: ScanPos): void;
  error(message: string, at: ScanPos, text?: string): void;
}

/**
 * A sink of spade mode, where every object comes through `topValue`: the document, bundle and
 * section callbacks of prov mode do nothing, a scan error is a problem event of `file` (counted),
 * and `take` hands over the events collected so far.
 */
export abstract class TopValueSink implements JsonScanSink {
  protected out: ProvEvent[] = [];
  problems = 0;

  constructor(readonly file: string) {}

  take(): ProvEvent[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  protected problem(at: ScanPos, message: string, text?: string): void {
    this.problems++;
    this.out.push({
      kind: "problem",
      at: { file: this.file, line: at.line },
      message: `col ${at.col}: ${message}`,
      ...(text !== undefined ? { text: text.slice(0, 200) } : {}),
    });
  }

  documentStart(): void {}
  documentEnd(): void {}
  bundleStart(): void {}
  bundleEnd(): void {}
  sectionStart(): void {}
  member(): void {}
  record(): void {}

  error(message: string, at: ScanPos, text?: string): void {
    this.problem(at, message, text);
  }

  abstract topValue(value: unknown, at: ScanPos): void;
}

export type ScanMode = "prov" | "spade";

export interface ScannerOptions {
  /** a record larger than this is skipped and reported (default 64 MiB) */
  maxRecordChars?: number;
  /**
   * keep the JSON text of records read in one piece beside their object (events/attrs-text.ts), for
   * a mapper that hands the record on as attributes
   */
  keepRecordText?: boolean;
}

// frame kinds
const DOC = 0;
const BUNDLES = 1;
const SECTION = 2;
const FRAGMENT = 3;
const ARRAY = 4;
// object states
const KEY = 0;
const COLON = 1;
const VALUE = 2;
const NEXT = 3;

interface Frame {
  kind: number;
  state: number;
  key: string;
  keyAt: ScanPos;
  /** bundle id of a DOC frame inside a bundle, or the section's name */
  name: string | null;
  at: ScanPos;
}

// what a capture is for
const T_KEY = 0;
const T_RECORD = 1;
const T_MEMBER = 2;
const T_TOP = 3;

interface Capture {
  target: number;
  /** frame the capture belongs to (for keys and records) */
  frame: Frame | null;
  at: ScanPos;
  parts: string[];
  /** index in the current piece where the uncommitted text begins */
  start: number;
  size: number;
  /** closers expected, innermost last */
  stack: number[];
  inStr: boolean;
  /** the previous piece ended inside a string on an odd run of backslashes */
  escapeCarry: boolean;
  /** a number or literal: ends at the first delimiter */
  scalar: boolean;
  /** too big: scanned to its end, then reported instead of parsed */
  discard: boolean;
}

const SP = 32;
const TAB = 9;
const CR = 13;
const LF = 10;
const BOM = 0xfeff;
const QUOTE = 34;
const COMMA = 44;
const COLON_CH = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const BACKSLASH = 92;

function isBlank(c: number): boolean {
  return c === SP || c === TAB || c === CR || c === LF || c === BOM;
}

function isDelimiter(c: number): boolean {
  return isBlank(c) || c === COMMA || c === RBRACE || c === RBRACKET || c === COLON_CH;
}

/** A short excerpt of the text around an error, for the problem report. */
function excerpt(text: string, i: number): string {
  const s = text.slice(Math.max(0, i - 20), i + 40);
  return s.length > 60 ? s.slice(0, 60) : s;
}

export class JsonScanner {
  private readonly frames: Frame[] = [];
  private cap: Capture | null = null;
  private skipping = false;
  private line = 1;
  /** column of index 0 of the current piece, minus one (continuation pieces of a long line) */
  private colBase = 0;
  private started = false;
  private readonly maxRecord: number;

  constructor(
    private readonly mode: ScanMode,
    private readonly sink: JsonScanSink,
    opts: ScannerOptions = {},
  ) {
    this.maxRecord = opts.maxRecordChars ?? 64 << 20;
    this.keepText = opts.keepRecordText === true;
  }

  private readonly keepText: boolean;

  /** Nothing open: between documents. */
  get idle(): boolean {
    return this.cap === null && (this.frames.length === 0 || this.betweenFragments());
  }

  /**
   * Scans one piece of text: a line (`continuation` false: a line break comes before it, unless it
   * is the first) or the next piece of the same line.
   */
  push(text: string, line: number, continuation: boolean): void {
    if (continuation) {
      this.colBase += this.pieceLength;
    } else {
      this.colBase = 0;
      if (this.started) this.lineBreak();
    }
    this.started = true;
    this.line = line;
    this.pieceLength = text.length;
    this.pieces++;
    if (this.skipping) {
      if (continuation || !this.resyncs(text)) return;
      this.skipping = false;
    }
    this.scan(text);
  }

  private pieceLength = 0;
  /** pieces pushed so far (the backslash cache belongs to one) */
  private pieces = 0;

  /** End of the input: what is still open is reported. */
  end(): void {
    if (this.started) this.lineBreak();
    const at = { line: this.line, col: this.colBase + this.pieceLength + 1 };
    if (this.cap) {
      const c = this.cap;
      this.cap = null;
      if (c.target === T_KEY) this.fail(`a name starting at ${c.at.line}:${c.at.col} never ends`, at);
      else
        this.fail(`a value starting at ${c.at.line}:${c.at.col} is not complete at the end of the input`, at);
    } else if (this.frames.length > 0 && !this.betweenFragments()) {
      const f = this.frames[0]!;
      const what = this.mode === "prov" ? "document" : "array";
      this.fail(
        `the ${what} starting at ${f.at.line}:${f.at.col} is not complete at the end of the input`,
        at,
      );
    }
    this.frames.length = 0;
    this.skipping = false;
  }

  private betweenFragments(): boolean {
    const f = this.frames[0];
    return this.frames.length === 1 && f!.kind === FRAGMENT && (f!.state === KEY || f!.state === NEXT);
  }

  /** A line ends: a number or literal ends with it; a value being captured gets its line break. */
  private lineBreak(): void {
    const c = this.cap;
    if (!c) return;
    if (c.scalar) {
      this.finishCapture("", 0);
      return;
    }
    if (!c.discard) c.parts.push("\n");
    c.size++;
  }

  private resyncs(text: string): boolean {
    if (this.mode === "prov") return text.charCodeAt(0) === LBRACE;
    const t = text.trimStart();
    return t.startsWith("{") || t.startsWith("[");
  }

  private pos(i: number): ScanPos {
    return { line: this.line, col: this.colBase + i + 1 };
  }

  /** Reports an error, closes what is open and skips to the next document. */
  private fail(message: string, at: ScanPos, text?: string): void {
    this.sink.error(message, at, text);
    this.abortOpen(at);
    this.skipping = true;
  }

  private abortOpen(at: ScanPos): void {
    this.cap = null;
    for (let k = this.frames.length - 1; k >= 0; k--) {
      const f = this.frames[k]!;
      if (f.kind === DOC) {
        if (f.name !== null && k > 0) this.sink.bundleEnd(f.name);
        else this.sink.documentEnd(at, false);
      }
    }
    this.frames.length = 0;
  }

  private startCapture(target: number, frame: Frame | null, i: number, scalar: boolean): void {
    this.cap = {
      target,
      frame,
      at: this.pos(i),
      parts: [],
      start: i,
      size: 0,
      stack: [],
      inStr: false,
      escapeCarry: false,
      scalar,
      discard: false,
    };
  }

  private scan(text: string): void {
    const n = text.length;
    let i = 0;
    if (this.cap) {
      this.cap.start = 0;
      i = this.captureLoop(text, 0);
    }
    while (i < n) {
      if (this.cap) {
        i = this.captureLoop(text, i);
        continue;
      }
      if (this.skipping) return;
      const c = text.charCodeAt(i);
      if (isBlank(c)) {
        i++;
        continue;
      }
      const f = this.frames[this.frames.length - 1];
      i = f ? this.inFrame(f, text, i, c) : this.atTop(text, i, c);
    }
    const cap = this.cap as Capture | null;
    if (cap) {
      if (!cap.discard) cap.parts.push(cap.start === 0 ? text : text.slice(cap.start));
      cap.size += n - cap.start;
      if (cap.size > this.maxRecord && !cap.discard) {
        cap.discard = true;
        cap.parts = [];
      }
    }
  }

  /** A value at the top level. */
  private atTop(text: string, i: number, c: number): number {
    if (this.mode === "spade") {
      if (c === LBRACE) {
        this.startCapture(T_TOP, null, i, false);
        return i;
      }
      if (c === LBRACKET) {
        this.frames.push({
          kind: ARRAY,
          state: VALUE,
          key: "",
          keyAt: this.pos(i),
          name: null,
          at: this.pos(i),
        });
        return i + 1;
      }
      // SPADE's storage separates its objects with commas, and may close an array it never opened here
      if (c === COMMA || c === RBRACKET) return i + 1;
      this.startCapture(T_TOP, null, i, c !== QUOTE);
      return i;
    }
    if (c === LBRACE) {
      const at = this.pos(i);
      this.frames.push({ kind: DOC, state: KEY, key: "", keyAt: at, name: null, at });
      this.sink.documentStart(at);
      return i + 1;
    }
    if (c === QUOTE) {
      // a bare `"ID": {…}` member (a fragment of a document)
      const at = this.pos(i);
      this.frames.push({ kind: FRAGMENT, state: KEY, key: "", keyAt: at, name: null, at });
      return i;
    }
    if (c === LBRACKET || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110) {
      this.startCapture(T_TOP, null, i, c !== LBRACKET);
      return i;
    }
    this.fail(`expected a JSON document, found ${JSON.stringify(text[i])}`, this.pos(i), excerpt(text, i));
    return text.length;
  }

  private inFrame(f: Frame, text: string, i: number, c: number): number {
    if (f.kind === ARRAY) {
      if (c === COMMA) return i + 1;
      if (c === RBRACKET) {
        this.frames.pop();
        return i + 1;
      }
      this.startCapture(T_TOP, null, i, c !== LBRACE && c !== LBRACKET && c !== QUOTE);
      return i;
    }
    switch (f.state) {
      case KEY:
        if (c === QUOTE) {
          f.keyAt = this.pos(i);
          // fast path: a name without escapes that ends in this piece is its text between the quotes
          const j = text.indexOf('"', i + 1);
          if (j > 0 && this.backslashFrom(text, i + 1) > j) {
            f.key = ownString(text.slice(i + 1, j));
            f.state = COLON;
            return j + 1;
          }
          this.startCapture(T_KEY, f, i, false);
          return i;
        }
        if (c === RBRACE && f.kind !== FRAGMENT) return this.closeFrame(i);
        if (f.kind === FRAGMENT && c === LBRACE) {
          // the fragments end where a document begins
          this.frames.pop();
          return i;
        }
        if (c === COMMA && f.kind === FRAGMENT) return i + 1;
        this.fail(
          `expected a name in quotes, found ${JSON.stringify(text[i])}`,
          this.pos(i),
          excerpt(text, i),
        );
        return text.length;
      case COLON:
        if (c === COLON_CH) {
          f.state = VALUE;
          return i + 1;
        }
        this.fail(`expected ':' after ${JSON.stringify(f.key)}`, this.pos(i), excerpt(text, i));
        return text.length;
      case VALUE:
        f.state = NEXT;
        if (f.kind === DOC) {
          if (c === LBRACE && f.key === "bundle") {
            const at = this.pos(i);
            this.frames.push({ kind: BUNDLES, state: KEY, key: "", keyAt: at, name: null, at });
            return i + 1;
          }
          if (c === LBRACE && f.key !== "prefix" && f.key !== "bundle") {
            const at = this.pos(i);
            this.frames.push({ kind: SECTION, state: KEY, key: "", keyAt: at, name: f.key, at });
            this.sink.sectionStart(f.key, f.keyAt);
            return i + 1;
          }
          this.startCapture(T_MEMBER, f, i, !(c === LBRACE || c === LBRACKET || c === QUOTE));
          return i;
        }
        if (f.kind === BUNDLES && c === LBRACE) {
          const at = this.pos(i);
          this.frames.push({ kind: DOC, state: KEY, key: "", keyAt: at, name: f.key, at });
          this.sink.bundleStart(f.key, at);
          return i + 1;
        }
        if (c === LBRACE) {
          const end = this.quickRecord(f, text, i);
          if (end > 0) return end;
        }
        this.startCapture(T_RECORD, f, i, !(c === LBRACE || c === LBRACKET || c === QUOTE));
        return i;
      default:
        if (c === COMMA) {
          f.state = KEY;
          return i + 1;
        }
        if (c === RBRACE && f.kind !== FRAGMENT) return this.closeFrame(i);
        if (f.kind === FRAGMENT) {
          if (c === QUOTE) {
            f.state = KEY;
            return i;
          }
          if (c === LBRACE) {
            this.frames.pop();
            return i;
          }
        }
        this.fail(`expected ',' or '}', found ${JSON.stringify(text[i])}`, this.pos(i), excerpt(text, i));
        return text.length;
    }
  }

  /** index of the first backslash at or after `from` in the current piece (its length when none) */
  private backslashFrom(text: string, from: number): number {
    if (this.bsPiece !== this.pieces || this.bsAt < from) {
      const b = text.indexOf("\\", from);
      this.bsPiece = this.pieces;
      this.bsAt = b < 0 ? text.length : b;
    }
    return this.bsAt;
  }

  private bsPiece = -1;
  private bsAt = 0;

  /**
   * Fast path for a record `{…}` without nested objects that ends in this piece (CamFlow's, and most
   * PROV records): its end is the first `}`, and JSON.parse tells whether it is (a `}` inside a
   * string makes the parse fail: the record is then scanned as usual). A prefix of the record that
   * parses is the whole record: braces outside strings match the same in a prefix as in the whole.
   * Returns where scanning goes on, or -1 when the record must be scanned.
   */
  private quickRecord(f: Frame, text: string, i: number): number {
    const close = text.indexOf("}", i + 1);
    if (close < 0 || close + 1 - i > this.maxRecord) return -1;
    const open = text.indexOf("{", i + 1);
    if (open >= 0 && open < close) return -1;
    const raw = text.slice(i, close + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return -1;
    }
    // integers beyond 2^53 stay exact, as parseJsonText keeps them
    if (hasUnsafeInteger(value)) value = parseJsonText(raw);
    else if (this.keepText && value !== null && typeof value === "object" && !Array.isArray(value))
      keepAttrsJson(value, raw);
    this.sink.record(
      f.kind === FRAGMENT ? null : f.kind === BUNDLES ? "bundle" : f.name,
      f.key,
      value,
      f.keyAt,
    );
    return close + 1;
  }

  private closeFrame(i: number): number {
    const f = this.frames.pop()!;
    if (f.kind === DOC) {
      if (f.name !== null && this.frames.length > 0) this.sink.bundleEnd(f.name);
      else this.sink.documentEnd(this.pos(i), true);
    }
    return i + 1;
  }

  /** Scans the captured value from `i`; returns where scanning goes on. */
  private captureLoop(text: string, i: number): number {
    const cap = this.cap!;
    const n = text.length;
    if (cap.scalar) {
      while (i < n && !isDelimiter(text.charCodeAt(i))) i++;
      if (i < n) this.finishCapture(text, i);
      return i;
    }
    if (cap.escapeCarry) {
      cap.escapeCarry = false;
      i++;
    }
    while (i < n) {
      if (cap.inStr) {
        const from = i;
        let j = text.indexOf('"', i);
        while (j !== -1) {
          let k = j - 1;
          while (k >= from && text.charCodeAt(k) === BACKSLASH) k--;
          if ((j - 1 - k) % 2 === 0) break;
          j = text.indexOf('"', j + 1);
        }
        if (j === -1) {
          let k = n - 1;
          while (k >= from && text.charCodeAt(k) === BACKSLASH) k--;
          cap.escapeCarry = (n - 1 - k) % 2 === 1;
          return n;
        }
        cap.inStr = false;
        i = j + 1;
        if (cap.stack.length === 0) {
          this.finishCapture(text, i);
          return i;
        }
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        cap.inStr = true;
        i++;
      } else if (c === LBRACE) {
        cap.stack.push(RBRACE);
        i++;
      } else if (c === LBRACKET) {
        cap.stack.push(RBRACKET);
        i++;
      } else if (c === RBRACE || c === RBRACKET) {
        const want = cap.stack.pop();
        if (want !== c) {
          const what = want === undefined ? "nothing is open" : `expected ${String.fromCharCode(want)}`;
          this.fail(`unbalanced ${String.fromCharCode(c)}: ${what}`, this.pos(i), excerpt(text, i));
          return n;
        }
        i++;
        if (cap.stack.length === 0) {
          this.finishCapture(text, i);
          return i;
        }
      } else i++;
    }
    return n;
  }

  private finishCapture(text: string, end: number): void {
    const cap = this.cap!;
    this.cap = null;
    if (cap.discard || cap.size + (end - cap.start) > this.maxRecord) {
      this.sink.error(`a value larger than ${this.maxRecord} characters was skipped`, cap.at);
      this.afterValue(cap, undefined, false);
      return;
    }
    const tail = text.slice(cap.start, end);
    const raw = cap.parts.length > 0 ? cap.parts.join("") + tail : tail;
    let value: unknown;
    try {
      // a name without escapes is its text between the quotes
      value =
        cap.target === T_KEY && raw.indexOf("\\") < 0 ? ownString(raw.slice(1, -1)) : parseJsonText(raw);
    } catch (e) {
      const what = cap.target === T_KEY ? "name" : "value";
      this.sink.error(`invalid JSON ${what}: ${(e as Error).message}`, cap.at, raw.slice(0, 200));
      this.afterValue(cap, undefined, false);
      return;
    }
    this.afterValue(cap, value, true);
  }

  private afterValue(cap: Capture, value: unknown, ok: boolean): void {
    const f = cap.frame;
    switch (cap.target) {
      case T_KEY:
        if (!f) return;
        if (!ok || typeof value !== "string") {
          // the name is lost: skip its value
          f.key = "";
          f.state = COLON;
          return;
        }
        f.key = value;
        f.state = COLON;
        return;
      case T_RECORD:
        if (ok && f)
          this.sink.record(
            f.kind === FRAGMENT ? null : f.kind === BUNDLES ? "bundle" : f.name,
            f.key,
            value,
            f.keyAt,
          );
        return;
      case T_MEMBER:
        if (ok && f) this.sink.member(f.key, value, f.keyAt);
        return;
      default:
        if (ok) this.sink.topValue(value, cap.at);
    }
  }
}

/**
 * A copy of a piece of the input: a name cut from a line would otherwise keep the whole line (or
 * 1 MiB piece) alive as long as the graph keeps the name (V8's sliced strings).
 */
function ownString(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

const TRAILING_COMMA = /,\s*[}\]]/;

/** An integer JSON.parse could not keep exact (beyond 2^53) somewhere in a parsed value. */
function hasUnsafeInteger(v: unknown): boolean {
  if (typeof v === "number") return Number.isInteger(v) && !Number.isSafeInteger(v);
  if (typeof v !== "object" || v === null) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (hasUnsafeInteger(x)) return true;
    return false;
  }
  for (const k in v) if (hasUnsafeInteger((v as Record<string, unknown>)[k])) return true;
  return false;
}

/**
 * JSON.parse, except that integers beyond 2^53 stay exact (as strings) and trailing commas are
 * accepted. The slow path runs only for a value with such an integer or one that fails to parse.
 */
export function parseJsonText(raw: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    if (!TRAILING_COMMA.test(raw)) throw e;
    value = JSON.parse(rewriteJson(raw, false));
  }
  return hasUnsafeInteger(value) ? JSON.parse(rewriteJson(raw, true)) : value;
}

/** Drops trailing commas and quotes unsafe integers, outside strings. */
function rewriteJson(raw: string, bigInts: boolean): string {
  let out = "";
  let from = 0;
  let i = 0;
  const n = raw.length;
  let lastComma = -1;
  while (i < n) {
    const c = raw.charCodeAt(i);
    if (c === QUOTE) {
      lastComma = -1;
      i++;
      while (i < n) {
        const d = raw.charCodeAt(i);
        if (d === BACKSLASH) i += 2;
        else if (d === QUOTE) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === COMMA) {
      lastComma = i;
      i++;
      continue;
    }
    if (c === RBRACE || c === RBRACKET) {
      if (lastComma >= 0) {
        out += `${raw.slice(from, lastComma)} `;
        from = lastComma + 1;
      }
      lastComma = -1;
      i++;
      continue;
    }
    if (isBlank(c)) {
      i++;
      continue;
    }
    lastComma = -1;
    if (bigInts && (c === 45 || (c >= 48 && c <= 57))) {
      let j = i + 1;
      while (j < n && !isDelimiter(raw.charCodeAt(j))) j++;
      const token = raw.slice(i, j);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${raw.slice(from, i)}"${token}"`;
        from = j;
      }
      i = j;
      continue;
    }
    i++;
  }
  return out + raw.slice(from);
}
