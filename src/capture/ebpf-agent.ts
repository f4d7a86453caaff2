import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import type { RunContext } from "../events/event-types.js";
import { CamflowDocumentWriter, u32Of } from "../export/camflow-documents.js";
import { SpooledPublisher } from "../mqtt/spooled-publisher.js";
import { EbpfLogParser } from "../sources/ebpf/ebpf-line-parser.js";
import { readLineBatches } from "../sources/line-batches.js";
import { CaptureError, UsageError } from "../util/errors.js";
import type { HostInfo } from "../util/host-info.js";
import { ebpfPreflight, startBpftrace } from "./ebpf-capture.js";
import type { EbpfScope } from "./ebpf-program.js";

/**
 * provflow agent: continuous eBPF capture of a scope of the machine (everything, a cgroup, a uid, a
 * container), published as CamFlow-style W3C PROV-JSON documents on PREFIX/provenance/MACHINE.
 *
 * bpftrace's output is a pipe read in line batches; the eBPF source turns them into events; the
 * CamFlow writer collects them into a document, sent every `interval` ms or when it holds
 * `maxRecords` records. Memory: the live processes' tables, the current document, the documents in
 * flight; the spool on disk is bounded. SIGINT/SIGTERM: bpftrace stops, what it held is read, the
 * last document is sent (or spooled), then the agent ends.
 */

export type AgentScope =
  | { kind: "all" }
  | { kind: "uid"; uid: number }
  | { kind: "cgroup"; path: string }
  | { kind: "container"; id: string };

export interface AgentOptions {
  scope: AgentScope;
  broker: string;
  /** the machine as the topic names it (CamFlow's numeric id is derived from it) */
  machine: string;
  prefix: string;
  spoolDir?: string;
  spoolMax: number;
  /** ms between documents */
  interval: number;
  maxRecords: number;
  host: HostInfo;
  username?: string;
  password?: string;
  mqtt: typeof import("mqtt");
  onLog: (msg: string) => void;
  /** resolves when the agent should stop (the CLI: SIGINT/SIGTERM) */
  stop: Promise<unknown>;
  /** called once bpftrace has attached its probes */
  onReady?: () => void;
}

export interface AgentResult {
  lines: number;
  events: number;
  documents: number;
  lost: number;
  problems: number;
  published: number;
  spooled: number;
  dropped: number;
}

/** Where the unified (v2) cgroup hierarchy is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified (hybrid). */
export function cgroup2Root(): string {
  try {
    for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
      const f = line.split(" ");
      if (f[2] === "cgroup2" && f[1] !== undefined) return f[1];
    }
  } catch {
    // no /proc
  }
  throw new CaptureError(
    "--scope cgroup and container need the unified cgroup hierarchy (cgroup v2), which is not mounted",
  );
}

/** A cgroup v2 directory (absolute, or relative to the hierarchy's root) → its id, the inode of its directory. */
export function cgroupId(path: string): { path: string; id: number } {
  const root = cgroup2Root();
  const abs = isAbsolute(path) ? resolve(path) : resolve(root, `./${path}`);
  if (abs !== root && !abs.startsWith(`${root}/`)) {
    throw new UsageError(`${path} is not a cgroup (the v2 hierarchy is at ${root})`);
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(abs);
  } catch {
    throw new CaptureError(`no cgroup ${abs}`);
  }
  if (!st.isDirectory() || !existsSync(join(abs, "cgroup.procs")))
    throw new CaptureError(`not a cgroup: ${abs}`);
  return { path: abs, id: Number(st.ino) };
}

/** The cgroup of a running container, found by its id (or the start of it) in the processes' cgroups. */
export function containerCgroup(id: string): string {
  if (!/^[0-9a-zA-Z_.-]{4,128}$/.test(id)) throw new UsageError(`not a container id: ${id}`);
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      if (!line.startsWith("0::")) continue;
      const p = line.slice(3);
      if (p.split("/").some((part) => part.includes(id))) return join(cgroup2Root(), p);
    }
  }
  throw new CaptureError(`no running container ${id} (no process is in a cgroup named after it)`);
}

function resolveScope(scope: AgentScope, exclude: number[]): EbpfScope {
  switch (scope.kind) {
    case "all":
      return { kind: "all", exclude };
    case "uid":
      return { kind: "uid", uid: scope.uid, exclude };
    case "cgroup":
      return { kind: "cgroup", id: cgroupId(scope.path).id, exclude };
    case "container":
      return { kind: "cgroup", id: cgroupId(containerCgroup(scope.id)).id, exclude };
  }
}

export async function runAgent(opts: AgentOptions): Promise<AgentResult> {
  const { bpftrace, arch } = ebpfPreflight();
  const scope = resolveScope(opts.scope, [process.pid]);
  const tmp = await mkdtemp(join(tmpdir(), "provflow-agent-"));
  const publisher = new SpooledPublisher({
    url: opts.broker,
    topic: `${opts.prefix}/provenance/${opts.machine}`,
    announce: { prefix: opts.prefix, machineId: opts.machine },
    spoolDir: opts.spoolDir,
    spoolMax: opts.spoolMax,
    username: opts.username,
    password: opts.password,
    mqtt: opts.mqtt,
    onLog: opts.onLog,
  });
  const writer = new CamflowDocumentWriter({
    machineId: u32Of(opts.machine),
    bootId: u32Of(opts.host.bootId ?? "0"),
  });
  const ctx: RunContext = { host: opts.host.host, cwd: "/", clock: "epoch" };
  const parser = new EbpfLogParser({ file: "provflow-agent", ctx, attach: true }, (pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      return null;
    }
  });
  const res: AgentResult = {
    lines: 0,
    events: 0,
    documents: 0,
    lost: 0,
    problems: 0,
    published: 0,
    spooled: 0,
    dropped: 0,
  };
  let session: Awaited<ReturnType<typeof startBpftrace>>;
  try {
    session = await startBpftrace({
      bpftrace,
      arch,
      scope,
      log: null,
      programFile: join(tmp, "provflow-agent.bt"),
      cwd: "/",
    });
  } catch (err) {
    await publisher.stop(1000);
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const sendDoc = () => {
    const doc = writer.take();
    if (doc === null) return;
    res.documents++;
    publisher.publish(doc);
  };
  const take = (events: ReturnType<EbpfLogParser["push"]>) => {
    res.events += events.length;
    for (const e of events) {
      if (e.kind === "problem") {
        res.problems++;
        if (/dropped/.test(e.message)) opts.onLog(e.message);
      }
    }
    writer.add(events);
    if (writer.size() >= opts.maxRecords) sendDoc();
  };
  let lastLine = Date.now();
  let ready = false;
  let lastCompact = Date.now();
  const timer = setInterval(() => {
    // lines held for ordering go out when nothing new came for a while
    if (Date.now() - lastLine >= 1000) take(parser.drain());
    sendDoc();
    if (Date.now() - lastCompact >= 10_000) {
      parser.compact();
      lastCompact = Date.now();
    }
  }, opts.interval);
  void opts.stop.then(() => session.stop());
  try {
    for await (const batch of readLineBatches(session.child.stdout as Readable)) {
      lastLine = Date.now();
      res.lines += batch.lines.length;
      if (!ready && batch.lines.some((l) => l.startsWith("H\t"))) {
        ready = true;
        opts.onReady?.();
      }
      take(parser.push(batch.lines, batch.firstLine));
    }
    take(parser.end());
  } finally {
    clearInterval(timer);
    session.stop();
    sendDoc();
    await session.exited;
    await publisher.stop();
    await rm(tmp, { recursive: true, force: true });
  }
  const status = await session.exited;
  if (!ready) {
    const msg = session.stderr().split("\n").slice(0, 3).join(" / ") || `exit status ${status.code}`;
    throw new CaptureError(`bpftrace failed: ${msg}`);
  }
  res.lost = parser.runStats().lost ?? 0;
  res.published = publisher.stats.published;
  res.spooled = publisher.stats.spooled;
  res.dropped = publisher.stats.dropped;
  return res;
}
