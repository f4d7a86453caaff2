import { readFileSync } from "node:fs";

/**
 * Mount tables: the network file systems (NFS, CIFS) of a machine, so that a path under one of them
 * can be named by its server and export path, the same from every client (`provflow merge`). Read
 * from the text of `/proc/self/mountinfo` or `/proc/mounts`; `provflow trace` records the tracing
 * machine's network mounts on its machine agent (`networkMounts`).
 */

/** A network file system mount from a mount table. */
export interface NetworkMount {
  mountPoint: string;
  fstype: string;
  /** the mount source: `server:/export` (NFS), `//server/share` (CIFS) */
  source: string;
  /** the server: `addr=` of the mount options when present, else the host of the source */
  server: string;
  /** the exported path (NFS) or share (CIFS), from `/` */
  export: string;
}

/** The network file system types and the scheme of the resolved identity. */
const NETWORK_FS: Record<string, "nfs" | "cifs"> = {
  nfs: "nfs",
  nfs4: "nfs",
  cifs: "cifs",
  smb3: "cifs",
  smbfs: "cifs",
};

/** Undo the octal escapes of /proc mount tables (`\040` is a space). */
function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** A mount table entry of a network file system, or null for every other file system. */
export function networkMount(
  mountPoint: string,
  fstype: string,
  source: string,
  options: string,
): NetworkMount | null {
  const scheme = NETWORK_FS[fstype];
  if (scheme === undefined) return null;
  let host: string | undefined;
  let path: string | undefined;
  if (scheme === "nfs") {
    // server:/export, [v6addr]:/export
    const m = /^(\[[^\]]+\]|[^:]+):(\/.*)?$/.exec(source);
    if (m) {
      host = m[1]!.replace(/^\[|\]$/g, "");
      path = m[2] ?? "/";
    }
  } else {
    // //server/share/sub (or \\server\share)
    const m = /^(?:\/\/|\\\\)([^/\\]+)([/\\].*)?$/.exec(source);
    if (m) {
      host = m[1]!;
      path = (m[2] ?? "/").replace(/\\/g, "/");
    }
  }
  if (host === undefined || path === undefined) return null;
  const addr = /(?:^|,)addr=([^,]+)/.exec(options)?.[1];
  return {
    mountPoint: mountPoint.length > 1 ? mountPoint.replace(/\/+$/, "") : mountPoint,
    fstype,
    source,
    server: (addr ?? host).toLowerCase(),
    export: path.length > 1 ? path.replace(/\/+$/, "") : path,
  };
}

/**
 * The network mounts of a mount table: the text of `/proc/self/mountinfo` (or `/proc/PID/mountinfo`,
 * `findmnt -rn -o ...` is not read) or of `/proc/mounts` / `/etc/mtab` (`SOURCE MOUNTPOINT TYPE OPTIONS
 * …`). Lines that are neither are returned in `bad` with their line number.
 */
export function parseMountTable(text: string): {
  mounts: NetworkMount[];
  bad: { line: number; text: string }[];
} {
  const mounts: NetworkMount[] = [];
  const bad: { line: number; text: string }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(/\s+/);
    const dash = f.indexOf("-");
    let m: NetworkMount | null;
    if (dash >= 6 && /^\d+$/.test(f[0]!) && f.length >= dash + 3) {
      // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS
      m = networkMount(
        unescapeMount(f[4]!),
        f[dash + 1]!,
        unescapeMount(f[dash + 2]!),
        `${f[5]},${f[dash + 3] ?? ""}`,
      );
    } else if (f.length >= 4 && (f[1]!.startsWith("/") || f[1] === "none")) {
      // mounts / mtab / fstab: SOURCE MOUNTPOINT FSTYPE OPTIONS [DUMP PASS]
      m = networkMount(unescapeMount(f[1]!), f[2]!, unescapeMount(f[0]!), f[3]!);
    } else {
      bad.push({ line: i + 1, text: line });
      continue;
    }
    if (m) mounts.push(m);
  }
  return { mounts, bad };
}

/** The shared identity of a path on a network mount (`nfs://SERVER/EXPORT/REL`), or null. */
export function sharedPath(
  path: string,
  mounts: readonly NetworkMount[],
): { id: string; mount: NetworkMount } | null {
  let best: NetworkMount | null = null;
  for (const m of mounts) {
    const under = m.mountPoint === "/" || path === m.mountPoint || path.startsWith(`${m.mountPoint}/`);
    if (under && (best === null || m.mountPoint.length > best.mountPoint.length)) best = m;
  }
  if (best === null) return null;
  const rel = best.mountPoint === "/" ? path : path.slice(best.mountPoint.length);
  const exp = best.export === "/" ? "" : best.export;
  const scheme = NETWORK_FS[best.fstype] ?? best.fstype;
  const server = best.server.includes(":") ? `[${best.server}]` : best.server;
  return { id: `${scheme}://${server}${exp}${rel}`, mount: best };
}

/**
 * This machine's network mounts as a process sees them (`/proc/PID/mountinfo`, default this
 * process's); empty when the table cannot be read.
 */
export function localNetworkMounts(pid: number | "self" = "self"): NetworkMount[] {
  try {
    return parseMountTable(readFileSync(`/proc/${pid}/mountinfo`, "utf8")).mounts;
  } catch {
    return [];
  }
}
