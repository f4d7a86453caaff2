import type { KeyedEdge, KeyedNode, MachinePart } from "../store/store-types.js";
import { BehaviourExtractor, BoundedMap, NameBook } from "./behaviour-keys.js";
import type { DetectModel } from "./detect-model.js";
import type { DetectNode, DetectTriple, Finding } from "./detect-types.js";
import { GraphSketch } from "./graph-sketch.js";
import { nearestCluster, sketchEvidence } from "./sketch-clusters.js";

/**
 * Detection on a live stream of machines' provenance (`provflow mqtt --detect MODEL`): the rows each
 * batch of messages brings (MachinePart, src/mqtt) go through the same behaviour extractor and sketch
 * as recorded runs, machine by machine, and findings are reported as they arise. Memory is bounded by
 * configuration: per machine at most `maxNodes` nodes are remembered (to join relations to them; as
 * many names of CamFlow inodes and programs, and as many nodes' sketch labels), at
 * most `maxPending` relations wait for a node not seen yet, at most `maxFlagged` behaviour keys
 * already reported are kept, one sketch of `model.sketch.config.size` buckets; at most `maxMachines`
 * machines are followed (the least recently seen is forgotten).
 *
 * The sketch detector needs a model trained with windows (`provflow detect train --window N`): each
 * window of N relations of a machine is compared to the normal clusters. With `learn` > 0, the first
 * `learn` relations of each machine are the training window of the stream: their behaviours become
 * normal, and their sketch windows clusters of their own.
 */

export interface StreamDetectorOptions {
  model: DetectModel;
  onFinding: (machineId: string, f: Finding) => void;
  /** relations per machine learnt as normal before flagging starts (default 0) */
  learn?: number;
  maxNodes?: number;
  maxPending?: number;
  maxFlagged?: number;
  maxMachines?: number;
}

interface MachineState {
  nodes: BoundedMap<string, DetectNode>;
  pending: BoundedMap<string, KeyedEdge[]>;
  pendingCount: number;
  flagged: BoundedMap<string, true>;
  extractor: BehaviourExtractor;
  sketch: GraphSketch | null;
  window: number;
  seen: number;
}

export interface StreamDetectorStats {
  relations: number;
  waiting: number;
  findings: number;
  learnt: number;
  windows: number;
}

export class StreamDetector {
  private readonly machines: BoundedMap<string, MachineState>;
  private readonly known: Set<string>;
  readonly stats: StreamDetectorStats = { relations: 0, waiting: 0, findings: 0, learnt: 0, windows: 0 };
  private readonly maxNodes: number;
  private readonly maxPending: number;
  private readonly maxFlagged: number;

  constructor(private readonly o: StreamDetectorOptions) {
    this.maxNodes = o.maxNodes ?? o.model.sketch.config.maxNodes;
    this.maxPending = o.maxPending ?? 50_000;
    this.maxFlagged = o.maxFlagged ?? 100_000;
    this.machines = new BoundedMap(o.maxMachines ?? 1000);
    this.known = new Set(Object.keys(o.model.behaviour.keys));
  }

  /** Whether the sketch part runs on the stream (the model was trained with windows). */
  get sketching(): boolean {
    return this.o.model.sketch.window > 0 && this.o.model.sketch.clusters.length > 0;
  }

  private state(machineId: string): MachineState {
    let s = this.machines.get(machineId);
    if (s === undefined) {
      const extractor = new BehaviourExtractor({}, new NameBook(this.maxNodes));
      s = {
        nodes: new BoundedMap(this.maxNodes),
        pending: new BoundedMap(this.maxPending),
        pendingCount: 0,
        flagged: new BoundedMap(this.maxFlagged),
        extractor,
        sketch: this.sketching ? new GraphSketch(this.o.model.sketch.config, extractor.book) : null,
        window: 0,
        seen: 0,
      };
      this.machines.set(machineId, s);
    }
    return s;
  }

  /** One batch of the stream. */
  push(parts: readonly MachinePart[]): void {
    for (const p of parts) {
      const s = this.state(p.machineId);
      for (const n of p.nodes) this.node(p.machineId, s, n);
      for (const e of p.edges) this.edge(p.machineId, s, e);
    }
  }

  private node(machineId: string, s: MachineState, n: KeyedNode): void {
    const known = s.nodes.get(n.key);
    const node: DetectNode = known
      ? { ...known, attrs: { ...known.attrs, ...n.attrs } }
      : { ref: n.key, kind: n.kind, type: n.type, gid: n.gid, label: n.label, attrs: n.attrs };
    s.nodes.set(n.key, node);
    const waiting = s.pending.get(n.key);
    if (waiting !== undefined) {
      s.pending.delete(n.key);
      s.pendingCount -= waiting.length;
      for (const e of waiting) this.edge(machineId, s, e);
    }
  }

  private edge(machineId: string, s: MachineState, e: KeyedEdge): void {
    if (e.type === "wasAssociatedWith" || e.type === "wasAttributedTo" || e.type === "actedOnBehalfOf")
      return;
    const from = s.nodes.get(e.from);
    const to = s.nodes.get(e.to);
    if (from === undefined || to === undefined) {
      const missing = from === undefined ? e.from : e.to;
      const list = s.pending.get(missing) ?? [];
      list.push(e);
      s.pending.set(missing, list);
      s.pendingCount++;
      this.stats.waiting++;
      return;
    }
    const t: DetectTriple = { edge: { ref: e.key, type: e.type, op: e.op, ts: e.ts }, from, to };
    this.stats.relations++;
    s.seen++;
    const learning = s.seen <= (this.o.learn ?? 0);
    for (const b of s.extractor.extract(t)) {
      if (this.known.has(b.key) || s.flagged.get(b.key) !== undefined) continue;
      if (learning) {
        this.known.add(b.key);
        this.stats.learnt++;
        continue;
      }
      s.flagged.set(b.key, true);
      this.report(machineId, {
        detector: "behaviour",
        kind: b.kind,
        key: b.key,
        why: `a new behaviour: ${b.actor === "*" ? "" : `${b.actor} → `}${b.resource}`,
        evidence: { edges: [e.key], nodes: [from.ref, to.ref], gids: [from.gid, to.gid] },
      });
    }
    const sk = s.sketch;
    if (sk === null) return;
    sk.add(t);
    if (sk.edges < this.o.model.sketch.window) return;
    s.window++;
    this.stats.windows++;
    const vector = sk.vector();
    const model = this.o.model.sketch;
    if (learning) {
      model.clusters.push({
        centroid: vector,
        radius: 0,
        threshold: model.cut / 2,
        members: [`${machineId}#${s.window}`],
      });
    } else {
      const near = nearestCluster(model, vector);
      if (near !== null && near.score > 1) {
        const c = model.clusters[near.index];
        const why = sketchEvidence(vector, c?.centroid, sk.witnesses);
        this.report(machineId, {
          detector: "sketch",
          kind: "graph",
          key: `${machineId}#${s.window}`,
          why: `window ${s.window} (${model.window} relations) is ${near.distance.toFixed(3)} from the nearest normal cluster, beyond its threshold ${near.threshold.toFixed(3)}; most over-represented: ${why.shingles.join("; ")}`,
          score: Math.round(near.distance * 1e6) / 1e6,
          threshold: near.threshold,
          evidence: why.evidence,
        });
      }
    }
    sk.resetHistogram();
  }

  private report(machineId: string, f: Finding): void {
    this.stats.findings++;
    this.o.onFinding(machineId, f);
  }
}
