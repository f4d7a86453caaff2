/**
 * One strace output line → a small tagged result. Pure apart from the clock state (midnight
 * roll-over, -r running sum). Recognises the prefixes `PID `, `[pid N] `, `PID<comm> ` and none;
 * timestamps -t/-tt/-ttt/-r or none; -T durations; every body strace prints (calls, unfinished,
 * resumed, signals, exits, attach/detach messages).
 *
 * Hot path: no regular expressions, only charCodeAt/indexOf/lastIndexOf and slices.
 */

import { type LocalToUtc, localToUtcConverter } from "../../util/time-zone.js";

/** pid of a line that carries none (first process in stderr style, -ff files, single process) */
export const NO_PID = -1;

export type ClockStyle = "epoch" | "time-of-day" | "relative" | "none";
export type PrefixStyle = "pid" | "bracket" | "none" | "comm";

const DAY_US = 86_400_000_000;
const HALF_DAY_US = DAY_US / 2;

export interface LineStyleState {
  /** epoch µs of midnight (UTC) of the run date; 0 when no date is known (1970-01-01) */
  baseDayUs: number;
  /** whole days added by midnight roll-overs so far */
  dayOffsetUs: number;
  /** last time of day seen (µs), -1 before the first */
  lastTodUs: number;
  /** running sum for -r */
  relUs: number;
  /** the clock of the first timestamped line; undefined until one is seen */
  clock: ClockStyle | undefined;
  /** ts of the last timestamped line (lines without a clock reuse it) */
  lastTs: number;
  /** true when a date was given for time-of-day clocks */
  hasDate: boolean;
  /** the capture machine's zone for time-of-day clocks (`--tz`), null: they are UTC */
  toUtc: LocalToUtc | null;
}

/** `date` is YYYY-MM-DD, used for -t/-tt timestamps, which are local time of `tz` (default UTC). */
export function createLineState(date?: string, tz?: string): LineStyleState {
  let base = 0;
  let hasDate = false;
  if (date !== undefined && date.length >= 10) {
    const y = Number(date.slice(0, 4));
    const m = Number(date.slice(5, 7));
    const d = Number(date.slice(8, 10));
    if (Number.isFinite(y) && Number.isFinite(m) && Number.isFinite(d)) {
      base = Date.UTC(y, m - 1, d) * 1000;
      hasDate = true;
    }
  }
  return {
    baseDayUs: base,
    dayOffsetUs: 0,
    lastTodUs: -1,
    relUs: 0,
    clock: undefined,
    lastTs: 0,
    hasDate,
    toUtc: tz === undefined ? null : localToUtcConverter(tz),
  };
}

export interface LineHead {
  /** pid/tid from the prefix, NO_PID when the line has none */
  pid: number;
  /** µs since the epoch (time-of-day clocks add the run date), -r running sum, or line number */
  ts: number;
  /** -Y comm (`26397<sh>`) */
  comm?: string;
}

export interface ReturnInfo {
  /** text after " = " without the errno part and without the -T duration */
  ret: string;
  retval?: number;
  errno?: string;
  /** -T duration (µs) */
  dur?: number;
  /** `= ?` (never returned: exit, `<unavailable>`, ERESTART*) */
  incomplete: boolean;
}

export interface CallLine extends LineHead, ReturnInfo {
  kind: "call";
  name: string;
  /** raw argument text between the parentheses */
  args: string;
}

export interface UnfinishedLine extends LineHead {
  kind: "unfinished";
  name: string;
  /** the argument text printed so far */
  args: string;
  /** `<detached ...>`: strace detached while the call was running; it will never resume */
  detached: boolean;
}

export interface ResumedLine extends LineHead, ReturnInfo {
  kind: "resumed";
  name: string;
  /** the rest of the arguments after `resumed>` up to the closing parenthesis */
  args: string;
  /** `<... x resumed> <unfinished ...>`: interrupted again */
  unfinished: boolean;
}

/** a call line cut before its end (program output or an attach message spliced into it) */
export interface PartialLine extends LineHead {
  kind: "partial";
  /** the whole line up to the cut, prefix included, to be re-parsed once continued */
  text: string;
  /** a `strace: Process N attached/detached` message found at the cut */
  splicedPid?: number;
  splicedWhat?: "attached" | "detached";
}

export interface SignalLine extends LineHead {
  kind: "signal";
  signal: string;
  /** `{si_signo=SIGCHLD, ...}`, or `stopped` for `--- stopped by SIGTSTP ---` */
  info: string;
}

export interface ExitedLine extends LineHead {
  kind: "exited";
  code: number;
}

export interface KilledLine extends LineHead {
  kind: "killed";
  signal: string;
  coreDumped: boolean;
}

/** `+++ superseded by execve in pid N +++`: a non-leader thread exec'd; this tid is gone */
export interface SupersededLine extends LineHead {
  kind: "superseded";
  byPid: number;
}

/** `strace: Process N attached` / `detached` (pid is N) */
export interface AttachLine extends LineHead {
  kind: "attached" | "detached";
}

/** other strace messages, -e read/write hex dumps (` | 00000 …`), -k backtraces (` > …`) */
export interface MessageLine extends LineHead {
  kind: "message";
  text: string;
}

export interface GarbageLine extends LineHead {
  kind: "garbage";
  message: string;
  text: string;
}

export interface EmptyLine extends LineHead {
  kind: "empty";
}

export type StraceLine =
  | CallLine
  | UnfinishedLine
  | ResumedLine
  | PartialLine
  | SignalLine
  | ExitedLine
  | KilledLine
  | SupersededLine
  | AttachLine
  | MessageLine
  | GarbageLine
  | EmptyLine;

export type LineKind = StraceLine["kind"];

/**
 * Mutable, fixed-shape parse result used on the hot path (`parseLineInto`): only the fields of
 * its `kind` are meaningful. `retval` is NaN, `dur` -1, `errno`/`comm` "" when absent.
 */
export class RawLine {
  kind: LineKind = "empty";
  pid = NO_PID;
  ts = 0;
  comm = "";
  name = "";
  args = "";
  ret = "";
  retval = Number.NaN;
  errno = "";
  dur = -1;
  incomplete = false;
  /** resumed line interrupted again / unfinished line ended by `<detached ...>` */
  unfinished = false;
  detached = false;
  /** partial: the text up to the cut; message/garbage: the text */
  text = "";
  message = "";
  signal = "";
  info = "";
  code = 0;
  coreDumped = false;
  byPid = 0;
  splicedPid = NO_PID;
  splicedWhat: "" | "attached" | "detached" = "";
}

const UNFINISHED_TAIL = "<unfinished ...>";
const DETACHED = "<detached ...>";
const SPACE = 32;
const LT = 60;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || (c >= 65 && c <= 90);
}

/** digits → µs, for a fraction of `nd` digits */
function fracToUs(frac: number, nd: number): number {
  if (nd === 6) return frac;
  if (nd < 6) return frac * 10 ** (6 - nd);
  return Math.floor(frac / 10 ** (nd - 6));
}

const SMALL_RETS = 4096;
const smallRets: string[] = [];
for (let v = -1; v < SMALL_RETS; v++) smallRets.push(String(v));

/** the decimal text of v, for -1 <= v < SMALL_RETS (an integer) */
function smallRet(v: number): string {
  return smallRets[v + 1] as string;
}

/** Fill ret/retval/errno/incomplete of `out` from the return text `text[s..e)`. */
function parseReturnInto(text: string, s: number, e: number, out: RawLine): void {
  while (s < e && text.charCodeAt(s) === SPACE) s++;
  while (e > s && text.charCodeAt(e - 1) === SPACE) e--;
  let i = s;
  let retval = Number.NaN;
  const c0 = text.charCodeAt(i);
  if (c0 === 63 /* ? */) {
    i++;
  } else {
    let neg = false;
    if (c0 === 45 /* - */) {
      neg = true;
      i++;
    }
    if (text.charCodeAt(i) === 48 && text.charCodeAt(i + 1) === 120 /* 0x */) {
      const h0 = i + 2;
      i = h0;
      while (i < e) {
        const c = text.charCodeAt(i);
        if (!(isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) break;
        i++;
      }
      if (i > h0) retval = Number.parseInt(text.slice(h0, i), 16) * (neg ? -1 : 1);
    } else {
      const d0 = i;
      let v = 0;
      while (i < e) {
        const c = text.charCodeAt(i);
        if (!isDigit(c)) break;
        v = v * 10 + (c - 48);
        i++;
      }
      if (i > d0) retval = neg ? -v : v;
    }
  }
  out.retval = retval;
  out.incomplete = c0 === 63;
  // small decimal returns (`0`, `-1`, `3`) share one string each
  const small = retval >= -1 && retval < SMALL_RETS ? smallRet(retval) : "";
  const canon = small !== "" && small.length === i - s;
  out.errno = "";
  // errno: ` ENOENT (…)` right after the number or `?`
  if (text.charCodeAt(i) === SPACE && text.charCodeAt(i + 1) === 69 /* E */) {
    let k = i + 2;
    while (k < e) {
      const c = text.charCodeAt(k);
      if (!((c >= 65 && c <= 90) || isDigit(c) || c === 95)) break;
      k++;
    }
    if (k === e || text.charCodeAt(k) === SPACE) {
      out.ret = canon ? small : text.slice(s, i);
      out.errno = text.slice(i + 1, k);
      return;
    }
  }
  out.ret =
    c0 === 63
      ? "?"
      : canon && i === e
        ? small
        : i === e && s === 0 && e === text.length
          ? text
          : text.slice(s, e);
}

const retScratch = new RawLine();

/**
 * Parse a return text (after " = ", without the -T duration): `3</etc/ld.so.cache>`,
 * `-1 ENOENT (No such file or directory)`, `? <unavailable>`,
 * `? ERESTARTSYS (To be restarted if SA_RESTART is set)`, `0x7f08bc24d000`, `0 (Timeout)`.
 */
export function parseReturn(text: string): ReturnInfo {
  parseReturnInto(text, 0, text.length, retScratch);
  const r: ReturnInfo = { ret: retScratch.ret, incomplete: retScratch.incomplete };
  if (!Number.isNaN(retScratch.retval)) r.retval = retScratch.retval;
  if (retScratch.errno !== "") r.errno = retScratch.errno;
  return r;
}

/**
 * ` <0.000075>` ending at e (exclusive, line[e-1] === '>'): returns the index of the space before
 * `<` and stores the µs in out.dur, or -1 when it is not a duration (`<unavailable>`).
 */
function parseDuration(line: string, e: number, out: RawLine): number {
  let k = e - 2;
  let frac = 0;
  let nd = 0;
  let mult = 1;
  while (k > 0 && isDigit(line.charCodeAt(k))) {
    frac += (line.charCodeAt(k) - 48) * mult;
    mult *= 10;
    nd++;
    k--;
  }
  if (nd === 0 || line.charCodeAt(k) !== 46 /* . */) return -1;
  k--;
  let sec = 0;
  mult = 1;
  const i0 = k;
  while (k > 0 && isDigit(line.charCodeAt(k))) {
    sec += (line.charCodeAt(k) - 48) * mult;
    mult *= 10;
    k--;
  }
  if (k === i0 || line.charCodeAt(k) !== LT || line.charCodeAt(k - 1) !== SPACE) return -1;
  out.dur = sec * 1_000_000 + fracToUs(frac, nd);
  return k - 1;
}

/** The call tail after `NAME(` or `resumed>`: unfinished / complete / partial. */
function parseCallTail(line: string, argStart: number, e: number, resumed: boolean, out: RawLine): void {
  out.dur = -1;
  out.unfinished = false;
  out.detached = false;
  const endsAngle = line.charCodeAt(e - 1) === 62; /* > */
  if (endsAngle && e - argStart >= UNFINISHED_TAIL.length && line.endsWith(UNFINISHED_TAIL, e)) {
    let ae = e - UNFINISHED_TAIL.length;
    if (ae > argStart && line.charCodeAt(ae - 1) === SPACE) ae--;
    out.args = line.slice(argStart, ae);
    if (resumed) {
      out.kind = "resumed";
      out.unfinished = true;
      out.ret = "?";
      out.retval = Number.NaN;
      out.errno = "";
      out.incomplete = true;
    } else out.kind = "unfinished";
    return;
  }
  if (endsAngle && e - argStart >= DETACHED.length && line.endsWith(DETACHED, e)) {
    let ae = e - DETACHED.length;
    while (ae > argStart && line.charCodeAt(ae - 1) === SPACE) ae--;
    out.kind = "unfinished";
    out.args = line.slice(argStart, ae);
    out.detached = true;
    return;
  }
  let retEnd = e;
  if (endsAngle) {
    const d = parseDuration(line, e, out);
    if (d >= 0) retEnd = d;
  }
  const sep = retEnd - 3 >= argStart ? line.lastIndexOf(" = ", retEnd - 3) : -1;
  if (sep >= argStart) {
    let k = sep - 1;
    while (k >= argStart && line.charCodeAt(k) === SPACE) k--;
    if (k >= argStart && line.charCodeAt(k) === 41 /* ) */) {
      out.kind = resumed ? "resumed" : "call";
      out.args = line.slice(argStart, k);
      parseReturnInto(line, sep + 3, retEnd, out);
      return;
    }
  }
  // no end: cut by program output or by a spliced strace message
  out.kind = "partial";
  out.text = line.slice(0, e);
  out.splicedPid = NO_PID;
  out.splicedWhat = "";
  const sp = line.indexOf("strace: Process ", argStart);
  if (sp >= 0) {
    let k = sp + 16;
    let v = 0;
    const d0 = k;
    while (k < e && isDigit(line.charCodeAt(k))) {
      v = v * 10 + (line.charCodeAt(k) - 48);
      k++;
    }
    if (k > d0) {
      if (line.startsWith(" attached", k)) out.splicedWhat = "attached";
      else if (line.startsWith(" detached", k)) out.splicedWhat = "detached";
      if (out.splicedWhat !== "") {
        out.splicedPid = v;
        out.text = line.slice(0, sp);
      }
    }
  }
}

/** call names seen, by hash: the same name is one string (no allocation, its hash computed once) */
const NAME_SLOTS = 1024;
const names: Array<string | undefined> = new Array(NAME_SLOTS).fill(undefined);

function internName(line: string, s: number, e: number, h: number): string {
  const slot = h & (NAME_SLOTS - 1);
  const known = names[slot];
  if (known !== undefined && known.length === e - s && line.startsWith(known, s)) return known;
  const name = ` ${line.slice(s, e)}`.slice(1);
  names[slot] = name;
  return name;
}

function garbage(out: RawLine, message: string, line: string): void {
  out.kind = "garbage";
  out.message = message;
  out.text = line.length > 200 ? line.slice(0, 200) : line;
}

/**
 * Parse one line into the reusable `out` (hot path). `lineNo` is the clock stand-in when the log
 * has no timestamps. The line must not contain the newline; a trailing `\r` is ignored.
 */
export function parseLineInto(line: string, state: LineStyleState, lineNo: number, out: RawLine): void {
  let e = line.length;
  while (e > 0) {
    const c = line.charCodeAt(e - 1);
    if (c !== SPACE && c !== 13 && c !== 9) break;
    e--;
  }
  out.pid = NO_PID;
  out.ts = state.lastTs;
  out.comm = "";
  if (e === 0) {
    out.kind = "empty";
    return;
  }
  let i = 0;
  const c0 = line.charCodeAt(0);
  if (c0 === 91 /* [ */) {
    if (!line.startsWith("[pid ", 0)) {
      garbage(out, "unrecognised line", line);
      return;
    }
    i = 5;
    while (line.charCodeAt(i) === SPACE) i++;
    let v = 0;
    const d0 = i;
    while (isDigit(line.charCodeAt(i))) {
      v = v * 10 + (line.charCodeAt(i) - 48);
      i++;
    }
    if (i === d0 || line.charCodeAt(i) !== 93 /* ] */) {
      garbage(out, "bad [pid N] prefix", line);
      return;
    }
    out.pid = v;
    i++;
    while (line.charCodeAt(i) === SPACE) i++;
  } else if (isDigit(c0)) {
    let v = 0;
    let j = 0;
    while (isDigit(line.charCodeAt(j))) {
      v = v * 10 + (line.charCodeAt(j) - 48);
      j++;
    }
    const cj = line.charCodeAt(j);
    if (cj === SPACE) {
      out.pid = v;
      i = j;
      while (line.charCodeAt(i) === SPACE) i++;
    } else if (cj === LT) {
      const k = line.indexOf("> ", j + 1);
      if (k < 0) {
        garbage(out, "bad PID<comm> prefix", line);
        return;
      }
      out.pid = v;
      out.comm = line.slice(j + 1, k);
      i = k + 2;
      while (line.charCodeAt(i) === SPACE) i++;
    }
    // otherwise `:` or `.`: a timestamp without a pid
  } else if (c0 === SPACE) {
    while (line.charCodeAt(i) === SPACE) i++;
    if (!isDigit(line.charCodeAt(i))) {
      const c = line.charCodeAt(i);
      if (c === 124 /* | */ || c === 62 /* > */) {
        out.kind = "message";
        out.text = line.slice(0, e);
        return;
      }
      garbage(out, "unrecognised line", line);
      return;
    }
  }
  // timestamp
  if (isDigit(line.charCodeAt(i))) {
    let v = 0;
    let j = i;
    while (isDigit(line.charCodeAt(j))) {
      v = v * 10 + (line.charCodeAt(j) - 48);
      j++;
    }
    let cj = line.charCodeAt(j);
    let clock: ClockStyle;
    let us: number;
    if (cj === 58 /* : */) {
      const mm = (line.charCodeAt(j + 1) - 48) * 10 + (line.charCodeAt(j + 2) - 48);
      const ss = (line.charCodeAt(j + 4) - 48) * 10 + (line.charCodeAt(j + 5) - 48);
      if (line.charCodeAt(j + 3) !== 58 || !(mm >= 0 && mm < 60 && ss >= 0 && ss < 62)) {
        garbage(out, "bad timestamp", line);
        return;
      }
      j += 6;
      us = ((v * 60 + mm) * 60 + ss) * 1_000_000;
      cj = line.charCodeAt(j);
      if (cj === 46) {
        j++;
        let f = 0;
        let nd = 0;
        while (isDigit(line.charCodeAt(j))) {
          f = f * 10 + (line.charCodeAt(j) - 48);
          nd++;
          j++;
        }
        us += fracToUs(f, nd);
        cj = line.charCodeAt(j);
      }
      clock = "time-of-day";
    } else if (cj === 46 /* . */) {
      j++;
      let f = 0;
      let nd = 0;
      while (isDigit(line.charCodeAt(j))) {
        f = f * 10 + (line.charCodeAt(j) - 48);
        nd++;
        j++;
      }
      us = v * 1_000_000 + fracToUs(f, nd);
      cj = line.charCodeAt(j);
      clock = v >= 100_000_000 ? "epoch" : "relative";
    } else {
      garbage(out, "unrecognised line", line);
      return;
    }
    if (cj !== SPACE) {
      garbage(out, "bad timestamp", line);
      return;
    }
    i = j + 1;
    while (line.charCodeAt(i) === SPACE) i++;
    if (state.clock === undefined) state.clock = clock;
    let ts: number;
    if (clock === "time-of-day") {
      const last = state.lastTodUs;
      const delta = us - last;
      if (last < 0) {
        state.lastTodUs = us;
        ts = state.baseDayUs + state.dayOffsetUs + us;
      } else if (delta < -HALF_DAY_US) {
        state.dayOffsetUs += DAY_US;
        state.lastTodUs = us;
        ts = state.baseDayUs + state.dayOffsetUs + us;
      } else if (delta > HALF_DAY_US && state.dayOffsetUs > 0) {
        // a late line from before midnight
        ts = state.baseDayUs + state.dayOffsetUs - DAY_US + us;
      } else {
        if (delta > 0) state.lastTodUs = us;
        ts = state.baseDayUs + state.dayOffsetUs + us;
      }
      if (state.toUtc !== null) ts = state.toUtc(ts, state.lastTs === 0 ? undefined : state.lastTs);
    } else if (clock === "relative") {
      state.relUs += us;
      ts = state.relUs;
    } else {
      ts = us;
    }
    state.lastTs = ts;
    out.ts = ts;
  } else if (state.clock === undefined || state.clock === "none") {
    state.clock = "none";
    state.lastTs = lineNo;
    out.ts = lineNo;
  }
  if (i >= e) {
    garbage(out, "no call after the prefix", line);
    return;
  }
  // body
  const b = line.charCodeAt(i);
  if (b === LT) {
    if (line.startsWith("<... ", i)) {
      const k = line.indexOf(" resumed>", i + 5);
      if (k < 0) {
        garbage(out, "bad resumed line", line);
        return;
      }
      out.name = line.slice(i + 5, k);
      parseCallTail(line, k + 9, e, true, out);
      return;
    }
    garbage(out, "unrecognised line", line);
    return;
  }
  if (b === 45 /* - */ && line.startsWith("--- ", i)) {
    let s = i + 4;
    const end = line.endsWith(" ---", e) ? e - 4 : e;
    out.kind = "signal";
    if (line.startsWith("stopped by ", s)) {
      s += 11;
      out.signal = line.slice(s, end);
      out.info = "stopped";
      return;
    }
    const sp = line.indexOf(" ", s);
    const ne = sp < 0 || sp > end ? end : sp;
    out.signal = line.slice(s, ne);
    out.info = ne < end ? line.slice(ne + 1, end) : "";
    return;
  }
  if (b === 43 /* + */ && line.startsWith("+++ ", i)) {
    const s = i + 4;
    if (line.startsWith("exited with ", s)) {
      let k = s + 12;
      let neg = false;
      if (line.charCodeAt(k) === 45) {
        neg = true;
        k++;
      }
      let v = 0;
      const d0 = k;
      while (isDigit(line.charCodeAt(k))) {
        v = v * 10 + (line.charCodeAt(k) - 48);
        k++;
      }
      if (k === d0) {
        garbage(out, "bad exit line", line);
        return;
      }
      out.kind = "exited";
      out.code = neg ? -v : v;
      return;
    }
    if (line.startsWith("killed by ", s)) {
      let k = s + 10;
      while (k < e && line.charCodeAt(k) !== SPACE) k++;
      out.kind = "killed";
      out.signal = line.slice(s + 10, k);
      out.coreDumped = line.startsWith(" (core dumped)", k);
      return;
    }
    if (line.startsWith("superseded by execve in pid ", s)) {
      let k = s + 28;
      let v = 0;
      while (isDigit(line.charCodeAt(k))) {
        v = v * 10 + (line.charCodeAt(k) - 48);
        k++;
      }
      out.kind = "superseded";
      out.byPid = v;
      return;
    }
    garbage(out, "unrecognised +++ line", line);
    return;
  }
  if (b === 115 /* s */ && line.startsWith("strace: ", i)) {
    if (line.startsWith("Process ", i + 8)) {
      let k = i + 16;
      let v = 0;
      const d0 = k;
      while (isDigit(line.charCodeAt(k))) {
        v = v * 10 + (line.charCodeAt(k) - 48);
        k++;
      }
      if (k > d0) {
        if (line.startsWith(" attached", k)) {
          out.kind = "attached";
          out.pid = v;
          return;
        }
        if (line.startsWith(" detached", k)) {
          out.kind = "detached";
          out.pid = v;
          return;
        }
      }
    }
    out.kind = "message";
    out.text = line.slice(i, e);
    return;
  }
  // NAME(
  let j = i;
  let h = 0;
  while (j < e) {
    const c = line.charCodeAt(j);
    if (!isNameChar(c)) break;
    h = (h * 31 + c) | 0;
    j++;
  }
  if (j === i || line.charCodeAt(j) !== 40 /* ( */) {
    garbage(out, "unrecognised line", line);
    return;
  }
  out.name = internName(line, i, j, h);
  parseCallTail(line, j + 1, e, false, out);
}

function withReturn<T extends object>(r: RawLine, base: T): T & ReturnInfo {
  const o = base as T & ReturnInfo;
  o.ret = r.ret;
  if (!Number.isNaN(r.retval)) o.retval = r.retval;
  if (r.errno !== "") o.errno = r.errno;
  if (r.dur >= 0) o.dur = r.dur;
  o.incomplete = r.incomplete;
  return o;
}

/** Convert the hot-path RawLine into the tagged StraceLine. */
export function toStraceLine(r: RawLine): StraceLine {
  const head: LineHead = { pid: r.pid, ts: r.ts };
  if (r.comm !== "") head.comm = r.comm;
  switch (r.kind) {
    case "call":
      return withReturn(r, { kind: "call" as const, ...head, name: r.name, args: r.args });
    case "resumed":
      return withReturn(r, {
        kind: "resumed" as const,
        ...head,
        name: r.name,
        args: r.args,
        unfinished: r.unfinished,
      });
    case "unfinished":
      return { kind: "unfinished", ...head, name: r.name, args: r.args, detached: r.detached };
    case "partial": {
      const p: PartialLine = { kind: "partial", ...head, text: r.text };
      if (r.splicedWhat !== "") {
        p.splicedPid = r.splicedPid;
        p.splicedWhat = r.splicedWhat;
      }
      return p;
    }
    case "signal":
      return { kind: "signal", ...head, signal: r.signal, info: r.info };
    case "exited":
      return { kind: "exited", ...head, code: r.code };
    case "killed":
      return { kind: "killed", ...head, signal: r.signal, coreDumped: r.coreDumped };
    case "superseded":
      return { kind: "superseded", ...head, byPid: r.byPid };
    case "attached":
    case "detached":
      return { kind: r.kind, ...head };
    case "message":
      return { kind: "message", ...head, text: r.text };
    case "garbage":
      return { kind: "garbage", ...head, message: r.message, text: r.text };
    case "empty":
      return { kind: "empty", ...head };
  }
}

/**
 * Parse one line into a tagged result. `lineNo` is the clock stand-in when the log has no
 * timestamps. The line must not contain the newline; a trailing `\r` is ignored.
 */
export function parseStraceLine(line: string, state: LineStyleState, lineNo = 0): StraceLine {
  const r = new RawLine();
  parseLineInto(line, state, lineNo, r);
  return toStraceLine(r);
}
