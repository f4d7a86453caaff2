import { basename } from "node:path";
import type { ProvClass, ProvEvent } from "../../events/event-types.js";
import type { RelationType } from "../../graph/prov-types.js";
import { camflowNode } from "../camflow/camflow-mapper.js";
import { camflowNodeKind, camflowOp, SPADE_EDGE_TYPES } from "../camflow/camflow-vocabulary.js";
import { parseDateMicros } from "../prov-json/prov-json-values.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { SpadeRecordReader } from "../spade/spade-json-source.js";
import { type ClingoFact, ClingoFactReader } from "./clingo-facts.js";

/**
 * ProvMark's graphs as clingo facts: `n<G>(Node, "Type")`, `e<G>(Edge, From, To, "Label")` and
 * `l<G>(NodeOrEdge, "Key", "Value")`, where `<G>` names the graph (`1`, `program-<hash>`,
 * `control-<hash>`). From SPADE (types Process/Artifact/Agent, labels Used/WasGeneratedBy/
 * WasTriggeredBy…, properties pid/path/subtype/operation…) they are read exactly as SPADE's JSON
 * records `{type, id, from, to, annotations}` would be, so `From` is the effect and `To` the cause.
 * From CamFlow (types entity/activity/agent, labels used/wasGeneratedBy…, properties `prov:type`,
 * `cf:id`, `cf:machine_id`…) nodes are read as CamFlow's W3C records and edges as the PROV relation
 * they name, `From` being the subject of the PROV statement (CamFlow's `prov:type` gives the op).
 * Other recorders' types become entities (or CamFlow's class for CamFlow's type names) and their
 * edges `wasInfluencedBy`, `attrs.sourceType` keeping the label.
 *
 * The facts of a graph come in any order (properties after the nodes and edges they describe), so a
 * file's graph is gathered and handed over at its end; properties of nodes the graph does not hold
 * (ProvMark's benchmark graphs are differences, keeping properties of the nodes they subtract) are
 * left out.
 */

interface Graph {
  nodes: Map<string, { type: string; line: number }>;
  edges: Array<{ id: string; from: string; to: string; label: string; line: number }>;
  props: Map<string, Record<string, string>>;
}

/** PROV's classes as node types (CamFlow's graphs in ProvMark). */
const PROV_CLASSES: Readonly<Record<string, ProvClass>> = {
  entity: "entity",
  activity: "activity",
  agent: "agent",
};

const SPADE_VERTICES = new Set(["Process", "Artifact", "Agent", "Activity", "Entity"]);

export class ClingoParser implements LineParser {
  private readonly reader = new ClingoFactReader();
  private readonly graphs = new Map<string, Graph>();

  constructor(
    private readonly file: string,
    private readonly host: string,
  ) {}

  private problem(out: ProvEvent[], line: number, message: string, text?: string): void {
    out.push({
      kind: "problem",
      at: { file: this.file, line },
      message,
      ...(text !== undefined ? { text } : {}),
    });
  }

  private graph(name: string): Graph {
    let g = this.graphs.get(name);
    if (!g) {
      g = { nodes: new Map(), edges: [], props: new Map() };
      this.graphs.set(name, g);
    }
    return g;
  }

  private take(items: ReturnType<ClingoFactReader["push"]>): ProvEvent[] {
    const out: ProvEvent[] = [];
    for (const it of items) {
      if ("error" in it) {
        this.problem(out, it.line, it.error, it.text);
        continue;
      }
      const why = this.fact(it);
      if (why !== null)
        this.problem(out, it.line, why, `${it.pred}(${it.args.map((a) => JSON.stringify(a)).join(",")})`);
    }
    return out;
  }

  private fact(f: ClingoFact): string | null {
    const kind = f.pred[0];
    const g = f.pred.slice(1);
    const a = f.args.map(String);
    if (kind === "n" && a.length === 2) {
      this.graph(g).nodes.set(a[0]!, { type: a[1]!, line: f.line });
      return null;
    }
    if (kind === "e" && a.length === 4) {
      this.graph(g).edges.push({ id: a[0]!, from: a[1]!, to: a[2]!, label: a[3]!, line: f.line });
      return null;
    }
    if (kind === "l" && a.length === 3) {
      const props = this.graph(g).props;
      const p = props.get(a[0]!);
      if (p) p[a[1]!] = a[2]!;
      else props.set(a[0]!, { [a[1]!]: a[2]! });
      return null;
    }
    return `${f.pred}/${f.args.length} is not a ProvMark graph fact (n/2, e/4, l/3)`;
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    return this.take(this.reader.push(lines, firstLine));
  }

  end(): ProvEvent[] {
    const out = this.take(this.reader.end());
    const many = this.graphs.size > 1;
    const base = basename(this.file);
    for (const [name, g] of this.graphs) {
      const key = (id: string) => (many ? `${name}/${id}` : id);
      const spade = new SpadeRecordReader(this.file, this.host);
      for (const [id, n] of g.nodes) {
        const annotations = { ...g.props.get(id) };
        if (SPADE_VERTICES.has(n.type)) {
          spade.topValue({ type: n.type, id: key(id), annotations }, { line: n.line, col: 1 });
          for (const ev of spade.take()) {
            // SPADE's fallback identity names a vertex of SPADE's database: here one of this file
            if (ev.kind === "prov.node" && ev.gid.startsWith("spade://"))
              ev.gid = `clingo://${this.host}/${base}/${key(id)}`;
            out.push(ev);
          }
          continue;
        }
        const cls = PROV_CLASSES[n.type];
        if (
          cls !== undefined &&
          (annotations["prov:type"] !== undefined || annotations["cf:machine_id"] !== undefined)
        ) {
          // CamFlow's W3C flavour (ProvMark's CamFlow graphs): read as CamFlow's nodes
          const ev = camflowNode({
            id: key(id),
            camflowType: annotations["prov:type"],
            cls,
            attrs: annotations,
            machineId: annotations["cf:machine_id"],
            bootId: annotations["cf:boot_id"],
            objectId: annotations["cf:id"],
            version: annotations["cf:version"],
            label: annotations["prov:label"],
            at: { file: this.file, line: n.line },
          });
          if (annotations["cf:id"] === undefined && ev.type !== "machine")
            ev.gid = `clingo://${this.host}/${base}/${key(id)}`;
          out.push(ev);
          continue;
        }
        const kind = cls !== undefined ? { cls, type: "other" as const } : camflowNodeKind(n.type);
        out.push({
          kind: "prov.node",
          key: key(id),
          cls: kind.cls,
          type: kind.type,
          gid: `clingo://${this.host}/${base}/${key(id)}`,
          version: 0,
          label: annotations.path ?? annotations.name ?? `[${n.type}] ${id}`,
          start: null,
          end: null,
          attrs: { ...annotations, sourceId: id, sourceType: n.type },
          at: { file: this.file, line: n.line },
        });
      }
      for (const e of g.edges) {
        const annotations = { ...g.props.get(e.id) };
        if (Object.hasOwn(SPADE_EDGE_TYPES, e.label)) {
          spade.topValue(
            { type: e.label, id: e.id, from: key(e.from), to: key(e.to), annotations },
            { line: e.line, col: 1 },
          );
          out.push(...spade.take());
          continue;
        }
        // PROV's own names (CamFlow's graphs: used, wasGeneratedBy…), else an influence
        const pascal = `${e.label.slice(0, 1).toUpperCase()}${e.label.slice(1)}`;
        const type: RelationType = Object.hasOwn(SPADE_EDGE_TYPES, pascal)
          ? SPADE_EDGE_TYPES[pascal]!
          : "wasInfluencedBy";
        const camflowType = annotations["prov:type"];
        const date = annotations["cf:date"];
        out.push({
          kind: "prov.relation",
          type,
          op: camflowOp(camflowType ?? e.label),
          from: key(e.from),
          to: key(e.to),
          ts: date !== undefined ? parseDateMicros(date) : null,
          attrs: { ...annotations, sourceId: e.id, sourceType: camflowType ?? e.label },
          at: { file: this.file, line: e.line },
        });
      }
    }
    this.graphs.clear();
    // no fact at all is an empty graph (ProvMark's benchmark of a call the recorder did not see)
    return out;
  }
}

/** `n1(n5,"Process").`, `eprogram-…(e1,n2,n1,"Used").`: ProvMark's facts. */
const FACT_LINE = /^\s*[nel][\w-]*\(\s*[\w"-]/;

export const clingoFormat: SourceFormat = {
  kind: "clingo",
  detect(head: string[], fileName: string): number {
    const lines = head.filter((l) => l.trim() !== "" && !l.trimStart().startsWith("%"));
    if (lines.length === 0) return /\.(clingo|lp)$/.test(fileName) ? 0.5 : 0;
    const facts = lines.filter((l) => FACT_LINE.test(l) && /\)\.\s*(%.*)?$/.test(l)).length;
    if (facts / lines.length < 0.8) return 0;
    return /\.(clingo|lp)$/.test(fileName) ? 0.95 : 0.6;
  },
  createParser(opts: ParserOptions): LineParser {
    return new ClingoParser(opts.file, opts.ctx.host || "localhost");
  },
};
