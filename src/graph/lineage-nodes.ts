/**
 * What a user names when asking for lineage, turned into node ids of a run, through the store's
 * indexed lookups (never by reading the run's nodes):
 *
 * - `12` or `id:12`: node 12;
 * - `pid:4242`: every activity of process 4242 (each exec generation, each CamFlow version);
 * - `file://host/etc/passwd`, `proc://…`, `camflow://…`: the nodes of that global id;
 * - anything else is a path: the file, directory, pipe… with that path; with CamFlow, the inodes its
 *   path node names. A relative path is tried from the current directory, then from the run's.
 *
 * A resource with versions stands for one of them: the newest for ancestors (every earlier version
 * is its ancestor through the version chain), the first for descendants (every later version is its
 * descendant the same way), so the walk starts where it covers them all.
 */
import type {
  GraphStore,
  LineageDirection,
  LineageQuery,
  LineageResult,
  PathQuery,
  PathResult,
  RunRecord,
} from "../store/store-types.js";
import { NotFoundError } from "../util/errors.js";
import type { GraphNode } from "./prov-types.js";

export type NodeRefKind = "id" | "pid" | "gid" | "path";

export interface ResolvedNodes {
  kind: NodeRefKind;
  /** the reference as it was looked up (a relative path made absolute) */
  key: string;
  /** the start nodes, by id */
  nodes: GraphNode[];
}

/**
 * Splits a reference into its kind and the keys to try in turn (no store needed): a relative path
 * from each of `cwds` (the current directory, the run's).
 */
export function parseNodeRef(ref: string, cwds: (string | null)[]): { kind: NodeRefKind; keys: string[] } {
  const text = ref.trim();
  let m = /^(?:id:)?(\d+)$/.exec(text);
  if (m) return { kind: "id", keys: [m[1] as string] };
  m = /^pid:(\d+)$/.exec(text);
  if (m) return { kind: "pid", keys: [m[1] as string] };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return { kind: "gid", keys: [text] };
  if (text.startsWith("/")) return { kind: "path", keys: [absolutePath(text, null)] };
  const keys = cwds.filter((c): c is string => c !== null).map((c) => absolutePath(text, c));
  return { kind: "path", keys: keys.length > 0 ? [...new Set(keys)] : [absolutePath(text, "/")] };
}

/** `a/../b/./c` → `/cwd/b/c`; an absolute path is only normalised. */
function absolutePath(path: string, cwd: string | null): string {
  const full = path.startsWith("/") || cwd === null ? path : `${cwd.replace(/\/+$/, "")}/${path}`;
  const parts: string[] = [];
  for (const p of full.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return `/${parts.join("/")}`;
}

/**
 * Per global id, the version that stands for the resource in this direction (activities and nodes
 * of no version chain are kept as they are).
 */
export function pickVersions(nodes: GraphNode[], direction: LineageDirection): GraphNode[] {
  const best = new Map<string, GraphNode>();
  const out: GraphNode[] = [];
  for (const n of nodes) {
    if (n.kind !== "entity") {
      out.push(n);
      continue;
    }
    const have = best.get(n.gid);
    const better =
      have === undefined ||
      (direction === "ancestors" ? n.version > have.version : n.version < have.version) ||
      (n.version === have.version && n.id > have.id);
    if (better) best.set(n.gid, n);
  }
  return [...out, ...best.values()].sort((a, b) => a.id - b.id);
}

/** The nodes a reference names in a run (none: an empty list), from the first key that names some. */
export async function resolveNodeRef(
  store: GraphStore,
  run: RunRecord,
  ref: string,
  direction: LineageDirection,
  cwd: string | null = process.cwd(),
): Promise<ResolvedNodes> {
  const { kind, keys } = parseNodeRef(ref, [cwd, run.cwd]);
  let last: ResolvedNodes = { kind, key: keys[0] as string, nodes: [] };
  for (const key of keys) {
    last = await resolveKey(store, run, kind, key, direction);
    if (last.nodes.length > 0) break;
  }
  return last;
}

async function resolveKey(
  store: GraphStore,
  run: RunRecord,
  kind: NodeRefKind,
  key: string,
  direction: LineageDirection,
): Promise<ResolvedNodes> {
  const done = (nodes: GraphNode[]): ResolvedNodes => ({ kind, key, nodes });
  if (kind === "id") return done(await store.getNodes(run.id, { ids: [Number(key)] }));
  if (kind === "pid") return done(await store.getNodes(run.id, { pids: [Number(key)] }));
  if (kind === "gid") return done(pickVersions(await store.getNodes(run.id, { gids: [key] }), direction));
  let found = await store.getNodes(run.id, { paths: [key] });
  if (found.length === 0) {
    // a file known only by its global id (a source that keeps no path attribute)
    found = await store.getNodes(run.id, { gids: [`file://${run.host}${key}`] });
  }
  // CamFlow: a path node names inodes (inode wasDerivedFrom path, `named`); the inodes are the file
  const names = found.filter((n) => n.type === "path");
  if (names.length > 0) {
    const pathIds = new Set(names.map((n) => n.id));
    const named = await store.getEdges(run.id, { nodeIds: [...pathIds], types: ["wasDerivedFrom"] });
    const inodeIds = [
      ...new Set(named.filter((e) => pathIds.has(e.to) && !pathIds.has(e.from)).map((e) => e.from)),
    ];
    if (inodeIds.length > 0) {
      const inodes = await store.getNodes(run.id, { ids: inodeIds });
      const gids = [...new Set(inodes.map((n) => n.gid))];
      const versions = await store.getNodes(run.id, { gids });
      found = [...found.filter((n) => n.type !== "path"), ...versions];
    }
  }
  return done(pickVersions(found, direction));
}

/** The nodes a reference names, or a NotFoundError saying how it was looked up. */
export async function requireNodeRef(
  store: GraphStore,
  run: RunRecord,
  ref: string,
  direction: LineageDirection,
  cwd: string | null = process.cwd(),
): Promise<ResolvedNodes> {
  const r = await resolveNodeRef(store, run, ref, direction, cwd);
  if (r.nodes.length === 0) {
    const how =
      r.kind === "id" ? "node id" : r.kind === "pid" ? "process id" : r.kind === "gid" ? "global id" : "path";
    throw new NotFoundError(`no node ${r.key} in run ${run.id} (${run.name}) (looked up as a ${how})`);
  }
  return r;
}

export interface LineageAnswer {
  start: ResolvedNodes;
  result: LineageResult;
}

/**
 * `provflow lineage` (and the server's lineage endpoint): the reference resolved, then its
 * ancestors or descendants from the store. `cwd`: where a relative path is tried first (null: only
 * the run's working directory).
 */
export async function lineageOf(
  store: GraphStore,
  run: RunRecord,
  ref: string,
  q: Omit<LineageQuery, "runId" | "start">,
  cwd: string | null = process.cwd(),
): Promise<LineageAnswer> {
  const start = await requireNodeRef(store, run, ref, q.direction, cwd);
  const result = await store.lineage({ ...q, runId: run.id, start: start.nodes.map((n) => n.id) });
  return { start, result };
}

export interface PathAnswer {
  /** the nodes A and B named (A as upstream: its first version; B as downstream: its newest) */
  from: ResolvedNodes;
  to: ResolvedNodes;
  /** no chain from A to B: these chains go from B to A */
  reversed: boolean;
  result: PathResult;
}

/**
 * `provflow path A B` (and the server's path endpoint): the chains by which A went on to affect B;
 * when there is none, those by which B affected A (`reversed`).
 */
export async function pathsBetween(
  store: GraphStore,
  run: RunRecord,
  refA: string,
  refB: string,
  q: Omit<PathQuery, "runId" | "from" | "to">,
  cwd: string | null = process.cwd(),
): Promise<PathAnswer> {
  const chains = async (up: string, down: string) => {
    const from = await requireNodeRef(store, run, up, "descendants", cwd);
    const to = await requireNodeRef(store, run, down, "ancestors", cwd);
    const result = await store.paths({
      ...q,
      runId: run.id,
      from: from.nodes.map((n) => n.id),
      to: to.nodes.map((n) => n.id),
    });
    return { from, to, result };
  };
  const ab = await chains(refA, refB);
  if (ab.result.paths.length > 0) return { ...ab, reversed: false };
  const ba = await chains(refB, refA);
  if (ba.result.paths.length > 0) return { from: ba.to, to: ba.from, reversed: true, result: ba.result };
  return { ...ab, reversed: false };
}
