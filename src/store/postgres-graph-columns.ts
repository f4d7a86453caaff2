/**
 * PostgreSQL side of the graph view's reads (GraphStore.getNodeColumns, getEdgeEnds): keyset pages of
 * only the columns a drawing needs, as arrays (rowMode "array"); the category is taken out of the
 * jsonb attributes by the server (a category is a plain word, the same in `attrs` as in `attrs_text`).
 */
import type pg from "pg";
import type { NodeType, RelationType } from "../graph/prov-types.js";
import type { EdgeEnds, NodeColumns } from "./store-types.js";

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export async function pgNodeColumns(
  c: pg.ClientBase,
  runId: number,
  afterId: number,
  limit: number,
): Promise<NodeColumns> {
  const { rows } = await c.query<unknown[]>({
    text: `SELECT id, type, label, attrs ->> 'category', "start", "end"
      FROM nodes WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    values: [runId, afterId, limit],
    rowMode: "array",
  });
  const out: NodeColumns = { id: [], type: [], label: [], category: [], start: [], end: [] };
  for (const [id, type, label, category, start, end] of rows) {
    out.id.push(Number(id));
    out.type.push(type as NodeType);
    out.label.push(label as string);
    out.category.push(typeof category === "string" ? category : null);
    out.start.push(num(start));
    out.end.push(num(end));
  }
  return out;
}

export async function pgEdgeEnds(
  c: pg.ClientBase,
  runId: number,
  afterId: number,
  limit: number,
): Promise<EdgeEnds> {
  const { rows } = await c.query<unknown[]>({
    text: "SELECT id, type, op, src, dst FROM edges WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    values: [runId, afterId, limit],
    rowMode: "array",
  });
  const out: EdgeEnds = { id: [], type: [], op: [], from: [], to: [] };
  for (const [id, type, op, from, to] of rows) {
    out.id.push(Number(id));
    out.type.push(type as RelationType);
    out.op.push(op as string);
    out.from.push(Number(from));
    out.to.push(Number(to));
  }
  return out;
}
