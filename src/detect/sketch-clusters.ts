import type { Evidence } from "./detect-types.js";
import { type BucketWitness, sketchDistance } from "./graph-sketch.js";

/**
 * Clusters of normal sketches and their learnt thresholds (StreamSpot's bootstrap clusters, Unicorn's
 * model states): the training sketches are grouped by single linkage at a cut learnt from the data
 * (three times the median distance of a sketch to its nearest neighbour, within 0.2..0.5); each cluster keeps
 * its centroid and its radius (the farthest member), and a sketch is normal when it lies within
 * `margin` × radius of some centroid — a cluster of one member, or of identical members, gets the cut
 * as its radius.
 */

export interface SketchCluster {
  centroid: number[];
  /** the farthest member from the centroid */
  radius: number;
  /** distance beyond which a sketch is not of this cluster */
  threshold: number;
  /** names of the training sketches in it */
  members: string[];
}

export interface ClusterModel {
  cut: number;
  margin: number;
  clusters: SketchCluster[];
}

/**
 * The linkage cut stays within these: beyond 0.5 two graphs share little; below 0.2 (a threshold of
 * 0.1 for a cluster whose few members barely differ) normal runs of the same work were seen to differ
 * by more (process-tree timing: 0.07 between two audit captures of the same tar backup).
 */
const MIN_CUT = 0.2;
const MAX_CUT = 0.5;

function normalize(v: number[]): number[] {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

function round(v: number[]): number[] {
  return v.map((x) => Math.round(x * 1e6) / 1e6);
}

export function clusterSketches(
  sketches: readonly { name: string; vector: number[] }[],
  opts: { margin: number; minCut?: number },
): ClusterModel {
  const n = sketches.length;
  if (n === 0) return { cut: 0, margin: opts.margin, clusters: [] };
  const d: number[][] = [];
  for (let i = 0; i < n; i++) {
    d.push(new Array<number>(n).fill(0));
    for (let j = 0; j < i; j++) {
      const x = sketchDistance(
        (sketches[i] as { vector: number[] }).vector,
        (sketches[j] as { vector: number[] }).vector,
      );
      (d[i] as number[])[j] = x;
      (d[j] as number[])[i] = x;
    }
  }
  const nn = sketches.map((_, i) => {
    let m = Number.POSITIVE_INFINITY;
    for (let j = 0; j < n; j++) if (j !== i) m = Math.min(m, (d[i] as number[])[j] as number);
    return m;
  });
  const finite = nn.filter(Number.isFinite).sort((a, b) => a - b);
  const median = finite.length > 0 ? (finite[Math.floor((finite.length - 1) / 2)] as number) : 0;
  const cut = Math.min(MAX_CUT, Math.max(opts.minCut ?? MIN_CUT, 3 * median));
  // single linkage: union-find over pairs closer than the cut
  const parent = sketches.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i] as number] as number;
      i = parent[i] as number;
    }
    return i;
  };
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) if (((d[i] as number[])[j] as number) <= cut) parent[find(i)] = find(j);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    const g = groups.get(r);
    if (g) g.push(i);
    else groups.set(r, [i]);
  }
  const clusters: SketchCluster[] = [];
  for (const members of groups.values()) {
    const dim = (sketches[members[0] as number] as { vector: number[] }).vector.length;
    const sum = new Array<number>(dim).fill(0);
    for (const i of members) {
      const v = (sketches[i] as { vector: number[] }).vector;
      for (let k = 0; k < dim; k++) sum[k] = (sum[k] as number) + (v[k] as number);
    }
    const centroid = normalize(sum);
    let radius = 0;
    for (const i of members)
      radius = Math.max(radius, sketchDistance(centroid, (sketches[i] as { vector: number[] }).vector));
    // a cluster whose members barely differ learns nothing about spread: the cut stands for it
    const threshold = Math.max(radius * opts.margin, cut / 2);
    clusters.push({
      centroid: round(centroid),
      radius: Math.round(radius * 1e6) / 1e6,
      threshold: Math.round(threshold * 1e6) / 1e6,
      members: members.map((i) => (sketches[i] as { name: string }).name),
    });
  }
  return { cut: Math.round(cut * 1e6) / 1e6, margin: opts.margin, clusters };
}

/** The nearest cluster by distance relative to its threshold: score <= 1 is normal. */
export function nearestCluster(
  model: ClusterModel,
  vector: readonly number[],
): { index: number; distance: number; threshold: number; score: number } | null {
  let best: { index: number; distance: number; threshold: number; score: number } | null = null;
  model.clusters.forEach((c, index) => {
    const distance = sketchDistance(c.centroid, vector);
    const score = c.threshold > 0 ? distance / c.threshold : distance > 0 ? Number.POSITIVE_INFINITY : 0;
    if (best === null || score < best.score) best = { index, distance, threshold: c.threshold, score };
  });
  return best;
}

/**
 * Why a sketch is far from its cluster: the relations that first fed the buckets most over-represented
 * against the centroid (at most `top`), as shingles and as evidence.
 */
export function sketchEvidence(
  vector: readonly number[],
  centroid: readonly number[] | undefined,
  witnesses: readonly (BucketWitness | undefined)[],
  top = 5,
): { shingles: string[]; evidence: Evidence } {
  const gaps: { b: number; gap: number }[] = [];
  vector.forEach((x, b) => {
    const gap = x - ((centroid?.[b] as number | undefined) ?? 0);
    if (gap > 0 && witnesses[b] !== undefined) gaps.push({ b, gap });
  });
  gaps.sort((a, b) => b.gap - a.gap);
  const w = gaps.slice(0, top).map((g) => witnesses[g.b] as BucketWitness);
  return {
    shingles: w.map((x) => x.shingle),
    evidence: {
      edges: [...new Set(w.map((x) => x.edge))],
      nodes: [...new Set(w.flatMap((x) => [x.from, x.to]))],
      gids: [...new Set(w.map((x) => x.gid))],
    },
  };
}
