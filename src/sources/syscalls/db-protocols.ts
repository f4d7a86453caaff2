/**
 * Database protocol messages in the buffers strace records (-s) for writes to sockets: the queries a
 * client sends to PostgreSQL (frontend protocol 3: simple query `Q`, extended `Parse`, the startup
 * message), MySQL/MariaDB (client packets: COM_QUERY, COM_STMT_PREPARE, COM_INIT_DB, the handshake
 * response's user) and Redis (RESP arrays of bulk strings, inline commands). Pure: bytes in, messages
 * out; a buffer that is none of these gives nothing. Secrets are not kept: Redis AUTH arguments,
 * `PASSWORD '…'` / `IDENTIFIED BY '…'` literals and PostgreSQL password messages are redacted.
 */

export type DbProtocol = "postgresql" | "mysql" | "redis";

export interface DbMessage {
  protocol: DbProtocol;
  /** the query or command, as text (at most MAX_TEXT characters) */
  text: string;
  /** strace cut the buffer (-s), or the text was cut here */
  truncated?: boolean;
}

/** Longest query text kept. */
export const MAX_TEXT = 1000;
/** Messages kept per buffer. */
const MAX_MESSAGES = 32;

const BS = 92;
const QUOTE = 34;

/**
 * A strace string argument (`"Q\0\0\0\32select 1\0"...`) decoded to its bytes, one char per byte
 * (latin1), or null when the argument is not a quoted string. `truncated` when strace cut it.
 */
export function straceBytes(arg: string): { bytes: string; truncated: boolean } | null {
  let i = 0;
  while (arg.charCodeAt(i) === 32) i++;
  if (arg.charCodeAt(i) !== QUOTE) return null;
  i++;
  let out = "";
  let run = i;
  const n = arg.length;
  while (i < n) {
    const c = arg.charCodeAt(i);
    if (c === QUOTE) {
      out += arg.slice(run, i);
      return { bytes: out, truncated: arg.startsWith("...", i + 1) };
    }
    if (c !== BS) {
      if (c > 0x7f) {
        // strace prints bytes >= 0x80 as escapes; a UTF-8 character here came from -x-less printing
        out += arg.slice(run, i) + Buffer.from(arg[i] as string, "utf8").toString("latin1");
        run = i + 1;
      }
      i++;
      continue;
    }
    out += arg.slice(run, i);
    const e = arg[i + 1];
    i += 2;
    switch (e) {
      case "n":
        out += "\n";
        break;
      case "t":
        out += "\t";
        break;
      case "r":
        out += "\r";
        break;
      case "v":
        out += "\v";
        break;
      case "f":
        out += "\f";
        break;
      case "x": {
        const h = /^[0-9a-fA-F]{1,2}/.exec(arg.slice(i, i + 2))?.[0] ?? "";
        out += String.fromCharCode(Number.parseInt(h || "0", 16));
        i += h.length;
        break;
      }
      default:
        if (e !== undefined && e >= "0" && e <= "7") {
          let j = i - 1;
          let v = 0;
          let k = 0;
          while (k < 3 && j < n && (arg[j] as string) >= "0" && (arg[j] as string) <= "7") {
            v = v * 8 + (arg.charCodeAt(j) - 48);
            j++;
            k++;
          }
          out += String.fromCharCode(v & 0xff);
          i = j;
        } else out += e ?? "";
    }
    run = i;
  }
  // no closing quote: strace's own cut
  return { bytes: out + arg.slice(run), truncated: true };
}

/** The buffers of a writev/sendmsg iovec argument (`[{iov_base="…", iov_len=5}, …]`), joined. */
export function iovBytes(arg: string): { bytes: string; truncated: boolean } | null {
  let at = arg.indexOf("iov_base=");
  if (at < 0) return null;
  let bytes = "";
  let truncated = false;
  while (at >= 0) {
    const one = straceBytes(arg.slice(at + 9));
    if (one === null) break;
    bytes += one.bytes;
    truncated ||= one.truncated;
    at = arg.indexOf("iov_base=", at + 9 + 1);
  }
  return { bytes, truncated };
}

/** The protocol a server address suggests: 5432 / .s.PGSQL.N, 3306 / mysqld.sock, 6379 / redis. */
export function protocolHint(address: string | undefined): DbProtocol | null {
  if (!address) return null;
  if (/:5432$|\.s\.PGSQL\.\d+$/.test(address)) return "postgresql";
  if (/:3306$|mysqld?\.sock$|mariadb\.sock$/.test(address)) return "mysql";
  if (/:6379$|redis[^/]*\.sock$/.test(address)) return "redis";
  return null;
}

const SECRET_LITERAL =
  /\b(PASSWORD|IDENTIFIED\s+BY|IDENTIFIED\s+WITH\s+\S+\s+BY)(\s*)('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")/gi;

/** A query with its password literals hidden. */
export function redactQuery(text: string): string {
  return text.replace(SECRET_LITERAL, (_m, kw: string, sp: string) => `${kw}${sp}'***'`);
}

function clip(protocol: DbProtocol, text: string, truncated: boolean): DbMessage {
  const t = Buffer.from(text, "latin1").toString("utf8");
  const cut = t.length > MAX_TEXT;
  const m: DbMessage = { protocol, text: redactQuery(cut ? t.slice(0, MAX_TEXT) : t) };
  if (cut || truncated) m.truncated = true;
  return m;
}

function int32(b: string, at: number): number {
  return (
    ((b.charCodeAt(at) << 24) |
      (b.charCodeAt(at + 1) << 16) |
      (b.charCodeAt(at + 2) << 8) |
      b.charCodeAt(at + 3)) >>>
    0
  );
}

function cstr(b: string, at: number): { s: string; end: number; whole: boolean } {
  const z = b.indexOf("\0", at);
  return z < 0
    ? { s: b.slice(at), end: b.length, whole: false }
    : { s: b.slice(at, z), end: z + 1, whole: true };
}

const PG_TYPES = new Set("QPBEDSXCHFfdcp".split(""));

/** PostgreSQL frontend messages: Q (query), P (parse), the startup message; null when not PostgreSQL. */
export function postgresMessages(b: string, truncated: boolean): DbMessage[] | null {
  if (b.length < 5) return null;
  // startup message: length, protocol 3.0, then name\0value\0 pairs
  if (b.length >= 8 && int32(b, 4) === 196_608) {
    const len = int32(b, 0);
    if (len !== b.length && !(truncated && len > b.length)) return null;
    const params: string[] = [];
    let at = 8;
    while (at < b.length && b[at] !== "\0") {
      const k = cstr(b, at);
      const v = cstr(b, k.end);
      if (k.s === "user" || k.s === "database" || k.s === "application_name") params.push(`${k.s}=${v.s}`);
      at = v.end;
    }
    return [clip("postgresql", `startup ${params.join(" ")}`.trim(), false)];
  }
  if (b.length >= 8 && (int32(b, 4) === 80_877_103 || int32(b, 4) === 80_877_104)) return []; // SSL / GSS request
  const out: DbMessage[] = [];
  let at = 0;
  while (at + 5 <= b.length && out.length < MAX_MESSAGES) {
    const type = b[at] as string;
    const len = int32(b, at + 1);
    if (!PG_TYPES.has(type) || len < 4 || len > 1 << 30) return out.length > 0 ? out : null;
    const end = at + 1 + len;
    if (end > b.length && !truncated) return out.length > 0 ? out : null;
    const body = b.slice(at + 5, Math.min(end, b.length));
    const cut = end > b.length;
    if (type === "Q") {
      const q = cstr(body, 0);
      out.push(clip("postgresql", q.s, cut || !q.whole));
    } else if (type === "P") {
      const name = cstr(body, 0);
      const q = cstr(body, name.end);
      out.push(clip("postgresql", q.s, cut || !q.whole));
    }
    at = end;
  }
  return at === b.length || truncated ? out : out.length > 0 ? out : null;
}

/** MySQL client packets: COM_QUERY, COM_STMT_PREPARE, COM_INIT_DB, the handshake response's user. */
export function mysqlMessages(b: string, truncated: boolean): DbMessage[] | null {
  const out: DbMessage[] = [];
  let at = 0;
  while (at + 5 <= b.length && out.length < MAX_MESSAGES) {
    const len = b.charCodeAt(at) | (b.charCodeAt(at + 1) << 8) | (b.charCodeAt(at + 2) << 16);
    const seq = b.charCodeAt(at + 3);
    const end = at + 4 + len;
    if (len === 0 || (end > b.length && !truncated)) return out.length > 0 ? out : null;
    const p = b.slice(at + 4, Math.min(end, b.length));
    const cut = end > b.length;
    const cmd = p.charCodeAt(0);
    if (seq === 0 && (cmd === 0x03 || cmd === 0x16)) out.push(clip("mysql", p.slice(1), cut));
    else if (seq === 0 && cmd === 0x02) out.push(clip("mysql", `USE ${p.slice(1)}`, cut));
    else if (seq === 0 && cmd === 0x01) out.push({ protocol: "mysql", text: "QUIT" });
    else if (seq === 1 && len >= 33 && /^\0{19}$/.test(p.slice(9, 28))) {
      // HandshakeResponse41: capabilities, max packet, charset, 23 filler bytes (MariaDB puts its
      // extended capabilities in the last 4), user\0 …
      out.push(clip("mysql", `login user=${cstr(p, 32).s}`, false));
    } else if (seq === 0 && (cmd === 0x0e || cmd === 0x19 || cmd === 0x17 || cmd === 0x1a)) {
      // ping, stmt close, stmt execute, stmt reset: not queries, but the protocol's own
    } else return out.length > 0 ? out : null;
    at = end;
  }
  return out;
}

/** Redis commands: RESP arrays of bulk strings (pipelined too); inline commands only when `inline`. */
export function redisMessages(b: string, truncated: boolean, inline: boolean): DbMessage[] | null {
  const out: DbMessage[] = [];
  let at = 0;
  while (at < b.length && out.length < MAX_MESSAGES) {
    if (b[at] !== "*") {
      if (!inline || out.length > 0) return out.length > 0 ? out : null;
      const eol = b.indexOf("\r\n", at);
      const line = b.slice(at, eol < 0 ? b.length : eol);
      if (!/^[A-Za-z]+(?: |$)/.test(line)) return null;
      out.push(clip("redis", redisRedact(line.split(" ")), eol < 0 && truncated));
      at = eol < 0 ? b.length : eol + 2;
      continue;
    }
    const head = /^\*(\d{1,6})\r\n/.exec(b.slice(at, at + 10));
    if (!head) return out.length > 0 ? out : null;
    const n = Number(head[1]);
    at += head[0].length;
    const args: string[] = [];
    let cut = false;
    for (let i = 0; i < n; i++) {
      const h = /^\$(\d{1,9})\r\n/.exec(b.slice(at, at + 14));
      if (!h) {
        if (truncated && at >= b.length - 14) {
          cut = true;
          break;
        }
        return out.length > 0 ? out : null;
      }
      const len = Number(h[1]);
      at += h[0].length;
      args.push(b.slice(at, Math.min(at + len, b.length)));
      at += len + 2;
      if (at > b.length) {
        cut = true;
        break;
      }
    }
    if (args.length === 0) return out.length > 0 ? out : null;
    out.push(clip("redis", redisRedact(args), cut));
    if (cut) break;
  }
  return out;
}

function quoteArg(a: string): string {
  return /^[\x21-\x7e]+$/.test(a) && !a.includes('"') ? a : JSON.stringify(a);
}

function redisRedact(args: string[]): string {
  const cmd = (args[0] ?? "").toUpperCase();
  if (cmd === "AUTH") return ["AUTH", ...args.slice(1).map(() => "***")].join(" ");
  if (cmd === "HELLO") {
    const i = args.findIndex((a) => a.toUpperCase() === "AUTH");
    if (i > 0)
      return [...args.slice(0, i + 2), ...args.slice(i + 2, i + 3).map(() => "***"), ...args.slice(i + 3)]
        .map(quoteArg)
        .join(" ");
  }
  return args.map(quoteArg).join(" ");
}

/**
 * The database messages in the bytes written to a socket. With a hint (the server's port or socket
 * path) that protocol is read first; without one, each protocol in turn, strictly (lengths must match).
 */
export function recognizeDbMessages(bytes: string, truncated: boolean, hint: DbProtocol | null): DbMessage[] {
  const tries: DbProtocol[] = hint ? [hint] : ["postgresql", "mysql", "redis"];
  for (const p of tries) {
    const m =
      p === "postgresql"
        ? postgresMessages(bytes, truncated)
        : p === "mysql"
          ? mysqlMessages(bytes, truncated)
          : redisMessages(bytes, truncated, hint === "redis");
    if (m !== null && m.length > 0) return m;
  }
  return [];
}
