import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, rmdirSync, rmSync, statSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { constants as osConstants, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import type { RunContext } from "../events/event-types.js";
import { type PipelineResult, runPipeline } from "../ingest/ingest-pipeline.js";
import { findFormat } from "../sources/source-registry.js";
import type { GraphStore, Problem } from "../store/store-types.js";
import { CaptureError, ExitCode, ProvflowError } from "../util/errors.js";
import type { HostInfo } from "../util/host-info.js";
import {
  type AddedRule,
  type AuditStatus,
  addSessionRule,
  auditdLogFile,
  type CaptureState,
  deleteKeyRules,
  isCaptureAuditd,
  processAlive,
  processName,
  readAuditStatus,
  readCaptureStates,
  requireAuditTools,
  ruleArches,
  STATE_DIR,
  sendAuditMessage,
  sessionProcesses,
  setAuditEnabled,
  setBacklogLimit,
  startPrivateAuditd,
  stopPrivateAuditd,
  writeCaptureState,
} from "./audit-control.js";
import { AuditCaptureFilter, AuditLogTail } from "./audit-log-filter.js";
import { whichSync } from "./tracer-command.js";

/**
 * `provflow audit -- CMD`: runs CMD in an audit session of its own and records what the kernel's
 * audit system saw it and its descendants do. A small shell wrapper writes its loginuid (which
 * gives it a fresh session id, inherited by everything it starts), reports the session and waits;
 * provflow adds rules scoped to that session under a key of its own, lets the wrapper exec CMD,
 * follows auditd's log (the system's, or a private auditd started for the capture), keeps the
 * capture's events and feeds them to the audit source as they come. At the end, always: the rules
 * with its key are removed, a private auditd is stopped, the enabled flag is put back.
 */

export interface AuditCaptureOptions {
  store: GraphStore;
  host: HostInfo;
  command: string[];
  name?: string;
  /** keep the capture's raw audit log here */
  log?: string;
  onProblem?: (p: Problem) => void;
  /** one-line notices for stderr (waiting, lost records, a missing 32-bit rule…) */
  onNotice?: (message: string) => void;
  /** how long the end of the events may keep us waiting once nothing new arrives (ms) */
  tailTimeoutMs?: number;
}

export interface AuditCaptureOutcome {
  runId: number;
  result: PipelineResult;
  /** the status provflow should exit with: the command's */
  exitStatus: number;
  interrupted: boolean;
  /** records the kernel dropped during the capture */
  lost: number;
  /** whether the end of the command's events was seen (else the last ones may be missing) */
  complete: boolean;
}

/** What preflight found out: where the records will come from. */
export interface AuditPlan {
  status: AuditStatus;
  /** the system auditd's log, or null: start a private one */
  systemLog: string | null;
  systemAuditd: number | null;
  /** the loginuid the command's session gets */
  loginuid: number;
}

const UNSET_ID = 4294967295;
const BACKLOG = 8192;

function signalNumber(sig: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 1;
}

function readLoginuidRaw(): number {
  try {
    return Number(readFileSync("/proc/self/loginuid", "utf8").trim());
  } catch {
    return UNSET_ID;
  }
}

/** the loginuid the command's session gets: ours when set, else the real uid */
function readLoginuid(): number {
  const v = readLoginuidRaw();
  return Number.isInteger(v) && v !== UNSET_ID ? v : (process.getuid?.() ?? 0);
}

/**
 * Captures killed with SIGKILL leave their state file: remove their rules, stop their auditd and
 * put the enabled flag back as they found it.
 */
function cleanStaleCaptures(notice: (m: string) => void): void {
  for (const s of readCaptureStates()) {
    if (s.pid === process.pid || processAlive(s.pid)) continue;
    deleteKeyRules(s.key);
    if (s.auditdPid !== null && isCaptureAuditd(s.auditdPid, s.dir)) {
      try {
        process.kill(s.auditdPid, "SIGTERM");
      } catch {
        // gone already
      }
    }
    if (s.backlogBefore !== null) setBacklogLimit(s.backlogBefore);
    if (s.enabledBefore !== null) setAuditEnabled(s.enabledBefore);
    if (s.dir !== null) rmSync(s.dir, { recursive: true, force: true });
    rmSync(s.file, { force: true });
    notice(`cleaned up after an audit capture that was killed (pid ${s.pid}): its rules and auditd are gone`);
  }
}

/**
 * Checks, before anything is changed, what would make the capture fail, and says it in one line:
 * not root, no auditctl or auditd, audit off in the kernel or locked, the loginuid frozen, another
 * program holding the kernel's audit records, the command missing.
 */
export function auditPreflight(command: string[], notice: (m: string) => void = () => {}): AuditPlan {
  const cmd = command[0];
  if (!cmd) throw new CaptureError("no command to capture: provflow audit -- CMD [ARGS…]");
  if ((process.geteuid?.() ?? 0) !== 0) {
    throw new CaptureError(
      "capturing with the audit system needs root: provflow audit adds audit rules and reads the audit log (run it with sudo, or record with 'provflow trace')",
    );
  }
  requireAuditTools(false);
  cleanStaleCaptures(notice);
  const status = readAuditStatus();
  if (status.enabled === 2) {
    throw new CaptureError(
      "the audit rules are locked until reboot (enabled 2, auditctl -e 2): no capture rule can be added",
    );
  }
  const loginuid = readLoginuid();
  if (status.loginuidImmutable && readLoginuidRaw() !== UNSET_ID) {
    throw new CaptureError(
      "the kernel forbids changing the login uid (loginuid_immutable): the command cannot get an audit session of its own",
    );
  }
  let systemLog: string | null = null;
  let systemAuditd: number | null = null;
  // an audit daemon that died is replaced by the next one to register (the kernel checks)
  if (status.pid !== 0 && processAlive(status.pid)) {
    const name = processName(status.pid);
    const other = readCaptureStates().find((s) => s.auditdPid === status.pid && processAlive(s.pid));
    if (other) {
      throw new CaptureError(
        `another provflow audit capture (pid ${other.pid}) is running with its own auditd: wait for it to end`,
      );
    }
    if (name !== "auditd") {
      throw new CaptureError(
        `another program (${name ?? "gone"}, pid ${status.pid}) receives the kernel's audit records and it is no auditd whose log could be read: stop it, or record with 'provflow trace'`,
      );
    }
    const { file, why } = auditdLogFile(status.pid);
    if (file === null) throw new CaptureError(`the running auditd (pid ${status.pid}) is of no use: ${why}`);
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
      closeSync(openSync(file, "r"));
    } catch (e) {
      throw new CaptureError(
        `the running auditd's log ${file} cannot be read (${(e as Error).message}): provflow audit follows it`,
      );
    }
    systemLog = file;
    systemAuditd = status.pid;
  } else {
    requireAuditTools(true);
  }
  if (!whichSync(cmd))
    throw new CaptureError(`command not found: ${cmd} (not an executable file, nor in PATH)`);
  return { status, systemLog, systemAuditd, loginuid };
}

/** Something the capture changed, and how to undo it (synchronously; `wait` finishes the job). */
interface UndoStep {
  what: string;
  run: () => void;
  wait?: () => Promise<void>;
}

/**
 * The wrapper: gives itself a fresh audit session by writing its loginuid, reports the session on
 * fd 3, waits for "go" on fd 3 and execs the command without fd 3.
 */
const WRAPPER = [
  "uid=$1; shift",
  '{ echo "$uid" > /proc/self/loginuid; } 2>/dev/null || { echo fail >&3; exit 125; }',
  "read ses < /proc/self/sessionid",
  'echo "session $ses" >&3',
  "read go <&3 || exit 125",
  'exec "$@" 3>&-',
].join("\n");

function firstLineFrom(
  stream: Readable,
  exited: Promise<unknown>,
  timeoutMs: number,
): Promise<string | null> {
  return new Promise((res) => {
    let buf = "";
    const done = (v: string | null) => {
      clearTimeout(t);
      stream.off("data", onData);
      res(v);
    };
    const onData = (d: Buffer) => {
      buf += d.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const t = setTimeout(() => done(null), timeoutMs);
    stream.on("data", onData);
    exited.then(() => done(null));
  });
}

/**
 * Runs the command with the audit capture around it; the command keeps provflow's stdin, stdout
 * and stderr, and its exit status becomes the outcome's.
 */
export async function auditCommand(opts: AuditCaptureOptions, plan: AuditPlan): Promise<AuditCaptureOutcome> {
  const notice = opts.onNotice ?? (() => {});
  const capturedLogFile = opts.log ? resolve(opts.log) : null;
  if (capturedLogFile !== null) {
    try {
      closeSync(openSync(capturedLogFile, "w"));
    } catch (e) {
      throw new CaptureError(`cannot write the capture's log ${capturedLogFile}: ${(e as Error).message}`);
    }
  }
  const key = `provflow-${process.pid}-${randomBytes(4).toString("hex")}`;
  const marker = `provflow-end-${key}`;
  const undo: UndoStep[] = [];
  const state: CaptureState = {
    pid: process.pid,
    key,
    auditdPid: null,
    dir: null,
    enabledBefore: null,
    backlogBefore: null,
  };

  let interrupted = false;
  let hurry = false;
  let wrapper: ChildProcess | null = null;
  let commandStarted = false;
  const onInt = () => {
    // the terminal sent SIGINT to the whole foreground group, the command included; a second
    // Ctrl-C stops waiting for the tail of the events
    if (interrupted) hurry = true;
    interrupted = true;
  };
  const onTerm = () => {
    if (interrupted) hurry = true;
    interrupted = true;
    if (commandStarted) wrapper?.kill("SIGTERM");
  };
  /** temporary files, removed after the run is written */
  const temporary: string[] = [];
  const removeTemporary = () => {
    while (temporary.length > 0) rmSync(temporary.pop()!, { recursive: true, force: true });
    try {
      rmdirSync(STATE_DIR);
    } catch {
      // other captures' state files are there, or it is gone already
    }
  };
  const runUndoSync = () => {
    while (undo.length > 0) {
      const step = undo.pop()!;
      try {
        step.run();
      } catch {
        // best effort at exit
      }
    }
    removeTemporary();
  };
  /** puts the system back: rules, auditd, backlog, enabled flag (newest change first) */
  const cleanup = async () => {
    while (undo.length > 0) {
      const step = undo.pop()!;
      try {
        step.run();
        await step.wait?.();
      } catch (e) {
        notice(`cleanup: ${step.what} failed: ${(e as Error).message}`);
      }
    }
  };
  const abortIfInterrupted = () => {
    if (interrupted) throw new ProvflowError("interrupted before the command started", ExitCode.interrupted);
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  process.on("SIGHUP", onTerm);
  process.on("exit", runUndoSync);

  try {
    temporary.push(writeCaptureState(state));
    const saveState = () => writeCaptureState(state);
    const dir = await mkdtemp(join(tmpdir(), "provflow-audit-"));
    temporary.push(dir);
    state.dir = dir;
    saveState();

    // the kernel gives processes an audit context only once audit has been on: enable it first
    if (plan.status.enabled === 0) {
      state.enabledBefore = 0;
      saveState();
      undo.push({ what: "auditctl -e 0", run: () => void setAuditEnabled(0) });
      if (!setAuditEnabled(1)) throw new CaptureError("auditctl -e 1 failed: audit cannot be switched on");
    }
    abortIfInterrupted();

    let auditLog: string;
    let logStart: { ino: number; size: number } | null = null;
    if (plan.systemLog !== null) {
      auditLog = plan.systemLog;
      const st = statSync(auditLog);
      logStart = { ino: st.ino, size: st.size };
    } else {
      if (plan.status.backlogLimit < BACKLOG) {
        state.backlogBefore = plan.status.backlogLimit;
        saveState();
        const before = plan.status.backlogLimit;
        undo.push({ what: `auditctl -b ${before}`, run: () => void setBacklogLimit(before) });
        setBacklogLimit(BACKLOG);
      }
      const d = await startPrivateAuditd(dir);
      state.auditdPid = d.pid;
      saveState();
      undo.push({
        what: "stopping the private auditd",
        run: () => {
          if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGTERM");
        },
        wait: () => stopPrivateAuditd(d),
      });
      auditLog = d.log;
    }
    abortIfInterrupted();
    const lostBefore = readAuditStatus().lost;

    // the wrapper: a session of its own, then wait for the rules
    const child = spawn(
      "/bin/sh",
      ["-c", WRAPPER, "provflow-audit", String(plan.loginuid), ...opts.command],
      {
        stdio: ["inherit", "inherit", "inherit", "pipe"],
      },
    );
    wrapper = child;
    const control = child.stdio[3] as Readable & Writable;
    // a wrapper that died (Ctrl-C before the command started) closes it: its end is seen below
    control.on("error", () => {});
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      child.on("error", () => res({ code: 127, signal: null }));
      child.on("exit", (code, signal) => res({ code, signal }));
    });
    undo.push({
      what: "ending the wrapper",
      run: () => {
        // a wrapper not told to go reads end-of-file and exits without running the command
        if (!commandStarted) control.destroy();
      },
    });
    const hello = await firstLineFrom(control, exited, 10_000);
    const session = hello?.startsWith("session ") ? Number(hello.slice(8)) : Number.NaN;
    if (!Number.isInteger(session) || session <= 0 || session === UNSET_ID) {
      abortIfInterrupted();
      throw new CaptureError(
        hello === "fail"
          ? "cannot give the command an audit session of its own: writing /proc/self/loginuid was refused"
          : "the capture's wrapper (/bin/sh) did not report its audit session",
      );
    }

    // the rules: this session only, under our key
    undo.push({
      what: `auditctl -D -k ${key}`,
      run: () => {
        if (!deleteKeyRules(key))
          notice(`could not remove the audit rules with key ${key}: auditctl -D -k ${key}`);
      },
    });
    let mainRule: AddedRule | null = null;
    for (const ra of ruleArches()) {
      try {
        const r = addSessionRule(ra, session, key);
        mainRule ??= r;
      } catch (e) {
        if (ra.flag === "b64" || mainRule === null) throw e;
        notice(`32-bit programs are not captured: ${(e as Error).message}`);
      }
    }
    abortIfInterrupted();

    const ctx: RunContext = {
      host: opts.host.host,
      machineId: opts.host.machineId ?? undefined,
      bootId: opts.host.bootId ?? undefined,
      cwd: process.cwd(),
      clock: "epoch",
    };
    const runId = await opts.store.createRun({
      name: opts.name ?? basename(opts.command[0]!),
      source: "audit",
      command: opts.command,
      tracerCommand: ["auditctl", ...mainRule!.args],
      host: opts.host.host,
      machineId: opts.host.machineId,
      bootId: opts.host.bootId,
      cwd: process.cwd(),
      user: opts.host.user,
      start: Date.now() * 1000,
    });

    const capturedLog = capturedLogFile ?? join(dir, "capture.log");
    const filter = new AuditCaptureFilter({ key, session, marker, rootPid: child.pid });
    const tail = new AuditLogTail({ path: auditLog, start: logStart, filter, out: capturedLog });
    const format = findFormat("audit")!;
    let pipelineError: unknown = null;
    const pipeline = runPipeline(
      [
        {
          label: capturedLog,
          batches: tail.batches(),
          parser: format.createParser({ file: capturedLog, ctx }),
        },
      ],
      {
        store: opts.store,
        runId,
        ctx,
        user: opts.host.uid !== null ? { uid: opts.host.uid, name: opts.host.user ?? undefined } : undefined,
        onProblem: opts.onProblem,
      },
    ).catch((e: unknown) => {
      pipelineError = e;
      return null;
    });

    commandStarted = true;
    control.end("go\n");
    const status = await exited;

    // like strace -f: the capture lasts until the command's last descendant has ended
    let waitedNotice = false;
    const waitStart = Date.now();
    while (!interrupted && sessionProcesses(session).length > 0) {
      if (!waitedNotice && Date.now() - waitStart > 1000) {
        waitedNotice = true;
        notice("waiting for the processes the command left running (Ctrl-C stops waiting)");
      }
      await new Promise((r) => setTimeout(r, 100));
    }

    // every record before this message has been written once it shows up in the log; without it,
    // the root's exit_group is the best sign there is. Waiting ends when the log has moved on 2 s
    // past the message without it (a system rule filtered it out), or after `timeout` without news.
    const timeout = opts.tailTimeoutMs ?? 5000;
    const sentAt = Date.now();
    const markerSent = sendAuditMessage(marker);
    let lastProgress = "";
    let idleSince = Date.now();
    while (!hurry && pipelineError === null) {
      if (markerSent ? filter.markerSeen : filter.rootExitSeen) break;
      if (markerSent && filter.newestMs > sentAt + 2000) break;
      let size = -1;
      try {
        size = statSync(auditLog).size;
      } catch {
        // rotated away this instant
      }
      const progress = `${tail.bytesRead} ${size}`;
      if (progress !== lastProgress) {
        lastProgress = progress;
        idleSince = Date.now();
      } else if (Date.now() - idleSince > timeout) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const lost = Math.max(0, readAuditStatus().lost - lostBefore);

    // the rules and the private auditd go before the run is finished
    await cleanup();
    tail.finish();
    const result = await pipeline;
    if (pipelineError !== null || result === null) throw pipelineError;
    const complete = filter.markerSeen || filter.rootExitSeen;
    if (!complete) notice("the end of the command's audit events was not seen: the last ones may be missing");
    if (lost > 0)
      notice(
        `the kernel dropped ${lost} audit records during the capture (backlog full): events may be missing`,
      );

    const exitStatus = status.signal ? 128 + signalNumber(status.signal) : (status.code ?? 1);
    await opts.store.updateRun(runId, {
      status: interrupted || lost > 0 || !complete ? "incomplete" : "complete",
      start: result.start,
      end: result.end ?? Date.now() * 1000,
      exitCode: status.signal ? null : status.code,
      exitSignal: status.signal,
      stats: { ...result.stats, lost, interrupted: interrupted ? 1 : 0, records: filter.stats.kept },
    });
    return { runId, result, exitStatus, interrupted, lost, complete };
  } finally {
    await cleanup();
    removeTemporary();
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    process.off("SIGHUP", onTerm);
    process.off("exit", runUndoSync);
  }
}
