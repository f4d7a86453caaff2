/**
 * SQLite side of the graph view's reads (GraphStore.getNodeColumns, getEdgeEnds): keyset pages of only
 * the columns a drawing needs, read as arrays (no row objects, no attrs parsed in JavaScript: the
 * category is taken out by json_extract).
 */
import type Database from "better-sqlite3";
import type { NodeType, RelationType } from "../graph/prov-types.js";
import type { EdgeEnds, NodeColumns } from "./store-types.js";

type Stmt = Database.Statement<unknown[], unknown>;

export function sqliteNodeColumns(
  stmt: (sql: string) => Stmt,
  runId: number,
  afterId: number,
  limit: number,
): NodeColumns {
  const rows = stmt(
    `SELECT id, type, label, json_extract(attrs, '$.category'), "start", "end" FROM nodes
     WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?`,
  )
    .raw(true)
    .all(runId, afterId, limit) as [number, NodeType, string, unknown, number | null, number | null][];
  const out: NodeColumns = { id: [], type: [], label: [], category: [], start: [], end: [] };
  for (const [id, type, label, category, start, end] of rows) {
    out.id.push(id);
    out.type.push(type);
    out.label.push(label);
    out.category.push(typeof category === "string" ? category : null);
    out.start.push(start);
    out.end.push(end);
  }
  return out;
}

export function sqliteEdgeEnds(
  stmt: (sql: string) => Stmt,
  runId: number,
  afterId: number,
  limit: number,
): EdgeEnds {
  const rows = stmt(
    "SELECT id, type, op, src, dst FROM edges WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?",
  )
    .raw(true)
    .all(runId, afterId, limit) as [number, RelationType, string, number, number][];
  const out: EdgeEnds = { id: [], type: [], op: [], from: [], to: [] };
  for (const [id, type, op, from, to] of rows) {
    out.id.push(id);
    out.type.push(type);
    out.op.push(op);
    out.from.push(from);
    out.to.push(to);
  }
  return out;
}
