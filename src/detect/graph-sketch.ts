import { categorizePath } from "../graph/file-category.js";
import { BoundedMap, type NameBook, normalizeEndpoint } from "./behaviour-keys.js";
import type { DetectNode, DetectTriple } from "./detect-types.js";

/**
 * A streaming graph sketch in the StreamSpot / Unicorn family. Each node has a label (its type and a
 * coarse class: a process's program, a file's category, a socket's peer class); as relations arrive,
 * in the direction information flows (PROV's `to` → `from`), each node's neighbourhood label is
 * recomputed Weisfeiler-Lehman style up to R hops: label_k(dst) = H(label_k-1(dst), relation,
 * label_k-1(src)). Every new label is a *shingle*; the histogram of shingles is hashed into a fixed
 * vector of D buckets (feature hashing: a histogram sketch). Memory is bounded by configuration: D
 * numbers, and at most `maxNodes` nodes' labels (the oldest are forgotten).
 *
 * Two graphs are compared by the angular distance sqrt(1 - cos) of their log-damped histograms
 * (0 = the same neighbourhoods, 1 = nothing in common).
 */

export interface SketchConfig {
  /** buckets of the sketch */
  size: number;
  /** WL hops */
  hops: number;
  /** nodes whose labels are kept at most */
  maxNodes: number;
}

export const DEFAULT_SKETCH_CONFIG: SketchConfig = { size: 1024, hops: 2, maxNodes: 100_000 };

/** 32-bit FNV-1a of a string. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes three 32-bit values into one (murmur3's finaliser on a combination). */
export function mix3(a: number, b: number, c: number): number {
  let h =
    Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(c, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? p : p.slice(i + 1);
}

/** A node's base label: coarse enough to recur across runs of the same work. */
export function baseLabel(n: DetectNode, book: NameBook): string {
  switch (n.type) {
    case "process": {
      const exe = book.exeOf(n);
      if (exe !== undefined) return `P:${basename(exe).replace(/\d+/g, "#")}`;
      return `P:${String(n.attrs["cf:secctx"] ?? "?")}`;
    }
    case "file":
    case "directory":
    case "device": {
      const p = book.pathOf(n);
      if (p !== undefined) return `${n.type[0]}:${categorizePath(p)}`;
      return `${n.type[0]}:${String(n.attrs["prov:type"] ?? "?")}`;
    }
    case "socket":
    case "address": {
      const remote = typeof n.attrs.remote === "string" ? n.attrs.remote : book.pathOf(n);
      if (remote === undefined) return `S:${String(n.attrs.family ?? n.attrs["prov:type"] ?? "?")}`;
      const ep = normalizeEndpoint(remote);
      const loop = /^(?:127\.|\[?::1\]?|localhost)/.test(ep)
        ? "loopback"
        : ep.startsWith("/")
          ? "unix"
          : "remote";
      const port = /:(\d+|<ephemeral>)$/.exec(ep)?.[1] ?? "-";
      return `S:${loop}:${port}`;
    }
    default:
      return `${n.type}:${String(n.attrs["prov:type"] ?? "")}`;
  }
}

/** What fed one bucket first: a relation and its two nodes (the evidence of a sketch finding). */
export interface BucketWitness {
  edge: number | string;
  from: number | string;
  to: number | string;
  gid: string;
  shingle: string;
}

/** The histogram sketch of one graph (or one window of a stream), updated relation by relation. */
export class GraphSketch {
  readonly counts: Float64Array;
  total = 0;
  edges = 0;
  private readonly labels: BoundedMap<string, Uint32Array>;
  private readonly baseCache = new Map<string, number>();
  /** per bucket, the first relation that fed it (bounded by `size`) */
  readonly witnesses: (BucketWitness | undefined)[];

  constructor(
    readonly config: SketchConfig,
    private readonly book: NameBook,
    private readonly keepWitnesses = true,
  ) {
    this.counts = new Float64Array(config.size);
    this.labels = new BoundedMap(config.maxNodes);
    this.witnesses = keepWitnesses ? new Array(config.size) : [];
  }

  private base(n: DetectNode): number {
    const l = baseLabel(n, this.book);
    let h = this.baseCache.get(l);
    if (h === undefined) {
      h = hashString(l);
      if (this.baseCache.size < 65_536) this.baseCache.set(l, h);
    }
    return h;
  }

  private labelsOf(n: DetectNode): Uint32Array {
    let v = this.labels.get(n.gid);
    if (v === undefined) {
      v = new Uint32Array(this.config.hops + 1);
      v[0] = this.base(n);
      for (let k = 1; k <= this.config.hops; k++) v[k] = v[0] as number;
      this.labels.set(n.gid, v);
    } else if (n.type === "process" && v[0] !== this.base(n)) {
      // the program became known (exec): the node's own label changes
      v[0] = this.base(n);
    }
    return v;
  }

  /** One relation: information flows from PROV's `to` to PROV's `from`. */
  add(t: DetectTriple): void {
    const src = this.labelsOf(t.to);
    const dst = this.labelsOf(t.from);
    const rel = hashString(`${t.edge.type}:${t.edge.op}`);
    const size = this.config.size;
    this.edges++;
    for (let k = 1; k <= this.config.hops; k++) {
      const shingle = mix3(dst[k - 1] as number, rel, src[k - 1] as number);
      dst[k] = shingle;
      const b = shingle % size;
      this.counts[b] = (this.counts[b] as number) + 1;
      this.total++;
      if (this.keepWitnesses && this.witnesses[b] === undefined) {
        this.witnesses[b] = {
          edge: t.edge.ref,
          from: t.from.ref,
          to: t.to.ref,
          gid: t.from.gid,
          shingle: `${baseLabel(t.to, this.book)} -${t.edge.type}:${t.edge.op}-> ${baseLabel(t.from, this.book)} (hop ${k})`,
        };
      }
    }
  }

  /**
   * The normalised vector (unit length) of log-damped bucket counts, log(1 + n): a neighbourhood that
   * appears at all weighs more than how often it repeats (how many reads a loop makes varies between
   * normal runs; a kind of neighbourhood never seen before is what an intrusion brings).
   */
  vector(): number[] {
    const out = new Array<number>(this.counts.length);
    let norm = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const x = Math.log1p(this.counts[i] as number);
      out[i] = x;
      norm += x * x;
    }
    const n = Math.sqrt(norm) || 1;
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / n;
    return out;
  }

  /** Starts a new window: the histogram is emptied, the nodes' labels are kept. */
  resetHistogram(): void {
    this.counts.fill(0);
    this.total = 0;
    this.edges = 0;
    if (this.keepWitnesses) this.witnesses.fill(undefined);
  }
}

/** sqrt(1 - cosine) of two unit vectors with non-negative entries (0..1). */
export function sketchDistance(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) dot += (a[i] as number) * (b[i] as number);
  return Math.sqrt(Math.max(0, 1 - Math.min(1, dot)));
}
