/**
 * What both stores share of lineage and path queries: the defaults, the bounds, the checks of a
 * query, and the assembly of the rows the recursive queries return (src/store/sqlite-lineage.ts,
 * src/store/postgres-lineage.ts).
 */
import type { GraphEdge, GraphNode, RelationType } from "../graph/prov-types.js";
import type { LineageNode, LineageQuery, PathQuery } from "./store-types.js";

/**
 * Relations a lineage follows unless told otherwise: the ones along which data or control flows.
 * Not followed: agents' relations (every process is associated with the user and the machine, so
 * their descendants would be the whole run), invalidations (the process deleting a file is not where
 * the file came from), and the structural ones (specializationOf, alternateOf, hadMember, mentionOf).
 */
export const DEFAULT_LINEAGE_RELATIONS: readonly RelationType[] = [
  "used",
  "wasGeneratedBy",
  "wasInformedBy",
  "wasDerivedFrom",
  "wasStartedBy",
  "wasEndedBy",
  "wasInfluencedBy",
];

export const ALL_RELATIONS: readonly RelationType[] = [
  "used",
  "wasGeneratedBy",
  "wasInformedBy",
  "wasDerivedFrom",
  "wasAssociatedWith",
  "wasAttributedTo",
  "wasInvalidatedBy",
  "actedOnBehalfOf",
  "wasInfluencedBy",
  "wasStartedBy",
  "wasEndedBy",
  "specializationOf",
  "alternateOf",
  "hadMember",
  "mentionOf",
];

export const DEFAULT_LINEAGE_LIMIT = 10_000;
export const MAX_LINEAGE_LIMIT = 1_000_000;
export const MAX_LINEAGE_DEPTH = 1000;
export const DEFAULT_MAX_PATHS = 10;
export const MAX_PATHS = 10_000;
/** start or end nodes of one query, at most */
export const MAX_START_NODES = 100_000;

/**
 * Rows a walk may produce per node returned, at most. A node reached at several depths is one row
 * per depth (the recursive query keeps (node, depth) pairs apart, which is what makes it stop on
 * cycles: a fork and a wait make a parent and its child a cycle), so the walk gets room beyond the
 * limit: depth + 1 rows per node, at most this many. When it uses all of it, the result is
 * truncated unless no followed relation leads out of it (it is then the whole answer).
 */
export const VISITS_PER_NODE = 6;
/** Rows each of the two walks bounding a path search may produce (beyond: chains may be missed, truncated). */
export const PATH_WALK_VISITS = 20_000;
/** Partial chains a path search may build, per chain asked for (and at least PATH_BUDGET_MIN). */
export const PATH_BUDGET_PER_PATH = 2_000;
export const PATH_BUDGET_MIN = 20_000;

/** The checked, defaulted form of a query that the SQL modules run. */
export interface WalkParams {
  runId: number;
  start: number[];
  ancestors: boolean;
  depth: number;
  limit: number;
  /** rows the recursive query may produce */
  visits: number;
  relations: RelationType[];
  /** keep time order (src/store/causal-walk.ts) */
  causal: boolean;
}

export interface PathParams {
  runId: number;
  from: number[];
  to: number[];
  depth: number;
  maxPaths: number;
  /** rows each of the two bounding walks may produce */
  visits: number;
  /** partial chains the enumeration may build */
  budget: number;
  relations: RelationType[];
  /** chains in time order (src/store/causal-walk.ts) */
  causal: boolean;
}

function checkIds(ids: readonly number[], what: string): number[] {
  if (!Array.isArray(ids)) throw new RangeError(`${what}: a list of node ids`);
  if (ids.length > MAX_START_NODES) throw new RangeError(`${what}: at most ${MAX_START_NODES} nodes`);
  for (const id of ids) if (!Number.isSafeInteger(id)) throw new RangeError(`${what}: bad node id ${id}`);
  return [...new Set(ids)];
}

function checkInt(n: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max)
    throw new RangeError(`${what} must be a whole number from ${min} to ${max}, not ${n}`);
  return n;
}

function checkRelations(rel: readonly RelationType[] | undefined): RelationType[] {
  if (rel === undefined) return [...DEFAULT_LINEAGE_RELATIONS];
  for (const r of rel)
    if (!ALL_RELATIONS.includes(r)) throw new RangeError(`unknown relation type ${JSON.stringify(r)}`);
  return [...new Set(rel)];
}

/** Checks and defaults a lineage query; RangeError on a bad one (the stores report it as theirs). */
export function walkParams(q: LineageQuery): WalkParams {
  const limit = checkInt(q.limit ?? DEFAULT_LINEAGE_LIMIT, "limit", 1, MAX_LINEAGE_LIMIT);
  return {
    runId: q.runId,
    start: checkIds(q.start, "start"),
    ancestors: q.direction === "ancestors",
    depth: checkInt(q.depth, "depth", 0, MAX_LINEAGE_DEPTH),
    limit,
    visits: limit * Math.min(VISITS_PER_NODE, q.depth + 1) + 1,
    relations: checkRelations(q.relations),
    causal: q.causal === true,
  };
}

export function pathParams(q: PathQuery): PathParams {
  const maxPaths = checkInt(q.maxPaths ?? DEFAULT_MAX_PATHS, "maxPaths", 1, MAX_PATHS);
  return {
    runId: q.runId,
    from: checkIds(q.from, "from"),
    to: checkIds(q.to, "to"),
    depth: checkInt(q.depth, "depth", 1, MAX_LINEAGE_DEPTH),
    maxPaths,
    visits: PATH_WALK_VISITS,
    budget: Math.max(PATH_BUDGET_MIN, maxPaths * PATH_BUDGET_PER_PATH),
    relations: checkRelations(q.relations),
    causal: q.causal === true,
  };
}

/** One (node, smallest depth) row of a walk, as the recursive queries return them. */
export interface WalkRow {
  id: number;
  depth: number;
}

/**
 * Nodes of a walk: rows come ordered by depth then id, one per node; the first `limit` are kept.
 * `cut`: more than `limit` nodes. The walk goes level by level, so even when it ran out of rows
 * the depths it found are the smallest; whether it missed nodes is asked afterwards (`escapes`).
 */
export function cutWalk(rows: WalkRow[], p: WalkParams): { rows: WalkRow[]; cut: boolean } {
  return rows.length > p.limit ? { rows: rows.slice(0, p.limit), cut: true } : { rows, cut: false };
}

/** Joins the walk's depths to the nodes read back, in walk order (nodes deleted meanwhile are dropped). */
export function lineageNodes(rows: WalkRow[], nodes: GraphNode[]): LineageNode[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out: LineageNode[] = [];
  for (const r of rows) {
    const n = byId.get(r.id);
    if (n !== undefined) out.push({ ...n, depth: r.depth });
  }
  return out;
}

/** The nodes of a walk from which it took another step (their relations are the lineage's). */
export function innerIds(rows: WalkRow[], depth: number): number[] {
  return rows.filter((r) => r.depth < depth).map((r) => r.id);
}

/**
 * Chains as node-id lists (upstream first) and the relations between their consecutive nodes:
 * each chain gets every relation joining each consecutive pair (several reads of one file by one
 * process are one hop). In PROV direction a hop a → b (b downstream) is an edge from b to a.
 */
export function assemblePaths(
  chains: number[][],
  edges: GraphEdge[],
): { paths: { nodes: number[]; edges: number[] }[]; edgeIds: Set<number> } {
  const between = new Map<string, number[]>();
  for (const e of [...edges].sort((a, b) => a.id - b.id)) {
    const key = `${e.to}>${e.from}`;
    const list = between.get(key);
    if (list === undefined) between.set(key, [e.id]);
    else list.push(e.id);
  }
  const edgeIds = new Set<number>();
  const paths = chains.map((nodes) => {
    const ids: number[] = [];
    for (let i = 0; i + 1 < nodes.length; i++) {
      for (const id of between.get(`${nodes[i]}>${nodes[i + 1]}`) ?? []) {
        ids.push(id);
        edgeIds.add(id);
      }
    }
    return { nodes, edges: ids };
  });
  return { paths, edgeIds };
}
