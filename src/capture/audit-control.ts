import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { syscallName } from "../sources/audit/audit-syscall-names.js";
import { CaptureError } from "../util/errors.js";
import { whichSync } from "./tracer-command.js";

/**
 * The Linux audit system as `provflow audit` drives it, through auditctl and auditd: the kernel's
 * status, rules scoped to one audit session under one key, user messages, and a private auditd
 * writing to a temporary directory when no audit daemon runs.
 */

export interface AuditStatus {
  /** 0 off, 1 on, 2 on and locked until reboot */
  enabled: number;
  /** the process receiving the kernel's audit records (the audit daemon), 0 when none */
  pid: number;
  /** records the kernel dropped since boot */
  lost: number;
  backlogLimit: number;
  loginuidImmutable: boolean;
}

export interface AuditctlResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function auditctl(args: string[]): AuditctlResult {
  const r = spawnSync("auditctl", args, { encoding: "utf8", timeout: 30_000 });
  if (r.error) return { status: 127, stdout: "", stderr: r.error.message };
  return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find(Boolean) ?? ""
  );
}

export function readAuditStatus(): AuditStatus {
  const r = auditctl(["-s"]);
  const values = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const m = /^(\w+) (\S+)/.exec(line.trim());
    if (m) values.set(m[1]!, m[2]!);
  }
  if (r.status !== 0 || !values.has("enabled")) {
    const why = firstLine(r.stderr) || firstLine(r.stdout) || `auditctl -s exited ${r.status}`;
    throw new CaptureError(
      `the kernel's audit system cannot be used here (${why}): a kernel with audit support and CAP_AUDIT_CONTROL are needed`,
    );
  }
  const num = (k: string) => Number(values.get(k) ?? 0);
  return {
    enabled: num("enabled"),
    pid: num("pid"),
    lost: num("lost"),
    backlogLimit: num("backlog_limit"),
    loginuidImmutable: values.get("loginuid_immutable") === "1",
  };
}

/**
 * The system calls the audit interpreter turns into provenance (processes, execs, file creation,
 * deletion, renames, links, opens, sockets), plus a few file calls that only fill the calls log.
 */
export const AUDIT_CAPTURE_SYSCALLS = [
  "execve",
  "execveat",
  "clone",
  "clone3",
  "fork",
  "vfork",
  "exit_group",
  "open",
  "openat",
  "openat2",
  "creat",
  "truncate",
  "ftruncate",
  "unlink",
  "unlinkat",
  "rename",
  "renameat",
  "renameat2",
  "mkdir",
  "mkdirat",
  "rmdir",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
  "mknod",
  "mknodat",
  "chdir",
  "fchdir",
  "chmod",
  "fchmod",
  "fchmodat",
  "fchmodat2",
  "connect",
  "accept",
  "accept4",
  "bind",
  "listen",
] as const;

export interface RuleArch {
  /** auditctl's name (b64, b32) */
  flag: "b64" | "b32";
  /** the AUDIT_ARCH value as SYSCALL records print it, when provflow has its syscall table */
  arch: string | null;
}

/** The syscall tables of this machine: 64-bit, and the 32-bit one where the kernel has it. */
export function ruleArches(): RuleArch[] {
  if (process.arch === "x64")
    return [
      { flag: "b64", arch: "c000003e" },
      { flag: "b32", arch: "40000003" },
    ];
  if (process.arch === "arm64") return [{ flag: "b64", arch: "c00000b7" }];
  return [{ flag: process.arch === "ia32" || process.arch === "arm" ? "b32" : "b64", arch: null }];
}

function syscallNumbers(arch: string): Map<string, number> {
  const byName = new Map<string, number>();
  for (let nr = 0; nr < 1024; nr++) {
    const name = syscallName(arch, nr);
    if (name !== undefined && !byName.has(name)) byName.set(name, nr);
  }
  return byName;
}

export interface AddedRule {
  args: string[];
  /** names the architecture has no such call for */
  skipped: string[];
}

/**
 * Adds `-a always,exit -F arch=A -S … -F sessionid=S -k KEY`: the capture's rule, scoped to CMD's
 * audit session. Throws with auditctl's message when the kernel refuses the rule.
 */
export function addSessionRule(ra: RuleArch, session: number, key: string): AddedRule {
  return addExitRule(ra, AUDIT_CAPTURE_SYSCALLS, `sessionid=${session}`, key, "capture");
}

/**
 * Adds `-a always,exit -F arch=A -S CALLS -F FIELD -k KEY`. Calls the architecture does not have
 * are left out; a name auditctl's own table does not know yet (fchmodat2 or execveat in an old
 * auditctl) is given by number, or left out when this architecture's table has no number for it.
 * Throws a CaptureError naming `what` (the capture, the watch) with auditctl's message when the
 * kernel refuses the rule.
 */
export function addExitRule(
  ra: RuleArch,
  wanted: readonly string[],
  field: string,
  key: string,
  what: string,
): AddedRule {
  const numbers = ra.arch !== null ? syscallNumbers(ra.arch) : null;
  const skipped: string[] = [];
  let calls: string[] = [];
  for (const name of wanted) {
    if (numbers === null || numbers.has(name)) calls.push(name);
    else skipped.push(name);
  }
  if (calls.length === 0)
    throw new CaptureError(`the ${what}'s rule has no call this architecture knows (arch=${ra.flag})`);
  for (let attempt = 0; attempt < wanted.length; attempt++) {
    const args = [
      "-a",
      "always,exit",
      "-F",
      `arch=${ra.flag}`,
      "-S",
      calls.join(","),
      "-F",
      field,
      "-k",
      key,
    ];
    const r = auditctl(args);
    if (r.status === 0) return { args, skipped };
    const unknown = /Syscall name unknown: (\S+)/.exec(r.stderr);
    if (unknown) {
      const name = unknown[1]!;
      const nr = numbers?.get(name);
      if (nr !== undefined && calls.includes(name)) calls = calls.map((c) => (c === name ? String(nr) : c));
      else {
        calls = calls.filter((c) => c !== name);
        skipped.push(name);
      }
      if (calls.length > 0) continue;
    }
    throw new CaptureError(
      `auditctl refused the ${what}'s rule (arch=${ra.flag}): ${firstLine(r.stderr) || firstLine(r.stdout) || `exit ${r.status}`}`,
    );
  }
  throw new CaptureError(`auditctl refused the ${what}'s rule (arch=${ra.flag})`);
}

/** Removes every rule with this key, and only those; true when none is left. */
export function deleteKeyRules(key: string): boolean {
  auditctl(["-D", "-k", key]);
  return !keyRulesPresent(key);
}

export function keyRulesPresent(key: string): boolean {
  const r = auditctl(["-l", "-k", key]);
  return r.stdout.includes(`key=${key}`);
}

/** Sends a user message through the kernel's audit queue (it comes out after every earlier record). */
export function sendAuditMessage(text: string): boolean {
  return auditctl(["-m", text]).status === 0;
}

export function setAuditEnabled(value: number): boolean {
  return auditctl(["-e", String(value)]).status === 0;
}

export function setBacklogLimit(value: number): boolean {
  return auditctl(["-b", String(value)]).status === 0;
}

/** comm of a process, null when it is gone */
export function processName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return null;
  }
}

function processArgs(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** whether the process exists and has not exited (a zombie waiting for its parent has) */
export function processAlive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = st.charAt(st.lastIndexOf(")") + 2);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** key = value lines of an auditd.conf */
export function readAuditdConf(path: string): Map<string, string> {
  const conf = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return conf;
  }
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) conf.set(m[1]!.toLowerCase(), m[2]!);
  }
  return conf;
}

/** The log file a running auditd writes, from the configuration it was started with (-c DIR). */
export function auditdLogFile(pid: number): { file: string | null; why?: string } {
  const args = processArgs(pid);
  const c = args.indexOf("-c");
  const dir = c >= 0 && args[c + 1] ? args[c + 1]! : "/etc/audit";
  const conf = readAuditdConf(join(dir, "auditd.conf"));
  if ((conf.get("write_logs") ?? "yes").toLowerCase() === "no")
    return { file: null, why: `it writes no log (write_logs = no in ${join(dir, "auditd.conf")})` };
  return { file: conf.get("log_file") ?? "/var/log/audit/audit.log" };
}

/** Processes whose audit session is `session` (zombies left out). */
export function sessionProcesses(session: number): number[] {
  const want = String(session);
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      if (readFileSync(`/proc/${e}/sessionid`, "utf8").trim() !== want) continue;
      const st = readFileSync(`/proc/${e}/stat`, "utf8");
      const state = st.charAt(st.lastIndexOf(")") + 2);
      if (state !== "Z" && state !== "X") out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

export function requireAuditTools(needAuditd: boolean): void {
  const missing = ["auditctl", ...(needAuditd ? ["auditd"] : [])].filter(
    (t) => !whichSync(t, `${process.env.PATH ?? ""}:/usr/sbin:/sbin`),
  );
  if (missing.length > 0) {
    throw new CaptureError(
      `${missing.join(" and ")} not found: install auditd (Debian/Ubuntu: sudo apt-get install auditd), or record with 'provflow trace'`,
    );
  }
}

/** A private auditd for one capture: its configuration and log live in a temporary directory. */
export interface PrivateAuditd {
  pid: number;
  log: string;
  child: ChildProcess;
  exited: Promise<void>;
}

const AUDITD_CONF = (dir: string) =>
  [
    "# provflow audit: a private auditd for one capture",
    "local_events = yes",
    "write_logs = yes",
    `log_file = ${join(dir, "audit.log")}`,
    "log_group = root",
    "log_format = RAW",
    "flush = INCREMENTAL_ASYNC",
    "freq = 20",
    "max_log_file = 0",
    "max_log_file_action = IGNORE",
    "space_left = 2",
    "space_left_action = SYSLOG",
    "admin_space_left = 1",
    "admin_space_left_action = SYSLOG",
    "disk_full_action = SYSLOG",
    "disk_error_action = SYSLOG",
    "priority_boost = 0",
    "name_format = NONE",
    `plugin_dir = ${join(dir, "plugins")}`,
    "q_depth = 4000",
    "overflow_action = SYSLOG",
    "",
  ].join("\n");

/**
 * Starts `auditd -n -s nochange -c DIR` (foreground, leaving the enabled flag alone) with a
 * configuration that writes DIR/audit.log and loads no plugins, and waits until the kernel sends
 * it the records. Under setpriv --pdeathsig when available, so that it ends with provflow even
 * if provflow is killed.
 */
export async function startPrivateAuditd(dir: string, timeoutMs = 10_000): Promise<PrivateAuditd> {
  mkdirSync(join(dir, "plugins"), { recursive: true, mode: 0o750 });
  const confPath = join(dir, "auditd.conf");
  writeFileSync(confPath, AUDITD_CONF(dir), { mode: 0o640 });
  chmodSync(confPath, 0o640);
  const auditd = whichSync("auditd", `${process.env.PATH ?? ""}:/usr/sbin:/sbin`) ?? "auditd";
  const setpriv = whichSync("setpriv");
  const argv = [auditd, "-n", "-s", "nochange", "-c", dir];
  const full = setpriv ? [setpriv, "--pdeathsig", "TERM", "--", ...argv] : argv;
  // a process group of its own: Ctrl-C at the terminal is for the command, not for auditd
  const child = spawn(full[0]!, full.slice(1), { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  let gone: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | null = null;
  const exited = new Promise<void>((res) => {
    child.on("error", (error) => {
      gone = { code: null, signal: null, error };
      res();
    });
    child.on("exit", (code, signal) => {
      gone ??= { code, signal };
      res();
    });
  });
  const log = join(dir, "audit.log");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone !== null) {
      const g = gone as { code: number | null; signal: NodeJS.Signals | null; error?: Error };
      const why =
        g.error?.message ??
        (firstLine(stderr) || (g.code !== null ? `exit status ${g.code}` : `signal ${g.signal}`));
      throw new CaptureError(`could not start a private auditd for the capture: ${why}`);
    }
    const pid = child.pid;
    if (pid !== undefined && existsSync(log)) {
      const st = auditctl(["-s"]);
      if (new RegExp(`^pid ${pid}$`, "m").test(st.stdout)) return { pid, log, child, exited };
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new CaptureError(
        `the private auditd did not become the kernel's audit daemon within ${timeoutMs / 1000} s${stderr ? `: ${firstLine(stderr)}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Stops a private auditd (SIGTERM, then SIGKILL after a while) and waits for it. */
export async function stopPrivateAuditd(d: PrivateAuditd, timeoutMs = 5_000): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  d.child.kill("SIGTERM");
  const t = setTimeout(() => d.child.kill("SIGKILL"), timeoutMs);
  await d.exited;
  clearTimeout(t);
}

/**
 * What a capture changed, kept in /run/provflow-audit/PID.json while it runs, so that a capture
 * killed with SIGKILL can be cleaned up by the next one (its rules removed, its auditd stopped).
 */
export interface CaptureState {
  pid: number;
  key: string;
  /** the private auditd and its directory, when the capture started one */
  auditdPid: number | null;
  dir: string | null;
  /** the enabled flag to put back, when the capture changed it */
  enabledBefore: number | null;
  backlogBefore: number | null;
}

export const STATE_DIR = "/run/provflow-audit";

export function writeCaptureState(s: CaptureState): string {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const path = join(STATE_DIR, `${s.pid}.json`);
  writeFileSync(path, `${JSON.stringify(s)}\n`, { mode: 0o600 });
  return path;
}

export function readCaptureStates(): Array<CaptureState & { file: string }> {
  let names: string[];
  try {
    names = readdirSync(STATE_DIR);
  } catch {
    return [];
  }
  const out: Array<CaptureState & { file: string }> = [];
  for (const n of names) {
    if (!n.endsWith(".json")) continue;
    const file = join(STATE_DIR, n);
    try {
      out.push({ ...(JSON.parse(readFileSync(file, "utf8")) as CaptureState), file });
    } catch {
      // half-written: ignore
    }
  }
  return out;
}

/** whether pid is a running auditd started for the capture in `dir` */
export function isCaptureAuditd(pid: number, dir: string | null): boolean {
  if (processName(pid) !== "auditd") return false;
  return dir === null || processArgs(pid).includes(dir);
}
