import type {
  GraphEdge,
  GraphNode,
  NodeKind,
  NodeType,
  RelationOp,
  RelationType,
} from "../graph/prov-types.js";

/** A row of the nodes table as both stores read it (attributes as JSON text). */
export interface NodeRow {
  id: number;
  kind: NodeKind;
  type: NodeType;
  gid: string;
  version: number;
  label: string;
  start: number | null;
  end: number | null;
  attrs: string;
}

/** A row of the edges table as both stores read it (attributes as JSON text). */
export interface EdgeRow {
  id: number;
  type: RelationType;
  op: RelationOp;
  src: number;
  dst: number;
  ts: number | null;
  ts_end: number | null;
  count: number;
  bytes: number;
  attrs: string;
}

export function nodeFromRow(r: NodeRow): GraphNode {
  return {
    id: r.id,
    kind: r.kind,
    type: r.type,
    gid: r.gid,
    version: r.version,
    label: r.label,
    start: r.start,
    end: r.end,
    attrs: JSON.parse(r.attrs) as GraphNode["attrs"],
  };
}

export function edgeFromRow(r: EdgeRow): GraphEdge {
  return {
    id: r.id,
    type: r.type,
    op: r.op,
    from: r.src,
    to: r.dst,
    ts: r.ts,
    tsEnd: r.ts_end,
    count: r.count,
    bytes: r.bytes,
    attrs: JSON.parse(r.attrs) as Record<string, unknown>,
  };
}
