/**
 * One run: its batchflow first, the graph, the exports; a details panel for the process or node
 * clicked; live mode (Server-Sent Events) while another provflow process writes the run.
 */
import {
  api,
  type Changes,
  type GEdge,
  type GNode,
  type Proc,
  type ProcLink,
  type Run,
  runPath,
} from "./api.js";
import { BatchflowView, exitText, type Lane } from "./batchflow-view.js";
import { clear, h } from "./dom.js";
import { count, duration, isoTime, shortTime, TYPE_COLORS } from "./format.js";
import { type GraphData, GraphView } from "./graph-view.js";
import { exitBadge } from "./runs-view.js";

interface NodeDetail {
  node: GNode;
  edges: GEdge[];
  neighbours: GNode[];
  more: boolean;
}

type Tab = "batchflow" | "graph" | "exports";

export class RunView {
  private run!: Run;
  private readonly header = h("div.run-header");
  private readonly body = h("div.run-body");
  private readonly panel = h(
    "aside.details",
    null,
    h("p.muted", null, "Click a process or a node for its details."),
  );
  private readonly liveBadge = h("span.live-badge", { hidden: true });
  private batchflow: BatchflowView | null = null;
  private graph: GraphView | null = null;
  private source: EventSource | null = null;
  private cursor = "0";
  /** the node panel's lineage keeps time order (the API's causal=1) */
  private causalLineage = false;
  private liveCount = 0;
  private tab: Tab = "batchflow";

  constructor(
    private readonly root: HTMLElement,
    private readonly ref: string,
  ) {}

  async open(tab: Tab): Promise<void> {
    this.tab = tab;
    // the graph's data is asked for at once, beside the run's record
    const graphData = tab === "graph" ? this.fetchGraph(this.ref) : null;
    graphData?.catch(() => undefined);
    this.run = await api<Run>(runPath(this.ref));
    this.renderHeader();
    this.root.append(this.header, h("div.run-main", null, this.body, this.panel));
    if (tab === "graph") await this.showGraph(graphData ?? undefined);
    else if (tab === "exports") await this.showExports();
    else await this.showBatchflow();
    if (this.run.status === "running") this.startLive();
  }

  close(): void {
    this.source?.close();
    this.source = null;
    this.graph?.destroy();
  }

  private renderHeader(): void {
    const r = this.run;
    clear(this.header);
    const tabs = (["batchflow", "graph", "exports"] as const).map((t) =>
      h(
        `a.tab${t === this.tab ? ".active" : ""}`,
        { href: `#/run/${r.id}${t === "batchflow" ? "" : `/${t}`}`, "data-tab": t },
        t,
      ),
    );
    const liveBtn = h("button", { id: "live-btn" }, this.source === null ? "Live" : "Stop live");
    liveBtn.addEventListener("click", () => {
      if (this.source === null) this.startLive();
      else this.stopLive();
      this.renderHeader();
    });
    this.header.append(
      h(
        "div.run-title",
        null,
        h("h2", null, `${r.name} `, h("span.muted", null, `#${r.id}`)),
        h("span#run-status", null, exitBadge(r)),
        this.liveBadge,
        liveBtn,
      ),
      h("div.cmd", { title: r.command.join(" ") }, r.command.join(" ")),
      h(
        "div.run-meta",
        null,
        h("span", null, r.host),
        h("span", null, `${shortTime(r.start)} UTC`),
        h("span", null, duration(r.duration)),
        h("span", null, `${count(r.nodeCount)} nodes · ${count(r.edgeCount)} relations`),
        h("span", null, r.source),
      ),
      h("nav.tabs", null, tabs),
    );
  }

  // ---- batchflow ----

  private async showBatchflow(): Promise<void> {
    const data = await api<{ run: Run; cursor: string; processes: Proc[]; links: ProcLink[] }>(
      `${runPath(this.run.id)}/processes`,
    );
    this.cursor = data.cursor;
    this.batchflow = new BatchflowView((lane) => void this.showProcess(lane));
    this.body.append(
      h(
        "div.legend",
        null,
        h("span.key.ok", null, "exit 0"),
        h("span.key.bad", null, "failed / signal"),
        h("span.key.running", null, "running"),
        h("span", null, "◆ exec"),
        h("span.fork", null, "┗ fork"),
        h("span.wait", null, "╌ wait"),
        h("span.muted#lane-count", null, ""),
      ),
      this.batchflow.el,
    );
    this.batchflow.set(data.processes, data.links, this.run.start, this.run.end);
    this.countLanes();
  }

  private async showProcess(lane: Lane): Promise<void> {
    clear(this.panel);
    this.panel.append(h("p.muted", null, "loading…"));
    const details = await Promise.all(
      lane.gens.map((g) => api<NodeDetail>(`${runPath(this.run.id)}/nodes/${g.id}`)),
    );
    clear(this.panel);
    const last = lane.gens[lane.gens.length - 1] as Proc;
    const first = details[0]?.node;
    const attrs = first?.attrs ?? {};
    this.panel.append(
      h("h3", null, `pid ${last.pid ?? "?"}`, " ", h("span.muted", null, exitText(last))),
      ...details.map((d, i) =>
        h(
          "div.gen",
          null,
          h("div.gen-label", null, i > 0 ? "exec → " : "", d.node.label),
          h("div.muted", null, `${d.node.attrs.exe ?? ""}`),
        ),
      ),
      kv([
        ["started", isoTime(lane.gens[0]?.start)],
        ["ended", isoTime(last.end)],
        [
          "duration",
          last.end !== null && lane.gens[0]?.start != null
            ? duration((last.end - (lane.gens[0].start ?? 0)) / 1e6)
            : "",
        ],
        ["cwd", String(attrs.cwd ?? "")],
        ["ppid", String(attrs.ppid ?? "")],
        ["via", String(attrs.via ?? "")],
      ]),
    );
    // what it touched: files, sockets, pipes… with what it did to them
    const touched = new Map<number, { node: GNode; ops: Set<string> }>();
    const related = new Map<number, { node: GNode; ops: Set<string> }>();
    for (const d of details) {
      const byId = new Map(d.neighbours.map((n) => [n.id, n]));
      for (const e of d.edges) {
        const other = byId.get(e.from === d.node.id ? e.to : e.from);
        if (other === undefined) continue;
        const into = other.type === "process" ? related : touched;
        const entry = into.get(other.id) ?? { node: other, ops: new Set<string>() };
        entry.ops.add(e.op);
        into.set(other.id, entry);
      }
    }
    const groups = new Map<string, { node: GNode; ops: Set<string> }[]>();
    for (const t of touched.values()) {
      const list = groups.get(t.node.type) ?? [];
      list.push(t);
      groups.set(t.node.type, list);
    }
    this.panel.append(
      h(
        "h4",
        null,
        `touched: ${count(touched.size)}`,
        details.some((d) => d.more) ? " (first 2000 relations)" : "",
      ),
    );
    for (const [type, list] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
      // what changed data first (written, created, deleted), then read or executed, then the rest (probes last)
      list.sort((a, b) => opRank(a.ops) - opRank(b.ops) || a.node.label.localeCompare(b.node.label));
      this.panel.append(
        h(
          "details.res-group",
          { open: true, "data-type": type },
          h(
            "summary",
            null,
            h("span.swatch", { style: { background: TYPE_COLORS[type] ?? "#888" } }),
            `${type} (${list.length})`,
          ),
          list.map((t) =>
            h(
              "div.res",
              { "data-type": type, title: t.node.gid },
              h("span.ops", null, [...t.ops].sort().join(",")),
              " ",
              t.node.label,
              t.node.attrs.deleted === true ? h("span.badge.bad", null, "deleted") : null,
            ),
          ),
        ),
      );
    }
    if (related.size > 0) {
      this.panel.append(
        h("h4", null, "processes"),
        ...[...related.values()].map((r) =>
          h("div.res.proc", null, h("span.ops", null, [...r.ops].join(",")), " ", r.node.label),
        ),
      );
    }
  }

  private countLanes(): void {
    const el = document.getElementById("lane-count");
    if (el !== null && this.batchflow !== null)
      el.textContent = `${count(this.batchflow.laneCount)} processes, ${count(this.batchflow.generations)} generations`;
  }

  // ---- graph ----

  /** The graph in the view's columnar form (phases measured with performance.measure: the benchmark reads them). */
  private async fetchGraph(ref: string | number): Promise<GraphData & { cursor: string }> {
    performance.mark("graph-start");
    const res = await fetch(`${runPath(ref)}/graph?format=columns`, { credentials: "same-origin" });
    if (!res.ok) throw new Error(((await res.json()) as { error: string }).error);
    const data = (await res.json()) as GraphData & { cursor: string };
    performance.measure("graph: data", "graph-start");
    return data;
  }

  private async showGraph(pending?: Promise<GraphData & { cursor: string }>): Promise<void> {
    const data = await (pending ?? this.fetchGraph(this.run.id));
    this.cursor = data.cursor;
    this.graph = new GraphView((sel) => void this.showNode(sel.id));
    this.body.append(this.graph.el);
    this.graph.load(data);
    performance.measure("graph: data to drawn", "graph-start");
  }

  private async showNode(id: number): Promise<void> {
    const d = await api<NodeDetail>(`${runPath(this.run.id)}/nodes/${id}`);
    const lineage = await this.lineage(id);
    this.graph?.highlight(id, lineage.ids);
    clear(this.panel);
    const n = d.node;
    this.panel.append(
      h(
        "h3",
        null,
        h("span.swatch", { style: { background: TYPE_COLORS[n.type] ?? "#888" } }),
        n.type,
        " ",
        h("span.muted", null, `#${n.id}`),
      ),
      h("div.gen-label", null, n.label),
      kv([
        ["gid", n.gid],
        ["version", String(n.version)],
        ["start", isoTime(n.start)],
        ["end", isoTime(n.end)],
        ...Object.entries(n.attrs)
          .filter(([k]) => k !== "env")
          .map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)] as [string, string]),
      ]),
      h("h4", null, `lineage: ${count(lineage.ids.length)} nodes `, h("span.muted", null, lineage.how)),
      h(
        "label.lineage-causal",
        null,
        h("input", {
          type: "checkbox",
          checked: this.causalLineage,
          onchange: (ev: Event) => {
            this.causalLineage = (ev.target as HTMLInputElement).checked;
            void this.showNode(id);
          },
        }),
        " in time order (what happened after it got there, or before it was passed on, is left out)",
      ),
      h("h4", null, `relations (${d.edges.length}${d.more ? "+" : ""})`),
      ...d.edges.slice(0, 200).map((e) => {
        const other = d.neighbours.find((x) => x.id === (e.from === id ? e.to : e.from));
        return h(
          "div.res",
          null,
          h("span.ops", null, `${e.from === id ? "→" : "←"} ${e.type}/${e.op}`),
          " ",
          other?.label ?? "",
        );
      }),
    );
  }

  /** Ancestors and descendants of a node (depth 5): the server's lineage when it has it, else the loaded graph's. */
  private async lineage(id: number): Promise<{ ids: number[]; how: string }> {
    const causal = this.causalLineage;
    try {
      const r = await api<{ nodes: { id: number }[] }>(
        `${runPath(this.run.id)}/lineage/${id}?direction=both&depth=5${causal ? "&causal=1" : ""}`,
      );
      return {
        ids: r.nodes.map((n) => n.id),
        how: `(depth 5${causal ? ", in time order" : ""}, from the database)`,
      };
    } catch {
      return { ids: [...(this.graph?.localLineage(id, 5) ?? [])], how: "(depth 5, in the loaded graph)" };
    }
  }

  // ---- exports ----

  private async showExports(): Promise<void> {
    const { formats } = await api<{ formats: { format: string; description: string; extension: string }[] }>(
      "/api/formats",
    );
    const redact = h("input", { type: "checkbox", checked: true, id: "redact" });
    const links = formats.map((f) => {
      const a = h("a.button", { href: "#", "data-format": f.format, download: "" }, f.format);
      const update = () => {
        a.href = `${runPath(this.run.id)}/export/${f.format}${redact.checked ? "" : "?redact=0"}`;
      };
      update();
      redact.addEventListener("change", update);
      return h("div.export-row", null, a, h("span.muted", null, ` .${f.extension} — ${f.description}`));
    });
    this.body.append(
      h(
        "section.card",
        null,
        h("h3", null, "Export this run"),
        h("label", null, redact, " redact secrets (environment, passwords in command lines)"),
        h("div.exports", null, links),
      ),
    );
  }

  // ---- live ----

  private startLive(): void {
    if (this.source !== null) return;
    const src = new EventSource(`${runPath(this.run.id)}/events?since=${this.cursor}`);
    this.source = src;
    this.liveBadge.hidden = false;
    this.liveBadge.textContent = "● live";
    src.addEventListener("changes", (ev) => {
      const c = JSON.parse((ev as MessageEvent).data as string) as Changes;
      this.cursor = c.cursor;
      const links: ProcLink[] = c.edges
        .filter((e) => e.type === "wasInformedBy")
        .map((e) => ({ from: e.from, to: e.to, op: e.op, ts: e.ts }));
      this.liveCount += c.nodes.length + c.edges.length;
      this.batchflow?.update(c.nodes, links, null);
      this.graph?.add(c.nodes, c.edges);
      const lanes = document.getElementById("lane-count");
      if (lanes !== null && this.batchflow !== null)
        lanes.textContent = `${count(this.batchflow.laneCount)} processes`;
      this.liveBadge.textContent = `● live +${count(this.liveCount)}`;
    });
    src.addEventListener("run", (ev) => {
      const r = JSON.parse((ev as MessageEvent).data as string) as Run;
      this.run = r;
      const status = document.getElementById("run-status");
      if (status !== null) {
        clear(status);
        status.append(exitBadge(r));
      }
      if (r.end !== null) this.batchflow?.update([], [], r.end);
    });
    src.addEventListener("error", () => {
      this.liveBadge.textContent = "○ reconnecting";
    });
    this.renderHeader();
  }

  private stopLive(): void {
    this.source?.close();
    this.source = null;
    this.liveBadge.hidden = true;
  }
}

const OP_RANK: Record<string, number> = {
  write: 0,
  create: 0,
  truncate: 0,
  delete: 0,
  rename: 0,
  send: 1,
  read: 1,
  recv: 1,
  execute: 1,
  connect: 1,
  accept: 1,
};

function opRank(ops: Set<string>): number {
  let r = 3;
  for (const op of ops) r = Math.min(r, OP_RANK[op] ?? (op === "probe" ? 3 : 2));
  return r;
}

function kv(rows: [string, string][]): HTMLElement {
  return h(
    "table.kv",
    null,
    rows.filter(([, v]) => v !== "").map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v))),
  );
}
