/**
 * The provenance graph in WebGL (sigma + graphology). Layout without iterations, so 50k nodes open at
 * once: processes on a time axis (x: start) in tree order (y: their batchflow lane), every other node
 * around the first process it relates to (a spiral per process), the rest in a grid below. Filters by
 * node type and file category and the lineage highlight go through sigma's reducers (no rebuild).
 * The first frame holds every node and the process tree; the other relations are added right after it
 * (`.graph-stage[data-complete]` once they are all in).
 */
import Graph from "graphology";
import Sigma from "sigma";
import { EdgeLineProgram, NodePointProgram } from "sigma/rendering";
import type { NodeColumns } from "../store/store-types.js";
import type { GEdge, GNode, Proc, ProcLink } from "./api.js";
import { buildLanes } from "./batchflow-view.js";
import { clear, h } from "./dom.js";
import { count, TYPE_COLORS } from "./format.js";

/** A page of relations: their ends, and [from, to, op] of those between processes. */
export interface EdgeColumns {
  from: number[];
  to: number[];
  links: [number, number, string][];
}

/** The graph as the server sends it (`GET …/graph?format=columns`): a block of columns per page. */
export interface GraphData {
  nodes: NodeColumns[];
  edges: EdgeColumns[];
  truncated: boolean;
}

interface NodeAttrs {
  x: number;
  y: number;
  size: number;
  color: string;
  label: string;
  /** the node's type (not `type`: sigma takes that for the name of its render program) */
  ntype: string;
  kind: string;
  category: string | null;
}

/** One line per ordered pair of loaded nodes (a file read and mapped by a process is one line). */
function addPair(g: Graph<NodeAttrs>, from: number, to: number): void {
  if (from === to) return;
  const a = String(from);
  const b = String(to);
  if (g.hasNode(a) && g.hasNode(b)) g.mergeDirectedEdge(a, b);
}

const GOLDEN = Math.PI * (3 - Math.sqrt(5));

/** Positions for every node, by node id (see the module comment). */
export function layoutGraph(data: GraphData): Map<number, { x: number; y: number }> {
  const pos = new Map<number, { x: number; y: number }>();
  const procs: Proc[] = [];
  const links: ProcLink[] = [];
  let t0 = Number.MAX_SAFE_INTEGER;
  let t1 = 0;
  let order = 0;
  for (const b of data.nodes) {
    order += b.id.length;
    for (let i = 0; i < b.id.length; i++) {
      if (b.type[i] !== "process") continue;
      const start = b.start[i] ?? null;
      const end = b.end[i] ?? null;
      procs.push({
        id: b.id[i] as number,
        pid: null,
        ppid: null,
        label: b.label[i] as string,
        exe: null,
        start,
        end,
        exitCode: null,
        exitSignal: null,
        via: null,
        generation: 0,
      });
      if (start !== null) t0 = Math.min(t0, start);
      t1 = Math.max(t1, end ?? start ?? 0);
    }
  }
  for (const b of data.edges) for (const [from, to, op] of b.links) links.push({ from, to, op, ts: null });
  const lanes = buildLanes(procs, links);
  const width = Math.max(40, Math.sqrt(order) * 6);
  const span = Math.max(1, t1 - t0);
  for (const lane of lanes) {
    for (const [g, p] of lane.gens.entries()) {
      const x = p.start === null ? 0 : ((p.start - t0) / span) * width;
      pos.set(p.id, { x: x + g * 0.5, y: -lane.row * 4 });
    }
  }
  // every other node around the first process it relates to
  const around = new Map<number, number>();
  const place = (a: number, b: number) => {
    if (pos.has(a)) return;
    const centre = pos.get(b);
    if (centre === undefined) return;
    const k = (around.get(b) ?? 0) + 1;
    around.set(b, k);
    const r = 1.2 + Math.sqrt(k) * 0.55;
    pos.set(a, { x: centre.x + r * Math.cos(k * GOLDEN), y: centre.y + r * Math.sin(k * GOLDEN) });
  };
  for (const b of data.edges) {
    for (let i = 0; i < b.from.length; i++) {
      const from = b.from[i] as number;
      const to = b.to[i] as number;
      place(from, to);
      place(to, from);
    }
  }
  // what no process touches: a grid below
  let i = 0;
  const cols = Math.max(10, Math.ceil(Math.sqrt(order)));
  const bottom = -lanes.length * 4 - 10;
  for (const b of data.nodes) {
    for (const id of b.id) {
      if (pos.has(id)) continue;
      pos.set(id, { x: (i % cols) * (width / cols), y: bottom - Math.floor(i / cols) * 1.5 });
      i++;
    }
  }
  return pos;
}

export interface GraphSelection {
  id: number;
  label: string;
  type: string;
}

export class GraphView {
  readonly el: HTMLElement;
  /** one edge per ordered pair of nodes (a file read and mapped by a process is one line) */
  readonly graph = new Graph<NodeAttrs>({ multi: false, type: "directed" });
  private sigma: Sigma<NodeAttrs> | null = null;
  /** counts load() calls: relations scheduled by an earlier one are dropped */
  private loads = 0;
  private readonly stage: HTMLElement;
  private readonly filters: HTMLElement;
  private hiddenTypes = new Set<string>();
  private hiddenCats = new Set<string>();
  /** lineage highlight: node ids lit (null: none) */
  private lit: Set<number> | null = null;
  private focus: number | null = null;
  private readonly status: HTMLElement;
  private readonly hits: HTMLElement;

  constructor(private readonly onSelect: (n: GraphSelection) => void) {
    this.stage = h("div.graph-stage");
    this.filters = h("div.graph-filters");
    this.status = h("div.graph-status");
    this.hits = h("div.graph-hits");
    const search = h("input.graph-search", {
      type: "search",
      placeholder: "find a path, executable or command…",
    });
    search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") this.find(search.value);
    });
    this.el = h(
      "div.graph-view",
      null,
      h("div.graph-side", null, search, this.status, this.hits, this.filters),
      this.stage,
    );
  }

  load(data: GraphData): void {
    performance.mark("graph-load");
    delete this.stage.dataset.complete;
    const pos = layoutGraph(data);
    performance.measure("graph: layout", "graph-load");
    this.graph.clear();
    const g = this.graph;
    for (const b of data.nodes) {
      for (let i = 0; i < b.id.length; i++) {
        const id = b.id[i] as number;
        const type = b.type[i] as string;
        const p = pos.get(id) ?? { x: 0, y: 0 };
        g.addNode(String(id), {
          x: p.x,
          y: p.y,
          size: type === "process" ? 4 : 2.2,
          color: TYPE_COLORS[type] ?? "#888",
          label: b.label[i] as string,
          ntype: type,
          kind: type === "process" ? "activity" : "entity",
          category: b.category[i] ?? null,
        });
      }
    }
    // first frame: every node and the process tree (fork, exec, wait); the other relations (reads,
    // writes, ...) follow once it is on screen, so that the view opens without waiting for them
    for (const b of data.edges) for (const [from, to] of b.links) addPair(this.graph, from, to);
    this.renderFilters();
    this.status.textContent = `${count(this.graph.order)} nodes, adding relations…`;
    performance.measure("graph: layout + graphology", "graph-load");
    performance.mark("graph-mount");
    this.mount();
    performance.measure("graph: sigma first render", "graph-mount");
    // the other relations are added once the first frame is on screen, in one go: sigma indexes
    // them as they come and draws them at its next frame (the page is busy for that long: 0.4-0.8 s
    // for 147k relations)
    const token = ++this.loads;
    // two frames: the first one with what sigma drew is on screen
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        performance.mark("graph: first frame");
        setTimeout(() => {
          if (token !== this.loads || this.sigma === null) return;
          performance.mark("graph-relations");
          for (const b of data.edges) {
            for (let i = 0; i < b.from.length; i++)
              addPair(this.graph, b.from[i] as number, b.to[i] as number);
          }
          performance.measure("graph: relations built", "graph-relations");
          this.status.textContent = `${count(this.graph.order)} nodes, ${count(this.graph.size)} relations${data.truncated ? " (truncated)" : ""}`;
          this.stage.dataset.complete = "1";
          performance.measure("graph: every relation added", "graph-load");
        }, 0);
      }),
    );
  }

  /** Live: nodes and relations that appeared (placed beside what they relate to). */
  add(nodes: GNode[], edges: GEdge[]): void {
    const g = this.graph;
    for (const n of nodes) {
      const key = String(n.id);
      const attrs = {
        label: n.label,
        ntype: n.type,
        color: TYPE_COLORS[n.type] ?? "#888",
        category: (n.attrs.category as string | undefined) ?? null,
      };
      if (g.hasNode(key)) g.mergeNodeAttributes(key, attrs);
      else
        g.addNode(key, {
          ...attrs,
          x: Math.random() * 10,
          y: Math.random() * 10,
          size: n.type === "process" ? 4 : 2.2,
          kind: n.kind,
        });
    }
    for (const e of edges) {
      const a = String(e.from);
      const b = String(e.to);
      if (a === b || !g.hasNode(a) || !g.hasNode(b) || g.hasDirectedEdge(a, b)) continue;
      g.addDirectedEdge(a, b);
      const pa = g.getNodeAttributes(a);
      const pb = g.getNodeAttributes(b);
      if (pa.kind !== "activity" && g.degree(a) === 1)
        g.mergeNodeAttributes(a, { x: pb.x + Math.random() * 2, y: pb.y + Math.random() * 2 });
    }
    this.status.textContent = `${count(g.order)} nodes, ${this.stage.dataset.complete === "1" ? `${count(g.size)} relations` : "adding relations…"}`;
  }

  private mount(): void {
    if (this.sigma !== null) {
      this.sigma.refresh();
      return;
    }
    const big = this.graph.order > 5000;
    const sigma = new Sigma<NodeAttrs>(this.graph, this.stage, {
      // big graphs: nodes as GL points and edges as GL lines (a fraction of the vertices of discs and quads)
      ...(big
        ? { nodeProgramClasses: { circle: NodePointProgram }, edgeProgramClasses: { line: EdgeLineProgram } }
        : {}),
      hideEdgesOnMove: big,
      hideLabelsOnMove: true,
      labelRenderedSizeThreshold: big ? 9 : 5,
      defaultEdgeColor: "#b8c2cc",
      minEdgeThickness: 0.5,
      zIndex: true,
      nodeReducer: (node, data) => {
        const id = Number(node);
        const hidden =
          this.hiddenTypes.has(data.ntype) || (data.category !== null && this.hiddenCats.has(data.category));
        if (hidden) return { ...data, hidden: true };
        if (this.lit !== null && !this.lit.has(id))
          return { ...data, color: "#e2e6ea", label: "", zIndex: 0 };
        if (id === this.focus) return { ...data, highlighted: true, size: data.size * 2, zIndex: 2 };
        if (this.lit !== null) return { ...data, size: data.size * 1.4, zIndex: 1 };
        return data;
      },
      edgeReducer: (edge, data) => {
        if (this.lit === null) return data;
        const [s, t] = this.graph.extremities(edge);
        if (this.lit.has(Number(s)) && this.lit.has(Number(t)))
          return { ...data, color: "#e8743b", size: 1.5, zIndex: 1 };
        return { ...data, hidden: true };
      },
    });
    sigma.on("clickNode", ({ node }) => {
      const a = this.graph.getNodeAttributes(node);
      this.onSelect({ id: Number(node), label: a.label, type: a.ntype });
    });
    sigma.on("clickStage", () => this.highlight(null, null));
    this.sigma = sigma;
  }

  /** Light these nodes (a lineage) around `focus`; null clears. */
  highlight(focus: number | null, ids: Iterable<number> | null): void {
    this.focus = focus;
    this.lit = ids === null ? null : new Set(ids);
    if (this.lit !== null && focus !== null) this.lit.add(focus);
    this.sigma?.refresh();
  }

  /** Ancestors (what it came from) and descendants of a node within the loaded graph, `depth` steps. */
  localLineage(id: number, depth: number): Set<number> {
    const out = new Set<number>([id]);
    for (const dir of ["out", "in"] as const) {
      let frontier = [String(id)];
      for (let d = 0; d < depth && frontier.length > 0; d++) {
        const next: string[] = [];
        for (const n of frontier) {
          const neigh = dir === "out" ? this.graph.outNeighbors(n) : this.graph.inNeighbors(n);
          for (const m of neigh) {
            if (out.has(Number(m))) continue;
            out.add(Number(m));
            next.push(m);
          }
        }
        frontier = next;
      }
    }
    return out;
  }

  centreOn(id: number): void {
    const key = String(id);
    if (this.sigma === null || !this.graph.hasNode(key)) return;
    const d = this.sigma.getNodeDisplayData(key);
    if (d !== undefined)
      void this.sigma.getCamera().animate({ x: d.x, y: d.y, ratio: 0.15 }, { duration: 400 });
  }

  /** Nodes whose label holds the text (files whose path ends with it first), listed to pick from. */
  private find(text: string): void {
    const q = text.trim().toLowerCase();
    clear(this.hits);
    if (q === "") {
      this.highlight(null, null);
      return;
    }
    const hits: { id: number; label: string; rank: number }[] = [];
    this.graph.forEachNode((n, a) => {
      const l = a.label.toLowerCase();
      if (hits.length < 5000 && l.includes(q))
        hits.push({
          id: Number(n),
          label: a.label,
          rank: (a.kind === "entity" ? 0 : 2) + (l.endsWith(q) ? 0 : 1),
        });
    });
    hits.sort((x, y) => x.rank - y.rank || x.label.length - y.label.length);
    this.status.textContent = `${count(hits.length)} found for “${text}”`;
    this.highlight(
      hits[0]?.id ?? null,
      hits.map((x) => x.id),
    );
    if (hits[0] !== undefined) this.centreOn(hits[0].id);
    for (const hit of hits.slice(0, 50)) {
      const a = this.graph.getNodeAttributes(String(hit.id));
      this.hits.append(
        h(
          "div.hit",
          {
            "data-node": hit.id,
            title: hit.label,
            onclick: () => {
              this.centreOn(hit.id);
              this.onSelect({ id: hit.id, label: hit.label, type: a.ntype });
            },
          },
          h("span.swatch", { style: { background: a.color } }),
          hit.label,
        ),
      );
    }
  }

  private renderFilters(): void {
    const types = new Map<string, number>();
    const cats = new Map<string, number>();
    this.graph.forEachNode((_n, a) => {
      types.set(a.ntype, (types.get(a.ntype) ?? 0) + 1);
      if (a.category !== null) cats.set(a.category, (cats.get(a.category) ?? 0) + 1);
    });
    clear(this.filters);
    const box = (label: string, n: number, color: string | null, hidden: Set<string>) =>
      h(
        "label.filter",
        null,
        h("input", {
          type: "checkbox",
          checked: !hidden.has(label),
          "data-filter": label,
          onchange: (ev: Event) => {
            if ((ev.target as HTMLInputElement).checked) hidden.delete(label);
            else hidden.add(label);
            this.sigma?.refresh();
          },
        }),
        color === null ? null : h("span.swatch", { style: { background: color } }),
        `${label} `,
        h("span.muted", null, count(n)),
      );
    this.filters.append(
      h("h4", null, "node types"),
      ...[...types]
        .sort((a, b) => b[1] - a[1])
        .map(([t, n]) => box(t, n, TYPE_COLORS[t] ?? "#888", this.hiddenTypes)),
    );
    if (cats.size > 0) {
      this.filters.append(
        h("h4", null, "file categories"),
        ...[...cats].sort((a, b) => b[1] - a[1]).map(([c, n]) => box(c, n, null, this.hiddenCats)),
      );
    }
  }

  destroy(): void {
    this.loads++;
    this.sigma?.kill();
    this.sigma = null;
  }
}
