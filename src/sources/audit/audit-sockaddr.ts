import type { SocketFamily } from "../../events/event-types.js";

/**
 * SOCKADDR records carry the raw `struct sockaddr` the call passed, hex-encoded (`saddr=0200…`).
 * The family is a host-order u16 (little-endian on x86/arm, big-endian on ppc64/s390x); ports are
 * network order.
 */
export interface AuditSockaddr {
  family: SocketFamily;
  /** the AF_* number */
  code: number;
  /** inet/inet6: the address as text */
  addr?: string;
  port?: number;
  /** unix: the path ("@name" for the abstract namespace, "" for an unnamed socket) */
  path?: string;
  /** netlink: port id and multicast groups */
  pid?: number;
  groups?: number;
}

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;

function knownFamily(code: number): boolean {
  return code === AF_UNIX || code === AF_INET || code === AF_INET6 || code === AF_NETLINK || code === 17;
}

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** the bytes of a hex string, or null when it is not hex of even length */
export function hexBytes(hex: string): Uint8Array | null {
  const n = hex.length;
  if ((n & 1) !== 0) return null;
  const out = new Uint8Array(n >> 1);
  for (let i = 0, j = 0; i < n; i += 2, j++) {
    const hi = hexNibble(hex.charCodeAt(i));
    const lo = hexNibble(hex.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return null;
    out[j] = (hi << 4) | lo;
  }
  return out;
}

function u16be(b: Uint8Array, i: number): number {
  return ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
}

function u32(b: Uint8Array, i: number, be: boolean): number {
  const x0 = b[i] ?? 0;
  const x1 = b[i + 1] ?? 0;
  const x2 = b[i + 2] ?? 0;
  const x3 = b[i + 3] ?? 0;
  return be
    ? ((x0 << 24) | (x1 << 16) | (x2 << 8) | x3) >>> 0
    : ((x3 << 24) | (x2 << 16) | (x1 << 8) | x0) >>> 0;
}

/** RFC 5952 text of 16 bytes (longest zero run of ≥2 groups compressed, IPv4-mapped shown dotted) */
export function formatIpv6(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(u16be(b, off + 2 * i));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number) => x.toString(16);
  if (bestStart < 0) return g.map(hex).join(":");
  const left = g.slice(0, bestStart).map(hex).join(":");
  const right = g
    .slice(bestStart + bestLen)
    .map(hex)
    .join(":");
  return `${left}::${right}`;
}

function latin1OrUtf8(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("utf8");
}

/**
 * Decode a `saddr=` hex blob. `bigEndian` is the host order of the recording machine (see
 * `archIsBigEndian`); when not given, a family that only makes sense big-endian is read that way.
 * Returns null for a blob that is not hex or shorter than the family field.
 */
export function decodeSockaddr(hex: string, bigEndian?: boolean): AuditSockaddr | null {
  const b = hexBytes(hex);
  if (b === null || b.length < 2) return null;
  const le = (b[0] ?? 0) | ((b[1] ?? 0) << 8);
  const be = u16be(b, 0);
  let isBe = bigEndian ?? false;
  if (bigEndian === undefined && !knownFamily(le) && knownFamily(be)) isBe = true;
  const code = isBe ? be : le;
  switch (code) {
    case AF_INET: {
      if (b.length < 8) return { family: "inet", code };
      return { family: "inet", code, addr: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port: u16be(b, 2) };
    }
    case AF_INET6: {
      if (b.length < 24) return { family: "inet6", code };
      return { family: "inet6", code, addr: formatIpv6(b, 8), port: u16be(b, 2) };
    }
    case AF_UNIX: {
      const rest = b.subarray(2);
      if (rest.length === 0) return { family: "unix", code, path: "" };
      if (rest[0] === 0) {
        // abstract namespace: the name is every byte after the NUL (trailing NULs are padding)
        let end = rest.length;
        while (end > 1 && rest[end - 1] === 0) end--;
        if (end <= 1) return { family: "unix", code, path: "" };
        return { family: "unix", code, path: `@${latin1OrUtf8(rest.subarray(1, end))}` };
      }
      const nul = rest.indexOf(0);
      return { family: "unix", code, path: latin1OrUtf8(nul < 0 ? rest : rest.subarray(0, nul)) };
    }
    case AF_NETLINK: {
      if (b.length < 12) return { family: "netlink", code };
      return { family: "netlink", code, pid: u32(b, 4, isBe), groups: u32(b, 8, isBe) };
    }
    default:
      return { family: "other", code };
  }
}
