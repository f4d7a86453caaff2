/**
 * SQLite side of "what changed since" (GraphStore.getChanges) and of the browsing filters of
 * getNodes/getEdges (category, time window, text). Writers are serialised (BEGIN IMMEDIATE) and stamp
 * the change sequence inside their transaction, so the order of committed stamps is the order of the
 * sequence: whatever is visible can be handed out.
 */
import type Database from "better-sqlite3";
import { type EdgeRow, edgeFromRow, type NodeRow, nodeFromRow } from "./graph-rows.js";
import type { ChangeQuery, ChangeSet, EdgeFilter, NodeFilter } from "./store-types.js";

type Stmt = Database.Statement<unknown[], unknown>;

export const DEFAULT_CHANGE_LIMIT = 5000;

/** `LIKE` pattern matching `text` anywhere (its own % and _ escaped with \). */
export function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** WHERE clauses (and their parameters) of the browsing filters of nodes. */
export function sqliteNodeClauses(filter: NodeFilter, where: string[], params: unknown[]): void {
  if (filter.categories !== undefined) {
    where.push("json_extract(attrs, '$.category') IN (SELECT value FROM json_each(?))");
    params.push(JSON.stringify(filter.categories));
  }
  if (filter.from !== undefined) {
    where.push(`coalesce("end", "start") >= ?`);
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    where.push(`"start" <= ?`);
    params.push(filter.to);
  }
  if (filter.match !== undefined) {
    where.push(`(label LIKE ? ESCAPE '\\' OR json_extract(attrs, '$.exe') LIKE ? ESCAPE '\\')`);
    const p = likeSubstring(filter.match);
    params.push(p, p);
  }
}

/** WHERE clauses of the time window of edges. */
export function sqliteEdgeClauses(filter: EdgeFilter, where: string[], params: unknown[]): void {
  if (filter.from !== undefined) {
    where.push("coalesce(ts_end, ts) >= ?");
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    where.push("ts <= ?");
    params.push(filter.to);
  }
}

/**
 * Nodes and edges of the run stamped after `since`, merged in stamp order and cut at `limit`
 * (indexes nodes_seq, edges_seq: one range scan each).
 */
export function sqliteChanges(stmt: (sql: string) => Stmt, runId: number, query: ChangeQuery): ChangeSet {
  const since = Math.max(0, Math.floor(query.since ?? 0));
  const limit = Math.max(0, Math.floor(query.limit ?? DEFAULT_CHANGE_LIMIT));
  if (limit === 0) {
    const now = Number(stmt("SELECT value FROM meta WHERE key = 'seq'").pluck().get() ?? 0);
    return { nodes: [], edges: [], cursor: Math.max(since, now), more: false };
  }
  const nodeRows = stmt(
    `SELECT id, kind, type, gid, version, label, "start", "end", attrs, seq FROM nodes
     WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
  ).all(runId, since, limit + 1) as (NodeRow & { seq: number })[];
  const edgeRows = stmt(
    `SELECT id, type, op, src, dst, ts, ts_end, count, bytes, attrs, seq FROM edges
     WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
  ).all(runId, since, limit + 1) as (EdgeRow & { seq: number })[];
  return mergeChanges(nodeRows, edgeRows, since, limit);
}

/** Both stores: the two stamp-ordered lists merged and cut at `limit`; the cursor is the last stamp kept. */
export function mergeChanges(
  nodeRows: (NodeRow & { seq: number | string })[],
  edgeRows: (EdgeRow & { seq: number | string })[],
  since: number,
  limit: number,
): ChangeSet {
  const out: ChangeSet = { nodes: [], edges: [], cursor: since, more: false };
  let i = 0;
  let j = 0;
  while (i < nodeRows.length || j < edgeRows.length) {
    if (out.nodes.length + out.edges.length >= limit) {
      out.more = true;
      break;
    }
    const n = nodeRows[i];
    const e = edgeRows[j];
    if (e === undefined || (n !== undefined && Number(n.seq) < Number(e.seq))) {
      out.nodes.push(nodeFromRow(n as NodeRow));
      out.cursor = Number((n as NodeRow & { seq: number }).seq);
      i++;
    } else {
      out.edges.push(edgeFromRow(e));
      out.cursor = Number(e.seq);
      j++;
    }
  }
  return out;
}
