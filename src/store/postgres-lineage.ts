/**
 * Lineage and chains in PostgreSQL: the same recursive queries as sqlite-lineage.ts. A walk is a
 * `WITH RECURSIVE` over (node, depth) pairs (UNION drops a pair seen before, the depth bound ends
 * every cycle); PostgreSQL computes a recursive query level by level and only as far as the query
 * around it reads, so `LIMIT` on the walk stops it once it produced its budget of rows, the nearest
 * levels whole. The edge indexes include type and the other end: a step is an index-only scan.
 * Every query of one call runs in one read-only REPEATABLE READ transaction.
 */
import type pg from "pg";
import type { GraphEdge, GraphNode } from "../graph/prov-types.js";
import { type CausalStepEdge, CausalWalk, causalChains, causalPathWalks } from "./causal-walk.js";
import { type EdgeRow, edgeFromRow, type NodeRow, nodeFromRow } from "./graph-rows.js";
import {
  assemblePaths,
  cutWalk,
  innerIds,
  lineageNodes,
  type PathParams,
  type WalkParams,
  type WalkRow,
} from "./lineage-params.js";
import type { LineageResult, PathResult } from "./store-types.js";

const NODE_COLUMNS = `n.id, n.kind, n.type, n.gid, n.version, n.label, n."start", n."end",
  coalesce(n.attrs_text, n.attrs::text) AS attrs`;
const EDGE_COLUMNS = `e.id, e.type, e.op, e.src, e.dst, e.ts, e.ts_end, e.count, e.bytes,
  coalesce(e.attrs_text, e.attrs::text) AS attrs`;

/**
 * A recursive walk `name`(id, depth) from the ids of array parameter `start`, and `name`_c, the
 * walk cut at `visits` rows. $1 is the run, $depth the depth, $rel the relation types.
 */
function walkCte(
  name: string,
  ancestors: boolean,
  start: string,
  depth: string,
  rel: string,
  visits: string,
) {
  const [near, far] = ancestors ? ["src", "dst"] : ["dst", "src"];
  return `${name}(id, depth) AS (
    SELECT unnest(${start}::bigint[]), 0
    UNION
    SELECT e.${far}, w.depth + 1 FROM ${name} w JOIN edges e ON e.run_id = $1 AND e.${near} = w.id
    WHERE w.depth < ${depth} AND e.type = ANY(${rel}::text[])),
  ${name}_c AS (SELECT id, depth FROM ${name} LIMIT ${visits})`;
}

async function readNodes(c: pg.Client, runId: number, ids: number[]): Promise<GraphNode[]> {
  if (ids.length === 0) return [];
  const res = await c.query<NodeRow>(
    `SELECT ${NODE_COLUMNS} FROM nodes n WHERE n.run_id = $1 AND n.id IN (SELECT unnest($2::bigint[]))`,
    [runId, ids],
  );
  return res.rows.map(nodeFromRow);
}

async function readEdges(
  c: pg.Client,
  runId: number,
  ancestors: boolean,
  near: number[],
  far: number[],
  rel: string[],
): Promise<GraphEdge[]> {
  if (near.length === 0 || far.length === 0) return [];
  const [a, b] = ancestors ? ["src", "dst"] : ["dst", "src"];
  const res = await c.query<EdgeRow>(
    `SELECT ${EDGE_COLUMNS} FROM unnest($2::bigint[]) i(id) JOIN edges e ON e.run_id = $1 AND e.${a} = i.id
     WHERE e.${b} IN (SELECT unnest($3::bigint[])) AND e.type = ANY($4::text[]) ORDER BY e.id`,
    [runId, near, far, rel],
  );
  return res.rows.map(edgeFromRow);
}

/** Does a followed relation lead from a node short of the depth to a node outside the result? */
async function escapes(c: pg.Client, p: WalkParams, inner: number[], all: number[]): Promise<boolean> {
  if (inner.length === 0) return false;
  const [a, b] = p.ancestors ? ["src", "dst"] : ["dst", "src"];
  const res = await c.query(
    `SELECT 1 FROM unnest($2::bigint[]) i(id) JOIN edges e ON e.run_id = $1 AND e.${a} = i.id
     WHERE e.type = ANY($3::text[]) AND e.${b} NOT IN (SELECT unnest($4::bigint[])) LIMIT 1`,
    [p.runId, inner, p.relations, all],
  );
  return res.rows.length > 0;
}

async function readOnly<T>(c: pg.Client, fn: () => Promise<T>): Promise<T> {
  await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const out = await fn();
    await c.query("COMMIT");
    return out;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

export function postgresLineage(c: pg.Client, p: WalkParams): Promise<LineageResult> {
  return readOnly(c, async (): Promise<LineageResult> => {
    const existing = new Set((await readNodes(c, p.runId, p.start)).map((n) => n.id));
    const start = p.start.filter((id) => existing.has(id));
    if (start.length === 0) return { nodes: [], edges: [], truncated: false };
    const res = await c.query<{ id: number | null; depth: number }>(
      `WITH RECURSIVE ${walkCte("walk", p.ancestors, "$2", "$3", "$4", "$5")}
       SELECT * FROM (SELECT id, min(depth) AS depth FROM walk_c GROUP BY id ORDER BY 2, 1 LIMIT $6) a
       UNION ALL SELECT NULL, count(*) FROM walk_c`,
      [p.runId, start, p.depth, p.relations, p.visits, p.limit + 1],
    );
    let count = 0;
    const rows: WalkRow[] = [];
    for (const r of res.rows) {
      if (r.id === null) count = Number(r.depth);
      else rows.push({ id: Number(r.id), depth: Number(r.depth) });
    }
    const cut = cutWalk(rows, p);
    const ids = cut.rows.map((r) => r.id);
    const inner = innerIds(cut.rows, p.depth);
    const nodes = lineageNodes(cut.rows, await readNodes(c, p.runId, ids));
    const edges = await readEdges(c, p.runId, p.ancestors, inner, ids, p.relations);
    const truncated = cut.cut || (count >= p.visits && (await escapes(c, p, inner, ids)));
    return { nodes, edges, truncated };
  });
}

/** Runs a time-ordered walk (src/store/causal-walk.ts) from the start nodes that exist, one query per level. */
async function causalWalk(c: pg.Client, p: WalkParams): Promise<CausalWalk | null> {
  const [a, b] = p.ancestors ? ["src", "dst"] : ["dst", "src"];
  const num = (v: string | null) => (v === null ? null : Number(v));
  const existing = new Set((await readNodes(c, p.runId, p.start)).map((n) => n.id));
  const start = p.start.filter((id) => existing.has(id));
  if (start.length === 0) return null;
  const w = new CausalWalk({ ...p, start });
  for (let f = w.frontier(); f.length > 0; f = w.frontier()) {
    const res = await c.query<{
      id: string;
      near: string;
      far: string;
      ts: string | null;
      ts_end: string | null;
    }>(
      `SELECT e.id, e.${a} AS near, e.${b} AS far, e.ts, e.ts_end
       FROM unnest($2::bigint[]) i(id) JOIN edges e ON e.run_id = $1 AND e.${a} = i.id
       WHERE e.type = ANY($3::text[])`,
      [p.runId, f, p.relations],
    );
    w.take(
      res.rows.map(
        (r): CausalStepEdge => ({
          id: Number(r.id),
          near: Number(r.near),
          far: Number(r.far),
          ts: num(r.ts),
          tsEnd: num(r.ts_end),
        }),
      ),
    );
  }
  return w;
}

async function readEdgesById(c: pg.Client, runId: number, ids: number[]): Promise<GraphEdge[]> {
  if (ids.length === 0) return [];
  const res = await c.query<EdgeRow>(
    `SELECT ${EDGE_COLUMNS} FROM edges e WHERE e.run_id = $1 AND e.id IN (SELECT unnest($2::bigint[])) ORDER BY e.id`,
    [runId, ids],
  );
  return res.rows.map(edgeFromRow);
}

/** The time-ordered ancestors or descendants, in one read-only transaction. */
export function postgresCausalLineage(c: pg.Client, p: WalkParams): Promise<LineageResult> {
  return readOnly(c, async (): Promise<LineageResult> => {
    const w = await causalWalk(c, p);
    if (w === null) return { nodes: [], edges: [], truncated: false };
    const r = w.result();
    const ids = r.rows.map((x) => x.id);
    const nodes = lineageNodes(r.rows, await readNodes(c, p.runId, ids));
    return { nodes, edges: await readEdgesById(c, p.runId, r.edgeIds), truncated: r.truncated };
  });
}

/** Chains in time order (causalChains): two time-ordered walks, then the chains in memory. */
export function postgresCausalPaths(c: pg.Client, p: PathParams): Promise<PathResult> {
  return readOnly(c, async (): Promise<PathResult> => {
    const walks = causalPathWalks(p);
    const down = await causalWalk(c, walks.down);
    const up = await causalWalk(c, walks.up);
    if (down === null || up === null) return { paths: [], nodes: [], edges: [], truncated: false };
    const { chains, truncated } = causalChains(
      p,
      { ...down.result(), edges: down.followedEdges() },
      up.result(),
    );
    const ids = [...new Set(chains.flatMap((ch) => ch.nodes))];
    const edgeIds = [...new Set(chains.flatMap((ch) => ch.edges))].sort((x, y) => x - y);
    return {
      paths: chains,
      nodes: (await readNodes(c, p.runId, ids)).sort((x, y) => x.id - y.id),
      edges: await readEdgesById(c, p.runId, edgeIds),
      truncated,
    };
  });
}

/**
 * Chains from `from` to `to`, as sqlitePaths: two bounding walks, then the chains through their
 * common nodes (a materialized CTE, which PostgreSQL joins by hash).
 */
export function postgresPaths(c: pg.Client, p: PathParams): Promise<PathResult> {
  return readOnly(c, async (): Promise<PathResult> => {
    const res = await c.query<{ nodes: string | null; len: number }>(
      `WITH RECURSIVE
       ${walkCte("fwd", false, "$2", "$4", "$5", "$6")},
       ${walkCte("bwd", true, "$3", "$4", "$5", "$6")},
       core AS MATERIALIZED (
         SELECT f.id, b.d AS togo FROM (SELECT id, min(depth) AS d FROM fwd_c GROUP BY id) f
         JOIN (SELECT id, min(depth) AS d FROM bwd_c GROUP BY id) b ON b.id = f.id
         WHERE f.d + b.d <= $4),
       chain(node, len, nodes) AS (
         SELECT c.id, 0, ARRAY[c.id] FROM core c WHERE c.id = ANY($2::bigint[])
         UNION
         SELECT e.src, ch.len + 1, ch.nodes || e.src
         FROM chain ch JOIN edges e ON e.run_id = $1 AND e.dst = ch.node JOIN core c ON c.id = e.src
         WHERE NOT (ch.node = ANY($3::bigint[])) AND ch.len + 1 + c.togo <= $4
           AND e.type = ANY($5::text[]) AND NOT (e.src = ANY(ch.nodes))),
       chain_c AS (SELECT node, len, nodes FROM chain LIMIT $7)
       SELECT * FROM (SELECT array_to_string(nodes, ',') AS nodes, len FROM chain_c
         WHERE node = ANY($3::bigint[]) ORDER BY len, array_to_string(nodes, ',') LIMIT $8) a
       UNION ALL SELECT NULL, count(*) FROM chain_c
       UNION ALL SELECT '#walk', count(*) FROM fwd_c UNION ALL SELECT '#walk', count(*) FROM bwd_c`,
      [p.runId, p.from, p.to, p.depth, p.relations, p.visits, p.budget, p.maxPaths + 1],
    );
    let built = 0;
    let walksCut = false;
    const chains: number[][] = [];
    for (const r of res.rows) {
      if (r.nodes === null) built = Number(r.len);
      else if (r.nodes === "#walk") walksCut ||= Number(r.len) >= p.visits;
      else chains.push(r.nodes.split(",").map(Number));
    }
    // a walk that ran out of rows may have missed nodes of some chains
    const truncated = chains.length > p.maxPaths || built >= p.budget || walksCut;
    const kept = chains.slice(0, p.maxPaths);
    const ids = [...new Set(kept.flat())];
    const edges = await readEdges(c, p.runId, false, ids, ids, p.relations);
    const { paths, edgeIds } = assemblePaths(kept, edges);
    return {
      paths,
      nodes: (await readNodes(c, p.runId, ids)).sort((a, b) => a.id - b.id),
      edges: edges.filter((e) => edgeIds.has(e.id)),
      truncated,
    };
  });
}
