import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  detectProfile,
  profileRun,
  resolveSketchConfig,
  runTriples,
  trainModel,
} from "../src/detect/detect-model.js";
import { StreamDetector } from "../src/detect/stream-detector.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { encodeCamflowPayload } from "../src/mqtt/camflow-payload.js";
import { type MachineMessage, MachineMessageReader } from "../src/mqtt/machine-messages.js";
import type { MachinePart } from "../src/store/store-types.js";

/**
 * One throughput measurement of the stream detector (a child process of detect-bench.ts, so that its
 * peak RSS is its own): one machine streams the FRAP mariadb exploit log (162 CamFlow documents,
 * 5,750 relations) REPEATS times over, each repetition with node and relation keys of its own (so
 * the stream keeps bringing new nodes, as a long-running machine does), read into the rows
 * `provflow mqtt` hands the detector; the clock runs over the detector only (behaviour keys and
 * sketch windows of every relation). The heap retained at the end (after a full GC) shows the bound.
 *
 *   node --expose-gc --import tsx bench/detect-stream-run.ts REPEATS SIZE MAX_NODES WINDOW
 */
const [repeats = 40, size = 1024, maxNodes = 100_000, window = 2000] = process.argv.slice(2).map(Number);
const FRAP = resolve(import.meta.dirname, "../../shared/corpus/camflow/frap-dataset");
const docs = readFileSync(join(FRAP, "mariadb-root-exploit-0.log"), "utf8").split("\n").filter(Boolean);
const normal = readFileSync(join(FRAP, "mariadb-root-normal-99.log"), "utf8").split("\n").filter(Boolean);

function parts(lines: string[], machine: string): MachinePart[] {
  const reader = new MachineMessageReader();
  const msgs: MachineMessage[] = lines.map((l, i) => ({
    topic: `camflow/provenance/${machine}`,
    machineId: machine,
    payload: Buffer.from(encodeCamflowPayload(l)),
    index: i + 1,
    received: 0,
  }));
  const out: MachinePart[] = [];
  for (let i = 0; i < msgs.length; i += 50) {
    for (const p of reader.read(msgs.slice(i, i + 50)).parts.values()) out.push({ ...p, runId: 1 });
  }
  return out;
}

// a model from the normal log, trained as a run (its rows in order as a graph)
const config = resolveSketchConfig({ size, maxNodes });
const np = parts(normal, "train");
const nodes: GraphNode[] = [];
const edges: GraphEdge[] = [];
const idOf = new Map<string, number>();
for (const p of np)
  for (const n of p.nodes)
    if (!idOf.has(n.key)) {
      idOf.set(n.key, nodes.length + 1);
      nodes.push({
        id: nodes.length + 1,
        kind: n.kind,
        type: n.type,
        gid: n.gid,
        version: n.version,
        label: n.label,
        start: n.start,
        end: n.end,
        attrs: n.attrs,
      });
    }
for (const p of np)
  for (const e of p.edges) {
    const from = idOf.get(e.from);
    const to = idOf.get(e.to);
    if (from === undefined || to === undefined) continue;
    edges.push({
      id: edges.length + 1,
      type: e.type,
      op: e.op,
      from,
      to,
      ts: e.ts,
      tsEnd: e.tsEnd,
      count: e.count,
      bytes: e.bytes,
      attrs: e.attrs,
    });
  }
const model = trainModel([profileRun("normal-99", runTriples(nodes, edges).triples, { config, window })], {
  config,
  window,
});
void detectProfile;

// one machine streams the exploit log REPEATS times, each time with new keys
const base = parts(docs, "m");
let findings = 0;
const d = new StreamDetector({ model, maxNodes, onFinding: () => findings++ });
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heap0 = process.memoryUsage().heapUsed;
let seconds = 0;
for (let r = 0; r < repeats; r++) {
  const suffix = `#${r}`;
  const batch = base.map((p) => ({
    ...p,
    nodes: p.nodes.map((n) => ({ ...n, key: n.key + suffix, gid: n.gid + suffix })),
    edges: p.edges.map((e) => ({ ...e, key: e.key + suffix, from: e.from + suffix, to: e.to + suffix })),
  }));
  const t0 = process.hrtime.bigint();
  for (const p of batch) d.push([p]);
  seconds += Number(process.hrtime.bigint() - t0) / 1e9;
}
gc?.();
const heap1 = process.memoryUsage().heapUsed;
process.stdout.write(
  `${JSON.stringify({ relations: d.stats.relations, seconds, rate: d.stats.relations / seconds, findings, windows: d.stats.windows, retainedMb: (heap1 - heap0) / 1e6 })}\n`,
);
