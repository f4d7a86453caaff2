import type { ResourceRef, SocketFamily } from "../../events/event-types.js";
import { decodeCStringBody } from "../strace/c-string.js";

/**
 * Small, allocation-light helpers to read strace/ltrace argument text (the raw top-level arguments of a
 * SyscallRecord). Nothing here throws: a helper that cannot read its input returns undefined/null.
 */

const BACKSLASH = 92;
const QUOTE = 34;

/**
 * Decode the C escapes of `s[start, end)` (\n \t \" \\ \NNN octal, \xNN) into a UTF-8 string: the
 * strace source's decoder, on the slice.
 */
export function unescapeC(s: string, start = 0, end = s.length): string {
  const bs = s.indexOf("\\", start);
  if (bs < 0 || bs >= end) return s.slice(start, end);
  return decodeCStringBody(s.slice(start, end));
}

/** Index just past the closing quote of the C string starting at `s[start] === '"'`, or -1. */
function endOfQuoted(s: string, start: number): number {
  let i = start + 1;
  const len = s.length;
  while (i < len) {
    const c = s.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return -1;
}

/** A quoted C string argument (`"a/b"`, `"x"...`) decoded; undefined when the argument is not a string. */
export function cString(arg: string | undefined): string | undefined {
  if (arg === undefined) return undefined;
  let start = 0;
  while (arg.charCodeAt(start) === 32) start++;
  if (arg.charCodeAt(start) !== QUOTE) return undefined;
  const end = endOfQuoted(arg, start);
  if (end < 0) return undefined;
  return unescapeC(arg, start + 1, end - 1);
}

/**
 * A string array as strace (`["ls", "-l"]`, `["a", ...]`) or ltrace (`[ "python", "x.py" ]`) prints it.
 * null when the text is not such an array (a pointer, `NULL`, garbage).
 */
export function stringArray(arg: string | undefined): string[] | null {
  if (arg === undefined) return null;
  let i = 0;
  const len = arg.length;
  while (i < len && arg.charCodeAt(i) === 32) i++;
  if (arg.charCodeAt(i) !== 91) return null; // [
  i++;
  const out: string[] = [];
  for (;;) {
    while (i < len) {
      const c = arg.charCodeAt(i);
      if (c === 32 || c === 44) i++;
      else break;
    }
    if (i >= len) return null;
    const c = arg.charCodeAt(i);
    if (c === 93) return out; // ]
    if (c === QUOTE) {
      const end = endOfQuoted(arg, i);
      if (end < 0) return null;
      out.push(unescapeC(arg, i + 1, end - 1));
      i = end;
      if (arg.startsWith("...", i)) i += 3;
    } else if (arg.startsWith("...", i)) {
      i += 3;
    } else return null;
  }
}

/** `0x7ffd… /* 38 vars *\/` → 38; undefined otherwise. */
export function varsCount(arg: string | undefined): number | undefined {
  if (arg === undefined) return undefined;
  const k = arg.indexOf("/* ");
  if (k < 0) return undefined;
  const n = Number.parseInt(arg.slice(k + 3), 10);
  return Number.isNaN(n) ? undefined : n;
}

/** A number argument: decimal, hex (0x…), octal (0…); NaN when not numeric. */
export function numArg(arg: string | undefined): number {
  if (arg === undefined) return Number.NaN;
  const t = arg.trim();
  if (t.length === 0) return Number.NaN;
  if (t.startsWith("0x")) return Number.parseInt(t.slice(2), 16);
  if (t.startsWith("-0x")) return -Number.parseInt(t.slice(3), 16);
  return Number.parseInt(t, 10);
}

/** An fd argument as strace -y prints it: `3</etc/passwd>`, `AT_FDCWD</tmp>`, `1</dev/null<char 1:3>>`. */
export interface FdArg {
  /** the fd number; -100 for AT_FDCWD; NaN when unreadable */
  fd: number;
  /** the decoration between the outer angle brackets, when -y printed one */
  deco?: string;
}

export const AT_FDCWD = -100;

export function fdArg(arg: string | undefined): FdArg {
  if (arg === undefined) return { fd: Number.NaN };
  const lt = arg.indexOf("<");
  if (lt < 0) {
    const t = arg.trim();
    if (t === "AT_FDCWD") return { fd: AT_FDCWD };
    // ltrace prints AT_FDCWD as 0xffffff9c
    if (t === "0xffffff9c" || t === "-100") return { fd: AT_FDCWD };
    return { fd: numArg(t) };
  }
  const head = arg.slice(0, lt).trim();
  const gt = arg.lastIndexOf(">");
  const deco = gt > lt ? arg.slice(lt + 1, gt) : arg.slice(lt + 1);
  if (head === "AT_FDCWD") return { fd: AT_FDCWD, deco };
  return { fd: Number.parseInt(head, 10), deco };
}

/** Normalise an absolute path: collapse `//`, `/./`, `/../`, trailing `/`. */
export function normalizePath(p: string): string {
  if (p.indexOf("//") < 0 && p.indexOf("/.") < 0 && (p.length <= 1 || p.charCodeAt(p.length - 1) !== 47)) {
    return p;
  }
  if (p.charCodeAt(0) === 47 && isCleanAbsolute(p)) return p;
  const abs = p.charCodeAt(0) === 47;
  const parts = p.split("/");
  const out: string[] = [];
  for (const part of parts) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
      continue;
    }
    out.push(part);
  }
  const j = out.join("/");
  return abs ? `/${j}` : j.length > 0 ? j : ".";
}

/** an absolute path without `//`, `.` or `..` components and without a trailing `/` (`/a/.cache` is clean) */
function isCleanAbsolute(p: string): boolean {
  const len = p.length;
  if (len > 1 && p.charCodeAt(len - 1) === 47) return false;
  let i = p.indexOf("/");
  while (i >= 0) {
    const c1 = p.charCodeAt(i + 1);
    if (c1 === 47) return false;
    if (c1 === 46) {
      const c2 = p.charCodeAt(i + 2);
      if (i + 2 === len || c2 === 47) return false;
      if (c2 === 46 && (i + 3 === len || p.charCodeAt(i + 3) === 47)) return false;
    }
    i = p.indexOf("/", i + 1);
  }
  return true;
}

/** Resolve `p` against `base` (an absolute directory) when `p` is relative and `base` is known. */
export function resolvePath(base: string | undefined, p: string): string {
  if (p.charCodeAt(0) === 47) return normalizePath(p);
  if (base === undefined) return p;
  if (p.length === 0) return base;
  return normalizePath(base === "/" ? `/${p}` : `${base}/${p}`);
}

function socketFamilyOf(proto: string): SocketFamily {
  if (proto === "TCP" || proto === "UDP" || proto === "RAW" || proto === "UDPLITE") return "inet";
  if (proto === "TCPv6" || proto === "UDPv6" || proto === "RAWv6" || proto === "UDPLITEv6") return "inet6";
  if (proto.startsWith("UNIX")) return "unix";
  if (proto === "NETLINK") return "netlink";
  return "other";
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * A -y/-yy decoration as a resource: `/etc/passwd`, `/dev/null<char 1:3>`, `pipe:[123]`,
 * `TCP:[127.0.0.1:47862->127.0.0.1:40023]`, `UNIX:[123->456]`, `UNIX:[123,"/run/x"]`, `NETLINK:[ROUTE:10622]`,
 * `anon_inode:[eventpoll]`.
 */
export function decorationResource(deco: string): ResourceRef {
  const c0 = deco.charCodeAt(0);
  if (c0 === 47) {
    if (deco.charCodeAt(deco.length - 1) === 62) {
      const lt = deco.lastIndexOf("<");
      if (lt > 0) {
        const inner = deco.slice(lt + 1, deco.length - 1);
        const sp = inner.indexOf(" ");
        const kindText = sp > 0 ? inner.slice(0, sp) : inner;
        const path = unescapeC(deco, 0, lt);
        if (kindText === "char" || kindText === "block") {
          const mm = sp > 0 ? inner.slice(sp + 1) : "";
          const colon = mm.indexOf(":");
          const major = colon > 0 ? Number.parseInt(mm.slice(0, colon), 10) : Number.NaN;
          const minor = colon > 0 ? Number.parseInt(mm.slice(colon + 1), 10) : Number.NaN;
          const dev: ResourceRef = { type: "device", path, kind: kindText };
          if (!Number.isNaN(major)) dev.major = major;
          if (!Number.isNaN(minor)) dev.minor = minor;
          return dev;
        }
        return { type: "file", path };
      }
    }
    return { type: "file", path: unescapeC(deco) };
  }
  const colon = deco.indexOf(":[");
  if (colon > 0 && deco.charCodeAt(deco.length - 1) === 93) {
    const proto = deco.slice(0, colon);
    const body = deco.slice(colon + 2, deco.length - 1);
    if (proto === "pipe") return { type: "pipe", inode: body };
    if (proto === "anon_inode") return { type: "anon", name: deco };
    if (proto === "socket") return { type: "socket", family: "other", protocol: "socket", inode: body };
    const family = socketFamilyOf(proto);
    if (family === "other" && proto !== proto.toUpperCase()) return { type: "unknown", name: deco };
    return socketFromBody(family, proto, body);
  }
  if (deco.startsWith("anon_inode:")) return { type: "anon", name: deco };
  return { type: "unknown", name: deco };
}

function socketFromBody(family: SocketFamily, protocol: string, body: string): ResourceRef {
  const ref: { type: "socket"; family: SocketFamily; protocol: string } & {
    local?: string;
    remote?: string;
    inode?: string;
    path?: string;
  } = { type: "socket", family, protocol };
  if (isDigits(body)) {
    ref.inode = body;
    return ref;
  }
  if (family === "unix") {
    // 123->456  |  123,"/path"  |  123->456,"/path"  |  123,@"abstract"
    let rest = body;
    const comma = body.indexOf(",");
    if (comma > 0) {
      rest = body.slice(0, comma);
      let q = body.slice(comma + 1);
      let at = "";
      if (q.startsWith("@")) {
        at = "@";
        q = q.slice(1);
      }
      const s = cString(q);
      ref.path = at + (s ?? q);
    }
    const arrow = rest.indexOf("->");
    if (arrow > 0) {
      ref.inode = rest.slice(0, arrow);
      ref.remote = rest.slice(arrow + 2);
    } else ref.inode = rest;
    return ref;
  }
  if (family === "netlink") {
    ref.local = body;
    return ref;
  }
  const arrow = body.indexOf("->");
  if (arrow > 0) {
    ref.local = body.slice(0, arrow);
    ref.remote = body.slice(arrow + 2);
  } else ref.local = body;
  return ref;
}

/** The display name of a resource (for `call` events). */
export function resourceName(r: ResourceRef): string {
  switch (r.type) {
    case "file":
    case "device":
      return r.path;
    case "pipe":
      return `pipe:[${r.inode}]`;
    case "socket": {
      if (r.family === "unix") {
        const ino = r.inode ?? "";
        const peer = r.remote !== undefined ? `->${r.remote}` : "";
        const path = r.path !== undefined ? `,"${r.path}"` : "";
        return `${r.protocol}:[${ino}${peer}${path}]`;
      }
      if (r.local !== undefined) {
        return `${r.protocol}:[${r.local}${r.remote !== undefined ? `->${r.remote}` : ""}]`;
      }
      if (r.remote !== undefined) return `${r.protocol}:[->${r.remote}]`;
      return `${r.protocol}:[${r.inode ?? ""}]`;
    }
    case "anon":
    case "unknown":
      return r.name;
    case "registry":
      return r.key;
  }
}

/** A decoded sockaddr: family and a printable address (`127.0.0.1:5000`, `[::1]:80`, `/run/x`, `@abstract`). */
export interface SockAddr {
  family: SocketFamily;
  address?: string;
}

function between(s: string, open: string, close: string): string | undefined {
  const a = s.indexOf(open);
  if (a < 0) return undefined;
  const b = s.indexOf(close, a + open.length);
  if (b < 0) return undefined;
  return s.slice(a + open.length, b);
}

/** `{sa_family=AF_INET, sin_port=htons(5000), sin_addr=inet_addr("127.0.0.1")}` and friends. */
export function sockaddr(arg: string | undefined): SockAddr | undefined {
  if (arg === undefined || arg.indexOf("sa_family=") < 0) return undefined;
  const fam = between(arg, "sa_family=", arg.indexOf(",", arg.indexOf("sa_family=")) >= 0 ? "," : "}");
  const famName = (fam ?? "").replace("}", "").trim();
  if (famName === "AF_INET") {
    const port = between(arg, "htons(", ")");
    const addr = between(arg, 'inet_addr("', '"');
    return { family: "inet", address: `${addr ?? "?"}:${port ?? "?"}` };
  }
  if (famName === "AF_INET6") {
    const port = between(arg, "htons(", ")");
    const addr = between(arg, 'inet_pton(AF_INET6, "', '"');
    return { family: "inet6", address: `[${addr ?? "?"}]:${port ?? "?"}` };
  }
  if (famName === "AF_UNIX" || famName === "AF_LOCAL") {
    const k = arg.indexOf("sun_path=");
    if (k < 0) return { family: "unix" };
    let q = arg.slice(k + 9);
    let at = "";
    if (q.startsWith("@")) {
      at = "@";
      q = q.slice(1);
    }
    const s = cString(q);
    return s === undefined ? { family: "unix" } : { family: "unix", address: at + s };
  }
  if (famName === "AF_NETLINK") {
    const pid = between(arg, "pid=", ",");
    return { family: "netlink", address: pid !== undefined ? `pid=${pid}` : undefined };
  }
  return { family: "other", address: famName };
}

/** The first argument of socket(): AF_INET → inet; the type → TCP/UDP/UNIX protocol name. */
export function socketKind(domain: string | undefined, type: string | undefined): ResourceRef {
  const d = (domain ?? "").trim();
  const t = type ?? "";
  const stream = t.indexOf("SOCK_STREAM") >= 0 || t.trim() === "1";
  const dgram = t.indexOf("SOCK_DGRAM") >= 0 || t.trim() === "2";
  if (d === "AF_INET" || d === "2") {
    return { type: "socket", family: "inet", protocol: stream ? "TCP" : dgram ? "UDP" : "RAW" };
  }
  if (d === "AF_INET6" || d === "10") {
    return { type: "socket", family: "inet6", protocol: stream ? "TCPv6" : dgram ? "UDPv6" : "RAWv6" };
  }
  if (d === "AF_UNIX" || d === "AF_LOCAL" || d === "1") {
    return { type: "socket", family: "unix", protocol: stream ? "UNIX-STREAM" : "UNIX" };
  }
  if (d === "AF_NETLINK" || d === "16") return { type: "socket", family: "netlink", protocol: "NETLINK" };
  return { type: "socket", family: "other", protocol: d };
}
