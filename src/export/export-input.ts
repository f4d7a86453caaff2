import type { GraphEdge, GraphNode, NodeKind, NodeType, RelationType } from "../graph/prov-types.js";
import type { GraphStore, RunRecord, Step } from "../store/store-types.js";
import type { EdgeSelection, ExportInput, ExportOptions, NodeSelection } from "./exporter-types.js";

/**
 * Node types each kind may have (used to turn a kind selection into a store type filter; the kind
 * itself is checked after). PROV sources add their types, `other` in every kind, and a machine
 * described as an entity (CamFlow before 0.4, SPADE).
 */
export const KIND_TYPES: Record<NodeKind, NodeType[]> = {
  activity: ["process", "other"],
  entity: [
    "file",
    "directory",
    "pipe",
    "socket",
    "device",
    "anon",
    "registry",
    "packet",
    "memory",
    "path",
    "address",
    "machine",
    "other",
  ],
  agent: ["user", "machine", "other"],
};

const DEFAULT_BATCH = 5000;

function selectionTypes(sel: NodeSelection | undefined): NodeType[] | undefined {
  if (sel === undefined) return undefined;
  let types: NodeType[] | undefined = sel.types;
  if (sel.kinds !== undefined) {
    const byKind = sel.kinds.flatMap((k) => KIND_TYPES[k]);
    types = types === undefined ? byKind : types.filter((t) => byKind.includes(t));
  }
  return types;
}

function nodeMatches(n: GraphNode, sel: NodeSelection | undefined): boolean {
  if (sel === undefined) return true;
  if (sel.kinds !== undefined && !sel.kinds.includes(n.kind)) return false;
  if (sel.types !== undefined && !sel.types.includes(n.type)) return false;
  return true;
}

/** Stores with keyset iteration (SqliteStore) are read with it; others page with limit/offset. */
interface KeysetStore {
  iterateNodes(runId: number, filter: { types?: NodeType[] }, batchSize?: number): AsyncIterable<GraphNode[]>;
  iterateEdges(
    runId: number,
    filter: { types?: RelationType[] },
    batchSize?: number,
  ): AsyncIterable<GraphEdge[]>;
}

function hasKeyset(store: GraphStore): store is GraphStore & KeysetStore {
  const s = store as Partial<KeysetStore>;
  return typeof s.iterateNodes === "function" && typeof s.iterateEdges === "function";
}

/** An ExportInput reading one run from a store, batch by batch. */
export function storeExportInput(
  store: GraphStore,
  run: RunRecord,
  options: ExportOptions,
  batchSize = DEFAULT_BATCH,
): ExportInput {
  return {
    run,
    options,
    async *nodes(sel) {
      const types = selectionTypes(sel);
      if (types !== undefined && types.length === 0) return;
      const filter = types === undefined ? {} : { types };
      const source = hasKeyset(store)
        ? store.iterateNodes(run.id, filter, batchSize)
        : pageNodes(store, run.id, filter, batchSize);
      for await (const batch of source) {
        const kept = batch.filter((n) => nodeMatches(n, sel));
        if (kept.length > 0) yield kept;
      }
    },
    async *edges(sel) {
      if (sel?.types !== undefined && sel.types.length === 0) return;
      const filter = sel?.types === undefined ? {} : { types: sel.types };
      const source = hasKeyset(store)
        ? store.iterateEdges(run.id, filter, batchSize)
        : pageEdges(store, run.id, filter, batchSize);
      for await (const batch of source) if (batch.length > 0) yield batch;
    },
    steps: () => store.iterateSteps(run.id, batchSize),
  };
}

async function* pageNodes(
  store: GraphStore,
  runId: number,
  filter: { types?: NodeType[] },
  size: number,
): AsyncIterable<GraphNode[]> {
  for (let offset = 0; ; offset += size) {
    const batch = await store.getNodes(runId, { ...filter, limit: size, offset });
    if (batch.length > 0) yield batch;
    if (batch.length < size) return;
  }
}

async function* pageEdges(
  store: GraphStore,
  runId: number,
  filter: { types?: RelationType[] },
  size: number,
): AsyncIterable<GraphEdge[]> {
  for (let offset = 0; ; offset += size) {
    const batch = await store.getEdges(runId, { ...filter, limit: size, offset });
    if (batch.length > 0) yield batch;
    if (batch.length < size) return;
  }
}

/** An ExportInput over arrays already in memory (tests, small graphs). */
export function memoryExportInput(
  run: RunRecord,
  nodes: readonly GraphNode[],
  edges: readonly GraphEdge[],
  options: ExportOptions,
  batchSize = DEFAULT_BATCH,
  steps: readonly Step[] = [],
): ExportInput {
  const sortedNodes = [...nodes].sort((a, b) => a.id - b.id);
  const sortedEdges = [...edges].sort((a, b) => a.id - b.id);
  return {
    run,
    options,
    async *nodes(sel: NodeSelection = {}) {
      const kept = sortedNodes.filter((n) => nodeMatches(n, sel));
      for (let i = 0; i < kept.length; i += batchSize) yield kept.slice(i, i + batchSize);
    },
    async *edges(sel: EdgeSelection = {}) {
      const kept =
        sel.types === undefined ? sortedEdges : sortedEdges.filter((e) => sel.types?.includes(e.type));
      for (let i = 0; i < kept.length; i += batchSize) yield kept.slice(i, i + batchSize);
    },
    async *steps() {
      for (let i = 0; i < steps.length; i += batchSize) yield steps.slice(i, i + batchSize);
    },
  };
}
