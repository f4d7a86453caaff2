import type { AuditEvent } from "./audit-event-grouper.js";
import {
  type AuditRecord,
  type AuditValue,
  execveArgv,
  HEX_FIELDS,
  proctitleArgv,
} from "./audit-record-parser.js";
import { decodeSockaddr, hexBytes } from "./audit-sockaddr.js";
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
 * SERVICE_*, DAEMON_*, …) an object. Values are typed by field name as laurel does: decimal fields
 * become numbers, hexadecimal ones "0x…" strings, `mode` "0o…", byte fields are hex-decoded and
 * percent-encoded where not printable UTF-8, `(null)`/`?` in byte fields become null. ENRICHED suffix
 * fields (AUID="root" …) are kept as strings.
 */

/** decimal fields (besides every name ending in uid/gid) */
const DEC_FIELDS = new Set([
  "syscall",
  "items",
  "pid",
  "ppid",
  "exit",
  "ses",
  "argc",
  "item",
  "inode",
  "ino",
  "cap_fe",
  "fe",
  "prom",
  "old_prom",
  "res",
  "list",
  "capability",
  "old-ses",
  "oses",
  "opid",
  "sig",
  "compat",
  "entries",
  "family",
  "fd",
  "permissive",
  "audit_backlog_limit",
  "audit_failure",
  "audit_enabled",
  "enabled",
  "old_enabled",
  "lock",
  "old_lock",
]);

/** fields written as hexadecimal numbers */
const HEX_NUM_FIELDS = new Set([
  "arch",
  "cap_fi",
  "cap_fp",
  "cap_fver",
  "cap_pi",
  "cap_pp",
  "cap_pe",
  "cap_pa",
  "fi",
  "fp",
  "fver",
  "flags",
  "code",
  "old_pp",
  "old_pi",
  "old_pe",
  "old_pa",
]);

const OCT_FIELDS = new Set(["mode"]);

const X86_64_RENAMES: Record<string, string> = { pread64: "pread", pwrite64: "pwrite" };

/** kernel record types laurel writes as one object (continuation records merge into it) */
const SINGLE_TYPES = new Set(["SYSCALL", "EXECVE", "CWD", "PROCTITLE"]);

/** numeric record types in [1100, 1300) and [2100, 2999] are user-space messages */
const USER_TYPE_PREFIXES = [
  "USER",
  "CRED_",
  "SERVICE_",
  "DAEMON_",
  "LOGIN_",
  "ACCT_",
  "ADD_",
  "DEL_",
  "CHGRP_ID",
  "CHUSER_ID",
  "GRP_",
  "CRYPTO_",
  "ANOM_LOGIN",
  "ANOM_ADD",
  "ANOM_DEL",
  "ANOM_MOD",
  "ANOM_AMTU",
  "ANOM_RBAC",
  "ANOM_CRYPTO",
  "ANOM_MAX",
  "ANOM_ACCESS",
  "ANOM_EXEC",
  "RESP_",
  "MAC_CONFIG",
  "MAC_POLICY_LOAD_",
  "SYSTEM_",
  "TRUSTED_APP",
  "USYS_",
  "VIRT_",
  "SOFTWARE_UPDATE",
  "TEST",
  "LABEL_",
  "ROLE_",
  "DEV_",
  "FS_RELABEL",
  "USER_",
];

/** whether laurel treats a record type as a user-space message (its own one-record event) */
export function isLaurelUserType(type: string): boolean {
  if (type === "LOGIN" || type === "DAEMON_CONFIG") return type === "DAEMON_CONFIG";
  if (type === "MAC_UNLBL_ALLOW") return true;
  for (const p of USER_TYPE_PREFIXES) if (type.startsWith(p)) return true;
  return false;
}

function isHexText(s: string): boolean {
  const n = s.length;
  if (n === 0 || (n & 1) !== 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isDecText(s: string): boolean {
  let i = s.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i >= s.length) return false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const HEX2 = "0123456789abcdef";

function pct(b: number): string {
  return `%${HEX2[b >> 4]}${HEX2[b & 15]}`;
}

function needsPct(c: number): boolean {
  return c < 0x20 || c === 0x7f || c === 0x25 /* % */;
}

/** bytes → laurel's text: valid UTF-8 kept, control bytes, `%` and invalid bytes percent-encoded */
export function laurelBytesText(b: Uint8Array): string {
  let plain = true;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c >= 0x80 || needsPct(c)) {
      plain = false;
      break;
    }
  }
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  if (plain) return buf.toString("latin1");
  let out = "";
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out += needsPct(c) ? pct(c) : String.fromCharCode(c);
      i++;
      continue;
    }
    const len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len > 0 && i + len <= b.length) {
      const seq = buf.subarray(i, i + len);
      const s = seq.toString("utf8");
      if (s.length > 0 && s.indexOf("\ufffd") < 0) {
        out += s;
        i += len;
        continue;
      }
    }
    out += pct(c);
    i++;
  }
  return out;
}

/** a decoded string (UTF-8, or latin1 when the bytes were not UTF-8) back to laurel's text */
function laurelText(s: string): string {
  let simple = true;
  let wide = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) wide = true;
    if (c >= 0x80 || needsPct(c)) simple = false;
  }
  if (simple) return s;
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

function hexNumber(v: string): string | null {
  if (!isHexText(v) && !/^[0-9a-fA-F]+$/.test(v)) return null;
  return `0x${BigInt(`0x${v}`).toString(16)}`;
}

function octNumber(v: string): string | null {
  if (!/^[0-7]+$/.test(v)) return null;
  return `0o${BigInt(`0o${v}`).toString(8)}`;
}

function decNumber(v: string): number | string {
  if (!isDecText(v)) return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

export type Json = string | number | null | Json[] | { [k: string]: Json };

/** the JSON value laurel writes for one field */
export function laurelFieldValue(type: string, key: string, v: AuditValue): Json {
  if (v === null) return null;
  if (DEC_FIELDS.has(key) || key.endsWith("uid") || key.endsWith("gid")) {
    if (isDecText(v)) return decNumber(v);
  }
  if (HEX_NUM_FIELDS.has(key)) {
    const h = hexNumber(v);
    if (h !== null) return h;
  }
  if (OCT_FIELDS.has(key)) {
    const o = octNumber(v);
    if (o !== null) return o;
  }
  if (type === "SYSCALL" && (key === "success" || key === "tty" || key === "subj")) return laurelText(v);
  if (!HEX_FIELDS.has(key) && isHexText(v)) {
    const b = hexBytes(v);
    if (b !== null) return laurelBytesText(b);
  }
  return laurelText(v);
}

/** `subj` with the AppArmor mode laurel keeps in it (`/usr/sbin/cupsd (enforce)`) */
function subjValue(r: AuditRecord, v: AuditValue): Json {
  const value = laurelFieldValue(r.type, "subj", v);
  if (r.text === undefined || typeof value !== "string") return value;
  for (const w of r.text.split(" ")) if (isModeWord(w)) return `${value} ${w}`;
  return value;
}

function recordObject(r: AuditRecord): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  for (const [k, v] of r.fields) o[k] = k === "subj" ? subjValue(r, v) : laurelFieldValue(r.type, k, v);
  if (r.msgText !== undefined) o.msg = r.msgText;
  if (r.perms !== undefined && r.text !== undefined) {
    const verdict = r.text.includes("granted") ? "granted" : r.text.includes("denied") ? "denied" : "";
    if (verdict !== "") o[verdict] = r.perms;
  }
  if (r.enriched) {
    for (const [k, v] of r.enriched) {
      if (k === "ARCH" || k === "SYSCALL" || k === "SADDR") continue;
      o[k] = v;
    }
  }
  // `netlabel: auid=…`: laurel reads the prefix as a key without a value, after the ENRICHED fields
  if (r.text?.startsWith("netlabel:")) o.netlabel = null;
  return o;
}

function syscallObject(r: AuditRecord): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  const argv: Json[] = [];
  for (const [k, v] of r.fields) {
    if (k.length === 2 && k.charCodeAt(0) === 97 && k.charCodeAt(1) >= 48 && k.charCodeAt(1) <= 51) {
      argv.push(v === null ? null : (hexNumber(v) ?? v));
      continue;
    }
    o[k] = k === "subj" ? subjValue(r, v) : laurelFieldValue(r.type, k, v);
  }
  if (r.enriched) {
    for (const [k, v] of r.enriched) {
      if (k === "ARCH" || k === "SYSCALL") continue;
      o[k] = v;
    }
  }
  o.ARGV = argv;
  const arch = r.fields.get("arch");
  if (arch) {
    const an = archName(arch);
    if (an !== undefined) o.ARCH = an;
    const nr = r.fields.get("syscall");
    if (nr !== undefined && nr !== null && an !== undefined) {
      const sn = syscallName(arch, Number(nr));
      // laurel's x86_64 table (from audit-userspace) names 17 and 18 pread/pwrite
      if (sn !== undefined)
        o.SYSCALL = an === "x86_64" && sn.startsWith("p") ? (X86_64_RENAMES[sn] ?? sn) : sn;
    }
  }
  return o;
}

function execveObject(records: AuditRecord[]): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  const first = records[0]!;
  const argc = first.fields.get("argc");
  if (argc !== undefined) o.argc = laurelFieldValue("EXECVE", "argc", argc);
  o.ARGV = execveArgv(records).argv.map(laurelText);
  return o;
}

function saddrObject(hex: string, bigEndian: boolean | undefined): { [k: string]: Json } | null {
  const sa = decodeSockaddr(hex, bigEndian);
  if (sa === null) return null;
  switch (sa.family) {
    case "inet":
      if (sa.addr === undefined) return null;
      return { saddr_fam: "inet", addr: sa.addr, port: sa.port ?? 0 };
    case "inet6": {
      if (sa.addr === undefined) return null;
      const b = hexBytes(hex)!;
      const flow = b.length >= 8 ? ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0 : 0;
      const scope = b.length >= 28 ? (b[24]! | (b[25]! << 8) | (b[26]! << 16) | (b[27]! << 24)) >>> 0 : 0;
      return { saddr_fam: "inet6", addr: sa.addr, port: sa.port ?? 0, flowinfo: flow, scope_id: scope };
    }
    case "unix":
      return { saddr_fam: "local", path: sa.path ?? "" };
    case "netlink":
      if (sa.pid === undefined) return null;
      return { saddr_fam: "netlink", pid: sa.pid, groups: `0x${(sa.groups ?? 0).toString(16)}` };
    default:
      return null;
  }
}

function sockaddrObject(r: AuditRecord, bigEndian: boolean | undefined): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  for (const [k, v] of r.fields) {
    if (k === "saddr" && v !== null) {
      const sa = saddrObject(v, bigEndian);
      if (sa !== null) {
        o.SADDR = sa;
        continue;
      }
    }
    o[k] = laurelFieldValue(r.type, k, v);
  }
  return o;
}

/** the laurel JSON object of one event */
export function laurelEventObject(ev: AuditEvent): { [k: string]: Json } {
  const out: { [k: string]: Json } = { ID: ev.id };
  if (ev.node !== "") out.NODE = ev.node;
  let bigEndian: boolean | undefined;
  for (const r of ev.records) {
    if (r.type === "SYSCALL") {
      const a = r.fields.get("arch");
      if (a) bigEndian = archIsBigEndian(a);
    }
  }
  let execve: AuditRecord[] | null = null;
  for (const r of ev.records) {
    const t = r.type;
    if (t === "EXECVE") {
      if (execve === null) {
        execve = [];
        out.EXECVE = {};
      }
      execve.push(r);
      continue;
    }
    if (t === "SYSCALL") {
      if (!("SYSCALL" in out)) out.SYSCALL = syscallObject(r);
      continue;
    }
    if (t === "PROCTITLE") {
      if (!("PROCTITLE" in out)) {
        out.PROCTITLE = { ARGV: proctitleArgv(r.fields.get("proctitle")).map(laurelText) };
      }
      continue;
    }
    if (SINGLE_TYPES.has(t)) {
      if (!(t in out)) out[t] = recordObject(r);
      continue;
    }
    if (isLaurelUserType(t) && ev.records.length === 1) {
      out[t] = recordObject(r);
      continue;
    }
    const obj = t === "SOCKADDR" ? sockaddrObject(r, bigEndian) : recordObject(r);
    const list = out[t];
    if (Array.isArray(list)) list.push(obj);
    else out[t] = [obj];
  }
  if (execve !== null) out.EXECVE = execveObject(execve);
  return out;
}

/**
 * Enrichment added to an event's JSON (process table, labels, container, hashes): `syscall` members go at
 * the end of the SYSCALL object (laurel's `PPID`, `PID`, `LABELS`, …; ignored when the event has no
 * SYSCALL), `top` members at the end of the top-level object (`PARENT_INFO`, `CONTAINER_INFO`, …).
 */
export interface LaurelExtras {
  syscall?: { [k: string]: Json };
  top?: { [k: string]: Json };
}

/** one line of laurel's output (without the newline) for an event, with optional enrichment */
export function laurelEventJson(ev: AuditEvent, extras?: LaurelExtras): string {
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

/** free words laurel 0.5.1 accepts before the first key=value of a body */
const ACCEPTED_LEADS = ["netlabel: ", "policy loaded ", "avc: "];

/** an AppArmor mode written after a subject label: `subj=/usr/sbin/ntpd (enforce)` */
function isModeWord(w: string): boolean {
  return w.length > 2 && w.charCodeAt(0) === 40 && w.charCodeAt(w.length - 1) === 41 && w.indexOf("=") < 0;
}

function hasQuote(line: string, from: number, to: number): boolean {
  const q = line.indexOf('"', from);
  return q >= 0 && q < to;
}

/** the body's bare words outside quoted values and `msg='…'`, or null when there are none */
function bareWords(line: string, from: number, to: number): string[] | null {
  const words: string[] = [];
  let i = from;
  while (i < to) {
    const c = line.charCodeAt(i);
    if (c === 32) {
      i++;
      continue;
    }
    let k = i;
    let eq = -1;
    while (k < to) {
      const d = line.charCodeAt(k);
      if (d === 32) break;
      if (d === 61 && eq < 0) {
        eq = k;
        const q = line.charCodeAt(k + 1);
        if (q === 34 || q === 39) {
          const close = q === 34 ? line.indexOf('"', k + 2) : line.lastIndexOf("'", to - 1);
          k = close < 0 || close >= to ? to : close + 1;
          break;
        }
      }
      k++;
    }
    if (eq < 0) words.push(line.slice(i, k));
    else if (line.charCodeAt(eq + 1) !== 34 && line.charCodeAt(eq + 1) !== 39 && hasQuote(line, eq, k)) {
      words.push('"'); // a stray quote inside a bare value
    }
    i = k;
  }
  return words.length > 0 ? words : null;
}

/**
 * Why laurel 0.5.1 refuses a record it would otherwise read, or null when it accepts it (`line` is the
 * raw line). Its body parser takes key=value pairs only, after an optional `avc: … for`, `netlabel:` or
 * `policy loaded` prefix (and an AppArmor mode after `subj=` in SYSCALL and user-space records), so it
 * refuses old free-text messages (`auditd start, ver=…`, `user pid=…`), values with a stray quote
 * (`key=6578…"`), and an ENRICHED suffix holding a bare word (`SADDR=unknown family`).
 */
export function laurelRefusal(r: AuditRecord, line: string): string | null {
  if (r.issue !== undefined) return `laurel cannot parse the body of ${r.type}: ${r.issue}`;
  const gs = line.indexOf("\x1d");
  const head = line.indexOf("): ");
  if (head < 0 && line.indexOf("):") < 0) return `laurel cannot parse the header of ${r.type} (no ':')`;
  if (head >= 0 && r.perms === undefined) {
    let b = head + 3;
    while (line.charCodeAt(b) === 32) b++;
    let lead = "";
    for (const l of ACCEPTED_LEADS) if (line.startsWith(l, b)) lead = l;
    const words = bareWords(line, b + lead.length, gs >= 0 ? gs : line.length);
    const modeOk = r.type === "SYSCALL" || isLaurelUserType(r.type);
    for (const w of words ?? []) {
      if (lead === "policy loaded " && w === "loaded") continue;
      if (modeOk && isModeWord(w)) continue;
      return `laurel cannot parse the free-text body of ${r.type}`;
    }
  }
  if (gs >= 0) {
    let end = line.length;
    while (end > gs && (line.charCodeAt(end - 1) === 10 || line.charCodeAt(end - 1) === 13)) end--;
    let inBlock = false;
    for (const w of line
      .slice(gs + 1, end)
      .replaceAll("\x1d", " ")
      .split(" ")) {
      if (w === "") continue;
      if (inBlock) {
        if (w === "}") inBlock = false;
        continue;
      }
      if (w.endsWith("={")) {
        inBlock = true;
        continue;
      }
      if (w.indexOf("=") < 0) return `laurel cannot parse the ENRICHED suffix of ${r.type}`;
    }
  }
  return null;
}
