import type { GraphEdge, GraphNode } from "../graph/prov-types.js";
import { isoMicros } from "../graph/time-format.js";
import { type Behaviour, BehaviourExtractor, NameBook } from "./behaviour-keys.js";
import type {
  DetectEdge,
  DetectNode,
  DetectReport,
  DetectTriple,
  Evidence,
  Finding,
} from "./detect-types.js";
import { type BucketWitness, DEFAULT_SKETCH_CONFIG, GraphSketch, type SketchConfig } from "./graph-sketch.js";
import { type ClusterModel, clusterSketches, nearestCluster, sketchEvidence } from "./sketch-clusters.js";

/**
 * The detection model: what normal runs do (the explainable behaviour detector) and what their
 * graphs look like (the sketch detector), learnt from baseline runs, saved as versioned JSON.
 */

export const DETECT_MODEL_FORMAT = "provflow-detect-model";
export const DETECT_MODEL_VERSION = 1;

export interface DetectModel {
  format: typeof DETECT_MODEL_FORMAT;
  version: typeof DETECT_MODEL_VERSION;
  /** UTC ISO time it was made */
  created: string;
  /** the baseline runs */
  runs: string[];
  behaviour: {
    /** behaviour key → in how many baseline runs (or stream windows) it was seen */
    keys: Record<string, number>;
    /** a run is flagged with at least this many new behaviours */
    minFindings: number;
  };
  sketch: {
    config: SketchConfig;
    /** relations per sketch (0: one sketch for a whole run) */
    window: number;
  } & ClusterModel;
}

export interface TrainOptions {
  sketch?: Partial<SketchConfig>;
  /** relations per sketch window; 0 (default) = whole runs */
  window?: number;
  /** a cluster's threshold is this times its radius (default 1.5) */
  margin?: number;
  /** new behaviours needed to flag a run (default 1) */
  minFindings?: number;
}

/** One run read for detection: its behaviours (with where each was first seen) and its sketches. */
export interface RunProfile {
  name: string;
  behaviours: Map<string, { behaviour: Behaviour; evidence: Evidence }>;
  /** keys only a one-pass (stream-order) reading gives: names not learnt yet */
  streamKeys: Set<string>;
  sketches: { name: string; vector: number[]; witnesses: (BucketWitness | undefined)[] }[];
  edges: number;
  /** relations whose ends are not in the graph */
  dangling: number;
}

function toNode(n: GraphNode): DetectNode {
  return { ref: n.id, kind: n.kind, type: n.type, gid: n.gid, label: n.label, attrs: n.attrs };
}

/** A recorded run's relations as triples, in time order (agents' associations left out). */
export function runTriples(
  nodes: readonly GraphNode[],
  edges: readonly GraphEdge[],
): { triples: DetectTriple[]; dangling: number } {
  const byId = new Map<number, DetectNode>();
  for (const n of nodes) byId.set(n.id, toNode(n));
  const sorted = edges
    .filter(
      (e) => e.type !== "wasAssociatedWith" && e.type !== "wasAttributedTo" && e.type !== "actedOnBehalfOf",
    )
    .sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0) || a.id - b.id);
  const triples: DetectTriple[] = [];
  let dangling = 0;
  for (const e of sorted) {
    const from = byId.get(e.from);
    const to = byId.get(e.to);
    if (!from || !to) {
      dangling++;
      continue;
    }
    const edge: DetectEdge = { ref: e.id, type: e.type, op: e.op, ts: e.ts };
    triples.push({ edge, from, to });
  }
  return { triples, dangling };
}

/**
 * Reads a run's triples into a profile. The explainable detector reads them twice (names first, so a
 * CamFlow inode read before its `named` relation still gets its path); the sketch reads them once, in
 * order, learning names as they come, as a stream is read (so that a model trained on runs matches
 * what `provflow mqtt --detect` sees); the keys the one-pass reading gives are kept too
 * (`streamKeys`), so that the stream's early, not yet named relations are normal where they were.
 */
export function profileRun(
  name: string,
  triples: readonly DetectTriple[],
  opts: { config: SketchConfig; window: number; cwd?: string | null; dangling?: number },
): RunProfile {
  const onePass = new BehaviourExtractor({ cwd: opts.cwd ?? null });
  const sketch = new GraphSketch(opts.config, onePass.book);
  const streamKeys = new Set<string>();
  const sketches: RunProfile["sketches"] = [];
  const flush = (final: boolean) => {
    if (sketch.edges === 0) return;
    // the last, partial window of a stream counts when it is at least half a window
    if (final && opts.window > 0 && sketches.length > 0 && sketch.edges < opts.window / 2) return;
    sketches.push({
      name: opts.window > 0 ? `${name}#${sketches.length + 1}` : name,
      vector: sketch.vector(),
      witnesses: [...sketch.witnesses],
    });
    sketch.resetHistogram();
  };
  for (const t of triples) {
    for (const b of onePass.extract(t)) streamKeys.add(b.key);
    sketch.add(t);
    if (opts.window > 0 && sketch.edges >= opts.window) flush(false);
  }
  flush(true);

  const book = new NameBook();
  for (const t of triples) book.learn(t);
  const ex = new BehaviourExtractor({ cwd: opts.cwd ?? null }, book);
  const behaviours = new Map<string, { behaviour: Behaviour; evidence: Evidence }>();
  for (const t of triples) {
    for (const b of ex.extract(t)) {
      if (!behaviours.has(b.key)) {
        behaviours.set(b.key, {
          behaviour: b,
          evidence: { edges: [t.edge.ref], nodes: [t.from.ref, t.to.ref], gids: [t.from.gid, t.to.gid] },
        });
      }
    }
  }
  for (const k of behaviours.keys()) streamKeys.delete(k);
  return { name, behaviours, streamKeys, sketches, edges: triples.length, dangling: opts.dangling ?? 0 };
}

export function resolveSketchConfig(o: Partial<SketchConfig> | undefined): SketchConfig {
  const c = { ...DEFAULT_SKETCH_CONFIG, ...(o ?? {}) };
  if (!Number.isInteger(c.size) || c.size < 16 || c.size > 1 << 20)
    throw new RangeError(`sketch size must be an integer in 16..1048576, not ${c.size}`);
  if (!Number.isInteger(c.hops) || c.hops < 1 || c.hops > 8)
    throw new RangeError(`sketch hops must be 1..8, not ${c.hops}`);
  if (!Number.isInteger(c.maxNodes) || c.maxNodes < 16)
    throw new RangeError(`sketch max nodes must be an integer >= 16, not ${c.maxNodes}`);
  return c;
}

/** Learns a model from baseline profiles (made with the same config and window). */
export function trainModel(
  profiles: readonly RunProfile[],
  opts: TrainOptions & { config: SketchConfig },
): DetectModel {
  const keys: Record<string, number> = {};
  for (const p of profiles) {
    for (const k of p.behaviours.keys()) keys[k] = (keys[k] ?? 0) + 1;
    for (const k of p.streamKeys) keys[k] = (keys[k] ?? 0) + 1;
  }
  const clusters = clusterSketches(
    profiles.flatMap((p) => p.sketches),
    { margin: opts.margin ?? 1.5 },
  );
  return {
    format: DETECT_MODEL_FORMAT,
    version: DETECT_MODEL_VERSION,
    created: isoMicros(Date.now() * 1000),
    runs: profiles.map((p) => p.name),
    behaviour: { keys, minFindings: opts.minFindings ?? 1 },
    sketch: { config: opts.config, window: opts.window ?? 0, ...clusters },
  };
}

const KIND_WHY: Record<string, string> = {
  exec: "an executable no baseline run executed",
  spawn: "a process tree edge (parent program → child program) no baseline run had",
  read: "a file no baseline run of this program read",
  write: "a file area no baseline run of this program wrote",
  delete: "a file area no baseline run of this program deleted in",
  net: "a network peer no baseline run of this program talked to",
  listen: "a listening address no baseline run of this program opened",
};

/** Flags what a run does that the baseline did not, and how far its sketches are from normal. */
export function detectProfile(
  model: DetectModel,
  profile: RunProfile,
  run: DetectReport["run"],
): DetectReport {
  const findings: Finding[] = [];
  let newBehaviours = 0;
  for (const [key, { behaviour, evidence }] of profile.behaviours) {
    if (model.behaviour.keys[key] !== undefined) continue;
    newBehaviours++;
    findings.push({
      detector: "behaviour",
      kind: behaviour.kind,
      key,
      why: `${KIND_WHY[behaviour.kind] ?? "a new behaviour"}: ${behaviour.actor === "*" ? "" : `${behaviour.actor} → `}${behaviour.resource}`,
      evidence,
    });
  }
  const behaviourFlagged = newBehaviours >= model.behaviour.minFindings;
  let worst = 0;
  let sketchFlagged = false;
  for (const s of profile.sketches) {
    const near = nearestCluster(model.sketch, s.vector);
    if (near === null) continue;
    if (near.score > worst) {
      worst = near.score;
    }
    if (near.score <= 1) continue;
    sketchFlagged = true;
    const c = model.sketch.clusters[near.index];
    const why = sketchEvidence(s.vector, c?.centroid, s.witnesses);
    findings.push({
      detector: "sketch",
      kind: "graph",
      key: s.name,
      why: `the graph's neighbourhood histogram is ${near.distance.toFixed(3)} from the nearest normal cluster (${(c?.members ?? []).slice(0, 3).join(", ")}${(c?.members.length ?? 0) > 3 ? ", …" : ""}), beyond its threshold ${near.threshold.toFixed(3)}; most over-represented: ${why.shingles.join("; ")}`,
      score: Math.round(near.distance * 1e6) / 1e6,
      threshold: near.threshold,
      evidence: why.evidence,
    });
  }
  return {
    run,
    flagged: behaviourFlagged || sketchFlagged,
    detectors: {
      behaviour: {
        flagged: behaviourFlagged,
        score: newBehaviours,
        threshold: model.behaviour.minFindings,
        findings: newBehaviours,
      },
      sketch: {
        flagged: sketchFlagged,
        score: Math.round(worst * 1e6) / 1e6,
        threshold: 1,
        findings: findings.length - newBehaviours,
      },
    },
    findings,
    edges: profile.edges,
    dangling: profile.dangling,
  };
}

/** Parses and checks a saved model. */
export function parseModel(text: string, where: string): DetectModel {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`${where}: not JSON: ${(err as Error).message}`);
  }
  const o = m as Partial<DetectModel>;
  if (o?.format !== DETECT_MODEL_FORMAT) throw new SyntaxError(`${where}: not a provflow detection model`);
  if (o.version !== DETECT_MODEL_VERSION)
    throw new SyntaxError(
      `${where}: model version ${String(o.version)}, this provflow reads version ${DETECT_MODEL_VERSION}`,
    );
  if (!o.behaviour || typeof o.behaviour.keys !== "object" || !o.sketch || !Array.isArray(o.sketch.clusters))
    throw new SyntaxError(`${where}: model without its behaviour keys or sketch clusters`);
  const size = o.sketch.config?.size;
  for (const c of o.sketch.clusters) {
    if (!Array.isArray(c.centroid) || c.centroid.length !== size || typeof c.threshold !== "number")
      throw new SyntaxError(`${where}: a sketch cluster does not match the sketch size ${String(size)}`);
  }
  resolveSketchConfig(o.sketch.config);
  return o as DetectModel;
}

export function serializeModel(m: DetectModel): string {
  return `${JSON.stringify(m)}\n`;
}
