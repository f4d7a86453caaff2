import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * For the tests that run `provflow audit` (live captures): whether this machine can capture, and a
 * lock so that two test files never capture at once (a second private auditd cannot start while the
 * first holds the kernel's audit records).
 */

function sh(cmd: string): { status: number; out: string } {
  const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
  return { status: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

export function auditStatus(): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of sh("auditctl -s").out.split("\n")) {
    const m = /^(\w+) (\S+)/.exec(line.trim());
    if (m) values.set(m[1]!, m[2]!);
  }
  return values;
}

/** The capture rules (provflow-… keys) the kernel holds now. */
export function provflowRules(): string[] {
  return sh("auditctl -l")
    .out.split("\n")
    .filter((l) => l.includes("key=provflow-"));
}

/** Running auditd processes (zombies left out). */
export function auditdPids(): number[] {
  const out: number[] = [];
  for (const pid of sh("pgrep -x auditd").out.split(/\s+/).filter(Boolean)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.charAt(stat.lastIndexOf(")") + 2) !== "Z") out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Why a live audit capture cannot run here, or null when it can. With CI=true a reason throws (the
 * test file fails loudly); otherwise it is printed with console.warn and the caller skips.
 */
export function auditCaptureUnavailable(what: string, tools: string[] = []): string | null {
  let reason: string | null = null;
  if ((process.getuid?.() ?? 0) !== 0) reason = "not root";
  else {
    for (const t of ["auditctl", "auditd", "setpriv", ...tools]) {
      if (sh(`PATH="$PATH:/usr/sbin:/sbin" command -v ${t}`).status !== 0) {
        reason = `${t} is not installed (apt-get install auditd ${tools.join(" ")}; the CI script does)`;
        break;
      }
    }
  }
  if (reason === null) {
    const st = auditStatus();
    if (!st.has("enabled")) reason = `auditctl -s does not work: ${sh("auditctl -s").out.trim()}`;
    else if (st.get("enabled") === "2") reason = "the audit configuration is locked (enabled 2)";
  }
  if (reason === null) return null;
  const msg = `live audit capture is impossible here (${reason}): ${what}`;
  if (process.env.CI === "true") throw new Error(`${msg} cannot run, and CI=true requires it`);
  console.warn(`SKIPPED: ${msg} skipped`);
  return reason;
}

const LOCK = join(tmpdir(), "provflow-audit-tests.lock");

function lockOwnerAlive(): boolean {
  try {
    const pid = Number(readFileSync(join(LOCK, "pid"), "utf8"));
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for the capture-test lock (one test file capturing at a time). */
export async function lockAuditCaptures(timeoutMs = 300_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, "pid"), String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    // a holder that died leaves the directory (its pid file may not be written yet: give it time)
    await new Promise((r) => setTimeout(r, 200));
    if (!lockOwnerAlive()) {
      await new Promise((r) => setTimeout(r, 200));
      if (!lockOwnerAlive()) rmSync(LOCK, { recursive: true, force: true });
    }
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${LOCK}`);
  }
}
