import type { AuditEvent } from "./audit-event-grouper.js";
import {
  type AuditParseError,
  type AuditRecord,
  type AuditValue,
  auditTypeName,
  auditTypeNumber,
  type ExecveFragment,
  execveArgv,
  parseAuditLine,
  proctitleArgv,
} from "./audit-record-parser.js";
import { formatIpv6, hexBytes } from "./audit-sockaddr.js";
import { archIsBigEndian, archName, syscallName } from "./audit-syscall-names.js";

/**
 * laurel 0.5.1's JSON-lines layout for one audit event, under the deterministic configuration
 * (`translate.universal = true`, `user-db = false`, every /proc enrichment off, `execve-argv = ["array"]`):
 *
 *   {"ID":"SEC.MS:SERIAL","NODE":"…","SYSCALL":{…,"ARGV":[a0..a3],"ARCH":"x86_64","SYSCALL":"execve"},
 *    "EXECVE":{"argc":N,"ARGV":[…]},"CWD":{…},"PATH":[{…},…],"PROCTITLE":{"ARGV":[…]},"SOCKADDR":[{"SADDR":{…}}]}
 *
 * Top-level keys follow the order in which record types first arrived. SYSCALL, EXECVE, CWD and PROCTITLE
 * are objects, every other kernel record type a list of objects, a user-space record (USER_*, CRED_*,
 * SERVICE_*, DAEMON_*, …) an object. Numeric record types are named from laurel's type table
 * (`UNKNOWN[1334]` → `BPF`).
 *
 * Records read by the LaurelEventOrderer carry their JSON already (`LaurelRecord`): each line is read
 * once, by the grammar laurel's own parser follows, straight into JSON text — no map of fields, no
 * object tree, no JSON.stringify. The grammar, as laurel 0.5.1 applies it (checked against the binary):
 *
 * - the body is `key=value` pairs separated by spaces or 0x1d (the ENRICHED suffix is read as more
 *   pairs), after an optional `avc: denied { … } for` or `netlabel:` (written last, as `"denied":[…]`,
 *   `"netlabel":null`) and, in MAC_POLICY_LOAD, `policy loaded `; anything else (a free word, a stray
 *   quote, a trailing space or tab) makes laurel refuse the whole line;
 * - keys are `[A-Za-z][A-Za-z0-9_-]*`; in SYSCALL `aN` are the call's arguments (hex numbers, written
 *   as the `ARGV` list), in EXECVE `aN`, `aN[i]`, `aN_len` are the program's arguments;
 * - values are typed by key: decimal fields (and every key ending in uid/gid) become numbers when they
 *   are a 64-bit integer, hexadecimal ones "0x…" strings, `mode` "0o…"; every other value is a
 *   "double-quoted" string, hex-encoded bytes (an even number of hex digits, either case), `(null)` or
 *   `?` (null), else a bare word, a '…' or "…" string, or `{ … }`; an empty value is null;
 * - strings are written with `%`, `+`, control bytes and bytes that are not UTF-8 percent-encoded;
 *   repeated keys are written every time.
 */

// ---------------------------------------------------------------------------------------------------
// field types (laurel's table, from the audit field dictionary)

const F_ENC = 0;
const F_DEC = 1;
const F_HEX = 2;
const F_OCT = 3;

const DEC_NAMES =
  "argc audit_backlog_limit audit_backlog_wait_time audit_enabled audit_failure capability cap_fe changed " +
  "compat dport enforcing entries errno exit family fd fe ipid ino inode item items len lport list major " +
  "minor nargs new-enabled new_lock new-log_passwd nlnk-pid old-enabled old_enforcing old_lock " +
  "old-log_passwd old_prom old-ses old_val opid oses permissive pid ppid prom proto res rport seqno ses " +
  "sig sigev_signo spid sport syscall val vm-pid";
const HEX_NAMES =
  "arch cap_fi cap_fp cap_fver cap_pa cap_pe cap_pi cap_pp code flags fi fp fver ioctlcmd old_pa old_pe " +
  "old_pi old_pp pa pe pi pp per qbytes";

const FIELD_KIND = new Map<string, number>();
for (const n of DEC_NAMES.split(" ")) FIELD_KIND.set(n, F_DEC);
for (const n of HEX_NAMES.split(" ")) FIELD_KIND.set(n, F_HEX);
FIELD_KIND.set("mode", F_OCT);
const KIND_CACHE_MAX = 4096;

function fieldKind(key: string): number {
  const k = FIELD_KIND.get(key);
  if (k !== undefined) return k;
  const kind = key.endsWith("uid") || key.endsWith("gid") ? F_DEC : F_ENC;
  if (FIELD_KIND.size < KIND_CACHE_MAX) FIELD_KIND.set(key, kind);
  return kind;
}

// ---------------------------------------------------------------------------------------------------
// record types

/** how laurel writes a record type in an event */
const T_OTHER = 0;
const T_SYSCALL = 1;
const T_EXECVE = 2;
const T_PROCTITLE = 3;
const T_SOCKADDR = 4;
const T_SINGLE = 5; // CWD: one object
const T_EOE = 6;

interface TypeInfo {
  /** the name laurel writes */
  name: string;
  /** a user-space message: an event of its own, written as an object */
  user: boolean;
  t: number;
  /** the body grammar's special cases */
  subjMode: boolean;
  avc: boolean;
  policyLoad: boolean;
  /** the keys of the last record of this type, by position, and their field types: most records of a
   * type have the same keys in the same order, so a key is recognised without slicing it */
  keys: string[];
  kinds: number[];
}

/** numeric record types laurel treats as user-space messages (one-record events) */
function userTypeNumber(n: number): boolean {
  if (n === 1006) return false; // LOGIN is a kernel record
  if (n < 1300 || n >= 2100) return true;
  return (n >= 1406 && n <= 1419) || n === 2000;
}

/** prefixes of user-space type names, for names outside laurel's table */
const USER_TYPE_PREFIXES = [
  "USER",
  "CRED_",
  "SERVICE_",
  "DAEMON_",
  "ACCT_",
  "ADD_",
  "DEL_",
  "GRP_",
  "CRYPTO_",
  "ANOM_LOGIN",
  "RESP_",
  "SYSTEM_",
  "VIRT_",
  "LABEL_",
  "ROLE_",
  "DEV_",
];

const TYPE_CACHE = new Map<string, TypeInfo>();

function typeInfo(written: string): TypeInfo {
  let info = TYPE_CACHE.get(written);
  if (info !== undefined) return info;
  const n = auditTypeNumber(written);
  const name = n !== undefined ? (auditTypeName(n) ?? written) : written;
  let user: boolean;
  if (n !== undefined) user = userTypeNumber(n);
  else user = USER_TYPE_PREFIXES.some((p) => written.startsWith(p));
  let t = T_OTHER;
  if (name === "SYSCALL") t = T_SYSCALL;
  else if (name === "EXECVE") t = T_EXECVE;
  else if (name === "PROCTITLE") t = T_PROCTITLE;
  else if (name === "SOCKADDR") t = T_SOCKADDR;
  else if (name === "CWD") t = T_SINGLE;
  else if (name === "EOE") t = T_EOE;
  info = {
    name,
    user,
    t,
    subjMode: name === "SYSCALL" || name === "USER_AUTH",
    avc: name === "AVC",
    policyLoad: name === "MAC_POLICY_LOAD",
    keys: [],
    kinds: [],
  };
  if (TYPE_CACHE.size < KIND_CACHE_MAX) TYPE_CACHE.set(written, info);
  return info;
}

/** whether laurel treats a record type as a user-space message (its own one-record event) */
export function isLaurelUserType(type: string): boolean {
  return typeInfo(type).user;
}

/** the record type as laurel writes it (`UNKNOWN[1334]` → `BPF`) */
export function laurelTypeName(type: string): string {
  return typeInfo(type).name;
}

// ---------------------------------------------------------------------------------------------------
// strings: laurel's percent-encoding, then JSON

const HEXD = "0123456789abcdef";
const PCT: string[] = [];
for (let b = 0; b < 256; b++) PCT.push(`%${HEXD[b >> 4]}${HEXD[b & 15]}`);

/** a byte laurel writes as it is (printable ASCII but `%` and `+`); `"` and `\` get a JSON backslash */
function plainByte(c: number): boolean {
  return c >= 0x20 && c < 0x7f && c !== 0x25 && c !== 0x2b && c !== 0x22 && c !== 0x5c;
}

/** JSON string content for `s[a, b)` read from the log (text already decoded from UTF-8) */
function escText(s: string, a: number, b: number): string {
  let i = a;
  while (i < b && plainByte(s.charCodeAt(i))) i++;
  if (i === b) return s.slice(a, b);
  let out = s.slice(a, i);
  let run = i;
  for (; i < b; i++) {
    const c = s.charCodeAt(i);
    if (plainByte(c) || c >= 0x80) continue;
    if (run < i) out += s.slice(run, i);
    run = i + 1;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else out += PCT[c]!;
  }
  if (run < b) out += s.slice(run, b);
  return out;
}

let scratch = Buffer.allocUnsafe(4096);

function ensureScratch(n: number): Buffer {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
  return scratch;
}

function nibble(c: number): number {
  if (c <= 57) return c - 48;
  if (c <= 70) return c - 55;
  return c - 87;
}

/** JSON string content for bytes, by laurel's rules (valid UTF-8 sequences kept, the rest `%xx`) */
function escBytes(buf: Uint8Array, n: number): string {
  let i = 0;
  while (i < n && plainByte(buf[i]!)) i++;
  if (i === n) return latin1(buf, 0, n);
  let out = latin1(buf, 0, i);
  let run = i;
  while (i < n) {
    const c = buf[i]!;
    if (plainByte(c)) {
      i++;
      continue;
    }
    if (run < i) out += latin1(buf, run, i);
    if (c < 0x80) {
      out += c === 0x22 ? '\\"' : c === 0x5c ? "\\\\" : PCT[c]!;
      i++;
      run = i;
      continue;
    }
    const more = (c & 0xe0) === 0xc0 ? 1 : (c & 0xf0) === 0xe0 ? 2 : (c & 0xf8) === 0xf0 ? 3 : -1;
    if (more < 0) {
      out += PCT[c]!;
      i++;
      run = i;
      continue;
    }
    let k = 1;
    while (k <= more && i + k < n && (buf[i + k]! & 0xc0) === 0x80) k++;
    if (k <= more) {
      // incomplete sequence: its bytes are encoded, the byte that broke it is read again
      for (let j = 0; j < k; j++) out += PCT[buf[i + j]!]!;
      i += k;
      run = i;
      continue;
    }
    if (validUtf8Seq(buf, i, more))
      out += Buffer.from(buf.buffer, buf.byteOffset + i, more + 1).toString("utf8");
    else for (let j = 0; j <= more; j++) out += PCT[buf[i + j]!]!;
    i += more + 1;
    run = i;
  }
  if (run < n) out += latin1(buf, run, n);
  return out;
}

function validUtf8Seq(b: Uint8Array, i: number, more: number): boolean {
  const c = b[i]!;
  if (more === 1) return c >= 0xc2;
  const c1 = b[i + 1]!;
  if (more === 2) {
    if (c === 0xe0) return c1 >= 0xa0;
    if (c === 0xed) return c1 < 0xa0; // surrogates
    return true;
  }
  if (c === 0xf0) return c1 >= 0x90;
  if (c === 0xf4) return c1 < 0x90;
  return c < 0xf4;
}

function latin1(buf: Uint8Array, a: number, b: number): string {
  if (b - a < 24) {
    let s = "";
    for (let i = a; i < b; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  return Buffer.from(buf.buffer, buf.byteOffset + a, b - a).toString("latin1");
}

/** hex digits `s[a, b)` (even count) decoded into the scratch buffer; returns the byte count */
function hexToScratch(s: string, a: number, b: number): number {
  const n = (b - a) >> 1;
  const buf = ensureScratch(n);
  for (let i = 0, j = a; i < n; i++, j += 2)
    buf[i] = (nibble(s.charCodeAt(j)) << 4) | nibble(s.charCodeAt(j + 1));
  return n;
}

/** hex digits `s[a, b)` decoded as one char per byte */
function hexLatin1(s: string, a: number, b: number): string {
  return latin1(scratch, 0, hexToScratch(s, a, b));
}

/** a string of one char per byte → JSON string content */
function escLatin1(s: string): string {
  const buf = ensureScratch(s.length);
  for (let i = 0; i < s.length; i++) buf[i] = s.charCodeAt(i) & 0xff;
  return escBytes(buf, s.length);
}

/** bytes → laurel's text: valid UTF-8 kept, control bytes, `%`, `+` and invalid bytes percent-encoded */
export function laurelBytesText(b: Uint8Array): string {
  return JSON.parse(`"${escBytes(b, b.length)}"`) as string;
}

// ---------------------------------------------------------------------------------------------------
// the record's JSON is written as bytes into one buffer, then taken as one string: no string per field

let ob = Buffer.allocUnsafe(1 << 16);
let op = 0;
/** a byte ≥ 0x80 was written: the buffer is read back as UTF-8, else as latin1 (faster) */
let obHigh = false;

function need(n: number): void {
  if (op + n <= ob.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(ob.length * 2, op + n + 1024));
  ob.copy(bigger, 0, 0, op);
  ob = bigger;
}

/** ASCII text as it is */
function wAscii(t: string): void {
  need(t.length);
  for (let i = 0; i < t.length; i++) ob[op++] = t.charCodeAt(i);
}

/** `s[a, b)` from the log as JSON string content (laurel's percent-encoding, then JSON's escapes) */
function wText(s: string, a: number, b: number): void {
  need(3 * (b - a));
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x25 || c === 0x2b) {
        ob[op++] = 37;
        ob[op++] = HEXC[c >> 4]!;
        ob[op++] = HEXC[c & 15]!;
      } else if (c === 0x22 || c === 0x5c) {
        ob[op++] = 92;
        ob[op++] = c;
      } else ob[op++] = c;
    } else if (c < 0x80) {
      ob[op++] = 37;
      ob[op++] = HEXC[c >> 4]!;
      ob[op++] = HEXC[c & 15]!;
    } else {
      // text decoded from UTF-8: written back as UTF-8
      obHigh = true;
      if (c < 0x800) {
        ob[op++] = 0xc0 | (c >> 6);
        ob[op++] = 0x80 | (c & 63);
      } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < b) {
        const d = s.charCodeAt(i + 1);
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        need(1);
        ob[op++] = 0xf0 | (cp >> 18);
        ob[op++] = 0x80 | ((cp >> 12) & 63);
        ob[op++] = 0x80 | ((cp >> 6) & 63);
        ob[op++] = 0x80 | (cp & 63);
      } else {
        ob[op++] = 0xe0 | (c >> 12);
        ob[op++] = 0x80 | ((c >> 6) & 63);
        ob[op++] = 0x80 | (c & 63);
      }
    }
  }
}

const HEXC = Buffer.from("0123456789abcdef", "latin1");

function wPct(c: number): void {
  ob[op++] = 37;
  ob[op++] = HEXC[c >> 4]!;
  ob[op++] = HEXC[c & 15]!;
}

/** hex digits `s[a, b)` decoded, as JSON string content by laurel's rules */
function wHex(s: string, a: number, b: number): void {
  const n = hexToScratch(s, a, b);
  const buf = scratch;
  need(3 * n);
  let i = 0;
  while (i < n) {
    const c = buf[i]!;
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x25 || c === 0x2b) wPct(c);
      else if (c === 0x22 || c === 0x5c) {
        ob[op++] = 92;
        ob[op++] = c;
      } else ob[op++] = c;
      i++;
      continue;
    }
    if (c < 0x80) {
      wPct(c);
      i++;
      continue;
    }
    const more = (c & 0xe0) === 0xc0 ? 1 : (c & 0xf0) === 0xe0 ? 2 : (c & 0xf8) === 0xf0 ? 3 : -1;
    if (more < 0) {
      wPct(c);
      i++;
      continue;
    }
    let k = 1;
    while (k <= more && i + k < n && (buf[i + k]! & 0xc0) === 0x80) k++;
    if (k <= more) {
      for (let j = 0; j < k; j++) wPct(buf[i + j]!);
      i += k;
      continue;
    }
    if (validUtf8Seq(buf, i, more)) {
      obHigh = true;
      for (let j = 0; j <= more; j++) ob[op++] = buf[i + j]!;
    } else for (let j = 0; j <= more; j++) wPct(buf[i + j]!);
    i += more + 1;
  }
}

/** the buffer as a string; the buffer is emptied */
function takeJson(): string {
  const r = op === 0 ? "" : obHigh ? ob.toString("utf8", 0, op) : ob.toString("latin1", 0, op);
  op = 0;
  obHigh = false;
  return r;
}

// ---------------------------------------------------------------------------------------------------
// one line → one record's JSON

const V_NULL = 0;
const V_NUM = 1;
const V_STR = 2;
const V_HEX = 3;
const V_BRACES = 4;

// results of the value scanners (module state: no allocation per value)
let gNext = 0;
let gKind = V_NULL;
let gA = 0;
let gB = 0;

const SP = 32;
const GS = 0x1d;

function isSepAt(s: string, i: number, end: number): boolean {
  if (i >= end) return true;
  const c = s.charCodeAt(i);
  return c === SP || c === GS;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isKeyChar(c: number): boolean {
  return isAlpha(c) || isDigit(c) || c === 95 || c === 45;
}

/** `!` or `#`…`~`: laurel's characters of a safe string */
function isSafe(c: number): boolean {
  return c === 33 || (c >= 35 && c <= 126);
}

/** characters of a bare value */
function isSafeUnquoted(c: number): boolean {
  return (c >= 35 && c <= 38) || (c >= 40 && c <= 122) || c === 33 || c === 124 || c === 126;
}

const I64_MAX = "9223372036854775807";
const I64_MIN = "9223372036854775808";
const U64_HEX_MAX = 16;

/** a decimal that fits i64, followed by a separator */
function scanDec(s: string, v: number, end: number): boolean {
  let j = v;
  let neg = false;
  const c0 = s.charCodeAt(j);
  if (c0 === 45 || c0 === 43) {
    neg = c0 === 45;
    j++;
  }
  const ds = j;
  while (j < end && isDigit(s.charCodeAt(j))) j++;
  if (j === ds || !isSepAt(s, j, end)) return false;
  let z = ds;
  while (z < j - 1 && s.charCodeAt(z) === 48) z++;
  const len = j - z;
  if (len > 19) return false;
  if (len === 19 && s.slice(z, j) > (neg ? I64_MIN : I64_MAX)) return false;
  if (len === 1 && s.charCodeAt(z) === 48) neg = false;
  gNumBase = neg ? NUM_NEG : NUM_DEC;
  gA = z;
  gB = j;
  gKind = V_NUM;
  gNext = j;
  return true;
}

const NUM_DEC = 0;
const NUM_NEG = 1;
const NUM_HEX = 2;
const NUM_OCT = 3;
let gNumBase = NUM_DEC;

/** the number just scanned as JSON text */
function numText(s: string): string {
  const d = s.slice(gA, gB);
  switch (gNumBase) {
    case NUM_NEG:
      return `-${d}`;
    case NUM_HEX:
      return `"0x${d.toLowerCase()}"`;
    case NUM_OCT:
      return `"0o${d}"`;
    default:
      return d;
  }
}

/** the number just scanned, written as JSON */
function wNum(s: string): void {
  const a = gA;
  const b = gB;
  need(b - a + 4);
  const base = gNumBase;
  if (base === NUM_DEC || base === NUM_NEG) {
    if (base === NUM_NEG) ob[op++] = 45;
    for (let i = a; i < b; i++) ob[op++] = s.charCodeAt(i);
    return;
  }
  ob[op++] = 34;
  ob[op++] = 48;
  ob[op++] = base === NUM_HEX ? 120 : 111;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    ob[op++] = c >= 65 && c <= 70 ? c + 32 : c;
  }
  ob[op++] = 34;
}

/** hexadecimal digits that fit u64, followed by a separator → "0x…" */
function scanHexNum(s: string, v: number, end: number, radix8: boolean): boolean {
  let j = v;
  if (radix8) while (j < end && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 55) j++;
  else while (j < end && isHexDigit(s.charCodeAt(j))) j++;
  if (j === v || !isSepAt(s, j, end)) return false;
  let z = v;
  while (z < j - 1 && s.charCodeAt(z) === 48) z++;
  const len = j - z;
  if (radix8) {
    if (len > 22 || (len === 22 && s.charCodeAt(z) > 49)) return false;
  } else if (len > U64_HEX_MAX) return false;
  gNumBase = radix8 ? NUM_OCT : NUM_HEX;
  gA = z;
  gB = j;
  gKind = V_NUM;
  gNext = j;
  return true;
}

/** laurel's "encoded" value: "safe string", hex bytes, (null) or ? */
function scanEncoded(s: string, v: number, end: number): boolean {
  const c = s.charCodeAt(v);
  if (c === 34) {
    let j = v + 1;
    while (j < end && isSafe(s.charCodeAt(j))) j++;
    if (j < end && s.charCodeAt(j) === 34) {
      gKind = V_STR;
      gA = v + 1;
      gB = j;
      gNext = j + 1;
      return true;
    }
    return false;
  }
  if (isHexDigit(c)) {
    let j = v + 1;
    while (j < end && isHexDigit(s.charCodeAt(j))) j++;
    if (((j - v) & 1) === 0 && isSepAt(s, j, end)) {
      gKind = V_HEX;
      gA = v;
      gB = j;
      gNext = j;
      return true;
    }
    return false;
  }
  if (c === 40 && s.startsWith("(null)", v) && isSepAt(s, v + 6, end)) {
    gKind = V_NULL;
    gNext = v + 6;
    return true;
  }
  if (c === 63 && isSepAt(s, v + 1, end)) {
    gKind = V_NULL;
    gNext = v + 1;
    return true;
  }
  return false;
}

function strResult(a: number, b: number, next: number, kind = V_STR): true {
  gKind = kind;
  gA = a;
  gB = b;
  gNext = next;
  return true;
}

/** end of a key (`[A-Za-z][A-Za-z0-9_-]*`) at i, or -1 */
function keyEnd(s: string, i: number, end: number): number {
  if (i >= end || !isAlpha(s.charCodeAt(i))) return -1;
  let j = i + 1;
  while (j < end && isKeyChar(s.charCodeAt(j))) j++;
  return j;
}

/** `'k=v k="v" k={…}'`: the end of the list (at the closing quote) or -1 */
function kvSingleQuoted(s: string, v: number, end: number): number {
  let j = v + 1;
  let first = true;
  for (;;) {
    let k = j;
    if (!first) {
      if (s.charCodeAt(k) !== SP) break;
      k++;
    }
    const ke = keyEnd(s, k, end);
    if (ke < 0 || s.charCodeAt(ke) !== 61) break;
    let p = ke + 1;
    const c = s.charCodeAt(p);
    if (c === 34) {
      const q = s.indexOf('"', p + 1);
      if (q < 0 || q >= end) break;
      p = q + 1;
    } else if (c === 123) {
      const q = s.indexOf("}", p + 1);
      if (q < 0 || q >= end) break;
      p = q + 1;
    } else {
      while (p < end && isSafe(s.charCodeAt(p)) && s.charCodeAt(p) !== 39) p++;
    }
    j = p;
    first = false;
  }
  return j < end && s.charCodeAt(j) === 39 ? j : -1;
}

/** `{ k=v k='v' k="v" }`: the index of the closing " }" or -1 */
function kvBraced(s: string, v: number, end: number): number {
  let j = v + 2;
  let first = true;
  for (;;) {
    let k = j;
    if (!first) {
      if (s.charCodeAt(k) !== SP) break;
      k++;
    }
    const ke = keyEnd(s, k, end);
    if (ke < 0 || s.charCodeAt(ke) !== 61) break;
    let p = ke + 1;
    const c = s.charCodeAt(p);
    if (c === 39 || c === 34) {
      const q = s.indexOf(c === 39 ? "'" : '"', p + 1);
      if (q < 0 || q >= end) break;
      p = q + 1;
    } else {
      while (p < end && isSafe(s.charCodeAt(p))) p++;
    }
    j = p;
    first = false;
  }
  return s.startsWith(" }", j) && j + 2 <= end ? j : -1;
}

/** any other value laurel accepts; `subjMode` for SYSCALL/USER_AUTH `subj=`, `avcInfo` for AVC `info=` */
function scanUnspec(s: string, v: number, end: number, subjMode: boolean, avcInfo: boolean): boolean {
  if (subjMode) {
    let j = v;
    if (s.charCodeAt(j) === 61) j++;
    while (j < end && isSafe(s.charCodeAt(j))) j++;
    if (s.startsWith(" (", j)) {
      let k = j + 2;
      const c = s.charCodeAt(k);
      if (isAlpha(c) || c === 95) {
        k++;
        while (k < end && (isAlpha(s.charCodeAt(k)) || isDigit(s.charCodeAt(k)) || s.charCodeAt(k) === 95))
          k++;
        if (s.charCodeAt(k) === 41 && k < end) j = k + 1;
      }
    }
    return strResult(v, j, j);
  }
  const c = s.charCodeAt(v);
  if (avcInfo && c === 34) {
    const q = s.indexOf('"', v + 1);
    if (q >= 0 && q < end) return strResult(v + 1, q, q + 1);
  }
  if (v < end && isSafeUnquoted(c)) {
    let j = v + 1;
    while (j < end && isSafeUnquoted(s.charCodeAt(j))) j++;
    if (isSepAt(s, j, end)) return strResult(v, j, j);
  }
  if (c === 39) {
    const k = kvSingleQuoted(s, v, end);
    if (k >= 0) return strResult(v + 1, k, k + 1);
    const q = s.indexOf("'", v + 1);
    if (q >= 0 && q < end) return strResult(v + 1, q, q + 1);
  }
  if (c === 34) {
    const q = s.indexOf('"', v + 1);
    if (q >= 0 && q < end) return strResult(v + 1, q, q + 1);
  }
  if (c === 123) {
    if (s.charCodeAt(v + 1) === SP) {
      const k = kvBraced(s, v, end);
      if (k >= 0) return strResult(v + 2, k, k + 2, V_BRACES);
    }
    const q = s.indexOf("}", v + 1);
    if (q >= 0 && q < end) return strResult(v + 1, q, q + 1, V_BRACES);
  }
  if (isSepAt(s, v, end)) {
    gKind = V_NULL;
    gNext = v;
    return true;
  }
  return false;
}

/** the value just scanned, written as JSON */
function wValue(s: string): void {
  switch (gKind) {
    case V_NUM:
      wNum(s);
      return;
    case V_STR:
      need(1);
      ob[op++] = 34;
      wText(s, gA, gB);
      need(1);
      ob[op++] = 34;
      return;
    case V_HEX:
      need(1);
      ob[op++] = 34;
      wHex(s, gA, gB);
      need(1);
      ob[op++] = 34;
      return;
    case V_BRACES:
      need(2);
      ob[op++] = 34;
      ob[op++] = 123;
      wText(s, gA, gB);
      need(2);
      ob[op++] = 125;
      ob[op++] = 34;
      return;
    default:
      wAscii("null");
  }
}

/** the value as bytes, one char per byte (EXECVE arguments, PROCTITLE), or null */
function valueLatin1(s: string): string | null {
  switch (gKind) {
    case V_HEX:
      return hexLatin1(s, gA, gB);
    case V_STR:
    case V_BRACES: {
      const t = gKind === V_BRACES ? `{${s.slice(gA, gB)}}` : s.slice(gA, gB);
      return Buffer.from(t, "utf8").toString("latin1");
    }
    case V_NUM: {
      const t = numText(s);
      return t.charCodeAt(0) === 34 ? t.slice(1, -1) : t;
    }
    default:
      return null;
  }
}

/** an unsigned decimal of at most 5 digits that fits u16 at i: its end, value in gNum-free global */
let gU16 = 0;
function scanU16(s: string, i: number, end: number): number {
  let j = i;
  let v = 0;
  while (j < end && isDigit(s.charCodeAt(j))) {
    v = v * 10 + s.charCodeAt(j) - 48;
    if (v > 65535) return -1;
    j++;
  }
  if (j === i) return -1;
  gU16 = v;
  return j;
}

/** the pieces of a record laurel's coalescing needs beyond its own JSON */
export interface LaurelPart {
  /** the type as laurel writes it */
  name: string;
  user: boolean;
  t: number;
  /**
   * the record's members as JSON, comma-separated, without braces. SYSCALL: up to and with its
   * ARGV/ARCH/SYSCALL members; EXECVE: the members other than arguments; PROCTITLE: the ARGV member.
   */
  body: string;
  /** SYSCALL: `arch` as normalised hex (no 0x), for the byte order of SOCKADDR */
  arch?: string;
  /** EXECVE: [arg, fragment (-1 for aN), bytes or null] for each argument value */
  args?: Array<[number, number, string | null]>;
  /** SOCKADDR: the first hex `saddr`, its members before and after */
  saddr?: { hex: string; before: string; after: string };
}

const X86_64_RENAMES: Record<string, string> = { pread64: "pread", pwrite64: "pwrite" };
const SYSCALL_TAIL = new Map<string, string[]>();
const ARG_A = new Int32Array(32);
const ARG_B = new Int32Array(32);
let lastArch = "";

/** `,"ARCH":…,"SYSCALL":…` for an arch (normalised hex) and a syscall number (-1: none) */
function syscallTail(arch: string | undefined, nr: number): string {
  if (arch === undefined) return "";
  let byNr = SYSCALL_TAIL.get(arch);
  if (byNr === undefined) {
    byNr = [];
    if (SYSCALL_TAIL.size < 64) SYSCALL_TAIL.set(arch, byNr);
  }
  const slot = nr + 1;
  let tail = slot < 4096 ? byNr[slot] : undefined;
  if (tail !== undefined) return tail;
  tail = "";
  const an = archName(arch);
  if (an !== undefined) {
    tail = `,"ARCH":"${an}"`;
    if (nr >= 0) {
      const sn = syscallName(arch, nr);
      // laurel's x86_64 table (from audit-userspace) names 17 and 18 pread/pwrite
      if (sn !== undefined) tail += `,"SYSCALL":"${an === "x86_64" ? (X86_64_RENAMES[sn] ?? sn) : sn}"`;
    }
  }
  if (slot < 4096) byNr[slot] = tail;
  return tail;
}

let gError = "";

/**
 * The body of a record (from `i`, after the header) as laurel writes it, or null when laurel refuses
 * the line (`gError` says why).
 */
function laurelBody(s: string, i: number, end: number, info: TypeInfo): LaurelPart | null {
  const t = info.t;
  op = 0;
  obHigh = false;
  let special = "";
  // avc: denied { read write } for … / netlabel:
  if (info.avc || s.charCodeAt(i) === 97 || s.charCodeAt(i) === 110) {
    if (s.startsWith("avc:", i)) {
      let j = i + 4;
      while (s.charCodeAt(j) === SP || s.charCodeAt(j) === 9) j++;
      const verdict = s.startsWith("granted", j) ? "granted" : s.startsWith("denied", j) ? "denied" : "";
      if (verdict !== "") {
        j += verdict.length;
        while (s.charCodeAt(j) === SP || s.charCodeAt(j) === 9) j++;
        if (s.charCodeAt(j) === 123) {
          j++;
          while (s.charCodeAt(j) === SP || s.charCodeAt(j) === 9) j++;
          const perms: string[] = [];
          for (;;) {
            const c = s.charCodeAt(j);
            if (!(isAlpha(c) || c === 95) || j >= end) break;
            let k = j + 1;
            while (
              k < end &&
              (isAlpha(s.charCodeAt(k)) || isDigit(s.charCodeAt(k)) || s.charCodeAt(k) === 95)
            )
              k++;
            perms.push(s.slice(j, k));
            j = k;
            while (s.charCodeAt(j) === SP || s.charCodeAt(j) === 9) j++;
          }
          if (perms.length > 0 && s.charCodeAt(j) === 125) {
            j++;
            while (s.charCodeAt(j) === SP || s.charCodeAt(j) === 9) j++;
            if (s.startsWith("for", j)) {
              j += 3;
              while (j < end && (s.charCodeAt(j) === SP || s.charCodeAt(j) === 9)) j++;
              special = `"${verdict}":[${perms.map((p) => `"${p}"`).join(",")}]`;
              i = j;
            }
          }
        }
      }
    } else if (s.startsWith("netlabel:", i)) {
      let j = i + 9;
      while (j < end && (s.charCodeAt(j) === SP || s.charCodeAt(j) === 9)) j++;
      special = `"netlabel":null`;
      i = j;
    }
  }
  if (info.policyLoad && s.startsWith("policy loaded ", i)) i += 14;

  let nArgs = 0;
  let argvText: string | null = null; // only when an argument is not a 64-bit number (kept as text)
  let arch: string | undefined;
  let nr = -1;
  let args: Array<[number, number, string | null]> | undefined;
  let saddr: LaurelPart["saddr"];
  let proctitle: string | null | undefined;
  const syscall = t === T_SYSCALL;
  const execve = t === T_EXECVE;
  let first = true;
  let fi = -1;
  const keys = info.keys;
  const kinds = info.kinds;
  while (i < end) {
    fi++;
    // key
    let ke: number;
    let argNo = -1;
    let argFrag = -1;
    let argLen = false;
    const c0 = s.charCodeAt(i);
    if ((syscall || execve) && c0 === 97 && isDigit(s.charCodeAt(i + 1))) {
      ke = scanU16(s, i + 1, end);
      if (ke < 0) return refuse(i);
      argNo = gU16;
      if (execve) {
        if (s.startsWith("_len", ke)) {
          ke += 4;
          argLen = true;
        } else if (s.charCodeAt(ke) === 91) {
          const fe = scanU16(s, ke + 1, end);
          if (fe < 0 || s.charCodeAt(fe) !== 93) return refuse(i);
          argFrag = gU16;
          ke = fe + 1;
        }
      }
    } else {
      const known = keys[fi];
      if (known !== undefined && s.startsWith(known, i) && s.charCodeAt(i + known.length) === 61)
        ke = i + known.length;
      else {
        ke = keyEnd(s, i, end);
        if (ke < 0) return refuse(i);
        if (fi < 64) {
          const k = s.slice(i, ke);
          keys[fi] = k;
          kinds[fi] = fieldKind(k);
        }
      }
    }
    if (ke >= end || s.charCodeAt(ke) !== 61) return refuse(i);
    const v = ke + 1;
    if (argNo >= 0 && !argLen) {
      if (syscall) {
        // a call argument: hex digits; past 64 bits laurel keeps the text
        let j = v;
        while (j < end && isHexDigit(s.charCodeAt(j))) j++;
        if (j === v || !isSepAt(s, j, end)) return refuse(i);
        const ok = scanHexNum(s, v, end, false);
        if (argvText === null && ok && nArgs < 32) {
          ARG_A[nArgs] = gA;
          ARG_B[nArgs] = gB;
        } else {
          if (argvText === null) {
            argvText = "";
            for (let k = 0; k < nArgs; k++)
              argvText += `${k === 0 ? "" : ","}"0x${s.slice(ARG_A[k], ARG_B[k]).toLowerCase()}"`;
          }
          argvText += `${nArgs === 0 ? "" : ","}${ok ? numText(s) : `"${escText(s, v, j)}"`}`;
        }
        nArgs++;
        gNext = j;
      } else {
        if (!scanEncoded(s, v, end)) return refuse(i);
        args ??= [];
        args.push([argNo, argFrag, valueLatin1(s)]);
      }
    } else {
      const key = fi < 64 && !argLen ? keys[fi]! : s.slice(i, ke);
      const kind = argLen ? F_DEC : fi < 64 ? kinds[fi]! : fieldKind(key);
      let ok: boolean;
      if (argLen) ok = scanDec(s, v, end);
      else if (kind === F_ENC) ok = scanEncoded(s, v, end);
      else if (kind === F_DEC) ok = scanDec(s, v, end);
      else ok = scanHexNum(s, v, end, kind === F_OCT);
      if (!ok) {
        const subj = info.subjMode && key === "subj";
        if (!scanUnspec(s, v, end, subj, info.avc && key === "info")) return refuse(v);
      }
      if (syscall) {
        if (key === "ARCH" || key === "SYSCALL") {
          i = gNext;
          if (!skipSep()) return refuse(i);
          i = gNext;
          continue;
        }
        if (key === "arch" && arch === undefined && gKind === V_NUM) {
          // most lines repeat the last arch: reuse its string
          arch =
            gB - gA === lastArch.length && s.startsWith(lastArch, gA)
              ? lastArch
              : s.slice(gA, gB).toLowerCase();
          lastArch = arch;
        } else if (key === "syscall" && nr < 0 && gKind === V_NUM && gNumBase === NUM_DEC && gB - gA < 7)
          nr = digitsValue(s, gA, gB);
      }
      if (
        t === T_SOCKADDR &&
        (key === "SADDR" || (key === "saddr" && saddr === undefined && gKind === V_HEX))
      ) {
        if (key === "saddr") {
          saddr = { hex: s.slice(gA, gB), before: takeJson(), after: "" };
          first = true;
        }
        i = gNext;
        if (!skipSep()) return refuse(i);
        i = gNext;
        continue;
      }
      if (t === T_PROCTITLE && key === "proctitle" && proctitle === undefined) {
        proctitle = gKind === V_NULL ? null : valueLatin1(s);
      }
      if (argLen) {
        i = gNext;
        if (!skipSep()) return refuse(i);
        i = gNext;
        continue;
      }
      need(key.length + 4);
      if (!first) ob[op++] = 44;
      ob[op++] = 34;
      for (let k = 0; k < key.length; k++) ob[op++] = key.charCodeAt(k);
      ob[op++] = 34;
      ob[op++] = 58;
      wValue(s);
      first = false;
    }
    i = gNext;
    if (!skipSep()) return refuse(i);
    i = gNext;
  }
  if (special !== "") {
    if (!first) wAscii(",");
    wAscii(special);
    first = false;
  }
  if (syscall) {
    wAscii(first ? '"ARGV":[' : ',"ARGV":[');
    if (argvText !== null) wAscii(argvText);
    else
      for (let k = 0; k < nArgs; k++) {
        need(ARG_B[k]! - ARG_A[k]! + 5);
        if (k > 0) ob[op++] = 44;
        gA = ARG_A[k]!;
        gB = ARG_B[k]!;
        gNumBase = NUM_HEX;
        wNum(s);
      }
    need(1);
    ob[op++] = 93;
    wAscii(syscallTail(arch, nr));
  }
  const body = takeJson();
  const part: LaurelPart = { name: info.name, user: info.user, t, body };
  if (syscall) {
    if (arch !== undefined) part.arch = arch;
  } else if (execve) {
    if (args !== undefined) part.args = args;
  } else if (saddr !== undefined) {
    saddr.after = body;
    part.saddr = saddr;
    part.body = "";
  } else if (t === T_PROCTITLE && typeof proctitle === "string") {
    part.body = `"ARGV":${proctitleJson(proctitle)}`;
  }
  return part;

  /** after a value: the end of the line, or separators and another pair */
  function skipSep(): boolean {
    let j = gNext;
    if (j >= end) return true;
    const c = s.charCodeAt(j);
    if (c !== SP && c !== GS) return false;
    while (j < end && (s.charCodeAt(j) === SP || s.charCodeAt(j) === GS)) j++;
    if (j >= end) return false; // a trailing separator: laurel wants the newline next
    gNext = j;
    return true;
  }
}

function refuse(at: number): null {
  gError = `laurel cannot parse the body at column ${at + 1}`;
  return null;
}

/** PROCTITLE bytes split at NUL as laurel's ARGV list */
function proctitleJson(bytes: string): string {
  const parts = bytes.split("\u0000");
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return `[${parts.map((p) => `"${escLatin1(p)}"`).join(",")}]`;
}

/**
 * One record of a log read the way laurel reads it: the header fields of AuditRecord, the record's JSON
 * (`lj`), and the parsed fields on demand (they are only computed when something asks for them).
 */
export class LaurelRecord implements AuditRecord {
  readonly kind = "record" as const;
  private parsed: AuditRecord | undefined;
  constructor(
    readonly node: string,
    readonly type: string,
    readonly id: string,
    readonly sec: number,
    readonly ms: number,
    readonly serial: number,
    readonly line: number,
    readonly lj: LaurelPart,
    private readonly raw: string,
  ) {}
  get ts(): number {
    return this.sec * 1_000_000 + this.ms * 1000;
  }
  private full(): AuditRecord {
    if (this.parsed === undefined) {
      const r = parseAuditLine(this.raw, this.line);
      this.parsed =
        r !== null && r.kind === "record"
          ? r
          : {
              kind: "record",
              node: this.node,
              type: this.type,
              id: this.id,
              sec: this.sec,
              ms: this.ms,
              serial: this.serial,
              ts: this.ts,
              fields: new Map(),
              line: this.line,
            };
    }
    return this.parsed;
  }
  get fields(): Map<string, AuditValue> {
    return this.full().fields;
  }
  get msg(): Map<string, AuditValue> | undefined {
    return this.full().msg;
  }
  get msgText(): string | undefined {
    return this.full().msgText;
  }
  get enriched(): Map<string, string> | undefined {
    return this.full().enriched;
  }
  get text(): string | undefined {
    return this.full().text;
  }
  get perms(): string[] | undefined {
    return this.full().perms;
  }
  get argParts(): ExecveFragment[] | undefined {
    return this.full().argParts;
  }
  get issue(): string | undefined {
    return undefined;
  }
}

let lastType = "";
let lastInfo: TypeInfo = typeInfo("EOE");

function digitsValue(s: string, a: number, b: number): number {
  let v = 0;
  for (let i = a; i < b; i++) v = v * 10 + s.charCodeAt(i) - 48;
  return v;
}

function readUint(s: string, i: number, end: number): number {
  let j = i;
  while (j < end && isDigit(s.charCodeAt(j))) j++;
  return j;
}

/**
 * Read one log line as laurel 0.5.1 does: the record with its JSON, null for a line that carries no
 * record (blank, `#` comment), or an error for a line laurel refuses (with why).
 */
export function readLaurelLine(line: string, lineNo: number): LaurelRecord | AuditParseError | null {
  const end = line.length;
  let i = 0;
  let node = "";
  if (line.startsWith("node=")) {
    let j = 5;
    while (j < end) {
      const c = line.charCodeAt(j);
      if (c === SP || c === 9) break;
      j++;
    }
    if (j === 5 || line.charCodeAt(j) !== SP) return headerError(line, lineNo);
    node = line.slice(5, j);
    i = j;
    while (line.charCodeAt(i) === SP) i++;
  }
  if (!line.startsWith("type=", i)) return headerError(line, lineNo);
  const ts = i + 5;
  let te = ts;
  while (te < end) {
    const c = line.charCodeAt(te);
    if (!(isAlpha(c) || isDigit(c) || c === 95)) break;
    te++;
  }
  if (te === ts) return headerError(line, lineNo);
  if (line.charCodeAt(te) === 91 /* [ */) {
    const de = readUint(line, te + 1, end);
    if (de === te + 1 || line.charCodeAt(de) !== 93 || line.slice(ts, te) !== "UNKNOWN")
      return headerError(line, lineNo);
    te = de + 1;
  }
  if (line.charCodeAt(te) !== SP) return headerError(line, lineNo);
  let type = lastType;
  let info = lastInfo;
  if (te - ts !== type.length || !line.startsWith(type, ts)) {
    type = line.slice(ts, te);
    info = typeInfo(type);
    lastType = type;
    lastInfo = info;
  }
  i = te;
  while (line.charCodeAt(i) === SP) i++;
  if (!line.startsWith("msg=audit(", i)) return headerError(line, lineNo);
  const a = i + 10;
  const secEnd = readUint(line, a, end);
  if (secEnd === a || secEnd - a > 15 || line.charCodeAt(secEnd) !== 46) return headerError(line, lineNo);
  const msEnd = readUint(line, secEnd + 1, end);
  if (msEnd === secEnd + 1 || msEnd - secEnd > 16 || line.charCodeAt(msEnd) !== 58)
    return headerError(line, lineNo);
  const serEnd = readUint(line, msEnd + 1, end);
  if (serEnd === msEnd + 1 || line.charCodeAt(serEnd) !== 41 || line.charCodeAt(serEnd + 1) !== 58)
    return headerError(line, lineNo);
  const sec = digitsValue(line, a, secEnd);
  const ms = digitsValue(line, secEnd + 1, msEnd);
  const serial = digitsValue(line, msEnd + 1, serEnd);
  if (serial > 4294967295) return headerError(line, lineNo);
  let id = line.slice(a, serEnd);
  if (msEnd - secEnd !== 4 || ms > 999 || (line.charCodeAt(a) === 48 && secEnd - a > 1)) {
    // laurel prints the id from its numbers: milliseconds on three digits
    const t = sec * 1000 + ms;
    id = `${Math.floor(t / 1000)}.${String(t % 1000).padStart(3, "0")}:${serial}`;
  }
  i = serEnd + 2;
  while (i < end && (line.charCodeAt(i) === SP || line.charCodeAt(i) === 9)) i++;
  const part = laurelBody(line, i, end, info);
  if (part === null) return { kind: "error", line: lineNo, message: `${gError} (${info.name})` };
  const t = sec * 1000 + ms;
  return new LaurelRecord(node, type, id, Math.floor(t / 1000), t % 1000, serial, lineNo, part, line);
}

function headerError(line: string, lineNo: number): AuditParseError | null {
  const r = parseAuditLine(line, lineNo);
  if (r === null || r.kind === "error") return r;
  return { kind: "error", line: lineNo, message: `laurel cannot parse the header of ${r.type}` };
}

/**
 * Why laurel 0.5.1 refuses a record it would otherwise read, or null when it accepts it (`line` is the
 * raw line).
 */
export function laurelRefusal(_r: AuditRecord, line: string): string | null {
  const x = readLaurelLine(line, 0);
  return x !== null && x.kind === "error" ? x.message : null;
}

// ---------------------------------------------------------------------------------------------------
// sockaddr as laurel writes it

function u16le(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8);
}
function u16be(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}
function u32(b: Uint8Array, i: number, be: boolean): number {
  return be
    ? ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0
    : ((b[i + 3]! << 24) | (b[i + 2]! << 16) | (b[i + 1]! << 8) | b[i]!) >>> 0;
}

/**
 * laurel's SADDR object for a sockaddr's bytes, or null when laurel keeps the raw bytes: an unknown
 * family, or fewer bytes than the family's struct (110 for a unix socket, 16 inet, 28 inet6, 12
 * netlink, 16 vsock). The family and the host-order fields are read little-endian as laurel does on
 * x86, big-endian when the recording machine was (ppc64, s390x: laurel keeps those raw).
 */
export function laurelSaddrJson(b: Uint8Array, bigEndian: boolean): string | null {
  if (b.length < 2) return null;
  const fam = bigEndian ? u16be(b, 0) : u16le(b, 0);
  switch (fam) {
    case 1: {
      if (b.length < 110) return null;
      let p = b[2] === 0 ? 3 : 2;
      const start = p;
      while (p < 110 && b[p] !== 0) p++;
      return `{"saddr_fam":"local","path":"${escBytes(b.subarray(start, p), p - start)}"}`;
    }
    case 2:
      if (b.length < 16) return null;
      return `{"saddr_fam":"inet","addr":"${b[4]}.${b[5]}.${b[6]}.${b[7]}","port":${u16be(b, 2)}}`;
    case 10:
      if (b.length < 28) return null;
      return `{"saddr_fam":"inet6","addr":"${formatIpv6(b, 8)}","port":${u16be(b, 2)},"flowinfo":${u32(b, 4, true)},"scope_id":${u32(b, 24, bigEndian)}}`;
    case 16:
      if (b.length < 12) return null;
      return `{"saddr_fam":"netlink","pid":${u32(b, 4, bigEndian)},"groups":"0x${u32(b, 8, bigEndian).toString(16)}"}`;
    case 40:
      if (b.length < 16) return null;
      return `{"saddr_fam":"vsock","cid":${u32(b, 8, bigEndian)},"port":${u32(b, 4, bigEndian)}}`;
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------
// events

export type Json = string | number | null | Json[] | { [k: string]: Json };

/**
 * Enrichment added to an event's JSON (process table, labels, container, hashes): `syscall` members go at
 * the end of the SYSCALL object (laurel's `PPID`, `PID`, `LABELS`, …; ignored when the event has no
 * SYSCALL), `top` members at the end of the top-level object (`PARENT_INFO`, `CONTAINER_INFO`, …).
 */
export interface LaurelExtras {
  syscall?: { [k: string]: Json };
  top?: { [k: string]: Json };
}

function membersJson(o: { [k: string]: Json }): string {
  let s = "";
  for (const k of Object.keys(o)) s += `,${JSON.stringify(k)}:${JSON.stringify(o[k])}`;
  return s;
}

function obj(body: string, extra = ""): string {
  if (body === "") return extra === "" ? "{}" : `{${extra.slice(1)}}`;
  return `{${body}${extra}}`;
}

function execveJson(parts: LaurelPart[]): string {
  let body = "";
  const byArg: Array<Array<[number, string | null]> | undefined> = [];
  let argc = -1;
  for (const p of parts) {
    if (p.body !== "") {
      body += body === "" ? p.body : `,${p.body}`;
      if (argc < 0) {
        const m = /(?:^|,)"argc":(\d+)/.exec(p.body);
        if (m !== null) argc = Number(m[1]);
      }
    }
    if (p.args === undefined) continue;
    for (const [arg, frag, bytes] of p.args) {
      const list = byArg[arg];
      if (list === undefined) byArg[arg] = [[frag, bytes]];
      else list.push([frag, bytes]);
    }
  }
  const n = Math.max(argc, byArg.length);
  let argv = "";
  for (let k = 0; k < n; k++) {
    const list = byArg[k];
    let v: string;
    if (list === undefined) v = '""';
    else if (list.length === 1) v = list[0]![1] === null ? "null" : `"${escLatin1(list[0]![1]!)}"`;
    else {
      list.sort((x, y) => x[0] - y[0]);
      v = `"${escLatin1(list.map((x) => x[1] ?? "").join(""))}"`;
    }
    argv += k === 0 ? v : `,${v}`;
  }
  return obj(body, `,"ARGV":[${argv}]`);
}

function sockaddrJson(p: LaurelPart, bigEndian: boolean): string {
  const sa = p.saddr!;
  const b = hexBytes(sa.hex);
  const decoded = b === null ? null : laurelSaddrJson(b, bigEndian);
  if (decoded !== null) {
    const body = sa.before === "" ? sa.after : sa.after === "" ? sa.before : `${sa.before},${sa.after}`;
    return obj(body, `,"SADDR":${decoded}`);
  }
  const raw = `"saddr":"${escBytes(b ?? new Uint8Array(0), b === null ? 0 : b.length)}"`;
  let body = sa.before === "" ? raw : `${sa.before},${raw}`;
  if (sa.after !== "") body += `,${sa.after}`;
  return obj(body);
}

/** the event's JSON from records that carry their laurel JSON */
function fastEventJson(ev: AuditEvent, parts: LaurelPart[], extras: LaurelExtras | undefined): string {
  let bigEndian = false;
  for (const p of parts) if (p.t === T_SYSCALL && p.arch !== undefined) bigEndian = archIsBigEndian(p.arch);
  const names: string[] = [];
  const groups: LaurelPart[][] = [];
  for (const p of parts) {
    if (p.t === T_EOE) continue;
    const k = names.indexOf(p.name);
    if (k < 0) {
      names.push(p.name);
      groups.push([p]);
    } else groups[k]!.push(p);
  }
  let out = `{"ID":"${ev.id}"`;
  if (ev.node !== "") out += `,"NODE":"${escText(ev.node, 0, ev.node.length)}"`;
  const scExtra = extras?.syscall !== undefined ? membersJson(extras.syscall) : "";
  const single = parts.length === 1;
  for (let g = 0; g < names.length; g++) {
    const list = groups[g]!;
    const p0 = list[0]!;
    out += `,"${p0.name}":`;
    switch (p0.t) {
      case T_SYSCALL:
        out += obj(p0.body, scExtra);
        continue;
      case T_EXECVE:
        out += execveJson(list);
        continue;
      case T_PROCTITLE:
      case T_SINGLE:
        out += obj(p0.body);
        continue;
    }
    if (p0.user && single) {
      out += obj(p0.body);
      continue;
    }
    out += "[";
    for (let k = 0; k < list.length; k++) {
      const p = list[k]!;
      if (k > 0) out += ",";
      out += p.saddr !== undefined ? sockaddrJson(p, bigEndian) : obj(p.body);
    }
    out += "]";
  }
  if (extras?.top !== undefined) out += membersJson(extras.top);
  return `${out}}`;
}

/** one line of laurel's output (without the newline) for an event, with optional enrichment */
export function laurelEventJson(ev: AuditEvent, extras?: LaurelExtras): string {
  const recs = ev.records;
  const parts: LaurelPart[] = [];
  for (let k = 0; k < recs.length; k++) {
    const r = recs[k]!;
    if (!(r instanceof LaurelRecord)) break;
    parts.push(r.lj);
  }
  if (parts.length === recs.length) return fastEventJson(ev, parts, extras);
  const o = laurelEventObject(ev);
  if (extras !== undefined) {
    const sc = o.SYSCALL;
    if (
      extras.syscall !== undefined &&
      sc !== undefined &&
      sc !== null &&
      typeof sc === "object" &&
      !Array.isArray(sc)
    )
      Object.assign(sc, extras.syscall);
    if (extras.top !== undefined) Object.assign(o, extras.top);
  }
  return JSON.stringify(o);
}

// ---------------------------------------------------------------------------------------------------
// events from parsed records (AuditRecord built elsewhere, without the line): the same layout from the
// fields maps. A repeated key is written once there, and a quoted value cannot be told from a bare one.

function isDecText(s: string): boolean {
  let i = s.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i >= s.length) return false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function isHexText(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) if (!isHexDigit(s.charCodeAt(i))) return false;
  return true;
}

/** a decoded string (UTF-8, or latin1 when the bytes were not UTF-8) back to laurel's text */
function laurelText(s: string): string {
  let plain = true;
  let wide = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) wide = true;
    if (c >= 0x80 || !plainByte(c)) plain = false;
  }
  if (plain) return s;
  if (!wide) {
    const latin = Buffer.from(s, "latin1");
    // a latin1 string that is not valid UTF-8 came from bytes that were not UTF-8
    if (!latin.toString("utf8").includes("\ufffd") || /[\u0080-\u00ff]/.test(s) === false) {
      return laurelBytesText(Buffer.from(s, "utf8"));
    }
    return laurelBytesText(latin);
  }
  return laurelBytesText(Buffer.from(s, "utf8"));
}

/** the JSON value laurel writes for one field */
export function laurelFieldValue(type: string, key: string, v: AuditValue): Json {
  if (v === null || v === "") return null;
  const kind = fieldKind(key);
  if (kind === F_DEC && isDecText(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  if (kind === F_HEX && isHexText(v) && v.replace(/^0+/, "").length <= 16)
    return `0x${BigInt(`0x${v}`).toString(16)}`;
  if (kind === F_OCT && /^[0-7]+$/.test(v)) return `0o${BigInt(`0o${v}`).toString(8)}`;
  if (kind === F_ENC && (type !== "SYSCALL" || key !== "subj") && isHexText(v) && (v.length & 1) === 0) {
    const b = hexBytes(v);
    if (b !== null) return laurelBytesText(b);
  }
  return laurelText(v);
}

function recordObject(r: AuditRecord): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  for (const [k, v] of r.fields) {
    let val = laurelFieldValue(r.type, k, v);
    if (k === "subj" && typeof val === "string" && r.text !== undefined) {
      for (const w of r.text.split(" ")) if (/^\(\w+\)$/.test(w)) val = `${val} ${w}`;
    }
    o[k] = val;
  }
  if (r.msgText !== undefined) o.msg = laurelText(r.msgText);
  if (r.enriched) {
    for (const [k, v] of r.enriched) {
      if (k === "ARCH" || k === "SYSCALL" || k === "SADDR") continue;
      o[k] = laurelText(v);
    }
  }
  if (r.perms !== undefined && r.text !== undefined) {
    const verdict = r.text.includes("granted") ? "granted" : r.text.includes("denied") ? "denied" : "";
    if (verdict !== "") o[verdict] = r.perms;
  }
  if (r.text?.startsWith("netlabel:")) o.netlabel = null;
  return o;
}

function syscallObject(r: AuditRecord): { [k: string]: Json } {
  const o = recordObject(r);
  const argv: Json[] = [];
  for (const k of Object.keys(o)) {
    if (/^a\d+$/.test(k)) {
      const v = r.fields.get(k);
      argv.push(
        v === null || v === undefined ? null : isHexText(v) ? `0x${BigInt(`0x${v}`).toString(16)}` : v,
      );
      delete o[k];
    }
  }
  o.ARGV = argv;
  const arch = r.fields.get("arch");
  const nr = r.fields.get("syscall");
  if (arch) {
    const n = nr === null || nr === undefined || !/^\d{1,6}$/.test(nr) ? -1 : Number(nr);
    const tail = syscallTail(arch.toLowerCase().replace(/^0+(?=.)/, ""), n);
    if (tail !== "") Object.assign(o, JSON.parse(`{${tail.slice(1)}}`));
  }
  return o;
}

/** the laurel JSON object of one event built from parsed records */
export function laurelEventObject(ev: AuditEvent): { [k: string]: Json } {
  const out: { [k: string]: Json } = { ID: ev.id };
  if (ev.node !== "") out.NODE = ev.node;
  let bigEndian = false;
  for (const r of ev.records) {
    if (r.type === "SYSCALL") {
      const a = r.fields.get("arch");
      if (a) bigEndian = archIsBigEndian(a);
    }
  }
  let execve: AuditRecord[] | null = null;
  for (const r of ev.records) {
    const info = typeInfo(r.type);
    const t = info.name;
    if (info.t === T_EOE) continue;
    if (info.t === T_EXECVE) {
      if (execve === null) {
        execve = [];
        out.EXECVE = {};
      }
      execve.push(r);
      continue;
    }
    if (info.t === T_SYSCALL) {
      if (!("SYSCALL" in out)) out.SYSCALL = syscallObject(r);
      continue;
    }
    if (info.t === T_PROCTITLE) {
      if (!("PROCTITLE" in out)) {
        out.PROCTITLE = { ARGV: proctitleArgv(r.fields.get("proctitle")).map(laurelText) };
      }
      continue;
    }
    if (info.t === T_SINGLE) {
      if (!(t in out)) out[t] = recordObject(r);
      continue;
    }
    if (info.user && ev.records.length === 1) {
      out[t] = recordObject(r);
      continue;
    }
    let o = recordObject(r);
    if (info.t === T_SOCKADDR) {
      const v = r.fields.get("saddr");
      const b = v ? hexBytes(v) : null;
      const sa = b === null ? null : laurelSaddrJson(b, bigEndian);
      if (sa !== null) {
        delete o.saddr;
        o = { ...o, SADDR: JSON.parse(sa) as Json };
      }
    }
    const list = out[t];
    if (Array.isArray(list)) list.push(o);
    else out[t] = [o];
  }
  if (execve !== null) {
    const first = execve[0]!;
    const o: { [k: string]: Json } = {};
    const argc = first.fields.get("argc");
    if (argc !== undefined) o.argc = laurelFieldValue("EXECVE", "argc", argc);
    o.ARGV = execveArgv(execve).argv.map(laurelText);
    out.EXECVE = o;
  }
  return out;
}
