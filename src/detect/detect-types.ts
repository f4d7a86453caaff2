import type { NodeKind, NodeType, RelationOp, RelationType } from "../graph/prov-types.js";

/**
 * What the detectors read: a node and a relation of the provenance graph, the way both a recorded run
 * (GraphNode / GraphEdge, ids) and a machine's stream (KeyedNode / KeyedEdge, keys) describe them.
 */
export interface DetectNode {
  /** run-local id (recorded runs) or the source's key (streams) */
  ref: number | string;
  kind: NodeKind;
  type: NodeType;
  gid: string;
  label: string;
  attrs: Record<string, unknown>;
}

export interface DetectEdge {
  ref: number | string;
  type: RelationType;
  op: RelationOp;
  ts: number | null;
}

/** One relation with its two ends, in PROV direction (from → to). */
export interface DetectTriple {
  edge: DetectEdge;
  from: DetectNode;
  to: DetectNode;
}

/** The graph elements that show a finding. */
export interface Evidence {
  edges: (number | string)[];
  nodes: (number | string)[];
  gids: string[];
}

export type DetectorName = "behaviour" | "sketch";

/** One thing a detector flags, with why and where. */
export interface Finding {
  detector: DetectorName;
  /** behaviour: exec, spawn, read, write, delete, net, …; sketch: graph */
  kind: string;
  /** the behaviour key (normalised) or the sketch's nearest cluster */
  key: string;
  why: string;
  /** sketch: the distance to the nearest normal cluster, and that cluster's threshold */
  score?: number;
  threshold?: number;
  evidence: Evidence;
}

export interface DetectReport {
  run: { id: number; name: string } | null;
  flagged: boolean;
  /** per detector: flagged, the score and the threshold it was compared to */
  detectors: Record<DetectorName, { flagged: boolean; score: number; threshold: number; findings: number }>;
  findings: Finding[];
  /** the triples read (edges whose two ends are known) */
  edges: number;
  /** relations left out because an end is not in the graph (counted, never silently dropped) */
  dangling: number;
}
