import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { have, measure, median, row } from "./bench-util.js";

/**
 * eBPF tracing overhead on the syscall-heavy job (tar of /usr/include piped to gzip, then
 * `find | xargs cat`): untraced, under `provflow trace --tracer ebpf`, under `provflow trace --tracer
 * strace`, in the same run, median of REPEAT. The eBPF start-up (bpftrace compiling and attaching,
 * then detaching) is measured on its own with `-- true`, and the ratio to the untraced run is given
 * with and without it. The agent: the same job in a cgroup, untraced and with `provflow agent --scope
 * cgroup` publishing to Mosquitto, with the agent's and bpftrace's peak memory.
 */

const OUT = "/tmp/provflow-bench/ebpf";
const CLI = resolve(import.meta.dirname, "../dist/provflow.js");
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const BROKER = process.env.PROVFLOW_TEST_MQTT ?? "mqtt://127.0.0.1:1883";

const JOB = `tar cf - /usr/include 2>/dev/null | gzip > ${OUT}/include.tgz; find /usr/include -type f -print0 | xargs -0 cat > /dev/null`;

function cgroup2Root(): string | null {
  for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[2] === "cgroup2") return f[1] ?? null;
  }
  return null;
}

function load(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** peak RSS (VmHWM) of a process and its descendants, in MB, while they run */
function peakTreeMb(pid: number): number {
  let total = 0;
  const visit = (p: number) => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      if (m) total += Number(m[1]) / 1024;
      const kids = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
      for (const k of kids) visit(Number(k));
    } catch {
      // gone
    }
  };
  visit(pid);
  return total;
}

async function waitText(child: ChildProcess, text: string, ms: number): Promise<boolean> {
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (err.includes(text)) return true;
    if (child.exitCode !== null) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export async function ebpfOverheadBench(): Promise<string[]> {
  if (!have("bpftrace") || (process.getuid?.() ?? 1) !== 0) {
    return ["### eBPF tracing overhead", "", "skipped: needs root and bpftrace", ""];
  }
  mkdirSync(OUT, { recursive: true });
  const db = join(OUT, "ebpf.db");
  const lines: string[] = [
    `### eBPF tracing overhead (median of ${REPEAT} runs, wall seconds; load average before: ${load()})`,
    "",
    `Job: \`${JOB.replaceAll(OUT, "OUT")}\``,
    "",
  ];
  const t: Record<string, number[]> = { plain: [], ebpf: [], strace: [], startup: [] };
  let ebpfRss = 0;
  let straceRss = 0;
  for (let i = 0; i < REPEAT; i++) {
    t.plain!.push(measure(["sh", "-c", JOB]).wallS);
    rmSync(db, { force: true });
    const s = measure(["node", CLI, "trace", "--db", db, "-q", "--tracer", "ebpf", "--", "true"]);
    t.startup!.push(s.wallS);
    rmSync(db, { force: true });
    const e = measure(["node", CLI, "trace", "--db", db, "-q", "--tracer", "ebpf", "--", "sh", "-c", JOB]);
    if (e.status !== 0) throw new Error("provflow trace --tracer ebpf failed");
    t.ebpf!.push(e.wallS);
    ebpfRss = Math.max(ebpfRss, e.peakRssMb);
    rmSync(db, { force: true });
    const st = measure(["node", CLI, "trace", "--db", db, "-q", "--tracer", "strace", "--", "sh", "-c", JOB]);
    if (st.status !== 0) throw new Error("provflow trace --tracer strace failed");
    t.strace!.push(st.wallS);
    straceRss = Math.max(straceRss, st.peakRssMb);
  }
  const plain = median(t.plain!);
  const ebpf = median(t.ebpf!);
  const strace = median(t.strace!);
  const startup = median(t.startup!);
  lines.push(
    row([
      "untraced",
      "eBPF start-up (`-- true`)",
      "provflow trace --tracer ebpf",
      "ebpf / untraced",
      "(ebpf − start-up) / untraced",
      "provflow trace --tracer strace",
      "strace / ebpf",
      "strace / untraced (the most strace / ebpf can be)",
      "peak RSS MB ebpf / strace",
    ]),
    row(["---", "---", "---", "---", "---", "---", "---", "---", "---"]),
    row([
      plain.toFixed(2),
      startup.toFixed(2),
      ebpf.toFixed(2),
      (ebpf / plain).toFixed(2),
      ((ebpf - startup) / plain).toFixed(2),
      strace.toFixed(2),
      (strace / ebpf).toFixed(1),
      (strace / plain).toFixed(1),
      `${ebpfRss.toFixed(0)} / ${straceRss.toFixed(0)}`,
    ]),
    "",
    `(load average after: ${load()})`,
    "",
  );

  // the agent, scoped to a cgroup holding the job
  const root = cgroup2Root();
  if (root === null) {
    lines.push("agent: skipped (no cgroup v2 hierarchy)");
    return lines;
  }
  const cg = join(root, `provflow-bench-${process.pid}`);
  mkdirSync(cg, { recursive: true });
  const inCg = ["sh", "-c", `echo $$ > ${cg}/cgroup.procs && exec sh -c '${JOB}'`];
  const a: Record<string, number[]> = { off: [], on: [] };
  let agentRss = 0;
  const spool = mkdtempSync(join(tmpdir(), "pf-bench-spool-"));
  try {
    for (let i = 0; i < REPEAT; i++) {
      a.off!.push(measure(inCg).wallS);
      const agent = spawn(
        "node",
        [
          CLI,
          "agent",
          "--scope",
          "cgroup",
          cg,
          "--broker",
          BROKER,
          "--topic",
          `pfbench${process.pid}/camflow`,
          "--machine",
          "99",
          "--spool",
          spool,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      if (!(await waitText(agent, "capturing", 120_000))) throw new Error("the agent did not start");
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, peakTreeMb(agent.pid!));
      }, 500);
      a.on!.push(measure(inCg).wallS);
      clearInterval(sampler);
      peak = Math.max(peak, peakTreeMb(agent.pid!));
      agentRss = Math.max(agentRss, peak);
      agent.kill("SIGTERM");
      await new Promise((r) => agent.once("exit", r));
    }
  } finally {
    rmdirSync(cg);
    rmSync(spool, { recursive: true, force: true });
  }
  const off = median(a.off!);
  const on = median(a.on!);
  lines.push(
    row([
      "job in a cgroup, no agent",
      "with provflow agent --scope cgroup",
      "agent / none",
      "agent + bpftrace peak RSS MB",
    ]),
    row(["---", "---", "---", "---"]),
    row([off.toFixed(2), on.toFixed(2), (on / off).toFixed(2), agentRss.toFixed(0)]),
    "",
  );
  return lines;
}
