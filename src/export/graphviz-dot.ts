import type { GraphEdge, GraphNode, NodeType } from "../graph/prov-types.js";
import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { redactNode, redactText } from "./redact.js";

/**
 * Graphviz DOT: one node statement per graph node, one edge statement per relation, written as
 * they are read (nodes pass, then edges pass). PROV's classes keep PROV's usual look (activities
 * blue boxes, entities yellow ellipses, agents orange houses); our types vary the shape and colour
 * inside each class. Node ids are `n<ID>`; labels and tooltips are quoted strings.
 *
 * `collapse` (for big runs): all versions of a file are one node (the first version read stands
 * for them), and shared libraries, locale data and caches a process loads become one "libraries"
 * node of that process; relations between the folded nodes are written once. That needs a map of
 * node id → folded node (numbers only) and the set of folded relations written, both bounded by
 * the graph, not by the calls behind it.
 */

interface Style {
  shape: string;
  fill: string;
  extra?: string;
}

const STYLES: Record<NodeType, Style> = {
  process: { shape: "box", fill: "#9fb1fc" },
  file: { shape: "ellipse", fill: "#fffc87" },
  directory: { shape: "folder", fill: "#fffc87" },
  pipe: { shape: "cds", fill: "#ffe0a0" },
  socket: { shape: "hexagon", fill: "#c8f0c8" },
  device: { shape: "component", fill: "#e8e8e8" },
  registry: { shape: "tab", fill: "#ffd8d8" },
  anon: { shape: "ellipse", fill: "#f0f0f0", extra: 'style="filled,dashed"' },
  packet: { shape: "parallelogram", fill: "#c8f0c8" },
  memory: { shape: "box3d", fill: "#f0e0ff" },
  path: { shape: "note", fill: "#fffcd0" },
  address: { shape: "octagon", fill: "#c8f0c8" },
  user: { shape: "house", fill: "#fed37f" },
  machine: { shape: "house", fill: "#fed37f", extra: "peripheries=2" },
  other: { shape: "ellipse", fill: "#ffffff" },
};

const EDGE_COLOURS: Partial<Record<GraphEdge["type"], string>> = {
  used: "#1f5fbf",
  wasGeneratedBy: "#bf4f1f",
  wasInformedBy: "#404040",
  wasDerivedFrom: "#8f6f00",
  wasInvalidatedBy: "#bf0000",
  wasAssociatedWith: "#c08000",
  alternateOf: "#008080",
};

const MAX_LABEL = 60;

/** A DOT quoted string: `"` and `\` escaped (so graphviz's `\n`, `\N`… escapes cannot sneak in), control characters dropped. */
export function dotString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (ch === "\\" || ch === '"') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += " ";
    else out += ch;
  }
  return `${out}"`;
}

/** A short label: the middle of a long one is elided. */
function shorten(text: string): string {
  if (text.length <= MAX_LABEL) return text;
  const half = Math.floor((MAX_LABEL - 1) / 2);
  return `${text.slice(0, half)}…${text.slice(text.length - half)}`;
}

/** Shared libraries, locale data and caches: what collapse folds into one node per process. */
export function isLibraryNode(n: GraphNode): boolean {
  if (n.type !== "file") return false;
  if (n.attrs.category === "shared-library") return true;
  const path = typeof n.attrs.path === "string" ? n.attrs.path : n.label;
  return /\.so(?:\.[0-9]+)*$|\/locale\/|\/locale-archive$|\/gconv\/|^\/etc\/ld\.so\.|\/cache\/|\.cache$/.test(
    path,
  );
}

export function nodeLabel(n: GraphNode): string {
  let label = shorten(n.label || n.gid);
  if (n.type === "process" && typeof n.attrs.pid === "number") label = `${n.attrs.pid}: ${label}`;
  if (n.kind === "entity" && n.version > 0) label += ` (v${n.version})`;
  return label;
}

export function nodeStatement(id: string, n: GraphNode, label: string): string {
  const st = STYLES[n.type] ?? STYLES.other;
  const style = st.extra?.startsWith("style=") ? st.extra : `style=filled${st.extra ? `, ${st.extra}` : ""}`;
  return `  ${id} [label=${dotString(label)}, shape=${st.shape}, fillcolor=${dotString(st.fill)}, ${style}, tooltip=${dotString(n.gid)}];\n`;
}

export function edgeLabel(e: GraphEdge): string {
  // a merge link: named by its rule (the evidence is in the tooltip)
  if (e.op === "same-as" && typeof e.attrs.link === "string") return `alternateOf (${e.attrs.link})`;
  const op = e.op === "other" && typeof e.attrs.sourceType === "string" ? e.attrs.sourceType : e.op;
  return op && op !== e.type ? `${e.type} (${op})` : e.type;
}

/** A merge link's evidence, one `key=value` per line, for the DOT tooltip. */
function linkTooltip(e: GraphEdge): string {
  return Object.entries(e.attrs)
    .filter(([k]) => k !== "originRun" && k !== "originId")
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("; ");
}

export function edgeStatement(from: string, to: string, e: GraphEdge, label: string): string {
  const colour = EDGE_COLOURS[e.type] ?? "#606060";
  const dashed =
    e.type === "wasInformedBy" || e.type === "wasDerivedFrom"
      ? ", style=dashed"
      : e.op === "same-as"
        ? `, style=bold, dir=both, arrowhead=none, arrowtail=none, tooltip=${dotString(linkTooltip(e))}`
        : "";
  return `  ${from} -> ${to} [label=${dotString(label)}, color=${dotString(colour)}, fontcolor=${dotString(colour)}${dashed}];\n`;
}

function header(input: ExportInput): string {
  const run = input.run;
  const name = input.options.redact ? redactText(run.name) : run.name;
  return (
    `digraph ${dotString(`provflow run ${run.id}`)} {\n` +
    `  graph [label=${dotString(`provflow run ${run.id}: ${shorten(name)}`)}, rankdir=LR, fontname="Helvetica"];\n` +
    '  node [fontname="Helvetica", fontsize=10];\n' +
    '  edge [fontname="Helvetica", fontsize=8];\n'
  );
}

async function writePlain(input: ExportInput, w: ChunkedWriter): Promise<void> {
  const redact = input.options.redact;
  for await (const batch of input.nodes()) {
    for (const raw of batch) {
      const n = redact ? redactNode(raw) : raw;
      await w.write(nodeStatement(`n${n.id}`, n, nodeLabel(n)));
    }
  }
  for await (const batch of input.edges()) {
    for (const e of batch) await w.write(edgeStatement(`n${e.from}`, `n${e.to}`, e, edgeLabel(e)));
  }
}

/** Node id → node id, 4 bytes per node (ids are dense, 1..n); 0 = not set. */
class IdTable {
  private ids = new Int32Array(1024);

  set(id: number, value: number): void {
    if (id >= this.ids.length) {
      const grown = new Int32Array(Math.max(id + 1, this.ids.length * 2));
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[id] = value;
  }

  get(id: number): number | undefined {
    const v = id < this.ids.length ? this.ids[id] : 0;
    return v === 0 ? undefined : v;
  }
}

/**
 * Folded relations already written, remembered for the last `window`…2×`window` keys only (two
 * generations), so that memory stays bounded on a run of any size: a duplicate farther apart than
 * that is written again (one more parallel edge in the picture, nothing lost).
 */
class RecentKeys {
  private current = new Set<string>();
  private previous = new Set<string>();
  constructor(private readonly window: number) {}

  has(key: string): boolean {
    return this.current.has(key) || this.previous.has(key);
  }

  add(key: string): void {
    if (this.current.size >= this.window) {
      this.previous = this.current;
      this.current = new Set();
    }
    this.current.add(key);
  }
}

/** Folded relations remembered for deduplication (see RecentKeys). */
const DEDUPE_WINDOW = 200_000;

/** What a node became when collapsed: itself, another node (its file's first version), or a library. */
const LIBRARY = -1;

async function writeCollapsed(input: ExportInput, w: ChunkedWriter): Promise<void> {
  const redact = input.options.redact;
  /** node id → id of the node standing for it (LIBRARY for library files) */
  const target = new IdTable();
  const processes = new Set<number>();
  /** gid of a file → the node standing for all its versions */
  const fileHead = new Map<string, number>();
  for await (const batch of input.nodes()) {
    for (const raw of batch) {
      if (raw.type === "process") processes.add(raw.id);
      if (isLibraryNode(raw)) {
        target.set(raw.id, LIBRARY);
        continue;
      }
      if (raw.kind === "entity") {
        const head = fileHead.get(raw.gid);
        if (head !== undefined) {
          target.set(raw.id, head);
          continue;
        }
        fileHead.set(raw.gid, raw.id);
      }
      target.set(raw.id, raw.id);
      const n = redact ? redactNode(raw) : raw;
      // the folded node is labelled without its version
      const label = n.kind === "entity" ? shorten(n.label || n.gid) : nodeLabel(n);
      await w.write(nodeStatement(`n${n.id}`, n, label));
    }
  }
  fileHead.clear();
  const libraryNodes = new Set<number>();
  const written = new RecentKeys(DEDUPE_WINDOW);
  const end = (id: number, other: number): string | null => {
    const t = target.get(id) ?? id;
    if (t !== LIBRARY) return `n${t}`;
    // a library seen from a process: that process's libraries node
    const o = target.get(other) ?? other;
    return processes.has(o) ? `lib${o}` : null;
  };
  for await (const batch of input.edges()) {
    for (const e of batch) {
      const from = end(e.from, e.to);
      const to = end(e.to, e.from);
      if (from === null || to === null || from === to) continue;
      // relations with a libraries node are folded by PROV type (used), not by operation
      const label = from.startsWith("lib") || to.startsWith("lib") ? e.type : edgeLabel(e);
      const key = `${from}>${to}>${label}`;
      if (written.has(key)) continue;
      written.add(key);
      for (const id of [from, to]) {
        if (!id.startsWith("lib")) continue;
        const pid = Number(id.slice(3));
        if (libraryNodes.has(pid)) continue;
        libraryNodes.add(pid);
        await w.write(
          `  ${id} [label="libraries", shape=tab, fillcolor="#fff8d0", style=filled, tooltip="shared libraries, locale data and caches of n${pid}"];\n`,
        );
      }
      await w.write(edgeStatement(from, to, e, label));
    }
  }
}

async function writeDot(input: ExportInput, out: ExportSink): Promise<void> {
  const w = new ChunkedWriter(out);
  w.write(header(input));
  if (input.options.collapse) await writeCollapsed(input, w);
  else await writePlain(input, w);
  w.write("}\n");
  await w.flush();
}

export const dotExporter: Exporter = {
  format: "dot",
  mediaType: "text/vnd.graphviz",
  extension: "dot",
  description: "Graphviz DOT (processes, files, sockets, pipes styled apart; --collapse for big runs)",
  write: writeDot,
};
