import type { RunRecord } from "../store/store-types.js";
import { categorizePath, FILE_CATEGORIES } from "./file-category.js";
import type { FileAccess } from "./graph-builder.js";
import type { GraphEdge, GraphNode } from "./prov-types.js";
import { isoMicros } from "./time-format.js";

export interface SummaryProcess {
  pid: number;
  ppid: number | null;
  generation: number;
  exe: string | null;
  argv: string[];
  cwd: string | null;
  start: string | null;
  end: string | null;
  /** duration in seconds */
  duration: number | null;
  exit: { code: number } | { signal: string; coreDumped?: boolean } | null;
  threads: number[];
  unfinished: boolean;
  /** node id of this generation, and of the parent process's generation that forked it */
  id: number;
  parentId: number | null;
}

export interface SummaryFile {
  path: string;
  type: "file" | "device";
  category: string;
  versions: number;
  read: boolean;
  written: boolean;
  created: boolean;
  deleted: boolean;
  executed: boolean;
  mapped: boolean;
  truncated: boolean;
  probedOnly: boolean;
  renamedTo: string | null;
  renamedFrom: string | null;
  bytesRead: number;
  bytesWritten: number;
}

export interface SummaryDirectory {
  path: string;
  category: string;
  created: boolean;
  deleted: boolean;
  listed: boolean;
}

/** Queries listed per socket in the summary at most. */
const MAX_SOCKET_QUERIES = 100;

export interface SummarySocket {
  family: string;
  protocol: string;
  local: string | null;
  remote: string | null;
  role: string;
  path: string | null;
  /** pids of the processes that used it */
  pids: number[];
  bytesSent: number;
  bytesReceived: number;
  /** database queries sent through it (`protocol: text`, at most 100), when recognised */
  queries?: string[];
}

/** A Windows registry key or value the run touched (ProcMon, Sysmon). */
export interface SummaryRegistry {
  key: string;
  read: boolean;
  written: boolean;
  created: boolean;
  deleted: boolean;
  probedOnly: boolean;
  /** pids of the processes that wrote, created or deleted it */
  writers: number[];
}

export interface SummaryPipe {
  inode: string;
  writers: number[];
  readers: number[];
  bytes: number;
}

export interface RunSummary {
  run: {
    id: number;
    name: string;
    source: string;
    command: string[];
    host: string;
    start: string | null;
    end: string | null;
    duration: number | null;
    exitCode: number | null;
    exitSignal: string | null;
    status: string;
  };
  processes: SummaryProcess[];
  executables: string[];
  sharedLibraries: string[];
  files: SummaryFile[];
  directories: SummaryDirectory[];
  filesByCategory: Record<string, string[]>;
  sockets: SummarySocket[];
  pipes: SummaryPipe[];
  registry: SummaryRegistry[];
  counts: Record<string, number>;
  problems: number;
}

function iso(us: number | null | undefined): string | null {
  return us == null ? null : isoMicros(us);
}

function sortedNums(s: Set<number>): number[] {
  return [...s].sort((a, b) => a - b);
}

/**
 * The summary of a run from its graph: processes (one entry per exec generation), files per path
 * (access summary from the version-0 node, `attrs.access`, merged with what the versions show),
 * sockets, pipes between processes, counts.
 */
export function buildRunSummary(run: RunRecord, nodes: GraphNode[], edges: GraphEdge[]): RunSummary {
  const byId = new Map<number, GraphNode>();
  for (const n of nodes) byId.set(n.id, n);

  // parent generation of each gen-0 process: the fork/clone/vfork informant
  const parentOf = new Map<number, number>();
  for (const e of edges) {
    if (e.type === "wasInformedBy" && (e.op === "fork" || e.op === "vfork" || e.op === "clone")) {
      parentOf.set(e.from, e.to);
    }
  }
  const procNodes = nodes.filter((n) => n.type === "process");
  const gen0ByGid = new Map<string, GraphNode>();
  for (const n of procNodes) if ((n.attrs.generation ?? 0) === 0) gen0ByGid.set(n.gid, n);
  // a generation 0 about which nothing is known (the tracer's fork of the first process, before its
  // exec) says nothing a reader wants: it is left out when a later generation of that process exists
  const execd = new Set<string>();
  for (const n of procNodes) if ((n.attrs.generation ?? 0) > 0) execd.add(n.gid.replace(/#\d+$/, ""));
  const processes: SummaryProcess[] = procNodes
    .filter(
      (n) => !((n.attrs.generation ?? 0) === 0 && !n.attrs.exe && !n.attrs.argv?.length && execd.has(n.gid)),
    )
    .map((n): SummaryProcess => {
      const a = n.attrs;
      const generation = a.generation ?? 0;
      const g0 = generation === 0 ? n : gen0ByGid.get(n.gid.replace(/#\d+$/, ""));
      const exit =
        a.exitSignal !== undefined
          ? { signal: a.exitSignal, ...(a.coreDumped ? { coreDumped: true } : {}) }
          : a.exitCode !== undefined
            ? { code: a.exitCode }
            : null;
      return {
        pid: a.pid ?? 0,
        ppid: a.ppid ?? null,
        generation,
        exe: a.exe ?? null,
        argv: a.argv ?? [],
        cwd: a.cwd ?? null,
        start: iso(n.start),
        end: iso(n.end),
        duration: n.start != null && n.end != null ? (n.end - n.start) / 1e6 : null,
        exit,
        threads: a.tids ?? [],
        unfinished: a.unfinished === true,
        id: n.id,
        parentId: g0 ? (parentOf.get(g0.id) ?? null) : null,
      };
    })
    .sort(
      (a, b) => (a.start ?? "").localeCompare(b.start ?? "") || a.pid - b.pid || a.generation - b.generation,
    );

  // files, directories, devices by path
  interface PathAgg {
    path: string;
    type: string;
    category: string;
    versions: number;
    access: FileAccess;
    deleted: boolean;
  }
  const paths = new Map<string, PathAgg>();
  for (const n of nodes) {
    if (n.type !== "file" && n.type !== "directory" && n.type !== "device") continue;
    const p = n.attrs.path ?? n.label;
    let agg = paths.get(p);
    if (!agg) {
      agg = {
        path: p,
        type: n.type,
        category: n.attrs.category ?? categorizePath(p, run.cwd),
        versions: 0,
        access: {},
        deleted: false,
      };
      paths.set(p, agg);
    }
    agg.versions++;
    if (n.type === "directory") agg.type = "directory";
    if (n.attrs.deleted) agg.deleted = true;
    const acc = n.attrs.access as FileAccess | undefined;
    if (acc) Object.assign(agg.access, acc);
  }
  const files: SummaryFile[] = [];
  const directories: SummaryDirectory[] = [];
  const filesByCategory: Record<string, string[]> = {};
  for (const agg of [...paths.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const a = agg.access;
    if (agg.type === "directory") {
      directories.push({
        path: agg.path,
        category: agg.category,
        created: a.created === true,
        deleted: a.deleted === true || agg.deleted,
        listed: a.read === true,
      });
      continue;
    }
    const touched =
      a.read ||
      a.written ||
      a.created ||
      a.deleted ||
      a.executed ||
      a.mapped ||
      a.truncated ||
      a.renamedTo ||
      a.renamedFrom;
    files.push({
      path: agg.path,
      type: agg.type === "device" ? "device" : "file",
      category: agg.category,
      versions: agg.versions,
      read: a.read === true,
      written: a.written === true,
      created: a.created === true,
      deleted: a.deleted === true,
      executed: a.executed === true,
      mapped: a.mapped === true,
      truncated: a.truncated === true,
      probedOnly: !touched && a.probed === true,
      renamedTo: a.renamedTo ?? null,
      renamedFrom: a.renamedFrom ?? null,
      bytesRead: a.bytesRead ?? 0,
      bytesWritten: a.bytesWritten ?? 0,
    });
    if (touched) {
      let list = filesByCategory[agg.category];
      if (!list) {
        list = [];
        filesByCategory[agg.category] = list;
      }
      list.push(agg.path);
    }
  }

  const executables = new Set<string>();
  for (const f of files) if (f.executed) executables.add(f.path);
  for (const p of processes) if (p.exe && p.generation > 0) executables.add(p.exe);
  const sharedLibraries = files
    .filter(
      (f) =>
        (f.category === "shared-library" || (f.mapped && /\.(?:dll|drv|ocx|sys|cpl)$/i.test(f.path))) &&
        (f.mapped || f.read),
    )
    .map((f) => f.path);

  // sockets and pipes: who used them
  const pidOfNode = (id: number): number | undefined => {
    const n = byId.get(id);
    return n?.type === "process" ? n.attrs.pid : undefined;
  };
  interface Flow {
    writers: Set<number>;
    readers: Set<number>;
    out: number;
    in: number;
    queries: string[];
  }
  const flows = new Map<number, Flow>();
  const flowOf = (id: number): Flow => {
    let f = flows.get(id);
    if (!f) {
      f = { writers: new Set(), readers: new Set(), out: 0, in: 0, queries: [] };
      flows.set(id, f);
    }
    return f;
  };
  for (const e of edges) {
    if (e.type === "wasGeneratedBy") {
      const n = byId.get(e.from);
      if (n && (n.type === "pipe" || n.type === "socket")) {
        const pid = pidOfNode(e.to);
        const f = flowOf(n.id);
        if (pid !== undefined && (e.op === "write" || e.op === "send")) f.writers.add(pid);
        f.out += e.bytes;
        if (Array.isArray(e.attrs.queries))
          for (const q of e.attrs.queries as string[])
            if (f.queries.length < MAX_SOCKET_QUERIES) f.queries.push(q);
      }
    } else if (e.type === "used") {
      const n = byId.get(e.to);
      if (n && (n.type === "pipe" || n.type === "socket")) {
        const pid = pidOfNode(e.from);
        const f = flowOf(n.id);
        if (pid !== undefined) f.readers.add(pid);
        f.in += e.bytes;
      }
    }
  }
  const regWriters = new Map<number, Set<number>>();
  for (const e of edges) {
    if (e.type !== "wasGeneratedBy" && e.type !== "wasInvalidatedBy") continue;
    const n = byId.get(e.from);
    const pid = pidOfNode(e.to);
    if (n?.type !== "registry" || pid === undefined) continue;
    let set = regWriters.get(n.id);
    if (!set) {
      set = new Set();
      regWriters.set(n.id, set);
    }
    set.add(pid);
  }
  const registry: SummaryRegistry[] = [];
  for (const n of nodes) {
    if (n.type !== "registry") continue;
    const a = (n.attrs.access ?? {}) as FileAccess;
    const touched = a.read || a.written || a.created || a.deleted;
    registry.push({
      key: typeof n.attrs.path === "string" ? n.attrs.path : n.label,
      read: a.read === true,
      written: a.written === true,
      created: a.created === true,
      deleted: a.deleted === true,
      probedOnly: !touched && a.probed === true,
      writers: sortedNums(regWriters.get(n.id) ?? new Set()),
    });
  }
  registry.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const sockets: SummarySocket[] = [];
  const pipes: SummaryPipe[] = [];
  for (const n of nodes) {
    const f = flows.get(n.id);
    if (n.type === "socket") {
      const a = n.attrs;
      const pids = new Set<number>([...(f?.writers ?? []), ...(f?.readers ?? [])]);
      sockets.push({
        family: a.family ?? "other",
        protocol: a.protocol ?? "",
        local: a.local ?? null,
        remote: a.remote ?? null,
        role: a.role ?? "unconnected",
        path: typeof a.path === "string" ? a.path : null,
        pids: sortedNums(pids),
        bytesSent: f?.out ?? 0,
        bytesReceived: f?.in ?? 0,
        ...(f && f.queries.length > 0 ? { queries: f.queries } : {}),
      });
    } else if (n.type === "pipe") {
      pipes.push({
        inode: n.attrs.inode ?? n.label,
        writers: sortedNums(f?.writers ?? new Set()),
        readers: sortedNums(f?.readers ?? new Set()),
        bytes: Math.max(f?.out ?? 0, f?.in ?? 0),
      });
    }
  }

  const counts: Record<string, number> = {
    processes: new Set(procNodes.map((n) => n.gid.replace(/#\d+$/, ""))).size,
    generations: processes.length,
    threads: processes.reduce((s, p) => s + p.threads.length, 0),
    files: files.length,
    filesTouched: files.filter((f) => !f.probedOnly).length,
    filesProbedOnly: files.filter((f) => f.probedOnly).length,
    directories: directories.length,
    executables: executables.size,
    sharedLibraries: sharedLibraries.length,
    sockets: sockets.length,
    pipes: pipes.length,
    ...(registry.length > 0
      ? {
          registryKeys: registry.length,
          registryKeysWritten: registry.filter((r) => r.written || r.created || r.deleted).length,
        }
      : {}),
    nodes: nodes.length,
    edges: edges.length,
  };
  const ordered: Record<string, string[]> = {};
  for (const c of FILE_CATEGORIES) {
    const list = filesByCategory[c];
    if (list) ordered[c] = list;
  }

  return {
    run: {
      id: run.id,
      name: run.name,
      source: run.source,
      command: run.command,
      host: run.host,
      start: iso(run.start),
      end: iso(run.end),
      duration: run.start != null && run.end != null ? (run.end - run.start) / 1e6 : null,
      exitCode: run.exitCode,
      exitSignal: run.exitSignal,
      status: run.status,
    },
    processes,
    executables: [...executables].sort(),
    sharedLibraries,
    files,
    directories,
    filesByCategory: ordered,
    sockets,
    pipes,
    registry,
    counts,
    problems: run.stats.problems ?? 0,
  };
}
