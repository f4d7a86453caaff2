import type { GraphNode } from "../graph/prov-types.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { shellJoin, xsdDateTime } from "./prov-names.js";
import { redactArgv, redactNode, redactText } from "./redact.js";

/**
 * Chrome trace-event JSON (the "JSON Object Format" of the Trace Event Format, which
 * ui.perfetto.dev, chrome://tracing and speedscope open). Times are µs since the epoch, as the
 * format's `ts` wants µs.
 *
 * - one track per process: `pid` = the OS pid and `tid` = the same pid (threads are folded into
 *   their process, as in the calls log), named by a `process_name` metadata event with the pid
 *   and command line (the last exec generation's); activities without a pid (some PROV sources)
 *   get `pid` 10000000 + node id;
 * - each exec generation's lifetime: a complete event (`ph: "X"`, cat `process`);
 * - each step of the calls log: a complete event (cat `call`, name = the call, args: resource,
 *   count, bytes, errors, ret) on its process's track, from its first call's start to its last
 *   call's end; steps that overlap (threads of one process) go to extra tracks of the process
 *   (`thread_name` "calls of pid N (overlapping)") so complete events on a track always nest;
 * - fork/vfork/clone: a flow (`ph: "s"` on the parent at the fork, `ph: "f"` on the child at its
 *   start, id = the relation id); exec: an instant event (`ph: "i"`, scope thread) at the new
 *   generation's start.
 *
 * Only the processes are held in memory (one small record each); steps and relations stream.
 */

interface Proc {
  pid: number;
  start: number | null;
  end: number | null;
}

const SYNTHETIC_PID = 10_000_000;
const LANE_TID = 0x4000_0000;
const MAX_LANES = 16;
const MAX_NAME = 80;

function short(text: string): string {
  return text.length <= MAX_NAME ? text : `${text.slice(0, MAX_NAME - 1)}…`;
}

function commandLine(n: GraphNode): string {
  return Array.isArray(n.attrs.argv) && n.attrs.argv.length > 0 ? shellJoin(n.attrs.argv) : n.label;
}

async function writePerfetto(input: ExportInput, out: ExportSink): Promise<void> {
  const redact = input.options.redact;
  const run = input.run;
  const w = new ChunkedWriter(out);
  let count = 0;
  const event = (ev: Record<string, unknown>): void | Promise<void> => {
    const sep = count === 0 ? "\n" : ",\n";
    count += 1;
    return w.write(sep + JSON.stringify(ev));
  };
  w.write('{"traceEvents":[');

  const procs = new Map<number, Proc>();
  /** pid → the command line of its latest generation (process_name) */
  const names = new Map<number, string>();
  for await (const batch of input.nodes({ kinds: ["activity"] })) {
    for (const raw of batch) {
      const n = redact ? redactNode(raw) : raw;
      const pid = typeof n.attrs.pid === "number" ? n.attrs.pid : SYNTHETIC_PID + n.id;
      procs.set(n.id, { pid, start: n.start, end: n.end });
      const cmd = commandLine(n);
      names.set(pid, `${pid}: ${short(cmd)}`);
      if (n.start === null) continue;
      const end = n.end ?? run.end ?? n.start;
      const args: Record<string, unknown> = { command: cmd, gid: n.gid, node: n.id };
      if (n.attrs.exitCode !== undefined) args.exitCode = n.attrs.exitCode;
      if (n.attrs.exitSignal !== undefined) args.exitSignal = n.attrs.exitSignal;
      if (n.attrs.cwd !== undefined) args.cwd = n.attrs.cwd;
      await event({
        ph: "X",
        cat: "process",
        name: short(cmd),
        pid,
        tid: pid,
        ts: n.start,
        dur: Math.max(0, end - n.start),
        args,
      });
    }
  }
  for (const [pid, name] of names) {
    await event({ ph: "M", name: "process_name", pid, tid: pid, args: { name } });
    await event({ ph: "M", name: "thread_name", pid, tid: pid, args: { name: `pid ${pid}` } });
  }

  // steps of pids with no process node still get a named track
  const stray = new Set<number>();
  /**
   * Steps of one process may overlap (its threads' calls are folded into it), and complete events
   * on one track must nest: a step that starts before the previous one on the process's track ends
   * goes to another track of the process (lanes; tid LANE_TID + pid × 16 + lane).
   */
  const lanes = new Map<number, number[]>();
  const laneNamed = new Set<number>();
  const lane = (pid: number, start: number, end: number): number => {
    let ends = lanes.get(pid);
    if (!ends) {
      ends = [];
      lanes.set(pid, ends);
    }
    let k = ends.findIndex((e) => e <= start);
    if (k < 0) {
      if (ends.length < MAX_LANES) k = ends.push(end) - 1;
      else k = ends.indexOf(Math.min(...ends));
    }
    ends[k] = end;
    return k === 0 ? pid : LANE_TID + pid * MAX_LANES + k;
  };
  if (input.steps) {
    for await (const batch of input.steps()) {
      for (const s of batch) {
        if (!names.has(s.pid) && !stray.has(s.pid)) {
          stray.add(s.pid);
          await event({ ph: "M", name: "process_name", pid: s.pid, tid: s.pid, args: { name: `${s.pid}` } });
        }
        const tid = lane(s.pid, s.start, Math.max(s.end, s.start));
        if (tid !== s.pid && !laneNamed.has(tid)) {
          laneNamed.add(tid);
          await event({
            ph: "M",
            name: "thread_name",
            pid: s.pid,
            tid,
            args: { name: `calls of pid ${s.pid} (overlapping)` },
          });
        }
        const args: Record<string, unknown> = {
          resource: redact ? redactText(s.resource) : s.resource,
          count: s.count,
        };
        if (s.bytes > 0) args.bytes = s.bytes;
        if (s.errors > 0) args.errors = s.errors;
        if (s.ret !== null) args.ret = s.ret;
        if (s.dur > 0) args.callTime = s.dur;
        await event({
          ph: "X",
          cat: "call",
          name: s.call,
          pid: s.pid,
          tid,
          ts: s.start,
          dur: Math.max(0, s.end - s.start),
          args,
        });
      }
    }
  }

  for await (const batch of input.edges({ types: ["wasInformedBy"] })) {
    for (const e of batch) {
      const child = procs.get(e.from);
      const parent = procs.get(e.to);
      if (!child || !parent) continue;
      if (e.op === "fork" || e.op === "vfork" || e.op === "clone") {
        const at = child.start ?? e.ts;
        if (at === null) continue;
        const from = e.ts !== null && e.ts <= at ? e.ts : at;
        const common = { cat: "fork", name: e.op, id: e.id };
        await event({ ph: "s", ...common, pid: parent.pid, tid: parent.pid, ts: from });
        await event({ ph: "f", bp: "e", ...common, pid: child.pid, tid: child.pid, ts: at });
      } else if (e.op === "exec") {
        const at = child.start ?? e.ts;
        if (at === null) continue;
        await event({
          ph: "i",
          s: "t",
          cat: "exec",
          name: "exec",
          pid: child.pid,
          tid: child.pid,
          ts: at,
          args: { node: e.from, previous: e.to },
        });
      }
    }
  }

  const command = redact ? redactArgv(run.command) : run.command;
  const other: Record<string, unknown> = {
    run: run.id,
    name: redact ? redactText(run.name) : run.name,
    source: run.source,
    host: run.host,
    command: shellJoin(command),
  };
  if (run.start !== null) other.start = xsdDateTime(run.start);
  if (run.end !== null) other.end = xsdDateTime(run.end);
  w.write(`\n],"displayTimeUnit":"ms","otherData":${JSON.stringify(other)}}\n`);
  await w.flush();
}

export const perfettoExporter: Exporter = {
  format: "perfetto",
  mediaType: "application/json",
  extension: "json",
  description: "Chrome trace-event JSON for ui.perfetto.dev / chrome://tracing (processes, calls, forks)",
  write: writePerfetto,
};
