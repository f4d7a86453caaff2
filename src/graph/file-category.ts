import { isWindowsPath, normalizeWindowsPath } from "./windows-path.js";

/** What kind of thing a path is, from its place in the file system hierarchy. */
export type FileCategory =
  | "shared-library"
  | "executable"
  | "system-config"
  | "system-data"
  | "kernel"
  | "device"
  | "temporary"
  | "runtime"
  | "log-cache"
  | "user-data"
  | "pipe"
  | "socket"
  // Windows (ProcMon, Sysmon, logexts paths)
  | "system32"
  | "windows"
  | "program-files"
  | "program-data"
  | "user-profile"
  | "registry"
  | "other";

export const FILE_CATEGORIES: readonly FileCategory[] = [
  "user-data",
  "user-profile",
  "temporary",
  "executable",
  "shared-library",
  "system-config",
  "system-data",
  "runtime",
  "log-cache",
  "program-files",
  "program-data",
  "system32",
  "windows",
  "kernel",
  "device",
  "pipe",
  "socket",
  "registry",
  "other",
];

/** Categories whose files carry data a program turns into its output ("copy" derivations). */
const DATA_CATEGORIES: ReadonlySet<FileCategory> = new Set<FileCategory>([
  "user-data",
  "user-profile",
  "program-data",
  "temporary",
  "system-data",
  "other",
]);

export function isDataCategory(c: FileCategory): boolean {
  return DATA_CATEGORIES.has(c);
}

const SO_RE = /\.so(?:\.\d+)*$/;
const EXEC_DIRS = [
  "/bin/",
  "/sbin/",
  "/usr/bin/",
  "/usr/sbin/",
  "/usr/local/bin/",
  "/usr/local/sbin/",
  "/usr/libexec/",
  "/usr/local/libexec/",
];
const CONFIG_DIRS = [
  "/etc/",
  "/usr/share/zoneinfo/",
  "/usr/share/locale/",
  "/usr/share/i18n/",
  "/usr/share/fonts/",
  "/usr/share/fontconfig/",
  "/usr/lib/locale/",
  "/usr/local/etc/",
];
/** glibc's charset-conversion tables (gconv-modules, its cache and gconv-modules.d/): read by any program that converts text, like the locale files */
const GCONV_CONFIG_RE = /^\/(?:usr\/)?lib(?:32|64|x32)?\/(?:[^/]+\/)?gconv\/gconv-modules/;
const TEMP_DIRS = ["/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/", "/run/shm/"];
const RUNTIME_DIRS = ["/run/", "/var/run/", "/var/lock/"];
const LOG_CACHE_DIRS = ["/var/log/", "/var/cache/"];
const SYSTEM_DATA_DIRS = ["/usr/", "/var/lib/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/opt/", "/var/"];

function under(path: string, dirs: readonly string[]): boolean {
  for (const d of dirs) {
    if (path.startsWith(d) || (path.length === d.length - 1 && d.startsWith(path))) return true;
  }
  return false;
}

/**
 * The category of a path. Order matters: kernel and device trees first, then shared libraries
 * (wherever they live), executables, configuration, temporary, runtime, logs and caches, the rest
 * of the system, then the user's files (home directories, /root, anything under `cwd`).
 * Non-path resources: `pipe:[…]` → pipe, `socket:[…]`, `TCP:[…]`, `UNIX…` → socket.
 */
export function categorizePath(path: string, cwd?: string | null): FileCategory {
  if (path.length === 0) return "other";
  if (isWindowsPath(path)) return categorizeWindowsPath(path);
  if (path.charCodeAt(0) !== 47 /* / */) {
    if (path.startsWith("pipe:")) return "pipe";
    if (/^(?:socket|TCP|TCPv6|UDP|UDPv6|UNIX|NETLINK)[:-]/.test(path)) return "socket";
    return "other";
  }
  if (under(path, ["/proc/", "/sys/"])) return "kernel";
  if (under(path, ["/dev/shm/"])) return "temporary";
  if (under(path, ["/dev/"])) return "device";
  if (SO_RE.test(path) || (path.includes(".so.") && /\.so\.\d/.test(path))) return "shared-library";
  if (under(path, EXEC_DIRS)) return "executable";
  if (under(path, CONFIG_DIRS) || GCONV_CONFIG_RE.test(path)) return "system-config";
  if (under(path, TEMP_DIRS)) return "temporary";
  if (under(path, RUNTIME_DIRS)) return "runtime";
  if (under(path, LOG_CACHE_DIRS)) return "log-cache";
  if (under(path, SYSTEM_DATA_DIRS)) return "system-data";
  if (under(path, ["/home/", "/root/"])) return "user-data";
  if (cwd && cwd !== "/" && (path === cwd || path.startsWith(cwd.endsWith("/") ? cwd : `${cwd}/`))) {
    return "user-data";
  }
  return "other";
}

const WIN_LIB_RE = /\.(?:dll|sys|drv|ocx|cpl|mui|winmd)$/;
const WIN_EXE_RE = /\.(?:exe|com|scr)$/;

/**
 * The category of a Windows path (drive, UNC or NT device form), from its normalised form:
 * temporary directories first (the user's `AppData\Local\Temp`, `Windows\Temp`), then
 * `Windows\System32`, `SysWOW64` and `WinSxS` (system32), the rest of `Windows`, `Program Files`
 * (both), `ProgramData`, user profiles (`Users\NAME`); named pipes and mailslots are pipes, other
 * NT device paths devices. Libraries and executables outside those trees keep their own category.
 */
export function categorizeWindowsPath(path: string): FileCategory {
  const n = normalizeWindowsPath(path);
  if (n.startsWith("device/namedpipe") || n.startsWith("device/mailslot") || n.startsWith("pipe/"))
    return "pipe";
  // \Device\HarddiskVolumeN\… is a volume path: categorise the part after the volume
  let rest = n;
  const vol = /^device\/harddiskvolume\d+\//.exec(n) ?? /^unc\/[^/]+\/[^/]+\//.exec(n);
  if (vol) rest = `?:/${n.slice(vol[0].length)}`;
  else if (n.startsWith("device/")) return "device";
  else if (!/^[a-z]:\//.test(n)) return "other";
  const p = rest.slice(3);
  if (
    /^users\/[^/]+\/appdata\/local\/temp(?:\/|$)/.test(p) ||
    /^windows\/temp(?:\/|$)/.test(p) ||
    /^temp(?:\/|$)/.test(p)
  )
    return "temporary";
  if (/^windows\/(?:system32|syswow64|winsxs|sysnative)(?:\/|$)/.test(p)) return "system32";
  if (/^windows(?:\/|$)/.test(p)) return "windows";
  if (/^program files(?: \(x86\))?(?:\/|$)/.test(p)) return "program-files";
  if (/^programdata(?:\/|$)/.test(p)) return "program-data";
  if (/^users\/[^/]+(?:\/|$)/.test(p) || /^documents and settings\/[^/]+(?:\/|$)/.test(p))
    return "user-profile";
  if (WIN_LIB_RE.test(p)) return "shared-library";
  if (WIN_EXE_RE.test(p)) return "executable";
  return "other";
}
