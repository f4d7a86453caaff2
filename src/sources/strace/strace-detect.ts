/**
 * Recognise strace output from its first lines and tell which options printed it. ltrace logs
 * (`SYS_brk(0)`, `brk@SYS(nil)`, `sh->getenv(`, `+++ exited (status 0) +++`) look alike and must
 * not be claimed.
 */
import { type ClockStyle, createLineState, type PrefixStyle, parseStraceLine } from "./strace-line-parser.js";

export interface StraceStyle {
  /** `PID ` (-o with -f), `[pid N] ` (stderr), none (single process / -ff file), `PID<comm> ` (-Y) */
  prefix: PrefixStyle;
  clock: ClockStyle;
  /** -T */
  durations: boolean;
  /** -y / -yy fd decorations */
  decorations: boolean;
  /** 0..1: how sure this is strace output */
  confidence: number;
}

/** library functions ltrace prints that strace never does */
const LIBRARY_NAMES = new Set([
  "malloc",
  "calloc",
  "realloc",
  "free",
  "strlen",
  "strcmp",
  "strncmp",
  "strcpy",
  "strncpy",
  "strchr",
  "strrchr",
  "strdup",
  "strstr",
  "memcpy",
  "memmove",
  "memset",
  "memcmp",
  "getenv",
  "setenv",
  "printf",
  "fprintf",
  "sprintf",
  "snprintf",
  "puts",
  "fputs",
  "fputc",
  "putchar",
  "fopen",
  "fclose",
  "fread",
  "fwrite",
  "fflush",
  "fileno",
  "setlocale",
  "bindtextdomain",
  "textdomain",
  "atexit",
  "abort",
  "isatty",
  "setjmp",
  "opendir",
  "readdir",
  "closedir",
  "qsort",
  "strtol",
  "strtoul",
  "getopt",
  "getopt_long",
  "nl_langinfo",
  "mbrtowc",
  "towlower",
  "sigemptyset",
  "sigaddset",
]);

const DECORATION = /(?:\d|AT_FDCWD)<(?:\/|pipe:|socket:|TCP|UDP|UNIX|anon_inode|NETLINK)/;

/**
 * Look at the first lines of a file: null when they are not strace output (README text, JSON,
 * nothing recognisable), else the style and a confidence (low for ltrace logs).
 */
export function detectStraceStyle(head: readonly string[]): StraceStyle | null {
  const state = createLineState();
  let good = 0;
  let bad = 0;
  let ltrace = 0;
  let calls = 0;
  let durations = false;
  let decorations = false;
  const prefixes = { pid: 0, bracket: 0, none: 0, comm: 0 };
  const limit = Math.min(head.length, 400);
  for (let k = 0; k < limit; k++) {
    const text = head[k] as string;
    if (text.trim() === "") continue;
    const paren = text.indexOf("(");
    if (text.indexOf("@SYS(") >= 0 || (paren > 0 && text.lastIndexOf("->", paren) >= 0)) {
      ltrace++;
      bad++;
      continue;
    }
    const r = parseStraceLine(text, state, k + 1);
    switch (r.kind) {
      case "call":
      case "unfinished":
      case "resumed": {
        good++;
        calls++;
        if (r.comm !== undefined) prefixes.comm++;
        else if (r.pid < 0) prefixes.none++;
        else if (text.charCodeAt(0) === 91) prefixes.bracket++;
        else prefixes.pid++;
        if (r.name.startsWith("SYS_") || r.name.startsWith("__") || LIBRARY_NAMES.has(r.name)) ltrace++;
        if (r.kind !== "unfinished") {
          if (r.dur !== undefined) durations = true;
          if (r.errno === undefined && r.retval !== undefined && r.retval < -1 && r.retval > -4096) ltrace++;
          if (r.ret === "<void>") ltrace++;
        }
        if (!decorations && DECORATION.test(text)) decorations = true;
        break;
      }
      case "signal":
        if (r.info.startsWith("(")) {
          ltrace++;
          bad++;
        } else good++;
        break;
      case "exited":
      case "killed":
      case "attached":
      case "detached":
      case "superseded":
        good++;
        break;
      case "garbage":
        if (text.indexOf("+++ exited (status") >= 0) ltrace++;
        bad++;
        break;
      case "partial":
        bad += 0.5;
        break;
      case "message":
      case "empty":
        break;
    }
  }
  if (calls === 0 || good === 0) return null;
  let prefix: PrefixStyle = "none";
  if (prefixes.comm > 0) prefix = "comm";
  else if (prefixes.bracket > 0 && prefixes.bracket >= prefixes.pid) prefix = "bracket";
  else if (prefixes.pid > 0) prefix = "pid";
  let confidence = good / (good + bad);
  if (ltrace > 0) confidence = Math.min(confidence, 0.1);
  else if (calls < 3) confidence = Math.min(confidence, 0.6);
  return {
    prefix,
    clock: state.clock ?? "none",
    durations,
    decorations,
    confidence: Math.round(confidence * 1000) / 1000,
  };
}
