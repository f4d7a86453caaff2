import { categorizePath } from "../graph/file-category.js";
import type { GraphNode } from "../graph/prov-types.js";
import { isoMicros } from "../graph/time-format.js";
import type { Step } from "../store/store-types.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { shellJoin } from "./prov-names.js";
import { redactNode, redactText } from "./redact.js";
import { xmlEscape } from "./summary-format.js";

/**
 * The calls log as process-mining event logs: one case per process (pid; a process's exec
 * generations are one case), one event per step of the calls log, whose activity is the step's
 * call and the category of its resource (`read shared-library`, `write user-data`, `connect
 * socket`), at the step's start, with the resource as the event's resource.
 *
 * - XES (IEEE 1849-2016 XML): `<log>` of `<trace>`s (one per pid, in order of first appearance;
 *   processes without calls give empty traces) of `<event>`s with `concept:name` (the activity),
 *   `time:timestamp`, `org:resource`, plus call, count, bytes, errors.
 * - OCEL 2.0 JSON: events (type = activity) related to a `process` object (qualifier `process`)
 *   and to a resource object (qualifier `resource`, object type = the resource's category);
 *   process objects relate to their parent (qualifier `parent`).
 */

/** What mining knows of a process: its command line and cwd (latest generation), its parent. */
export interface CaseInfo {
  command: string;
  cwd: string | undefined;
  ppid: number | undefined;
}

/** pid → its case info, from the run's process nodes (one small record per pid). */
export async function readCases(input: ExportInput): Promise<Map<number, CaseInfo>> {
  const cases = new Map<number, CaseInfo>();
  for await (const batch of input.nodes({ kinds: ["activity"] })) {
    for (const raw of batch) {
      if (typeof raw.attrs.pid !== "number") continue;
      const n: GraphNode = input.options.redact ? redactNode(raw) : raw;
      cases.set(raw.attrs.pid, {
        command: Array.isArray(n.attrs.argv) && n.attrs.argv.length > 0 ? shellJoin(n.attrs.argv) : n.label,
        cwd: typeof n.attrs.cwd === "string" ? n.attrs.cwd : undefined,
        ppid: typeof n.attrs.ppid === "number" ? n.attrs.ppid : undefined,
      });
    }
  }
  return cases;
}

/** The category of a step's resource (`none` when the call names none). */
export function resourceCategory(resource: string, cwd?: string): string {
  return resource === "" ? "none" : categorizePath(resource, cwd);
}

/** The activity of a step: its call and its resource's category. */
export function stepActivity(s: Step, cwd?: string): string {
  return `${s.call} ${resourceCategory(s.resource, cwd)}`;
}

// ------------------------------------------------------------------ XES

/** An XML attribute value: escaped, control characters (not allowed in XML 1.0) made visible. */
function xv(text: string): string {
  return xmlEscape(text).replace(/[\t\n\r]/g, " ");
}

const xs = (key: string, value: string) => `<string key="${key}" value="${xv(value)}"/>`;
const xi = (key: string, value: number) => `<int key="${key}" value="${Math.trunc(value)}"/>`;

/** Steps of this many cases' worth at most are held at once; more makes more passes over the steps. */
const XES_BUDGET = 200_000;

async function writeXes(input: ExportInput, out: ExportSink): Promise<void> {
  const redact = input.options.redact;
  const run = input.run;
  const w = new ChunkedWriter(out);
  const cases = await readCases(input);
  /** pid → steps, in order of first appearance (processes first, then pids only the steps name) */
  const counts = new Map<number, number>();
  for (const pid of cases.keys()) counts.set(pid, 0);
  if (input.steps) {
    for await (const batch of input.steps()) {
      for (const s of batch) counts.set(s.pid, (counts.get(s.pid) ?? 0) + 1);
    }
  }
  w.write(
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">\n' +
      '<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n' +
      '<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>\n' +
      '<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>\n' +
      `<global scope="trace">${xs("concept:name", "__INVALID__")}</global>\n` +
      `<global scope="event">${xs("concept:name", "__INVALID__")}<date key="time:timestamp" value="1970-01-01T00:00:00.000000Z"/></global>\n` +
      '<classifier name="Activity" keys="concept:name"/>\n' +
      `${xs("concept:name", `provflow run ${run.id}: ${redact ? redactText(run.name) : run.name}`)}\n` +
      `${xs("source", run.source)}\n`,
  );
  // chunks of cases whose steps fit the budget; one pass over the steps per chunk
  const pids = [...counts.keys()];
  let at = 0;
  while (at < pids.length) {
    const chunk = new Map<number, Step[]>();
    let held = 0;
    while (at < pids.length && (chunk.size === 0 || held + counts.get(pids[at]!)! <= XES_BUDGET)) {
      chunk.set(pids[at]!, []);
      held += counts.get(pids[at]!)!;
      at++;
    }
    if (held > 0 && input.steps) {
      for await (const batch of input.steps()) {
        for (const s of batch) chunk.get(s.pid)?.push(s);
      }
    }
    for (const [pid, steps] of chunk) {
      const info = cases.get(pid);
      let t = `<trace>${xs("concept:name", String(pid))}${xi("pid", pid)}`;
      if (info) t += xs("command", info.command);
      await w.write(`${t}\n`);
      for (const s of steps) {
        const resource = redact ? redactText(s.resource) : s.resource;
        let e = `<event>${xs("concept:name", stepActivity(s, info?.cwd))}<date key="time:timestamp" value="${isoMicros(s.start)}"/>`;
        if (resource !== "") e += xs("org:resource", resource);
        e += `${xs("call", s.call)}${xi("count", s.count)}`;
        if (s.bytes > 0) e += xi("bytes", s.bytes);
        if (s.errors > 0) e += xi("errors", s.errors);
        await w.write(`${e}</event>\n`);
      }
      steps.length = 0;
      await w.write("</trace>\n");
    }
  }
  w.write("</log>\n");
  await w.flush();
}

// ------------------------------------------------------------------ OCEL 2.0

async function writeOcel(input: ExportInput, out: ExportSink): Promise<void> {
  const redact = input.options.redact;
  const w = new ChunkedWriter(out);
  const cases = await readCases(input);
  /** resource → its category: the resource objects (bounded by the graph, not by the calls) */
  const resources = new Map<string, string>();
  const eventTypes = new Set<string>();
  const stepPids = new Set<number>();
  w.write('{"events":[');
  let count = 0;
  if (input.steps) {
    for await (const batch of input.steps()) {
      for (const s of batch) {
        const cwd = cases.get(s.pid)?.cwd;
        const type = stepActivity(s, cwd);
        eventTypes.add(type);
        stepPids.add(s.pid);
        const resource = redact ? redactText(s.resource) : s.resource;
        const relationships = [{ objectId: `pid:${s.pid}`, qualifier: "process" }];
        if (resource !== "") {
          if (!resources.has(resource)) resources.set(resource, resourceCategory(resource, cwd));
          relationships.push({ objectId: `res:${resource}`, qualifier: "resource" });
        }
        const attributes: { name: string; value: string | number }[] = [
          { name: "call", value: s.call },
          { name: "count", value: s.count },
          { name: "bytes", value: s.bytes },
          { name: "errors", value: s.errors },
        ];
        const ev = { id: `e${s.seq}`, type, time: isoMicros(s.start), attributes, relationships };
        await w.write((count === 0 ? "\n" : ",\n") + JSON.stringify(ev));
        count++;
      }
    }
  }
  const eventAttrs = [
    { name: "call", type: "string" },
    { name: "count", type: "integer" },
    { name: "bytes", type: "integer" },
    { name: "errors", type: "integer" },
  ];
  w.write('\n],"eventTypes":[');
  let first = true;
  for (const name of [...eventTypes].sort()) {
    await w.write((first ? "\n" : ",\n") + JSON.stringify({ name, attributes: eventAttrs }));
    first = false;
  }
  eventTypes.clear();
  const categories = new Set(resources.values());
  const objectTypes = [
    { name: "process", attributes: [{ name: "command", type: "string" }] },
    ...[...categories].sort().map((name) => ({ name, attributes: [] })),
  ];
  w.write(`\n],"objectTypes":${JSON.stringify(objectTypes)},"objects":[`);
  first = true;
  const time = isoMicros(input.run.start ?? 0);
  const pids = new Set([...cases.keys(), ...stepPids]);
  for (const pid of pids) {
    const info = cases.get(pid);
    const obj = {
      id: `pid:${pid}`,
      type: "process",
      attributes: info ? [{ name: "command", time, value: info.command }] : [],
      relationships:
        info?.ppid !== undefined && pids.has(info.ppid)
          ? [{ objectId: `pid:${info.ppid}`, qualifier: "parent" }]
          : [],
    };
    await w.write((first ? "\n" : ",\n") + JSON.stringify(obj));
    first = false;
  }
  for (const [resource, type] of resources) {
    const obj = { id: `res:${resource}`, type, attributes: [], relationships: [] };
    await w.write((first ? "\n" : ",\n") + JSON.stringify(obj));
    first = false;
  }
  w.write("\n]}\n");
  await w.flush();
}

export const xesExporter: Exporter = {
  format: "xes",
  mediaType: "application/xml",
  extension: "xes",
  description: "XES event log (IEEE 1849): a trace per process, an event per step of the calls log",
  write: writeXes,
};

export const ocelExporter: Exporter = {
  format: "ocel",
  mediaType: "application/json",
  extension: "jsonocel",
  description: "OCEL 2.0 JSON: steps as events related to their process and resource objects",
  write: writeOcel,
};
