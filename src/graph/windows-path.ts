/**
 * Windows paths and registry keys as Windows traces write them (ProcMon, Sysmon, logexts): kept as
 * they are for display, with a normalised form for comparison, merging and global ids. Windows file
 * names are case-insensitive, take `\` or `/` as separators, and come in several spellings of the
 * same place (`\??\C:\x`, `\\?\C:\x`, `C:\x`).
 */

const DRIVE_RE = /^[A-Za-z]:[\\/]/;

/** A path that is absolute on Windows: `C:\…`, UNC `\\server\share\…`, `\Device\…`, `\??\…`. */
export function isWindowsPath(path: string): boolean {
  if (path.length < 3) return false;
  const c = path.charCodeAt(0);
  if (c === 92 /* \ */) return true;
  return DRIVE_RE.test(path);
}

/**
 * The form two spellings of one Windows path share: lower case, `/` separators, no `\??\` or
 * `\\?\` prefix, no trailing separator; UNC paths become `unc/server/share/…`, NT device paths
 * `device/harddiskvolume2/…`, drive paths `c:/…`.
 */
export function normalizeWindowsPath(path: string): string {
  let p = path.replace(/\//g, "\\");
  if (p.startsWith("\\??\\") || p.startsWith("\\\\?\\") || p.startsWith("\\\\.\\")) p = p.slice(4);
  if (/^UNC\\/i.test(p)) p = `\\\\${p.slice(4)}`;
  let out: string;
  if (p.startsWith("\\\\")) out = `unc\\${p.slice(2)}`;
  else if (p.startsWith("\\")) out = p.slice(1);
  else out = p;
  out = out.replace(/\\+/g, "/").toLowerCase();
  if (out.length > 3 && out.endsWith("/")) out = out.slice(0, -1);
  return out;
}

/** Registry hive names as ProcMon, Sysmon and the kernel (`\REGISTRY\…`) write them, short form. */
const HIVES: ReadonlyArray<[RegExp, string]> = [
  [/^\\?registry\\machine(?=\\|$)/i, "HKLM"],
  [/^\\?registry\\user(?=\\|$)/i, "HKU"],
  [/^HKEY_LOCAL_MACHINE(?=\\|$)/i, "HKLM"],
  [/^HKEY_CURRENT_USER(?=\\|$)/i, "HKCU"],
  [/^HKEY_CLASSES_ROOT(?=\\|$)/i, "HKCR"],
  [/^HKEY_USERS(?=\\|$)/i, "HKU"],
  [/^HKEY_CURRENT_CONFIG(?=\\|$)/i, "HKCC"],
];

/** A registry key or value name in its comparable form: short hive name, lower case, `\` separators. */
export function normalizeRegistryKey(key: string): string {
  let k = key.trim();
  for (const [re, short] of HIVES) {
    if (re.test(k)) {
      k = k.replace(re, short);
      break;
    }
  }
  return k.replace(/\\+$/, "").toLowerCase();
}

/** Whether a ProcMon/Sysmon path names a registry key rather than a file. */
export function isRegistryPath(path: string): boolean {
  return /^(?:HK(?:LM|CU|CR|U|CC)|HKEY_[A-Z_]+|\\REGISTRY)(?:\\|$)/i.test(path);
}

/** A Windows file name's last component (after `\` or `/`). */
export function windowsBaseName(path: string): string {
  const i = Math.max(path.lastIndexOf("\\"), path.lastIndexOf("/"));
  return i >= 0 ? path.slice(i + 1) : path;
}

/** Joins a relative Windows path to a directory (`C:\dir\` + `x.txt`). */
export function joinWindowsPath(dir: string, rel: string): string {
  if (isWindowsPath(rel)) return rel;
  return dir.endsWith("\\") || dir.endsWith("/") ? `${dir}${rel}` : `${dir}\\${rel}`;
}

/**
 * A command line split into arguments the way the Microsoft C runtime (CommandLineToArgvW) does:
 * whitespace separates, double quotes group, `\"` is a quote, 2n backslashes before a quote are n
 * backslashes, `""` inside quotes is a quote. The program name (first argument) is taken as it is
 * up to the closing quote or the first blank.
 */
export function splitWindowsCommandLine(cmd: string): string[] {
  const args: string[] = [];
  let i = 0;
  const n = cmd.length;
  while (i < n && (cmd[i] === " " || cmd[i] === "\t")) i++;
  if (i >= n) return args;
  // the program name: no escapes
  let prog = "";
  if (cmd[i] === '"') {
    i++;
    while (i < n && cmd[i] !== '"') prog += cmd[i++];
    i++;
  }
  while (i < n && cmd[i] !== " " && cmd[i] !== "\t") prog += cmd[i++];
  args.push(prog);
  for (;;) {
    while (i < n && (cmd[i] === " " || cmd[i] === "\t")) i++;
    if (i >= n) break;
    let arg = "";
    let quoted = false;
    while (i < n) {
      const c = cmd[i]!;
      if (!quoted && (c === " " || c === "\t")) break;
      if (c === "\\") {
        let k = 0;
        while (i < n && cmd[i] === "\\") {
          k++;
          i++;
        }
        if (cmd[i] === '"') {
          arg += "\\".repeat(k >> 1);
          if (k & 1) {
            arg += '"';
            i++;
          }
        } else arg += "\\".repeat(k);
        continue;
      }
      if (c === '"') {
        if (quoted && cmd[i + 1] === '"') {
          arg += '"';
          i += 2;
          continue;
        }
        quoted = !quoted;
        i++;
        continue;
      }
      arg += c;
      i++;
    }
    args.push(arg);
  }
  return args;
}
