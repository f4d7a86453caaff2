/**
 * The JSON API of `provflow serve` (docs/server-api.md). Every handler reads the store through the
 * GraphStore contract, pages by keyset and caps what one answer may hold; exports stream.
 */
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KIND_TYPES, storeExportInput } from "../export/export-input.js";
import { writableSink } from "../export/export-sink.js";
import { exporters, getExporter } from "../export/exporter-registry.js";
import { writeTar } from "../export/tar-stream.js";
import { FILE_CATEGORIES } from "../graph/file-category.js";
import { lineageOf, pathsBetween } from "../graph/lineage-nodes.js";
import type { GraphEdge, GraphNode, NodeType, RelationType } from "../graph/prov-types.js";
import { diffRunSummaries, NORMALIZE_RULES, type NormalizeRule } from "../graph/run-diff.js";
import { buildRunSummary } from "../graph/run-summary.js";
import { isoMicros } from "../graph/time-format.js";
import { ALL_RELATIONS } from "../store/lineage-params.js";
import type { ChangeSet, EdgeFilter, GraphStore, NodeFilter, RunRecord } from "../store/store-types.js";
import { HttpError } from "./http-error.js";
import type { LiveChanges } from "./live-changes.js";

/** Largest page of nodes or edges one request may ask for. */
export const MAX_PAGE = 10_000;
/** Largest graph (nodes) the graph view may ask for in one answer. */
export const MAX_GRAPH_NODES = 200_000;
/** Largest JSON answer built in memory (everything bigger streams or is paged). */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** every node type (each kind's types, from the exporters' selection) */
const NODE_TYPES: readonly NodeType[] = [...new Set(Object.values(KIND_TYPES).flat())];
const RELATION_TYPES: readonly RelationType[] = ALL_RELATIONS;

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  store: GraphStore;
  live: LiveChanges;
}

export interface Route {
  pattern: RegExp;
  handle(ctx: RouteContext): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  if (body.length > MAX_JSON_BYTES) {
    throw new HttpError(
      413,
      `the answer would be ${body.length} bytes (over ${MAX_JSON_BYTES}): ask for a smaller page`,
    );
  }
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

// --- query parameters ---

function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) throw new HttpError(400, `${name} must be an integer, not ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min || n > max) throw new HttpError(400, `${name} must be between ${min} and ${max}`);
  return n;
}

/** A time: µs since the epoch, or an ISO 8601 date. */
function timeParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new HttpError(400, `${name} must be µs since the epoch or an ISO 8601 date`);
  const micros = /\.\d{4,6}/.exec(v)?.[0].slice(4).padEnd(3, "0") ?? "000";
  return ms * 1000 + Number(micros.slice(0, 3));
}

/** `name=a,b&name=c` → [a, b, c], each checked against the allowed values. */
function listParam<T extends string>(url: URL, name: string, allowed: readonly T[]): T[] | undefined {
  const raw = url.searchParams.getAll(name).flatMap((v) => v.split(","));
  const values = raw.map((v) => v.trim()).filter((v) => v !== "");
  if (values.length === 0) return undefined;
  for (const v of values) {
    if (!(allowed as readonly string[]).includes(v))
      throw new HttpError(400, `${name}: unknown value ${JSON.stringify(v)} (one of ${allowed.join(", ")})`);
  }
  return values as T[];
}

function textParam(url: URL, name: string, maxLength = 1000): string | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  if (v.length > maxLength) throw new HttpError(400, `${name} is longer than ${maxLength} characters`);
  return v;
}

// --- shapes ---

function iso(us: number | null): string | null {
  return us === null ? null : isoMicros(us);
}

export function runJson(run: RunRecord): Record<string, unknown> {
  return {
    ...run,
    startIso: iso(run.start),
    endIso: iso(run.end),
    duration: run.start !== null && run.end !== null ? (run.end - run.start) / 1e6 : null,
  };
}

/** A node of a change set, marked when it is an ended process or a deleted file. */
export function changeNode(n: GraphNode): GraphNode & { ended?: true; deleted?: true } {
  const out: GraphNode & { ended?: true; deleted?: true } = { ...n };
  if (n.kind === "activity" && n.end !== null) out.ended = true;
  if (n.attrs.deleted === true) out.deleted = true;
  return out;
}

export function changesJson(c: ChangeSet): Record<string, unknown> {
  const nodes = c.nodes.map(changeNode);
  return {
    cursor: String(c.cursor),
    more: c.more,
    nodes,
    edges: c.edges,
    ended: nodes.filter((n) => n.ended === true).map((n) => n.id),
    deleted: nodes.filter((n) => n.deleted === true).map((n) => n.id),
  };
}

async function runOf(ctx: RouteContext, ref = ctx.params[0]): Promise<RunRecord> {
  const r = decodeURIComponent(ref ?? "");
  if (r === "" || r.length > 256) throw new HttpError(400, "bad run reference");
  const run = await ctx.store.findRun(r);
  if (run === null) throw new HttpError(404, `no run ${r} in the database`);
  return run;
}

function nodeIdOf(text: string | undefined): number {
  if (text === undefined || !/^\d{1,15}$/.test(text))
    throw new HttpError(400, "a node id is a positive integer");
  return Number(text);
}

/** All rows a keyset page reader gives, page after page, at most `max`. */
async function collectPages<T extends { id: number }>(
  page: (afterId: number, limit: number) => Promise<T[]>,
  max: number,
): Promise<T[]> {
  const out: T[] = [];
  let after = 0;
  while (out.length < max) {
    const want = Math.min(5000, max - out.length);
    const rows = await page(after, want);
    out.push(...rows);
    if (rows.length < want) break;
    after = rows[rows.length - 1]?.id ?? after;
  }
  return out;
}

function collectNodes(
  store: GraphStore,
  runId: number,
  filter: NodeFilter,
  max: number,
): Promise<GraphNode[]> {
  return collectPages((afterId, limit) => store.getNodes(runId, { ...filter, afterId, limit }), max);
}

function collectEdges(
  store: GraphStore,
  runId: number,
  filter: EdgeFilter,
  max: number,
): Promise<GraphEdge[]> {
  return collectPages((afterId, limit) => store.getEdges(runId, { ...filter, afterId, limit }), max);
}

/** Node filter of the query string; `process` (a node id) keeps the nodes it touched. */
async function nodeFilter(ctx: RouteContext, runId: number): Promise<NodeFilter | null> {
  const { url } = ctx;
  const f: NodeFilter = {};
  const types = listParam(url, "type", NODE_TYPES);
  if (types) f.types = types;
  const cats = listParam(url, "category", FILE_CATEGORIES);
  if (cats) f.categories = cats;
  const from = timeParam(url, "from");
  if (from !== undefined) f.from = from;
  const to = timeParam(url, "to");
  if (to !== undefined) f.to = to;
  const q = textParam(url, "q");
  if (q !== undefined) f.match = q;
  const proc = intParam(url, "process", 1, Number.MAX_SAFE_INTEGER);
  if (proc !== undefined) {
    const touching = await collectEdges(ctx.store, runId, { nodeIds: [proc] }, 100_000);
    const ids = new Set<number>();
    for (const e of touching) ids.add(e.from === proc ? e.to : e.from);
    if (ids.size === 0) return null;
    f.ids = [...ids].sort((a, b) => a - b);
  }
  return f;
}

function edgeFilter(url: URL): EdgeFilter {
  const f: EdgeFilter = {};
  const types = listParam(url, "type", RELATION_TYPES);
  if (types) f.types = types;
  const from = timeParam(url, "from");
  if (from !== undefined) f.from = from;
  const to = timeParam(url, "to");
  if (to !== undefined) f.to = to;
  const proc = intParam(url, "process", 1, Number.MAX_SAFE_INTEGER);
  if (proc !== undefined) f.nodeIds = [proc];
  return f;
}

// --- handlers ---

async function listRuns(ctx: RouteContext): Promise<void> {
  const runs = await ctx.store.listRuns();
  sendJson(ctx.res, 200, { runs: runs.map(runJson).reverse() });
}

async function getRun(ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, runJson(await runOf(ctx)));
}

async function summary(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const [nodes, edges] = await Promise.all([ctx.store.getNodes(run.id), ctx.store.getEdges(run.id)]);
  sendJson(ctx.res, 200, buildRunSummary(run, nodes, edges));
}

async function nodes(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const limit = intParam(ctx.url, "limit", 1, MAX_PAGE) ?? 1000;
  const after = intParam(ctx.url, "after", 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const f = await nodeFilter(ctx, run.id);
  const page = f === null ? [] : await ctx.store.getNodes(run.id, { ...f, afterId: after, limit: limit + 1 });
  const more = page.length > limit;
  if (more) page.length = limit;
  sendJson(ctx.res, 200, { nodes: page, next: more ? String(page[page.length - 1]?.id) : null });
}

async function edges(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const limit = intParam(ctx.url, "limit", 1, MAX_PAGE) ?? 1000;
  const after = intParam(ctx.url, "after", 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const page = await ctx.store.getEdges(run.id, { ...edgeFilter(ctx.url), afterId: after, limit: limit + 1 });
  const more = page.length > limit;
  if (more) page.length = limit;
  sendJson(ctx.res, 200, { edges: page, next: more ? String(page[page.length - 1]?.id) : null });
}

/** A node, its relations (in and out) and the nodes at their other ends. */
async function node(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const id = nodeIdOf(ctx.params[1]);
  const [n] = await ctx.store.getNodes(run.id, { ids: [id] });
  if (n === undefined) throw new HttpError(404, `no node ${id} in run ${run.id}`);
  const limit = intParam(ctx.url, "limit", 1, MAX_PAGE) ?? 2000;
  const rel = await ctx.store.getEdges(run.id, { nodeIds: [id], limit: limit + 1 });
  const more = rel.length > limit;
  if (more) rel.length = limit;
  const others = [...new Set(rel.map((e) => (e.from === id ? e.to : e.from)))];
  const neighbours = others.length === 0 ? [] : await ctx.store.getNodes(run.id, { ids: others });
  sendJson(ctx.res, 200, { node: changeNode(n), edges: rel, neighbours, more });
}

/**
 * The batchflow: every process (activity) with the relations between processes (fork, exec, wait,
 * signal, pipe), in compact form.
 */
async function processes(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  // the cursor of now, read first: following the changes from it misses nothing of what is read next
  const { cursor } = await ctx.store.getChanges(run.id, { limit: 0 });
  const procs = await collectNodes(ctx.store, run.id, { types: ["process"] }, MAX_GRAPH_NODES);
  const links = await collectEdges(ctx.store, run.id, { types: ["wasInformedBy"] }, MAX_GRAPH_NODES * 4);
  sendJson(ctx.res, 200, {
    run: runJson(run),
    cursor: String(cursor),
    processes: procs.map((p) => ({
      id: p.id,
      pid: p.attrs.pid ?? null,
      ppid: p.attrs.ppid ?? null,
      label: p.label,
      exe: p.attrs.exe ?? null,
      start: p.start,
      end: p.end,
      exitCode: p.attrs.exitCode ?? null,
      exitSignal: p.attrs.exitSignal ?? null,
      via: p.attrs.via ?? null,
      generation: p.attrs.generation ?? 0,
    })),
    links: links.map((e) => ({ from: e.from, to: e.to, op: e.op, ts: e.ts })),
  });
}

/**
 * The whole graph in compact form, streamed page by page from the store's column reads (no attributes
 * parsed): rows by default, `{run, cursor, nodes: [[id, type, label, category, start, end]…],
 * truncated, edges: [[id, from, to, type, op]…]}`; or, with `?format=columns` (the graph view's
 * own), one block of columns per page, so the browser parses flat arrays instead of one small array
 * per element: nodes `{id, type, label, category, start, end}`, relations only their ends `{from, to}`
 * and, for those between processes (`wasInformedBy`), `links: [[from, to, op]…]` for the layout's
 * process tree. With `truncated`, only the relations among the nodes sent are included.
 */
async function graph(ctx: RouteContext): Promise<void> {
  const format = ctx.url.searchParams.get("format") ?? "rows";
  if (format !== "rows" && format !== "columns") throw new HttpError(400, "format is rows or columns");
  const columns = format === "columns";
  const run = await runOf(ctx);
  const max = intParam(ctx.url, "limit", 1, MAX_GRAPH_NODES) ?? 100_000;
  const { res, store } = ctx;
  const { cursor } = await store.getChanges(run.id, { limit: 0 });
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  const out = writableSink(res);
  await out(`{"run":${JSON.stringify(runJson(run))},"cursor":"${cursor}","nodes":[`);
  let after = 0;
  let count = 0;
  let first = true;
  while (count < max) {
    const page = await store.getNodeColumns(run.id, after, Math.min(5000, max - count));
    const n = page.id.length;
    if (n === 0) break;
    let text: string;
    if (columns) text = JSON.stringify(page);
    else {
      // built by hand: only the label and category need escaping (types are plain words, the rest numbers)
      const rows: string[] = [];
      for (let i = 0; i < n; i++) {
        const cat = page.category[i];
        rows.push(
          `[${page.id[i]},"${page.type[i]}",${JSON.stringify(page.label[i])},${cat == null ? "null" : JSON.stringify(cat)},${page.start[i]},${page.end[i]}]`,
        );
      }
      text = rows.join(",");
    }
    await out((first ? "" : ",") + text);
    first = false;
    count += n;
    after = page.id[n - 1] ?? after;
  }
  const truncated = count >= max && (await store.getNodeColumns(run.id, after, 1)).id.length > 0;
  await out(`],"truncated":${truncated},"edges":[`);
  first = true;
  let eAfter = 0;
  for (;;) {
    const page = await store.getEdgeEnds(run.id, eAfter, 5000);
    const n = page.id.length;
    if (n === 0) break;
    const from: number[] = [];
    const to: number[] = [];
    const links: [number, number, string][] = [];
    const rows: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = page.from[i] as number;
      const t = page.to[i] as number;
      if (truncated && (f > after || t > after)) continue;
      if (!columns) {
        rows.push(`[${page.id[i]},${f},${t},"${page.type[i]}","${page.op[i]}"]`);
        continue;
      }
      from.push(f);
      to.push(t);
      if (page.type[i] === "wasInformedBy") links.push([f, t, page.op[i] as string]);
    }
    const text = columns ? (from.length > 0 ? JSON.stringify({ from, to, links }) : "") : rows.join(",");
    if (text !== "") {
      await out((first ? "" : ",") + text);
      first = false;
    }
    eAfter = page.id[n - 1] ?? eAfter;
    if (n < 5000) break;
  }
  await out("]}");
  res.end();
}

function relationsParam(url: URL): RelationType[] | undefined {
  return listParam(url, "relations", RELATION_TYPES);
}

/**
 * Ancestors (what it came from), descendants (what it went on to affect) or both, found in the
 * database. The node is named as for `provflow lineage`: an id, `pid:N`, a global id or a path
 * (relative to the run's working directory).
 */
async function lineage(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const ref = decodeURIComponent(ctx.params[1] ?? "");
  if (ref === "" || ref.length > 4096) throw new HttpError(400, "a node reference is 1 to 4096 characters");
  const direction = ctx.url.searchParams.get("direction") ?? "ancestors";
  if (!["ancestors", "descendants", "both"].includes(direction))
    throw new HttpError(400, "direction is ancestors, descendants or both");
  const depth = intParam(ctx.url, "depth", 0, 1000) ?? 5;
  const limit = intParam(ctx.url, "limit", 1, 100_000) ?? 10_000;
  const relations = relationsParam(ctx.url);
  const causal = causalParam(ctx.url);
  const ask = async (d: "ancestors" | "descendants") =>
    (
      await lineageOf(
        ctx.store,
        run,
        ref,
        { direction: d, depth, limit, causal, ...(relations ? { relations } : {}) },
        null,
      )
    ).result;
  if (direction !== "both") {
    sendJson(ctx.res, 200, {
      direction,
      depth,
      causal,
      ...(await ask(direction as "ancestors" | "descendants")),
    });
    return;
  }
  const [up, down] = [await ask("ancestors"), await ask("descendants")];
  const nodes = new Map(up.nodes.map((n) => [n.id, n]));
  for (const n of down.nodes) if (!nodes.has(n.id)) nodes.set(n.id, n);
  const edges = new Map(up.edges.map((e) => [e.id, e]));
  for (const e of down.edges) edges.set(e.id, e);
  sendJson(ctx.res, 200, {
    direction,
    depth,
    causal,
    nodes: [...nodes.values()],
    edges: [...edges.values()].sort((a, b) => a.id - b.id),
    truncated: up.truncated || down.truncated,
    ancestors: up.nodes.map((n) => n.id),
    descendants: down.nodes.map((n) => n.id),
  });
}

/** The chains by which one node went on to affect another, shortest first (`reversed`: only the other way). */
/** `causal=0|1` (also true/false): keep time order */
function causalParam(url: URL): boolean {
  const text = url.searchParams.get("causal") ?? "0";
  if (!["0", "1", "true", "false"].includes(text)) throw new HttpError(400, "causal is 0 or 1");
  return text === "1" || text === "true";
}

async function path(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const fromRef = textParam(ctx.url, "from", 4096);
  const toRef = textParam(ctx.url, "to", 4096);
  if (fromRef === undefined || toRef === undefined) throw new HttpError(400, "path needs from and to");
  const depth = intParam(ctx.url, "depth", 1, 1000) ?? 10;
  const maxPaths = intParam(ctx.url, "max", 1, 1000) ?? 10;
  const relations = relationsParam(ctx.url);
  const causal = causalParam(ctx.url);
  const r = await pathsBetween(
    ctx.store,
    run,
    fromRef,
    toRef,
    { depth, maxPaths, causal, ...(relations ? { relations } : {}) },
    null,
  );
  sendJson(ctx.res, 200, { reversed: r.reversed, causal, ...r.result });
}

async function search(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const q = textParam(ctx.url, "q");
  if (q === undefined)
    throw new HttpError(400, "search needs q (a path, executable or command line, or part of one)");
  const limit = intParam(ctx.url, "limit", 1, 1000) ?? 100;
  const types = listParam(ctx.url, "type", NODE_TYPES);
  const found = await ctx.store.getNodes(run.id, { match: q, limit: limit + 1, ...(types ? { types } : {}) });
  const more = found.length > limit;
  if (more) found.length = limit;
  sendJson(ctx.res, 200, { query: q, nodes: found, more });
}

async function changes(ctx: RouteContext): Promise<void> {
  const ref = decodeURIComponent(ctx.params[0] ?? "");
  const since = intParam(ctx.url, "since", 0, Number.MAX_SAFE_INTEGER) ?? 0;
  // limit 0: nothing, only the cursor of now (to follow the changes from)
  const limit = intParam(ctx.url, "limit", 0, MAX_PAGE) ?? 5000;
  // the hot path of a client polling by run id: one query; the run is looked up only when nothing came
  // (it may not exist) or when named
  const id = /^\d{1,9}$/.test(ref) ? Number(ref) : (await runOf(ctx)).id;
  const c = await ctx.store.getChanges(id, { since, limit });
  if (c.nodes.length + c.edges.length === 0) await runOf(ctx);
  sendJson(ctx.res, 200, changesJson(c));
}

async function events(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const fromHeader = ctx.req.headers["last-event-id"];
  const since =
    typeof fromHeader === "string" && /^\d{1,15}$/.test(fromHeader)
      ? Number(fromHeader)
      : (intParam(ctx.url, "since", 0, Number.MAX_SAFE_INTEGER) ?? 0);
  ctx.live.subscribe(run, since, ctx.req, ctx.res);
}

async function diff(ctx: RouteContext): Promise<void> {
  const a = await runOf(ctx, ctx.url.searchParams.get("a") ?? "");
  const b = await runOf(ctx, ctx.url.searchParams.get("b") ?? "");
  const off = new Set(listParam(ctx.url, "keep", [...NORMALIZE_RULES, "all"] as const) ?? []);
  const rules = off.has("all") ? [] : NORMALIZE_RULES.filter((r) => !off.has(r as NormalizeRule));
  const load = async (run: RunRecord) => {
    const [n, e] = await Promise.all([ctx.store.getNodes(run.id), ctx.store.getEdges(run.id)]);
    return buildRunSummary(run, n, e);
  };
  const d = diffRunSummaries(await load(a), await load(b), a.cwd, b.cwd, { rules });
  sendJson(ctx.res, 200, d);
}

async function formats(ctx: RouteContext): Promise<void> {
  // a folder-writing format downloads as a tar of the folder
  const list = [...exporters.values()].map((e) => ({
    format: e.format,
    mediaType: e.directory === true ? "application/x-tar" : e.mediaType,
    extension: e.directory === true ? `${e.format}.tar` : e.extension,
    description: e.description,
  }));
  sendJson(ctx.res, 200, { formats: list });
}

async function exportRun(ctx: RouteContext): Promise<void> {
  const run = await runOf(ctx);
  const format = ctx.params[1] ?? "";
  const ex = getExporter(format);
  if (ex === undefined)
    throw new HttpError(404, `no export format ${JSON.stringify(format)} (GET /api/formats)`);
  const redact = ctx.url.searchParams.get("redact") !== "0";
  const collapse = ctx.url.searchParams.get("collapse") === "1";
  const stem = `${run.name.replace(/[^\w.-]+/g, "_")}-${run.id}`;
  const { res } = ctx;
  if (ex.directory === true) {
    // a folder (the dockerfile's build context): written to a private temporary folder, sent as tar
    const dir = await mkdtemp(join(tmpdir(), "provflow-export-"));
    try {
      const out = join(dir, stem);
      await ex.write(storeExportInput(ctx.store, run, { redact, collapse, outputDir: out }), () => undefined);
      res.writeHead(200, {
        "content-type": "application/x-tar",
        "content-disposition": `attachment; filename="${stem}.${ex.format}.tar"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      });
      const sink = writableSink(res);
      await writeTar(out, async (chunk) => {
        if (res.destroyed) throw new HttpError(499, "client went away");
        await sink(chunk);
      });
      res.end();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return;
  }
  const file = `${stem}.${ex.extension}`;
  res.writeHead(200, {
    "content-type": ex.mediaType,
    "content-disposition": `attachment; filename="${file}"`,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  const input = storeExportInput(ctx.store, run, { redact, collapse });
  const sink = writableSink(res);
  await ex.write(input, async (chunk) => {
    if (res.destroyed) throw new HttpError(499, "client went away");
    await sink(chunk);
  });
  res.end();
}

async function health(ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, { ok: true, engine: ctx.store.engine, seq: String(await ctx.store.currentSeq()) });
}

const RUN = "([^/]+)";
export const routes: Route[] = [
  { pattern: /^\/api\/health$/, handle: health },
  { pattern: /^\/api\/formats$/, handle: formats },
  { pattern: /^\/api\/runs$/, handle: listRuns },
  { pattern: /^\/api\/diff$/, handle: diff },
  { pattern: new RegExp(`^/api/runs/${RUN}$`), handle: getRun },
  { pattern: new RegExp(`^/api/runs/${RUN}/summary$`), handle: summary },
  { pattern: new RegExp(`^/api/runs/${RUN}/nodes$`), handle: nodes },
  { pattern: new RegExp(`^/api/runs/${RUN}/nodes/([^/]+)$`), handle: node },
  { pattern: new RegExp(`^/api/runs/${RUN}/edges$`), handle: edges },
  { pattern: new RegExp(`^/api/runs/${RUN}/processes$`), handle: processes },
  { pattern: new RegExp(`^/api/runs/${RUN}/graph$`), handle: graph },
  { pattern: new RegExp(`^/api/runs/${RUN}/search$`), handle: search },
  { pattern: new RegExp(`^/api/runs/${RUN}/lineage/([^/]+)$`), handle: lineage },
  { pattern: new RegExp(`^/api/runs/${RUN}/path$`), handle: path },
  { pattern: new RegExp(`^/api/runs/${RUN}/changes$`), handle: changes },
  { pattern: new RegExp(`^/api/runs/${RUN}/events$`), handle: events },
  { pattern: new RegExp(`^/api/runs/${RUN}/export/([a-z0-9-]+)$`), handle: exportRun },
];
