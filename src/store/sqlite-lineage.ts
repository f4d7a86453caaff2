/**
 * Lineage and chains in SQLite: recursive queries over the edges table (indexes edges_src and
 * edges_dst hold type and the other end, so a step reads only the index). The walk is told which
 * index to use and to loop over the walk outside: with bound parameters and no statistics the
 * planner may otherwise scan the whole run's relations once per step. A walk is a `WITH
 * RECURSIVE` over (node, depth) pairs: UNION drops a pair seen before, and the depth bound ends
 * every cycle; its LIMIT stops the walk once it produced its budget of rows. SQLite's queue is
 * first in, first out, so the walk goes level by level and a cut leaves the nearest levels whole.
 */
import type Database from "better-sqlite3";
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

type Db = Database.Database;

const NODE_COLUMNS = `n.id, n.kind, n.type, n.gid, n.version, n.label, n."start", n."end", n.attrs`;
const EDGE_COLUMNS = "e.id, e.type, e.op, e.src, e.dst, e.ts, e.ts_end, e.count, e.bytes, e.attrs";

/**
 * A recursive walk named `name`(id, depth) from the ids in parameter `start`: ancestors go from an
 * edge's src to its dst (PROV's direction: what the node depends on), descendants the other way.
 */
function walkCte(name: string, ancestors: boolean, start: string, visits: string): string {
  const [near, far] = ancestors ? ["src", "dst"] : ["dst", "src"];
  return `${name}(id, depth) AS (
    SELECT value, 0 FROM json_each(${start})
    UNION
    SELECT e.${far}, w.depth + 1 FROM ${name} w CROSS JOIN edges e INDEXED BY edges_${near}
      ON e.run_id = :run AND e.${near} = w.id
    WHERE w.depth < :depth AND e.type IN (SELECT value FROM json_each(:rel))
    LIMIT ${visits})`;
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

function prepared(db: Db, sql: string): Database.Statement {
  let m = statements.get(db);
  if (m === undefined) {
    m = new Map();
    statements.set(db, m);
  }
  let s = m.get(sql);
  if (s === undefined) {
    s = db.prepare(sql);
    m.set(sql, s);
  }
  return s;
}

function readNodes(db: Db, runId: number, ids: number[]): GraphNode[] {
  if (ids.length === 0) return [];
  const rows = prepared(
    db,
    `SELECT ${NODE_COLUMNS} FROM json_each(?) i CROSS JOIN nodes n ON n.run_id = ? AND n.id = i.value`,
  ).all(JSON.stringify(ids), runId) as NodeRow[];
  return rows.map(nodeFromRow);
}

/**
 * Relations of followed types from the `near` ids to the `far` ids (src → dst for ancestors). The
 * unary `+` keeps SQLite from using the `far` list as an index constraint too: it would seek every
 * (type, far id) pair for each near node, thousands of times too many on a big answer.
 */
function readEdges(
  db: Db,
  runId: number,
  ancestors: boolean,
  near: number[],
  far: number[],
  rel: string[],
): GraphEdge[] {
  if (near.length === 0 || far.length === 0) return [];
  const [a, b] = ancestors ? ["src", "dst"] : ["dst", "src"];
  const rows = prepared(
    db,
    `SELECT ${EDGE_COLUMNS} FROM json_each(?) i CROSS JOIN edges e INDEXED BY edges_${a} ON e.run_id = ? AND e.${a} = i.value
     WHERE +e.${b} IN (SELECT value FROM json_each(?)) AND e.type IN (SELECT value FROM json_each(?))
     ORDER BY e.id`,
  ).all(JSON.stringify(near), runId, JSON.stringify(far), JSON.stringify(rel)) as EdgeRow[];
  return rows.map(edgeFromRow);
}

/** Does a followed relation lead from a node short of the depth to a node outside the result? */
function escapes(db: Db, p: WalkParams, inner: number[], all: number[]): boolean {
  if (inner.length === 0) return false;
  const [a, b] = p.ancestors ? ["src", "dst"] : ["dst", "src"];
  const hit = prepared(
    db,
    `SELECT 1 FROM json_each(?) i CROSS JOIN edges e INDEXED BY edges_${a} ON e.run_id = ? AND e.${a} = i.value
     WHERE e.type IN (SELECT value FROM json_each(?)) AND e.${b} NOT IN (SELECT value FROM json_each(?)) LIMIT 1`,
  ).get(JSON.stringify(inner), p.runId, JSON.stringify(p.relations), JSON.stringify(all));
  return hit !== undefined;
}

/** The walk's nodes with their smallest depth, nearest first, and whether it used its whole budget. */
function walk(db: Db, p: WalkParams): { rows: WalkRow[]; visitsUsed: boolean } {
  const sql = `WITH RECURSIVE ${walkCte("walk", p.ancestors, ":start", ":visits")}
    SELECT * FROM (SELECT id, min(depth) AS depth FROM walk GROUP BY id ORDER BY depth, id LIMIT :take)
    UNION ALL SELECT NULL, count(*) FROM walk`;
  const rows = prepared(db, sql).all({
    run: p.runId,
    start: JSON.stringify(p.start),
    depth: p.depth,
    rel: JSON.stringify(p.relations),
    visits: p.visits,
    take: p.limit + 1,
  }) as { id: number | null; depth: number }[];
  let count = 0;
  const out: WalkRow[] = [];
  for (const r of rows) {
    if (r.id === null) count = r.depth;
    else out.push({ id: r.id, depth: r.depth });
  }
  return { rows: out, visitsUsed: count >= p.visits };
}

/** Ancestors or descendants of the start nodes (those of the run that exist), in one read transaction. */
export function sqliteLineage(db: Db, p: WalkParams): LineageResult {
  return db.transaction((): LineageResult => {
    const existing = new Set(readNodes(db, p.runId, p.start).map((n) => n.id));
    const start = p.start.filter((id) => existing.has(id));
    if (start.length === 0) return { nodes: [], edges: [], truncated: false };
    const w = walk(db, { ...p, start });
    const cut = cutWalk(w.rows, p);
    const ids = cut.rows.map((r) => r.id);
    const inner = innerIds(cut.rows, p.depth);
    const nodes = lineageNodes(cut.rows, readNodes(db, p.runId, ids));
    const edges = readEdges(db, p.runId, p.ancestors, inner, ids, p.relations);
    const truncated = cut.cut || (w.visitsUsed && escapes(db, p, inner, ids));
    return { nodes, edges, truncated };
  })();
}

/** Relations by id, in id order. */
function readEdgesById(db: Db, runId: number, ids: number[]): GraphEdge[] {
  if (ids.length === 0) return [];
  const rows = prepared(
    db,
    `SELECT ${EDGE_COLUMNS} FROM json_each(?) i CROSS JOIN edges e ON e.run_id = ? AND e.id = i.value ORDER BY e.id`,
  ).all(JSON.stringify(ids), runId) as EdgeRow[];
  return rows.map(edgeFromRow);
}

/** Runs a time-ordered walk (src/store/causal-walk.ts) from the start nodes that exist, one query per level. */
function causalWalk(db: Db, p: WalkParams): CausalWalk | null {
  const [a, b] = p.ancestors ? ["src", "dst"] : ["dst", "src"];
  const step = prepared(
    db,
    `SELECT e.id, e.${a} AS near, e.${b} AS far, e.ts, e.ts_end AS tsEnd
     FROM json_each(?) i CROSS JOIN edges e INDEXED BY edges_${a} ON e.run_id = ? AND e.${a} = i.value
     WHERE e.type IN (SELECT value FROM json_each(?))`,
  );
  const existing = new Set(readNodes(db, p.runId, p.start).map((n) => n.id));
  const start = p.start.filter((id) => existing.has(id));
  if (start.length === 0) return null;
  const w = new CausalWalk({ ...p, start });
  const rel = JSON.stringify(p.relations);
  for (let f = w.frontier(); f.length > 0; f = w.frontier())
    w.take(step.all(JSON.stringify(f), p.runId, rel) as CausalStepEdge[]);
  return w;
}

/** The time-ordered ancestors or descendants, in one read transaction. */
export function sqliteCausalLineage(db: Db, p: WalkParams): LineageResult {
  return db.transaction((): LineageResult => {
    const w = causalWalk(db, p);
    if (w === null) return { nodes: [], edges: [], truncated: false };
    const r = w.result();
    const nodes = lineageNodes(
      r.rows,
      readNodes(
        db,
        p.runId,
        r.rows.map((x) => x.id),
      ),
    );
    return { nodes, edges: readEdgesById(db, p.runId, r.edgeIds), truncated: r.truncated };
  })();
}

/** Chains in time order (causalChains): two time-ordered walks, then the chains in memory, in one read transaction. */
export function sqliteCausalPaths(db: Db, p: PathParams): PathResult {
  return db.transaction((): PathResult => {
    const walks = causalPathWalks(p);
    const down = causalWalk(db, walks.down);
    const up = causalWalk(db, walks.up);
    if (down === null || up === null) return { paths: [], nodes: [], edges: [], truncated: false };
    const { chains, truncated } = causalChains(
      p,
      { ...down.result(), edges: down.followedEdges() },
      up.result(),
    );
    const ids = [...new Set(chains.flatMap((c) => c.nodes))];
    return {
      paths: chains,
      nodes: readNodes(db, p.runId, ids).sort((a, b) => a.id - b.id),
      edges: readEdgesById(
        db,
        p.runId,
        [...new Set(chains.flatMap((c) => c.edges))].sort((a, b) => a - b),
      ),
      truncated,
    };
  })();
}

/**
 * Chains from `from` to `to`: a descendants walk from `from` and an ancestors walk from `to` (each
 * depth-bounded) give the nodes that can lie on a chain and how far each is from `to`; they go to a
 * temporary table (keyed by node, so each hop looks them up by index), and the chains are then built
 * hop by hop through those nodes only, never through a node twice, shortest first. A chain stops at
 * the first `to` node it reaches. When a walk ran out of rows, chains may be missing: truncated.
 */
export function sqlitePaths(db: Db, p: PathParams): PathResult {
  db.exec("CREATE TEMP TABLE IF NOT EXISTS lineage_core (id INTEGER PRIMARY KEY, togo INTEGER NOT NULL)");
  // the walks' row counts ride along as rows -1 and -2
  const coreSql = `INSERT INTO temp.lineage_core (id, togo) WITH RECURSIVE
    ${walkCte("fwd", false, ":from", ":visits")},
    ${walkCte("bwd", true, ":to", ":visits")}
    SELECT f.id, b.d FROM (SELECT id, min(depth) AS d FROM fwd GROUP BY id) f
      JOIN (SELECT id, min(depth) AS d FROM bwd GROUP BY id) b ON b.id = f.id
      WHERE f.d + b.d <= :depth
    UNION ALL SELECT -1, count(*) FROM fwd UNION ALL SELECT -2, count(*) FROM bwd`;
  const chainSql = `WITH RECURSIVE
    targets(id) AS MATERIALIZED (SELECT value FROM json_each(:to)),
    chain(node, len, nodes) AS (
      SELECT c.id, 0, ',' || c.id || ',' FROM temp.lineage_core c WHERE c.id IN (SELECT value FROM json_each(:from))
      UNION
      SELECT e.src, ch.len + 1, ch.nodes || e.src || ','
      FROM chain ch CROSS JOIN edges e INDEXED BY edges_dst ON e.run_id = :run AND e.dst = ch.node
        CROSS JOIN temp.lineage_core c ON c.id = e.src
      WHERE ch.node NOT IN targets AND ch.len + 1 + c.togo <= :depth
        AND e.type IN (SELECT value FROM json_each(:rel)) AND instr(ch.nodes, ',' || e.src || ',') = 0
      LIMIT :budget)
    SELECT * FROM (SELECT nodes, len FROM chain WHERE node IN targets ORDER BY len, nodes LIMIT :take)
    UNION ALL SELECT NULL, count(*) FROM chain`;
  return db.transaction((): PathResult => {
    const core = prepared(db, "DELETE FROM temp.lineage_core");
    core.run();
    prepared(db, coreSql).run({
      run: p.runId,
      from: JSON.stringify(p.from),
      to: JSON.stringify(p.to),
      depth: p.depth,
      rel: JSON.stringify(p.relations),
      visits: p.visits,
    });
    const counts = prepared(db, "SELECT togo FROM temp.lineage_core WHERE id < 0").pluck().all() as number[];
    prepared(db, "DELETE FROM temp.lineage_core WHERE id < 0").run();
    const walksCut = counts.some((n) => n >= p.visits);
    const rows = prepared(db, chainSql).all({
      run: p.runId,
      from: JSON.stringify(p.from),
      to: JSON.stringify(p.to),
      depth: p.depth,
      rel: JSON.stringify(p.relations),
      budget: p.budget,
      take: p.maxPaths + 1,
    }) as { nodes: string | null; len: number }[];
    core.run();
    let built = 0;
    const chains: number[][] = [];
    for (const r of rows) {
      if (r.nodes === null) built = r.len;
      else chains.push(r.nodes.split(",").filter(Boolean).map(Number));
    }
    const truncated = chains.length > p.maxPaths || built >= p.budget || walksCut;
    return finishPaths(db, p, chains.slice(0, p.maxPaths), truncated);
  })();
}

function finishPaths(db: Db, p: PathParams, chains: number[][], truncated: boolean): PathResult {
  const ids = [...new Set(chains.flat())];
  // relations between chain nodes, read as a descendants step from every chain node
  const edges = readEdges(db, p.runId, false, ids, ids, p.relations);
  const { paths, edgeIds } = assemblePaths(chains, edges);
  return {
    paths,
    nodes: readNodes(db, p.runId, ids).sort((a, b) => a.id - b.id),
    edges: edges.filter((e) => edgeIds.has(e.id)),
    truncated,
  };
}
