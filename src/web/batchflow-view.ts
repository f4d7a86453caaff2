/**
 * The batchflow: the process tree on a time axis. One lane per process (its exec generations joined),
 * from its start to its end, in tree order (children under their parent, by start); fork branches from
 * the parent's lane, exec marks, wait joins back to the waiting parent, exit status or signal at the end.
 * Lanes are drawn on a canvas and only the visible ones are built, so tens of thousands of processes
 * scroll smoothly; the label column is DOM (rows carry data-node) so a click opens the process.
 */
import type { GNode, Proc, ProcLink } from "./api.js";
import { clear, h } from "./dom.js";
import { duration } from "./format.js";

export interface Lane {
  /** node id of the first generation */
  key: number;
  gens: Proc[];
  parent: Lane | null;
  forkTs: number | null;
  children: Lane[];
  depth: number;
  row: number;
  /** wait joins: this lane's end was waited for by `by` at `ts` */
  waits: { ts: number; by: Lane }[];
}

const ROW = 22;
const LABEL_W = 340;

/** Lanes in tree order from processes and the relations between them. */
export function buildLanes(procs: Iterable<Proc>, links: Iterable<ProcLink>): Lane[] {
  const byId = new Map<number, Proc>();
  for (const p of procs) byId.set(p.id, p);
  const prevGen = new Map<number, number>();
  const forkOf = new Map<number, { parent: number; ts: number | null }>();
  const waits: ProcLink[] = [];
  for (const l of links) {
    if (l.op === "exec") prevGen.set(l.from, l.to);
    else if (l.op === "fork" || l.op === "vfork" || l.op === "clone")
      forkOf.set(l.from, { parent: l.to, ts: l.ts });
    else if (l.op === "wait") waits.push(l);
  }
  const rootOf = (id: number): number => {
    let cur = id;
    for (let i = 0; i < 10_000; i++) {
      const p = prevGen.get(cur);
      if (p === undefined || !byId.has(p)) return cur;
      cur = p;
    }
    return cur;
  };
  const lanes = new Map<number, Lane>();
  const laneOfNode = new Map<number, Lane>();
  for (const p of byId.values()) {
    const key = rootOf(p.id);
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = { key, gens: [], parent: null, forkTs: null, children: [], depth: 0, row: 0, waits: [] };
      lanes.set(key, lane);
    }
    lane.gens.push(p);
    laneOfNode.set(p.id, lane);
  }
  for (const lane of lanes.values()) {
    lane.gens.sort((a, b) => a.generation - b.generation || (a.start ?? 0) - (b.start ?? 0));
    const fork = forkOf.get(lane.key);
    const parent = fork === undefined ? undefined : laneOfNode.get(fork.parent);
    if (fork !== undefined && parent !== undefined && parent !== lane) {
      lane.parent = parent;
      lane.forkTs = fork.ts;
      parent.children.push(lane);
    }
  }
  for (const w of waits) {
    const by = laneOfNode.get(w.from);
    const child = laneOfNode.get(w.to);
    if (by !== undefined && child !== undefined && w.ts !== null) child.waits.push({ ts: w.ts, by });
  }
  const start = (l: Lane) => l.gens[0]?.start ?? Number.MAX_SAFE_INTEGER;
  const roots = [...lanes.values()]
    .filter((l) => l.parent === null)
    .sort((a, b) => start(a) - start(b) || a.key - b.key);
  const out: Lane[] = [];
  // iterative depth-first walk (deep trees must not overflow the stack)
  const stack: Lane[] = [...roots].reverse();
  while (stack.length > 0) {
    const l = stack.pop() as Lane;
    l.depth = l.parent === null ? 0 : l.parent.depth + 1;
    l.row = out.length;
    out.push(l);
    l.children.sort((a, b) => start(a) - start(b) || a.key - b.key);
    for (let i = l.children.length - 1; i >= 0; i--) stack.push(l.children[i] as Lane);
  }
  return out;
}

export function laneStart(l: Lane): number | null {
  return l.gens[0]?.start ?? null;
}
export function laneEnd(l: Lane): number | null {
  return l.gens[l.gens.length - 1]?.end ?? null;
}
function lastGen(l: Lane): Proc {
  return l.gens[l.gens.length - 1] as Proc;
}

export function exitText(p: Proc): string {
  if (p.exitSignal !== null) return p.exitSignal;
  if (p.exitCode !== null) return `exit ${p.exitCode}`;
  return p.end === null ? "running" : "";
}

function shortLabel(p: Proc): string {
  const exe = p.exe ?? "";
  const base = exe.split("/").pop() ?? "";
  if (p.label.startsWith("pid ") && base !== "") return base;
  return p.label.length > 90 ? `${p.label.slice(0, 88)}…` : p.label;
}

export class BatchflowView {
  readonly el: HTMLElement;
  private readonly procs = new Map<number, Proc>();
  private readonly links = new Map<string, ProcLink>();
  private lanes: Lane[] = [];
  private t0 = 0;
  private t1 = 1;
  private readonly scroller: HTMLElement;
  private readonly inner: HTMLElement;
  private readonly labels: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly axis: HTMLCanvasElement;
  private selected: number | null = null;
  private frame = 0;
  private runEnd: number | null = null;

  constructor(private readonly onSelect: (lane: Lane) => void) {
    this.axis = h("canvas.bf-axis");
    this.labels = h("div.bf-labels");
    this.canvas = h("canvas.bf-canvas");
    this.inner = h("div.bf-inner", null, this.labels, this.canvas);
    this.scroller = h("div.bf-scroll", { onscroll: () => this.schedule() }, this.inner);
    this.el = h(
      "div.batchflow",
      null,
      h(
        "div.bf-head",
        null,
        h("div.bf-head-label", { style: { width: `${LABEL_W}px` } }, "process"),
        this.axis,
      ),
      this.scroller,
    );
    this.labels.addEventListener("click", (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>(".bf-row");
      if (row !== null) this.select(Number(row.dataset.lane));
    });
    this.canvas.addEventListener("click", (ev) => {
      const r = this.canvas.getBoundingClientRect();
      const row = Math.floor((ev.clientY - r.top + this.scroller.scrollTop) / ROW);
      const lane = this.lanes[row];
      if (lane !== undefined) this.select(lane.key);
    });
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
  }

  get laneCount(): number {
    return this.lanes.length;
  }

  /** process nodes (one per exec generation) */
  get generations(): number {
    return this.procs.size;
  }

  set(procs: Proc[], links: ProcLink[], runStart: number | null, runEnd: number | null): void {
    this.procs.clear();
    this.links.clear();
    for (const p of procs) this.procs.set(p.id, p);
    for (const l of links) this.links.set(`${l.from}>${l.to}>${l.op}`, l);
    this.runEnd = runEnd;
    this.rebuild(runStart);
  }

  /** Live: processes and relations that appeared or changed (from the changes stream). */
  update(nodes: GNode[], links: ProcLink[], runEnd: number | null): number {
    let changed = 0;
    for (const n of nodes) {
      if (n.type !== "process") continue;
      changed++;
      const a = n.attrs;
      this.procs.set(n.id, {
        id: n.id,
        pid: (a.pid as number | undefined) ?? null,
        ppid: (a.ppid as number | undefined) ?? null,
        label: n.label,
        exe: (a.exe as string | undefined) ?? null,
        start: n.start,
        end: n.end,
        exitCode: (a.exitCode as number | undefined) ?? null,
        exitSignal: (a.exitSignal as string | undefined) ?? null,
        via: (a.via as string | undefined) ?? null,
        generation: (a.generation as number | undefined) ?? 0,
      });
    }
    for (const l of links) {
      changed++;
      this.links.set(`${l.from}>${l.to}>${l.op}`, l);
    }
    if (runEnd !== null) this.runEnd = runEnd;
    if (changed > 0) this.rebuild(null);
    return changed;
  }

  private rebuild(runStart: number | null): void {
    this.lanes = buildLanes(this.procs.values(), this.links.values());
    let t0 = runStart ?? Number.MAX_SAFE_INTEGER;
    let t1 = this.runEnd ?? 0;
    for (const p of this.procs.values()) {
      if (p.start !== null) t0 = Math.min(t0, p.start);
      t1 = Math.max(t1, p.end ?? p.start ?? 0);
    }
    if (t0 === Number.MAX_SAFE_INTEGER) t0 = 0;
    this.t0 = t0;
    this.t1 = Math.max(t1, t0 + 1000);
    this.inner.style.height = `${Math.max(1, this.lanes.length) * ROW}px`;
    this.schedule();
  }

  select(key: number): void {
    const lane = this.lanes.find((l) => l.key === key);
    if (lane === undefined) return;
    this.selected = key;
    this.schedule();
    this.onSelect(lane);
  }

  private schedule(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private x(ts: number, width: number): number {
    return 8 + ((ts - this.t0) / (this.t1 - this.t0)) * (width - 70);
  }

  private draw(): void {
    const width = Math.max(200, this.scroller.clientWidth - LABEL_W);
    const height = this.scroller.clientHeight;
    const top = this.scroller.scrollTop;
    const dpr = window.devicePixelRatio || 1;
    const first = Math.max(0, Math.floor(top / ROW) - 2);
    const last = Math.min(this.lanes.length - 1, Math.ceil((top + height) / ROW) + 2);
    // the visible window of rows, moved along with the scroll position
    this.labels.style.top = `${first * ROW}px`;
    this.canvas.style.top = `${top}px`;
    this.canvas.style.left = `${LABEL_W}px`;
    // resizing a canvas reallocates it: only when the size changed
    if (this.canvas.width !== Math.floor(width * dpr) || this.canvas.height !== Math.floor(height * dpr)) {
      this.canvas.width = Math.floor(width * dpr);
      this.canvas.height = Math.floor(height * dpr);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    clear(this.labels);
    for (let i = first; i <= last; i++) {
      const l = this.lanes[i] as Lane;
      const p = lastGen(l);
      const exit = exitText(p);
      const bad = p.exitSignal !== null || (p.exitCode !== null && p.exitCode !== 0);
      this.labels.appendChild(
        h(
          `div.bf-row${l.key === this.selected ? ".selected" : ""}`,
          { "data-lane": l.key, "data-pid": p.pid ?? "", title: p.label },
          h("span.bf-indent", { style: { width: `${Math.min(l.depth, 24) * 12}px` } }),
          h("span.bf-pid", null, p.pid ?? "?"),
          h("span.bf-name", null, shortLabel(p)),
          l.gens.length > 1
            ? h("span.bf-exec", { title: `${l.gens.length - 1} exec` }, `⟳${l.gens.length - 1}`)
            : null,
          exit !== ""
            ? h(`span.bf-exit${bad ? ".bad" : exit === "running" ? ".running" : ".ok"}`, null, exit)
            : null,
        ),
      );
    }
    const g = this.canvas.getContext("2d");
    if (g === null) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, height);
    const y = (row: number) => row * ROW - top + ROW / 2;
    // time grid
    const ticks = niceTicks(this.t0, this.t1, Math.max(2, Math.floor(width / 110)));
    g.strokeStyle = "#eef0f3";
    g.lineWidth = 1;
    for (const t of ticks) {
      const xx = Math.round(this.x(t, width)) + 0.5;
      g.beginPath();
      g.moveTo(xx, 0);
      g.lineTo(xx, height);
      g.stroke();
    }
    const now = this.runEnd ?? this.t1;
    for (let i = first; i <= last; i++) {
      const l = this.lanes[i] as Lane;
      const yy = y(i);
      const s = laneStart(l);
      if (s === null) continue;
      const endTs = laneEnd(l);
      const p = lastGen(l);
      const x0 = this.x(s, width);
      const x1 = Math.max(x0 + 2, this.x(endTs ?? now, width));
      const bad = p.exitSignal !== null || (p.exitCode !== null && p.exitCode !== 0);
      if (l.key === this.selected) {
        g.fillStyle = "rgba(232,116,59,0.12)";
        g.fillRect(0, yy - ROW / 2, width, ROW);
      }
      // fork branch: from the parent's lane down to this one
      if (l.parent !== null && l.forkTs !== null) {
        const fx = this.x(l.forkTs, width);
        g.strokeStyle = "#9aa5b1";
        g.beginPath();
        g.moveTo(fx, y(l.parent.row));
        g.lineTo(fx, yy);
        g.lineTo(x0, yy);
        g.stroke();
        g.fillStyle = "#9aa5b1";
        g.beginPath();
        g.arc(fx, y(l.parent.row), 2.5, 0, Math.PI * 2);
        g.fill();
      }
      g.fillStyle = endTs === null ? "#f6c28b" : bad ? "#e05d5d" : "#5b9bd5";
      g.fillRect(x0, yy - 6, x1 - x0, 12);
      if (endTs === null) {
        g.strokeStyle = "#e8743b";
        g.setLineDash([3, 3]);
        g.strokeRect(x0 + 0.5, yy - 5.5, x1 - x0 - 1, 11);
        g.setLineDash([]);
      }
      // exec marks: a diamond where each later generation began
      for (const gen of l.gens.slice(1)) {
        if (gen.start === null) continue;
        const ex = this.x(gen.start, width);
        g.fillStyle = "#2d3748";
        g.beginPath();
        g.moveTo(ex, yy - 7);
        g.lineTo(ex + 5, yy);
        g.lineTo(ex, yy + 7);
        g.lineTo(ex - 5, yy);
        g.closePath();
        g.fill();
      }
      // wait joins: from this lane's end back up to the waiting lane
      for (const w of l.waits) {
        const wx = this.x(w.ts, width);
        g.strokeStyle = "#38a169";
        g.setLineDash([4, 3]);
        g.beginPath();
        g.moveTo(x1, yy);
        g.lineTo(wx, y(w.by.row));
        g.stroke();
        g.setLineDash([]);
      }
      const exit = exitText(p);
      if (exit !== "" && exit !== "running") {
        g.fillStyle = bad ? "#c53030" : "#4a5568";
        g.font = "11px system-ui, sans-serif";
        g.fillText(exit, x1 + 4, yy + 4);
      }
    }
    this.drawAxis(width, ticks);
  }

  private drawAxis(width: number, ticks: number[]): void {
    const dpr = window.devicePixelRatio || 1;
    if (this.axis.width !== Math.floor(width * dpr)) {
      this.axis.width = Math.floor(width * dpr);
      this.axis.height = Math.floor(24 * dpr);
      this.axis.style.width = `${width}px`;
      this.axis.style.height = "24px";
    }
    const g = this.axis.getContext("2d");
    if (g === null) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, 24);
    g.fillStyle = "#4a5568";
    g.font = "11px system-ui, sans-serif";
    for (const t of ticks) {
      const xx = this.x(t, width);
      g.fillRect(Math.round(xx), 18, 1, 6);
      g.fillText(`+${duration((t - this.t0) / 1e6)}`, xx + 3, 14);
    }
  }
}

/** Round tick positions over [a, b] (µs), about `n` of them. */
export function niceTicks(a: number, b: number, n: number): number[] {
  const span = Math.max(1, b - a);
  const raw = span / n;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = a; t <= b && out.length < 200; t += step) out.push(t);
  return out;
}
