import { basename } from "node:path";
import type { ProvClass, ProvEvent, SourceLocation } from "../../events/event-types.js";
import type { RelationOp, RelationType } from "../../graph/prov-types.js";
import {
  CAMFLOW_NODE_TYPES,
  camflowNodeKind,
  camflowOp,
  SPADE_EDGE_TYPES,
} from "../camflow/camflow-vocabulary.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { SpadeRecordReader } from "../spade/spade-json-source.js";
import { type DotGraph, type DotProblem, parseDot } from "./dot-parser.js";
import { type DotToken, DotTokenizer } from "./dot-tokens.js";

/**
 * Graphviz DOT graphs as provenance, in three flavours, told per graph:
 * - SPADE's Graphviz storage: labels `key:value` a line (`\n`), with SPADE's `type`
 *   (Process/Artifact/Agent…, Used/WasGeneratedBy…): read as SPADE's JSON records, `tail -> head`
 *   being SPADE's `from` (the effect) → `to` (the cause).
 * - CamFlow's models (camflow/syscall-models): every node named (label, else id) by a CamFlow node
 *   type, edges labelled by CamFlow relation types in the direction information flows: each edge is
 *   the PROV relation its ends' classes make (entity → activity: used; activity → entity:
 *   wasGeneratedBy; activity → activity: wasInformedBy; entity → entity: wasDerivedFrom; agent →
 *   activity: wasAssociatedWith), from its head to its tail.
 * - Any other DOT: nodes are entities of type `other`, edges `wasInfluencedBy` from head to tail
 *   (the tail influenced the head), every DOT attribute kept.
 *
 * DOT lets a node get its attributes after the edges that use it, so a file's graphs are built once
 * it has been read (the tokens are kept meanwhile: a DOT file holds one graph, whose size bounds them).
 */

/** CamFlow's node types, and `inode`, which its models use for any inode (file, directory, pipe…). */
function isCamflowType(name: string): boolean {
  return name === "inode" || Object.hasOwn(CAMFLOW_NODE_TYPES, name);
}

const SPADE_VERTICES = new Set(["Process", "Artifact", "Agent", "Activity", "Entity"]);

/** SPADE's labels: `key:value` lines separated by DOT's `\n` (or real newlines). */
function spadeAnnotations(label: string | undefined): Record<string, string> | null {
  if (label === undefined) return null;
  const out: Record<string, string> = {};
  for (const part of label.split(/\\[nlr]|\n/)) {
    const c = part.indexOf(":");
    if (c > 0) out[part.slice(0, c)] = part.slice(c + 1);
  }
  return out.type !== undefined ? out : null;
}

function relationFor(from: ProvClass, to: ProvClass): RelationType {
  if (from === "activity" && to === "entity") return "used";
  if (from === "entity" && to === "activity") return "wasGeneratedBy";
  if (from === "activity" && to === "activity") return "wasInformedBy";
  if (from === "entity" && to === "entity") return "wasDerivedFrom";
  if (from === "activity" && to === "agent") return "wasAssociatedWith";
  if (from === "entity" && to === "agent") return "wasAttributedTo";
  if (from === "agent" && to === "agent") return "actedOnBehalfOf";
  return "wasInfluencedBy";
}

export class DotParser implements LineParser {
  private readonly tokenizer = new DotTokenizer();
  private tokens: DotToken[] = [];
  private reported = 0;

  constructor(
    private readonly file: string,
    private readonly host: string,
  ) {}

  private problems(): ProvEvent[] {
    const errs = this.tokenizer.errors;
    const out: ProvEvent[] = [];
    for (; this.reported < errs.length; this.reported++) {
      const e = errs[this.reported]!;
      out.push({ kind: "problem", at: { file: this.file, line: e.line }, message: e.message });
    }
    return out;
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    for (const t of this.tokenizer.push(lines, firstLine)) this.tokens.push(t);
    return this.problems();
  }

  end(): ProvEvent[] {
    for (const t of this.tokenizer.end()) this.tokens.push(t);
    const out = this.problems();
    const found: DotProblem[] = [];
    const graphs = parseDot(this.tokens, found);
    this.tokens = [];
    for (const p of found)
      out.push({ kind: "problem", at: { file: this.file, line: p.line }, message: p.message });
    if (graphs.length === 0 && found.length === 0) {
      out.push({ kind: "problem", at: { file: this.file, line: 1 }, message: "no DOT graph in the input" });
    }
    for (let k = 0; k < graphs.length; k++) this.graph(graphs[k]!, graphs.length > 1 ? `${k + 1}/` : "", out);
    return out;
  }

  private graph(g: DotGraph, prefix: string, out: ProvEvent[]): void {
    const base = basename(this.file);
    const key = (id: string) => `${prefix}${id}`;
    const gid = (id: string) => `dot://${this.host}/${base}/${key(id)}`;
    const nodes = [...g.nodes.values()];
    const at = (line: number): SourceLocation => ({ file: this.file, line });
    const spade = nodes.some((n) => SPADE_VERTICES.has(spadeAnnotations(n.attrs.label)?.type ?? ""));
    if (spade) {
      const reader = new SpadeRecordReader(this.file, this.host);
      for (const n of nodes) {
        const ann = spadeAnnotations(n.attrs.label);
        if (ann && SPADE_VERTICES.has(ann.type!)) {
          const { type, ...rest } = ann;
          reader.topValue({ type, id: key(n.id), annotations: rest }, { line: n.line, col: 1 });
          for (const ev of reader.take()) {
            if (ev.kind === "prov.node" && ev.gid.startsWith("spade://")) ev.gid = gid(n.id);
            out.push(ev);
          }
        } else out.push(this.genericNode(n.id, key(n.id), gid(n.id), n.attrs, "entity", at(n.line)));
      }
      for (const e of g.edges) {
        const ann = spadeAnnotations(e.attrs.label);
        if (ann && Object.hasOwn(SPADE_EDGE_TYPES, ann.type!)) {
          const { type, ...rest } = ann;
          reader.topValue(
            { type, from: key(e.tail), to: key(e.head), annotations: rest },
            { line: e.line, col: 1 },
          );
          out.push(...reader.take());
        } else
          out.push(this.relation("wasInfluencedBy", "other", key(e.tail), key(e.head), e.attrs, at(e.line)));
      }
      return;
    }
    const camflow = nodes.length > 0 && nodes.every((n) => isCamflowType(n.attrs.label ?? n.id));
    const classes = new Map<string, ProvClass>();
    for (const n of nodes) {
      const type = n.attrs.label ?? n.id;
      const kind = camflow ? camflowNodeKind(type) : { cls: "entity" as ProvClass, type: "other" as const };
      classes.set(n.id, kind.cls);
      out.push({
        kind: "prov.node",
        key: key(n.id),
        cls: kind.cls,
        type: kind.type,
        gid: gid(n.id),
        version: 0,
        label: n.attrs.label ?? n.id,
        start: null,
        end: null,
        attrs: { ...n.attrs, sourceId: n.id, sourceType: camflow ? type : (n.attrs.shape ?? "node") },
        at: at(n.line),
      });
    }
    for (const e of g.edges) {
      if (camflow) {
        const from = classes.get(e.head)!;
        const to = classes.get(e.tail)!;
        out.push(
          this.relation(
            relationFor(from, to),
            camflowOp(e.attrs.label),
            key(e.head),
            key(e.tail),
            e.attrs,
            at(e.line),
          ),
        );
      } else
        out.push(this.relation("wasInfluencedBy", "other", key(e.head), key(e.tail), e.attrs, at(e.line)));
    }
  }

  private genericNode(
    id: string,
    k: string,
    gid: string,
    attrs: Record<string, string>,
    cls: ProvClass,
    at: SourceLocation,
  ): ProvEvent {
    return {
      kind: "prov.node",
      key: k,
      cls,
      type: "other",
      gid,
      version: 0,
      label: attrs.label ?? id,
      start: null,
      end: null,
      attrs: { ...attrs, sourceId: id, sourceType: attrs.shape ?? "node" },
      at,
    };
  }

  private relation(
    type: RelationType,
    op: RelationOp,
    from: string,
    to: string,
    attrs: Record<string, string>,
    at: SourceLocation,
  ): ProvEvent {
    return {
      kind: "prov.relation",
      type,
      op,
      from,
      to,
      ts: null,
      attrs: { ...attrs, sourceType: attrs.label ?? "edge" },
      at,
    };
  }
}

/** `digraph NAME {`, `strict graph {`… after comments and blank lines. */
const DOT_HEAD = /^\s*(?:strict\s+)?(?:di)?graph\b\s*(?:"(?:[^"\\]|\\.)*"|[\w.]+)?\s*(?:\{|$)/i;

export const dotFormat: SourceFormat = {
  kind: "dot",
  detect(head: string[], fileName: string): number {
    const byName = /\.(dot|gv)$/i.test(fileName);
    const first = head.find((l) => {
      const t = l.trim();
      return (
        t !== "" && !t.startsWith("//") && !t.startsWith("#") && !t.startsWith("/*") && !t.startsWith("*")
      );
    });
    if (first === undefined) return byName ? 0.5 : 0;
    if (!DOT_HEAD.test(first)) return 0;
    return byName ? 0.95 : 0.7;
  },
  createParser(opts: ParserOptions): LineParser {
    return new DotParser(opts.file, opts.ctx.host || "localhost");
  },
};
