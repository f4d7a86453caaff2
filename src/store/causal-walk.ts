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
import type { PathParams, WalkParams, WalkRow } from "./lineage-params.js";
import type { LineagePath } from "./store-types.js";

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

  /** Every relation the walk followed (ends in or out of the kept nodes), for `causalChains`. */
  followedEdges(): CausalStepEdge[] {
    return [...this.followed.values()];
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

/** The two time-ordered walks of a path search, turned into walk parameters. */
export function causalPathWalks(p: PathParams): { down: WalkParams; up: WalkParams } {
  const common = {
    runId: p.runId,
    depth: p.depth,
    limit: p.visits,
    visits: p.visits,
    relations: p.relations,
    causal: true,
  };
  return {
    down: { ...common, start: p.from, ancestors: false },
    up: { ...common, start: p.to, ancestors: true },
  };
}

/**
 * Chains in time order from `from` to `to` (`provflow path --causal`): the descendants walk from
 * `from` gives the relations that can carry its content and how far each node is from it; the
 * ancestors walk from `to` how far each node is from `to`. A chain goes through nodes of both
 * walks that fit in the depth, along the descendants walk's relations, and carries its own time:
 * each hop must end at or after the time the content reached the hop's upstream node (a chain
 * through a process that wrote before it read is not one). Several relations between two nodes are
 * one hop, with those that are in time. Shortest first, then by node ids; at most `budget` partial
 * chains are built.
 */
export function causalChains(
  p: PathParams,
  down: { rows: WalkRow[]; edges: CausalStepEdge[]; truncated: boolean },
  up: { rows: WalkRow[]; truncated: boolean },
): { chains: LineagePath[]; truncated: boolean } {
  const fromDepth = new Map(down.rows.map((r) => [r.id, r.depth]));
  const togo = new Map<number, number>();
  for (const r of up.rows) {
    const d = fromDepth.get(r.id);
    if (d !== undefined && d + r.depth <= p.depth) togo.set(r.id, r.depth);
  }
  // hops downstream: near (the upstream node) → far, each with its relations
  const hops = new Map<number, Map<number, CausalStepEdge[]>>();
  for (const e of down.edges) {
    if (!togo.has(e.near) || !togo.has(e.far) || e.near === e.far) continue;
    let m = hops.get(e.near);
    if (m === undefined) {
      m = new Map();
      hops.set(e.near, m);
    }
    const list = m.get(e.far);
    if (list === undefined) m.set(e.far, [e]);
    else list.push(e);
  }
  const targets = new Set(p.to);
  interface Partial {
    nodes: number[];
    edges: number[];
    bound: number;
  }
  const done: Partial[] = [];
  let level: Partial[] = [];
  for (const id of p.from) {
    if (!togo.has(id)) continue;
    const c = { nodes: [id], edges: [], bound: Number.NEGATIVE_INFINITY };
    if (targets.has(id)) done.push(c);
    else level.push(c);
  }
  let built = level.length + done.length;
  let cut = false;
  for (let len = 0; level.length > 0 && len < p.depth && !cut && done.length <= p.maxPaths; len++) {
    const next: Partial[] = [];
    for (const ch of level) {
      const last = ch.nodes[ch.nodes.length - 1]!;
      for (const [m, es] of hops.get(last) ?? []) {
        if (len + 1 + togo.get(m)! > p.depth || ch.nodes.includes(m)) continue;
        const ids: number[] = [];
        let bound = Number.POSITIVE_INFINITY;
        for (const e of es) {
          const lastTs = e.tsEnd ?? e.ts;
          if (lastTs !== null && lastTs < ch.bound) continue;
          ids.push(e.id);
          bound = Math.min(bound, e.ts === null ? ch.bound : Math.max(ch.bound, e.ts));
        }
        if (ids.length === 0) continue;
        if (++built > p.budget) {
          cut = true;
          break;
        }
        const c = { nodes: [...ch.nodes, m], edges: [...ch.edges, ...ids.sort((a, b) => a - b)], bound };
        if (targets.has(m)) done.push(c);
        else next.push(c);
      }
      if (cut) break;
    }
    level = next;
  }
  const key = (c: Partial) => c.nodes.join(",");
  done.sort((a, b) => a.nodes.length - b.nodes.length || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return {
    chains: done.slice(0, p.maxPaths).map((c) => ({ nodes: c.nodes, edges: c.edges })),
    truncated: cut || done.length > p.maxPaths || down.truncated || up.truncated,
  };
}
