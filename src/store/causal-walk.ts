/**
 * The time-respecting lineage walk (`provflow lineage --causal`) that both stores drive, level by
 * level, with one query per level for the relations of the level's nodes.
 *
 * A plain walk follows every relation whatever its time: a process that read A, wrote B, then read
 * C makes C an ancestor of B. This walk carries a time bound with each node. Going up (ancestors),
 * the bound is the latest moment at which something could still flow into what the start node is:
 * a relation is followed only when it began at or before the bound, and the node it reaches gets
 * the earlier of the bound and the relation's last time. Going down (descendants) it is the mirror:
 * the earliest moment the start node's content can have reached a node; a relation is followed when
 * its last time is at or after it. A relation without a time (some PROV documents) is always followed
 * and leaves the bound as it is, so a graph without times gives the plain walk's answer.
 *
 * A node can be reached again with a looser bound (later going up, earlier going down): it is then
 * walked again from there, as a state (node, depth, bound) is only worth walking when no state of
 * the same node at a smaller or equal depth had a bound at least as loose. Bounds only loosen and
 * come from the relations' times, so the walk ends, and the depth bound ends it anyway.
 */
import type { WalkParams, WalkRow } from "./lineage-params.js";

/** Relations a causal walk may read in all, at the least (a walk's `visits` when larger). */
export const CAUSAL_ROWS_MIN = 1_000_000;

/** A relation one level reads: from a node of the level (`near`) to the node it leads to (`far`). */
export interface CausalStepEdge {
  id: number;
  near: number;
  far: number;
  ts: number | null;
  tsEnd: number | null;
}

export class CausalWalk {
  private readonly ancestors: boolean;
  /** the loosest bound each node was reached with */
  private readonly bound = new Map<number, number>();
  /** the loosest bound each node was walked from */
  private readonly walked = new Map<number, number>();
  /** each node's smallest depth */
  private readonly depthOf = new Map<number, number>();
  private readonly followed = new Map<number, CausalStepEdge>();
  private next: number[];
  private level = 0;
  private rowsRead = 0;
  /** stopped before the depth bound: more nodes than the limit, or the relations read over budget */
  private cut = false;

  constructor(private readonly p: WalkParams) {
    this.ancestors = p.ancestors;
    const open = this.ancestors ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    for (const id of p.start) {
      this.bound.set(id, open);
      this.depthOf.set(id, 0);
    }
    this.next = [...p.start];
  }

  /** The nodes whose relations the next level reads; empty when the walk is over. */
  frontier(): number[] {
    if (this.cut || this.level >= this.p.depth) return [];
    return this.next;
  }

  /** Takes the relations of every node of `frontier()` (of the followed types), in any order. */
  take(edges: readonly CausalStepEdge[]): void {
    const level = this.next;
    for (const id of level) this.walked.set(id, this.bound.get(id)!);
    this.level++;
    this.rowsRead += edges.length;
    const loosened = new Set<number>();
    for (const e of edges) {
      const b = this.walked.get(e.near);
      if (b === undefined || !this.allowed(e, b)) continue;
      this.followed.set(e.id, e);
      const nb = this.narrowed(e, b);
      const had = this.bound.get(e.far);
      if (had === undefined || this.looser(nb, had)) {
        this.bound.set(e.far, nb);
        if (!this.depthOf.has(e.far)) this.depthOf.set(e.far, this.level);
        const w = this.walked.get(e.far);
        if (w === undefined || this.looser(nb, w)) loosened.add(e.far);
      }
    }
    this.next = [...loosened].sort((a, b) => a - b);
    if (this.depthOf.size > this.p.limit || this.rowsRead >= Math.max(this.p.visits, CAUSAL_ROWS_MIN))
      this.cut = true;
  }

  /** The nodes (nearest first, then by id, at most `limit`), the relations followed among them, and whether it was cut. */
  result(): { rows: WalkRow[]; edgeIds: number[]; truncated: boolean } {
    const all: WalkRow[] = [...this.depthOf].map(([id, depth]) => ({ id, depth }));
    all.sort((a, b) => a.depth - b.depth || a.id - b.id);
    const rows = all.slice(0, this.p.limit);
    const kept = new Set(rows.map((r) => r.id));
    const edgeIds = [...this.followed.values()]
      .filter((e) => kept.has(e.near) && kept.has(e.far))
      .map((e) => e.id)
      .sort((a, b) => a - b);
    // cut with nothing left to walk is the whole answer (the last level only found known nodes)
    const truncated =
      all.length > this.p.limit || (this.cut && this.next.length > 0 && this.level < this.p.depth);
    return { rows, edgeIds, truncated };
  }

  private allowed(e: CausalStepEdge, bound: number): boolean {
    if (this.ancestors) return e.ts === null || e.ts <= bound;
    const last = e.tsEnd ?? e.ts;
    return last === null || last >= bound;
  }

  private narrowed(e: CausalStepEdge, bound: number): number {
    if (this.ancestors) {
      const last = e.tsEnd ?? e.ts;
      return last === null ? bound : Math.min(bound, last);
    }
    return e.ts === null ? bound : Math.max(bound, e.ts);
  }

  private looser(a: number, than: number): boolean {
    return this.ancestors ? a > than : a < than;
  }
}
