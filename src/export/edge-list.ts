import type { GraphEdge, NodeType, RelationOp, RelationType } from "../graph/prov-types.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";

/**
 * StreamSpot's edge list (the 6-column TSV sbustreamspot-core reads, and Unicorn's and Kairos's
 * StreamSpot parsers): `source-id  source-type  destination-id  destination-type  edge-type
 * graph-id`, tab-separated, one line per relation, relations in id order, types one character.
 * Ids are our node ids; the graph id is the run id.
 *
 * Direction is StreamSpot's, from the actor to what it acted on, so PROV relations whose subject
 * is the object are turned around: used activity→entity (as is), wasGeneratedBy and
 * wasInvalidatedBy activity→entity, wasInformedBy informant→informed (parent→child for fork,
 * old→new generation for exec), wasDerivedFrom source→derived; the other relations keep PROV's
 * direction.
 *
 * Types use StreamSpot's letters where the meaning is the same (NODE_LETTERS, OP_LETTERS) and
 * letters StreamSpot never uses (I–Z) for the rest; StreamSpot's thread `b` and stdin/stdout/stderr
 * `f`/`g`/`h` are not produced (threads are folded into processes, descriptors are not nodes).
 */

/** StreamSpot: process a, file c, MAP_ANONYMOUS d, NA e. Ours: T–Z. */
export const NODE_LETTERS: Record<NodeType, string> = {
  process: "a",
  file: "c",
  path: "c",
  anon: "d",
  memory: "d",
  other: "e",
  packet: "e",
  directory: "U",
  pipe: "V",
  socket: "W",
  address: "W",
  device: "X",
  registry: "T",
  user: "Y",
  machine: "Z",
};

/**
 * StreamSpot's system-call letters (accept i, bind k, clone m, connect o, execve p, mmap2 t,
 * open u, read v, recv w, send z, stat C, truncate D, unlink E, waitpid F, write G, listen s) for
 * the operations that are those calls; I–U for the rest (U: a merge link, alternateOf).
 */
export const OP_LETTERS: Record<RelationOp, string> = {
  accept: "i",
  bind: "k",
  fork: "m",
  vfork: "m",
  clone: "m",
  connect: "o",
  exec: "p",
  execute: "p",
  listen: "s",
  map: "t",
  open: "u",
  create: "u",
  read: "v",
  recv: "w",
  send: "z",
  probe: "C",
  truncate: "D",
  delete: "E",
  wait: "F",
  write: "G",
  rename: "I",
  link: "J",
  version: "K",
  copy: "L",
  signal: "M",
  pipe: "N",
  associated: "O",
  attributed: "P",
  mkdir: "Q",
  rmdir: "R",
  chdir: "S",
  other: "T",
  "same-as": "U",
};

/** Relations written from PROV's object to its subject. */
const REVERSED: ReadonlySet<RelationType> = new Set([
  "wasGeneratedBy",
  "wasInvalidatedBy",
  "wasInformedBy",
  "wasDerivedFrom",
]);

/** The relation as StreamSpot's (source, destination). */
export function edgeEnds(e: GraphEdge): [number, number] {
  return REVERSED.has(e.type) ? [e.to, e.from] : [e.from, e.to];
}

/** Node id → type letter, one byte per node (ids are dense, 1..n). */
class LetterTable {
  private codes = new Uint8Array(1024);

  set(id: number, letter: string): void {
    if (id >= this.codes.length) {
      const grown = new Uint8Array(Math.max(id + 1, this.codes.length * 2));
      grown.set(this.codes);
      this.codes = grown;
    }
    this.codes[id] = letter.charCodeAt(0);
  }

  get(id: number): string {
    const code = id < this.codes.length ? (this.codes[id] ?? 0) : 0;
    return code === 0 ? "e" : String.fromCharCode(code);
  }
}

async function writeEdgeList(input: ExportInput, out: ExportSink): Promise<void> {
  // node id → type letter: the only per-node state (one byte per node)
  const letters = new LetterTable();
  for await (const batch of input.nodes()) {
    for (const n of batch) letters.set(n.id, NODE_LETTERS[n.type] ?? "e");
  }
  const w = new ChunkedWriter(out);
  const graph = String(input.run.id);
  for await (const batch of input.edges()) {
    for (const e of batch) {
      const [src, dst] = edgeEnds(e);
      await w.write(
        `${src}\t${letters.get(src)}\t${dst}\t${letters.get(dst)}\t${OP_LETTERS[e.op] ?? "T"}\t${graph}\n`,
      );
    }
  }
  await w.flush();
}

export const edgeListExporter: Exporter = {
  format: "edges",
  mediaType: "text/tab-separated-values",
  extension: "tsv",
  description: "StreamSpot-style edge list: src, src type, dst, dst type, edge type, graph id (TSV)",
  write: writeEdgeList,
};
