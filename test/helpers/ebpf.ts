import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

/**
 * For the tests that run eBPF captures: whether this machine can (root, bpftrace, a BTF kernel).
 * With CI=true a reason throws (the test file fails loudly); otherwise it is printed and the caller
 * skips.
 */
export function ebpfUnavailable(what: string): string | null {
  let reason: string | null = null;
  if ((process.getuid?.() ?? 0) !== 0) reason = "not root";
  else if (spawnSync("sh", ["-c", "command -v bpftrace"]).status !== 0)
    reason = "bpftrace is not installed (apt-get install bpftrace; the CI script does)";
  else if (!existsSync("/sys/kernel/btf/vmlinux")) reason = "the kernel has no BTF";
  if (reason === null) return null;
  const msg = `eBPF capture is impossible here (${reason}): ${what}`;
  if (process.env.CI === "true") throw new Error(`${msg} cannot run, and CI=true requires it`);
  console.warn(`SKIPPED: ${msg} skipped`);
  return reason;
}

function ppid(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

/**
 * bpftrace processes running provflow's program that a test left behind: those whose provflow (their
 * parent, or the parent of the watchdog shell bpftrace runs under where setpriv is missing) is gone,
 * or is one of `owners` (processes the test started). Other helpers' provflow runs on the same
 * machine are not counted.
 */
export function provflowBpftraces(owners: number[] = []): number[] {
  const out: number[] = [];
  const r = spawnSync("pgrep", ["-x", "bpftrace"], { encoding: "utf8" });
  for (const pid of (r.stdout ?? "").split(/\s+/).filter(Boolean)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!/provflow-\d+\.bt|provflow-agent/.test(cmd)) continue;
    } catch {
      continue;
    }
    const parent = ppid(Number(pid));
    let owner = parent;
    try {
      if (readFileSync(`/proc/${parent}/cmdline`, "utf8").includes("provflow-bpftrace")) owner = ppid(parent);
    } catch {
      owner = 1;
    }
    if (owner === 1 || owners.includes(owner)) out.push(Number(pid));
  }
  return out;
}
