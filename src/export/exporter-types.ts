import type { GraphEdge, GraphNode, NodeKind, NodeType, RelationType } from "../graph/prov-types.js";
import type { RunRecord, Step } from "../store/store-types.js";

export interface ExportOptions {
  /**
   * Redact secrets: values of env vars whose name looks secret (pass, secret, token, key,
   * credential, auth), `--password=…`-style options and their separate values, `-pSECRET` for the
   * tools known to take it, and `user:pass@` in URLs.
   */
  redact: boolean;
  /** DOT: fold file versions into one node and libraries/locale/cache files into one node per process */
  collapse?: boolean;
  /** the directory a directory-writing exporter (`directory: true`) fills: the CLI's `-o` */
  outputDir?: string;
}

export interface NodeSelection {
  kinds?: NodeKind[];
  types?: NodeType[];
}

export interface EdgeSelection {
  types?: RelationType[];
}

/**
 * What an exporter reads: the run and its graph, handed over in batches (id order) so a big run
 * streams and never sits in memory whole. Each call starts a fresh pass.
 */
export interface ExportInput {
  run: RunRecord;
  nodes(selection?: NodeSelection): AsyncIterable<GraphNode[]>;
  edges(selection?: EdgeSelection): AsyncIterable<GraphEdge[]>;
  /** the calls log (steps in order), when the input has one */
  steps?(): AsyncIterable<Step[]>;
  options: ExportOptions;
}

/**
 * Where the output goes, chunk by chunk. A returned promise is awaited before the next chunk
 * (backpressure: resolve it when the destination drained).
 */
export type ExportSink = (chunk: string) => void | Promise<void>;

/** One export format (PROV-JSON now; PROV-N, Turtle, DOT… register the same way). */
export interface Exporter {
  /** the name the CLI takes: prov-json, prov-n, … */
  format: string;
  mediaType: string;
  /** file extension without the dot */
  extension: string;
  description: string;
  /** writes a directory named by `options.outputDir` (dockerfile); the sink gets a one-line report */
  directory?: boolean;
  write(input: ExportInput, out: ExportSink): Promise<void>;
}
