import { isUtf8 } from "node:buffer";

/**
 * One line of a Linux audit log as auditd (raw or ENRICHED format), audisp or `ausearch --raw` writes it:
 *
 *   [node=NAME ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): key=value … [0x1d KEY=value …]
 *
 * Values are bare, "double-quoted", or — for fields that may hold any bytes (name, exe, cwd, EXECVE aN…)
 * — upper-case hex of the raw bytes. User-space records nest their own key=values in `msg='…'`; old
 * daemons and AVCs mix free text (`auditd start,`, `avc:  denied  { read } for`) with key=values.
 * Everything here is one linear scan per line: `indexOf` for closing quotes, no backtracking regex.
 */

export type AuditValue = string | null;

/** a piece of an EXECVE argument the kernel split over several records (`a1[0]=…`, `a1[1]=…`) */
export interface ExecveFragment {
  arg: number;
  idx: number;
  /** the text was hex (unquoted); it stays undecoded so multi-byte characters can span fragments */
  hex: boolean;
  text: string;
}

export interface AuditRecord {
  kind: "record";
  /** `node=` prefix, "" when absent */
  node: string;
  /** the record type as written: SYSCALL, EXECVE, USER_START, UNKNOWN[1334]… */
  type: string;
  /** "SECONDS.MILLIS:SERIAL" exactly as written; with `node` it names the event */
  id: string;
  sec: number;
  ms: number;
  serial: number;
  /** microseconds since the Unix epoch */
  ts: number;
  /**
   * key → decoded value: quotes removed, hex decoded for byte fields (UTF-8, or latin1 when not valid
   * UTF-8), `(null)` and bare `?` → null. A repeated key keeps its first value.
   */
  fields: Map<string, AuditValue>;
  /** the key=values nested in a user-space record's `msg='…'` */
  msg?: Map<string, AuditValue>;
  /** the text inside a user-space record's `msg='…'`, as written */
  msgText?: string;
  /** ENRICHED suffix (after 0x1d): translated fields such as UID="root", SYSCALL=execve, SADDR={ … } */
  enriched?: Map<string, string>;
  /** free words between the fields ("auditd start,", "avc: denied for", "tty"), space-joined */
  text?: string;
  /** AVC permissions between braces: `{ read write }` → ["read", "write"] */
  perms?: string[];
  /** EXECVE fragments of arguments split by the kernel */
  argParts?: ExecveFragment[];
  /** 1-based line number in its file */
  line: number;
  /** the line parsed only partly (unterminated quote, stray quote…): report it, keep the record */
  issue?: string;
}

export interface AuditParseError {
  kind: "error";
  line: number;
  message: string;
}

/** fields whose unquoted values are hex-encoded bytes */
export const HEX_FIELDS = new Set([
  "name",
  "comm",
  "exe",
  "cwd",
  "proctitle",
  "path",
  "data",
  "cmd",
  "acct",
  "ocomm",
  "key",
  "new",
  "old",
  "dir",
  "watch",
  "vm",
  "root_dir",
  "grp",
]);

/** whether `s` is hex-encoded bytes: even length, only hex digits (the kernel writes A-F, hand-made logs a-f) */
export function isAuditHex(s: string): boolean {
  const n = s.length;
  if (n === 0 || (n & 1) !== 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * Audit record type numbers → names: the kernel's include/uapi/linux/audit.h and audit-userspace's
 * user-space messages, as laurel 0.5.1 names them. Rows of consecutive numbers from the row's first
 * number; "-" marks a number without a name.
 */
const TYPE_ROWS: ReadonlyArray<readonly [number, string]> = [
  [1000, "GET SET LIST ADD DEL USER LOGIN WATCH_INS WATCH_REM WATCH_LIST SIGNAL_INFO ADD_RULE DEL_RULE"],
  [1013, "LIST_RULES TRIM MAKE_EQUIV TTY_GET TTY_SET SET_FEATURE GET_FEATURE"],
  [1100, "USER_AUTH USER_ACCT USER_MGMT CRED_ACQ CRED_DISP USER_START USER_END USER_AVC USER_CHAUTHTOK"],
  [1109, "USER_ERR CRED_REFR USYS_CONFIG USER_LOGIN USER_LOGOUT ADD_USER DEL_USER ADD_GROUP DEL_GROUP"],
  [
    1118,
    "DAC_CHECK CHGRP_ID TEST TRUSTED_APP USER_SELINUX_ERR USER_CMD USER_TTY CHUSER_ID GRP_AUTH SYSTEM_BOOT",
  ],
  [1128, "SYSTEM_SHUTDOWN SYSTEM_RUNLEVEL SERVICE_START SERVICE_STOP GRP_MGMT GRP_CHAUTHTOK MAC_CHECK"],
  [1135, "ACCT_LOCK ACCT_UNLOCK USER_DEVICE SOFTWARE_UPDATE"],
  [1200, "DAEMON_START DAEMON_END DAEMON_ABORT DAEMON_CONFIG DAEMON_RECONFIG DAEMON_ROTATE DAEMON_RESUME"],
  [1207, "DAEMON_ACCEPT DAEMON_CLOSE DAEMON_ERR"],
  [1300, "SYSCALL FS_WATCH PATH IPC SOCKETCALL CONFIG_CHANGE SOCKADDR CWD - EXECVE - IPC_SET_PERM MQ_OPEN"],
  [1313, "MQ_SENDRECV MQ_NOTIFY MQ_GETSETATTR KERNEL_OTHER FD_PAIR OBJ_PID TTY EOE BPRM_FCAPS CAPSET"],
  [1323, "MMAP NETFILTER_PKT NETFILTER_CFG SECCOMP PROCTITLE FEATURE_CHANGE REPLACE KERN_MODULE FANOTIFY"],
  [1332, "TIME_INJOFFSET TIME_ADJNTPVAL BPF EVENT_LISTENER URINGOP OPENAT2 DM_CTRL DM_EVENT"],
  [
    1400,
    "AVC SELINUX_ERR AVC_PATH MAC_POLICY_LOAD MAC_STATUS MAC_CONFIG_CHANGE MAC_UNLBL_ALLOW MAC_CIPSOV4_ADD",
  ],
  [
    1408,
    "MAC_CIPSOV4_DEL MAC_MAP_ADD MAC_MAP_DEL MAC_IPSEC_ADDSA MAC_IPSEC_DELSA MAC_IPSEC_ADDSPD MAC_IPSEC_DELSPD",
  ],
  [
    1415,
    "MAC_IPSEC_EVENT MAC_UNLBL_STCADD MAC_UNLBL_STCDEL MAC_CALIPSO_ADD MAC_CALIPSO_DEL MAC_TASK_CONTEXTS",
  ],
  [1421, "MAC_OBJ_CONTEXTS"],
  [1500, "AA APPARMOR_AUDIT APPARMOR_ALLOWED APPARMOR_DENIED APPARMOR_HINT APPARMOR_STATUS APPARMOR_ERROR"],
  [1507, "APPARMOR_KILL"],
  [1700, "ANOM_PROMISCUOUS ANOM_ABEND ANOM_LINK ANOM_CREAT"],
  [1800, "INTEGRITY_DATA INTEGRITY_METADATA INTEGRITY_STATUS INTEGRITY_HASH INTEGRITY_PCR INTEGRITY_RULE"],
  [1806, "INTEGRITY_EVM_XATTR INTEGRITY_POLICY_RULE"],
  [2000, "KERNEL"],
  [2100, "ANOM_LOGIN_FAILURES ANOM_LOGIN_TIME ANOM_LOGIN_SESSIONS ANOM_LOGIN_ACCT ANOM_LOGIN_LOCATION"],
  [2105, "ANOM_MAX_DAC ANOM_MAX_MAC ANOM_AMTU_FAIL ANOM_RBAC_FAIL ANOM_RBAC_INTEGRITY_FAIL ANOM_CRYPTO_FAIL"],
  [2111, "ANOM_ACCESS_FS ANOM_EXEC ANOM_MK_EXEC ANOM_ADD_ACCT ANOM_DEL_ACCT ANOM_MOD_ACCT ANOM_ROOT_TRANS"],
  [2118, "ANOM_LOGIN_SERVICE"],
  [2200, "RESP_ANOMALY RESP_ALERT RESP_KILL_PROC RESP_TERM_ACCESS RESP_ACCT_REMOTE RESP_ACCT_LOCK_TIMED"],
  [2206, "RESP_ACCT_UNLOCK_TIMED RESP_ACCT_LOCK RESP_TERM_LOCK RESP_SEBOOL RESP_EXEC RESP_SINGLE RESP_HALT"],
  [2213, "RESP_ORIGIN_BLOCK RESP_ORIGIN_BLOCK_TIMED"],
  [2300, "USER_ROLE_CHANGE ROLE_ASSIGN ROLE_REMOVE LABEL_OVERRIDE LABEL_LEVEL_CHANGE USER_LABELED_EXPORT"],
  [2306, "USER_UNLABELED_EXPORT DEV_ALLOC DEV_DEALLOC FS_RELABEL USER_MAC_POLICY_LOAD ROLE_MODIFY"],
  [2312, "USER_MAC_CONFIG_CHANGE USER_MAC_STATUS"],
  [
    2400,
    "CRYPTO_TEST_USER CRYPTO_PARAM_CHANGE_USER CRYPTO_LOGIN CRYPTO_LOGOUT CRYPTO_KEY_USER CRYPTO_FAILURE_USER",
  ],
  [2406, "CRYPTO_REPLAY_USER CRYPTO_SESSION CRYPTO_IKE_SA CRYPTO_IPSEC_SA"],
  [
    2500,
    "VIRT_CONTROL VIRT_RESOURCE VIRT_MACHINE_ID VIRT_INTEGRITY_CHECK VIRT_CREATE VIRT_DESTROY VIRT_MIGRATE_IN",
  ],
  [2507, "VIRT_MIGRATE_OUT"],
];

const TYPE_NAMES = new Map<number, string>();
const TYPE_NUMBERS = new Map<string, number>();
for (const [start, names] of TYPE_ROWS) {
  let n = start;
  for (const name of names.split(" ")) {
    if (name !== "-") {
      TYPE_NAMES.set(n, name);
      TYPE_NUMBERS.set(name, n);
    }
    n++;
  }
}

/** the name of a numeric record type, or undefined when it has none */
export function auditTypeName(n: number): string | undefined {
  return TYPE_NAMES.get(n);
}

/** the number of a record type as written (`SYSCALL`, `UNKNOWN[1334]`), or undefined for an unknown name */
export function auditTypeNumber(type: string): number | undefined {
  const n = TYPE_NUMBERS.get(type);
  if (n !== undefined) return n;
  if (type.startsWith("UNKNOWN[") && type.endsWith("]")) {
    const v = Number(type.slice(8, -1));
    return Number.isInteger(v) ? v : undefined;
  }
  return undefined;
}

/** decode hex bytes to text: UTF-8 when valid, else latin1 (one char per byte, nothing lost) */
export function decodeAuditHex(hex: string): string {
  const buf = Buffer.from(hex, "hex");
  return isUtf8(buf) ? buf.toString("utf8") : buf.toString("latin1");
}

const SPACE = 32;
const TAB = 9;
const EQ = 61;
const DQUOTE = 34;
const SQUOTE = 39;
const GS = 0x1d;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** parse `aN` / `aN[i]` keys: returns [N, i] with i = -1 for plain `aN`, or null */
function execveArgKey(key: string): [number, number] | null {
  if (key.charCodeAt(0) !== 97 /* a */ || key.length < 2) return null;
  let n = 0;
  let p = 1;
  while (p < key.length && isDigit(key.charCodeAt(p))) n = n * 10 + key.charCodeAt(p++) - 48;
  if (p === 1) return null;
  if (p === key.length) return [n, -1];
  if (key.charCodeAt(p) !== 91 /* [ */ || key.charCodeAt(key.length - 1) !== 93 /* ] */) return null;
  let idx = 0;
  let q = p + 1;
  if (q >= key.length - 1) return null;
  while (q < key.length - 1) {
    const c = key.charCodeAt(q++);
    if (!isDigit(c)) return null;
    idx = idx * 10 + c - 48;
  }
  return [n, idx];
}

interface ScanTarget {
  fields: Map<string, AuditValue>;
  msg?: Map<string, AuditValue>;
  msgText?: string;
  words: string[] | null;
  perms?: string[];
  argParts?: ExecveFragment[];
  issue?: string;
}

/**
 * The `'` that ends a user-space `msg='…'`: double-quoted values inside are skipped, since they may
 * hold a `'` themselves (`acct="system-property('xsl:vendor')/>"`). -1 when there is none.
 */
function closingSingleQuote(s: string, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === SQUOTE) return i;
    if (c === DQUOTE && (i === from || s.charCodeAt(i - 1) === EQ)) {
      const q = s.indexOf('"', i + 1);
      if (q < 0 || q >= end) break;
      i = q + 1;
      continue;
    }
    i++;
  }
  // an unbalanced double quote: fall back to the first single quote
  const q = s.indexOf("'", from);
  return q >= 0 && q < end ? q : -1;
}

function decodeUnquoted(key: string, v: string, execve: boolean): AuditValue {
  if (v === "(null)" || v === "?") return null;
  if ((HEX_FIELDS.has(key) || (execve && execveArgKey(key) !== null)) && isAuditHex(v)) {
    return decodeAuditHex(v);
  }
  return v;
}

function addPart(t: ScanTarget, p: ExecveFragment): void {
  if (t.argParts === undefined) t.argParts = [p];
  else t.argParts.push(p);
}

function addWord(t: ScanTarget, w: string): void {
  if (t.words === null) t.words = [w];
  else t.words.push(w);
}

/**
 * Scan `s[start, end)` for key=value pairs into `fields`. `nested` is true inside a user-space
 * `msg='…'`, whose old PAM form writes `(hostname=?, addr=?, terminal=cron res=success)`.
 */
function scanFields(
  s: string,
  start: number,
  end: number,
  t: ScanTarget,
  fields: Map<string, AuditValue>,
  nested: boolean,
  execve: boolean,
): void {
  let i = start;
  while (i < end) {
    let c = s.charCodeAt(i);
    if (c === SPACE || c === TAB) {
      i++;
      continue;
    }
    let j = i;
    while (j < end) {
      c = s.charCodeAt(j);
      if (c === EQ || c === SPACE || c === TAB) break;
      j++;
    }
    if (j >= end || c !== EQ) {
      const w = s.slice(i, j);
      i = j;
      if (w === "{") {
        // AVC permission set: { read write }
        const perms: string[] = [];
        while (i < end) {
          while (i < end && s.charCodeAt(i) === SPACE) i++;
          let k = i;
          while (k < end && s.charCodeAt(k) !== SPACE) k++;
          const p = s.slice(i, k);
          i = k;
          if (p === "}" || p === "") break;
          perms.push(p);
        }
        t.perms = perms;
        continue;
      }
      if (w.indexOf('"') >= 0 || w.indexOf("'") >= 0) t.issue ??= `stray quote in ${JSON.stringify(w)}`;
      addWord(t, w);
      continue;
    }
    let key = s.slice(i, j);
    if (nested && key.charCodeAt(0) === 40 /* ( */) key = key.slice(1);
    const v = j + 1;
    const first = v < end ? s.charCodeAt(v) : -1;
    let value: AuditValue;
    let quoted = false;
    if (first === DQUOTE) {
      let close = s.indexOf('"', v + 1);
      if (close < 0 || close >= end) {
        t.issue ??= `unterminated quoted value of ${key}`;
        close = end;
      }
      value = s.slice(v + 1, close);
      quoted = true;
      i = close + 1;
    } else if (first === SQUOTE && key === "msg" && !nested) {
      let close = closingSingleQuote(s, v + 1, end);
      if (close < 0) {
        t.issue ??= "unterminated msg='…'";
        close = end;
      }
      const inner = new Map<string, AuditValue>();
      t.msg = inner;
      t.msgText = s.slice(v + 1, close);
      scanFields(s, v + 1, close, t, inner, true, false);
      i = close + 1;
      continue;
    } else {
      let k = v;
      while (k < end) {
        const d = s.charCodeAt(k);
        if (d === SPACE || d === TAB) break;
        k++;
      }
      let raw = s.slice(v, k);
      if (nested) {
        let e = raw.length;
        while (e > 0 && (raw.charCodeAt(e - 1) === 44 /* , */ || raw.charCodeAt(e - 1) === 41) /* ) */) e--;
        if (e !== raw.length) raw = raw.slice(0, e);
      }
      i = k;
      if (execve && key.charCodeAt(0) === 97 && key.charCodeAt(key.length - 1) === 93) {
        const ak = execveArgKey(key);
        if (ak !== null) {
          addPart(t, { arg: ak[0], idx: ak[1], hex: isAuditHex(raw), text: raw });
          continue;
        }
      }
      value = decodeUnquoted(key, raw, execve);
    }
    if (quoted && execve && key.charCodeAt(key.length - 1) === 93) {
      const ak = execveArgKey(key);
      if (ak !== null) {
        addPart(t, { arg: ak[0], idx: ak[1], hex: false, text: value ?? "" });
        continue;
      }
    }
    if (!fields.has(key)) fields.set(key, value);
  }
}

/** the ENRICHED suffix: KEY=value, KEY="value", KEY={ … } */
function scanEnriched(s: string, start: number): Map<string, string> {
  const out = new Map<string, string>();
  const end = s.length;
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === SPACE || c === TAB || c === GS) {
      i++;
      continue;
    }
    const eq = s.indexOf("=", i);
    if (eq < 0) break;
    const sp = s.indexOf(" ", i);
    if (sp >= 0 && sp < eq) {
      i = sp + 1; // a word without '=' (e.g. `SADDR=unknown family` tail)
      continue;
    }
    const key = s.slice(i, eq);
    const f = s.charCodeAt(eq + 1);
    let close: number;
    let value: string;
    if (f === DQUOTE) {
      close = s.indexOf('"', eq + 2);
      if (close < 0) close = end;
      value = s.slice(eq + 2, close);
      i = close + 1;
    } else if (f === 123 /* { */) {
      close = s.indexOf("}", eq + 2);
      if (close < 0) close = end;
      value = s.slice(eq + 1, close + 1).trim();
      i = close + 1;
    } else {
      close = s.indexOf(" ", eq + 1);
      if (close < 0) close = end;
      value = s.slice(eq + 1, close);
      i = close + 1;
    }
    if (!out.has(key)) out.set(key, value);
  }
  return out;
}

function readUint(s: string, i: number, end: number): [value: number, next: number, digits: number] {
  let v = 0;
  const from = i;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) break;
    v = v * 10 + c - 48;
    i++;
  }
  return [v, i, i - from];
}

/**
 * Parse one audit line. Returns null for a line that carries no record (blank, or a `#` comment as
 * in hand-made test logs), an error for a line that is not an audit record, else the record (with
 * `issue` set when part of it could not be read).
 */
export function parseAuditLine(line: string, lineNo: number): AuditRecord | AuditParseError | null {
  let end = line.length;
  while (end > 0) {
    const c = line.charCodeAt(end - 1);
    if (c !== 13 && c !== 10 && c !== SPACE && c !== TAB) break;
    end--;
  }
  let i = 0;
  while (i < end && (line.charCodeAt(i) === SPACE || line.charCodeAt(i) === TAB)) i++;
  if (i >= end) return null;
  if (line.charCodeAt(i) === 35 /* # */) return null;

  let node = "";
  if (line.startsWith("node=", i)) {
    const sp = line.indexOf(" ", i + 5);
    if (sp < 0 || sp >= end) return { kind: "error", line: lineNo, message: "node= prefix without a record" };
    node = line.slice(i + 5, sp);
    i = sp + 1;
    while (i < end && line.charCodeAt(i) === SPACE) i++;
  }
  if (!line.startsWith("type=", i))
    return { kind: "error", line: lineNo, message: "not an audit record (no type=)" };
  const typeEnd = line.indexOf(" ", i + 5);
  if (typeEnd < 0 || typeEnd >= end || typeEnd === i + 5) {
    return { kind: "error", line: lineNo, message: "audit record without msg=audit(…)" };
  }
  const type = line.slice(i + 5, typeEnd);
  i = typeEnd + 1;
  while (i < end && line.charCodeAt(i) === SPACE) i++;
  if (!line.startsWith("msg=audit(", i)) {
    return { kind: "error", line: lineNo, message: `${type} record without msg=audit(…)` };
  }
  const idStart = i + 10;
  const [sec, afterSec, secDigits] = readUint(line, idStart, end);
  if (secDigits === 0 || line.charCodeAt(afterSec) !== 46 /* . */) {
    return { kind: "error", line: lineNo, message: "bad audit timestamp" };
  }
  let [ms, afterMs, msDigits] = readUint(line, afterSec + 1, end);
  if (msDigits === 0 || line.charCodeAt(afterMs) !== 58 /* : */) {
    return { kind: "error", line: lineNo, message: "bad audit timestamp" };
  }
  if (msDigits !== 3) ms = Math.floor(Number(`0.${line.slice(afterSec + 1, afterMs)}`) * 1000);
  const [serial, afterSerial, serialDigits] = readUint(line, afterMs + 1, end);
  if (serialDigits === 0 || line.charCodeAt(afterSerial) !== 41 /* ) */) {
    return { kind: "error", line: lineNo, message: "bad audit serial" };
  }
  const id = line.slice(idStart, afterSerial);
  i = afterSerial + 1;
  if (line.charCodeAt(i) === 58 /* : */) i++;

  let bodyEnd = end;
  let enriched: Map<string, string> | undefined;
  const gs = line.indexOf("\x1d", i);
  if (gs >= 0 && gs < end) {
    bodyEnd = gs;
    enriched = scanEnriched(line.slice(0, end), gs + 1);
  }

  const fields = new Map<string, AuditValue>();
  const t: ScanTarget = { fields, words: null };
  scanFields(line, i, bodyEnd, t, fields, false, type === "EXECVE");

  const rec: AuditRecord = {
    kind: "record",
    node,
    type,
    id,
    sec,
    ms,
    serial,
    ts: sec * 1_000_000 + ms * 1000,
    fields,
    line: lineNo,
  };
  if (t.msg) rec.msg = t.msg;
  if (t.msgText !== undefined) rec.msgText = t.msgText;
  if (enriched) rec.enriched = enriched;
  if (t.words) rec.text = t.words.join(" ");
  if (t.perms) rec.perms = t.perms;
  if (t.argParts) rec.argParts = t.argParts;
  if (t.issue) rec.issue = t.issue;
  return rec;
}

/** a field of the record, looking into the nested user-space `msg='…'` when the top level lacks it */
export function auditField(rec: AuditRecord, key: string): AuditValue | undefined {
  const v = rec.fields.get(key);
  if (v !== undefined) return v;
  return rec.msg?.get(key);
}

/** PROCTITLE's `proctitle` (already hex-decoded) as argv: split at NUL bytes */
export function proctitleArgv(value: AuditValue | undefined): string[] {
  if (value === null || value === undefined || value === "") return [];
  const parts = value.split("\u0000");
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

export interface ExecveArgs {
  /** `argc` as the kernel wrote it (-1 when absent) */
  argc: number;
  argv: string[];
  /** every argument 0..argc-1 is present and every split one has all of its `aN_len` */
  complete: boolean;
}

/**
 * The argv of an exec from the EXECVE records of one event (the kernel writes several when the
 * arguments are long, and splits one long argument into `aN_len=` + `aN[0]=`, `aN[1]=`… pieces).
 * Pieces are joined once per argument (linear in the total size) and hex is decoded after joining.
 */
export function execveArgv(records: readonly AuditRecord[]): ExecveArgs {
  let argc = -1;
  const args: Array<string | undefined> = [];
  let parts: Map<number, ExecveFragment[]> | null = null;
  let lens: Map<number, number> | null = null;
  for (const r of records) {
    if (r.type !== "EXECVE") continue;
    for (const [k, v] of r.fields) {
      if (k === "argc") {
        if (argc < 0 && v !== null) argc = Number(v);
        continue;
      }
      if (k.charCodeAt(0) !== 97) continue;
      if (k.endsWith("_len")) {
        const ak = execveArgKey(k.slice(0, -4));
        if (ak !== null && ak[1] < 0) {
          if (lens === null) lens = new Map();
          lens.set(ak[0], Number(v));
        }
        continue;
      }
      const ak = execveArgKey(k);
      if (ak !== null && ak[1] < 0) args[ak[0]] = v ?? "";
    }
    if (r.argParts) {
      parts ??= new Map();
      for (const p of r.argParts) {
        const list = parts.get(p.arg);
        if (list) list.push(p);
        else parts.set(p.arg, [p]);
      }
    }
  }
  let complete = true;
  if (parts) {
    for (const [arg, list] of parts) {
      list.sort((a, b) => a.idx - b.idx);
      const allHex = list.every((p) => p.hex);
      const joined = list.map((p) => p.text).join("");
      const want = lens?.get(arg);
      if (want !== undefined && want !== joined.length) complete = false;
      for (let n = 0; n < list.length; n++) if (list[n]!.idx !== n) complete = false;
      args[arg] = allHex ? decodeAuditHex(joined) : joined;
    }
  }
  const n = argc >= 0 ? Math.max(argc, args.length) : args.length;
  const argv: string[] = [];
  for (let k = 0; k < n; k++) {
    const a = args[k];
    if (a === undefined) {
      complete = false;
      argv.push("");
    } else argv.push(a);
  }
  if (argc >= 0 && args.length > argc) complete = false;
  return { argc, argv, complete };
}
