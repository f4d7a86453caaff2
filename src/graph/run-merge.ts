import { type NetworkMount, sharedPath } from "../util/mount-table.js";
import type { GraphEdge, GraphNode } from "./prov-types.js";
import { isoMicros } from "./time-format.js";

/**
 * Merging runs (`provflow merge`): the union of several runs' graphs, with the resources that have
 * the same global identity linked by an explicit `alternateOf` relation carrying its evidence.
 * Nothing is fused: every node keeps its own id (renumbered), its gid, and the run and machine it
 * came from. Pure: the caller streams the runs' nodes and edges in, then asks for the links.
 *
 * Rules (the `rule` attribute of each link):
 * - `tcp-4-tuple`: a connected socket whose local/remote endpoints are another run's remote/local
 *   (a client's connect and a server's accept), and whose lifetimes overlap (± `skewUs`). Loopback
 *   and unspecified addresses only meet on the same machine.
 * - `shared-storage`: a file under an NFS or CIFS mount resolved to the server and export path
 *   (`nfs://SERVER/EXPORT/REL`, `cifs://SERVER/SHARE/REL`).
 * - `camflow-packet`: the same CamFlow packet (its gid `packet://SENDER->RECEIVER/ID/SEQ`, which has
 *   no machine in it) seen by the sender and the receiver.
 * - `same-server`: client sockets of several runs reaching the same server address:port, and the
 *   server's listening socket when a run recorded it.
 * - `same-gid`: any other node with the same gid in two runs (the same file read by two runs on one
 *   machine, the same machine agent).
 * For shared paths and gids, a run's first node of the resource (its lowest id: usually the version
 * it found) is linked to the first run's first node, once per run; the versions are in the evidence.
 * A pair of nodes is linked once, by the first rule that matched (a later rule adds to `alsoRules`).
 */

/** One source run as the merge sees it. */
export interface MergeSource {
  /** position in the merge (0-based) */
  index: number;
  runId: number;
  name: string;
  host: string;
  machineId: string | null;
  /** its network mounts (from the mount table given for it, or recorded at trace time) */
  mounts: readonly NetworkMount[];
}

export type LinkRule = "tcp-4-tuple" | "shared-storage" | "camflow-packet" | "same-server" | "same-gid";

/** A link between two nodes of the merged run (new ids), with its evidence. */
export interface RunLink {
  /** the later node (alternate1) and the one it is an alternate of (alternate2) */
  from: number;
  to: number;
  rule: LinkRule;
  evidence: Record<string, unknown>;
}

/** The merged copy of a node: renumbered, its origin in its attributes. */
export function mergedNode(node: GraphNode, source: MergeSource, nodeOffset: number): GraphNode {
  const attrs: Record<string, unknown> = {
    ...node.attrs,
    originRun: source.runId,
    originRunName: source.name,
    originId: node.id,
    originHost: source.host,
  };
  if (source.machineId !== null) attrs.originMachineId = source.machineId;
  return { ...node, id: node.id + nodeOffset, attrs };
}

/** The merged copy of an edge: renumbered ends and id, its origin run in its attributes. */
export function mergedEdge(
  edge: GraphEdge,
  source: MergeSource,
  nodeOffset: number,
  edgeOffset: number,
): GraphEdge {
  return {
    ...edge,
    id: edge.id + edgeOffset,
    from: edge.from + nodeOffset,
    to: edge.to + nodeOffset,
    attrs: { ...edge.attrs, originRun: source.runId, originId: edge.id },
  };
}

/** A link relation as a graph edge (`alternateOf`, its evidence flattened into the attributes). */
export function linkEdge(link: RunLink, id: number): GraphEdge {
  return {
    id,
    type: "alternateOf",
    op: "same-as",
    from: link.from,
    to: link.to,
    ts: null,
    tsEnd: null,
    count: 1,
    bytes: 0,
    attrs: { link: link.rule, ...link.evidence },
  };
}

const LOOPBACK = /^(127\.|::1$|0\.0\.0\.0$|::$|::ffff:127\.)/;

/** `ip:port` / `[v6]:port` split; null when it is not an address with a port (a unix path). */
export function splitEndpoint(endpoint: string): { ip: string; port: string } | null {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(endpoint) ?? /^([^:[\]]+):(\d+)$/.exec(endpoint);
  if (!m) return null;
  let ip = m[1]!.toLowerCase();
  if (ip.startsWith("::ffff:") && ip.includes(".")) ip = ip.slice(7); // v4-mapped
  return { ip, port: m[2]! };
}

/** The machine-independent name of an endpoint: loopback ones are qualified by the machine. */
function endpointKey(endpoint: string, machine: string): string | null {
  const e = splitEndpoint(endpoint);
  if (e === null) return null;
  return LOOPBACK.test(e.ip) ? `${machine}|${e.ip}:${e.port}` : `${e.ip}:${e.port}`;
}

interface SocketCandidate {
  node: number;
  run: number;
  proto: string;
  local: string;
  remote: string;
  /** its lifetime: the node's times and every relation touching it */
  first: number | null;
  last: number | null;
  connected: boolean;
  accepted: boolean;
}

interface ListeningCandidate {
  node: number;
  run: number;
  local: string;
}

interface Representative {
  node: number;
  run: number;
  version: number;
  /** what the evidence needs of the first node (path, mount) */
  detail: Record<string, unknown>;
  /** the last run linked to it (runs stream one after the other: one link per run) */
  linkedRun: number;
}

export interface MergeLinkStats {
  links: number;
  byRule: Record<LinkRule, number>;
  /** 4-tuples that matched without overlapping lifetimes (not linked) */
  tcpNoOverlap: number;
  /** 4-tuples that matched with a socket without any time (not linked) */
  tcpNoTime: number;
}

export interface RunLinkerOptions {
  /** clock skew tolerated between machines when comparing socket lifetimes (µs, default 1 s) */
  skewUs?: number;
}

/**
 * Collects the link candidates while the runs stream through (`addNode` for each node of each run,
 * then `addEdge` for each edge), then gives the links. It keeps only the candidates: connected and
 * listening sockets, and one representative per gid / shared path — not the graph.
 */
export class RunLinker {
  private readonly skewUs: number;
  private readonly machineOf = new Map<number, string>();
  private readonly sources: MergeSource[] = [];
  private readonly sockets = new Map<number, SocketCandidate>();
  private readonly listening: ListeningCandidate[] = [];
  /** gid → first node with it */
  private readonly byGid = new Map<string, Representative>();
  /** shared path identity → first node */
  private readonly byShared = new Map<string, Representative>();
  private readonly links = new Map<string, RunLink>();
  readonly stats: MergeLinkStats = {
    links: 0,
    byRule: { "tcp-4-tuple": 0, "shared-storage": 0, "camflow-packet": 0, "same-server": 0, "same-gid": 0 },
    tcpNoOverlap: 0,
    tcpNoTime: 0,
  };

  constructor(opts: RunLinkerOptions = {}) {
    this.skewUs = opts.skewUs ?? 1_000_000;
  }

  addSource(source: MergeSource): void {
    this.sources[source.index] = source;
    this.machineOf.set(source.index, source.machineId ?? source.host);
  }

  private source(index: number): MergeSource {
    const s = this.sources[index];
    if (s === undefined) throw new Error(`merge: source ${index} was not added`);
    return s;
  }

  /** A node of source `run` (already renumbered: `node.id` is its merged id). */
  addNode(run: number, node: GraphNode): void {
    const a = node.attrs;
    if (node.type === "socket") {
      const local = typeof a.local === "string" ? a.local : undefined;
      const remote = typeof a.remote === "string" ? a.remote : undefined;
      const proto = String(a.protocol ?? node.gid.slice(0, node.gid.indexOf(":"))).toLowerCase();
      if (local !== undefined && remote !== undefined && splitEndpoint(local) && splitEndpoint(remote)) {
        this.sockets.set(node.id, {
          node: node.id,
          run,
          proto,
          local,
          remote,
          first: node.start,
          last: node.end ?? node.start,
          connected: false,
          accepted: false,
        });
      } else if (
        local !== undefined &&
        remote === undefined &&
        a.role === "listening" &&
        splitEndpoint(local)
      ) {
        this.listening.push({ node: node.id, run, local });
      } else if (remote !== undefined && splitEndpoint(remote)) {
        // a client socket whose local end the tracer did not show: it may still reach a shared server
        this.sockets.set(node.id, {
          node: node.id,
          run,
          proto,
          local: "",
          remote,
          first: node.start,
          last: node.end ?? node.start,
          connected: false,
          accepted: false,
        });
      }
    }
    const src = this.source(run);
    if ((node.type === "file" || node.type === "directory") && src.mounts.length > 0) {
      const path = typeof a.path === "string" ? a.path : node.label;
      const shared = path.startsWith("/") ? sharedPath(path, src.mounts) : null;
      if (shared !== null) {
        const m = shared.mount;
        const mount = { mountPoint: m.mountPoint, source: m.source, fstype: m.fstype };
        const rep = this.byShared.get(shared.id);
        if (rep === undefined)
          this.byShared.set(shared.id, {
            node: node.id,
            run,
            version: node.version,
            detail: { path, mount },
            linkedRun: run,
          });
        else if (rep.linkedRun !== run) {
          rep.linkedRun = run;
          this.link(node.id, rep.node, "shared-storage", {
            shared: shared.id,
            path,
            version: node.version,
            mount,
            otherPath: rep.detail.path,
            otherVersion: rep.version,
            otherMount: rep.detail.mount,
            runs: [src.runId, this.source(rep.run).runId],
          });
        }
      }
    }
    const rep = this.byGid.get(node.gid);
    if (rep === undefined) {
      this.byGid.set(node.gid, { node: node.id, run, version: node.version, detail: {}, linkedRun: run });
      return;
    }
    if (rep.linkedRun === run) return;
    rep.linkedRun = run;
    const runs = [src.runId, this.source(rep.run).runId];
    if (node.type === "packet" && node.gid.startsWith("packet://")) {
      const m = /^packet:\/\/(.*)->(.*)\/([^/]+)\/([^/]+)$/.exec(node.gid);
      this.link(node.id, rep.node, "camflow-packet", {
        gid: node.gid,
        sender: m?.[1] ?? null,
        receiver: m?.[2] ?? null,
        packetId: m?.[3] ?? null,
        seq: m?.[4] ?? null,
        runs,
      });
    } else
      this.link(node.id, rep.node, "same-gid", {
        gid: node.gid,
        version: node.version,
        otherVersion: rep.version,
        runs,
      });
  }

  /** An edge of the merged graph (renumbered ends): widens the lifetimes of the socket candidates. */
  addEdge(edge: GraphEdge): void {
    const s = this.sockets.get(edge.from) ?? this.sockets.get(edge.to);
    if (s === undefined) return;
    if (edge.op === "connect") s.connected = true;
    if (edge.op === "accept") s.accepted = true;
    const t0 = edge.ts;
    const t1 = edge.tsEnd ?? edge.ts;
    if (t0 !== null && (s.first === null || t0 < s.first)) s.first = t0;
    if (t1 !== null && (s.last === null || t1 > s.last)) s.last = t1;
  }

  private link(from: number, to: number, rule: LinkRule, evidence: Record<string, unknown>): void {
    const key = from < to ? `${from}-${to}` : `${to}-${from}`;
    const seen = this.links.get(key);
    if (seen !== undefined) {
      if (seen.rule !== rule) {
        const also = (seen.evidence.alsoRules as string[] | undefined) ?? [];
        if (!also.includes(rule)) seen.evidence.alsoRules = [...also, rule];
      }
      return;
    }
    this.links.set(key, { from, to, rule, evidence });
    this.stats.links++;
    this.stats.byRule[rule]++;
  }

  /** The links, once every node and edge was added. */
  finish(): RunLink[] {
    this.linkSockets();
    this.linkServers();
    return [...this.links.values()];
  }

  private tupleKey(proto: string, a: string, b: string, run: number): string | null {
    const m = this.machineOf.get(run) ?? "";
    const ka = endpointKey(a, m);
    const kb = endpointKey(b, m);
    return ka === null || kb === null ? null : `${proto}|${ka}|${kb}`;
  }

  private linkSockets(): void {
    const byTuple = new Map<string, SocketCandidate[]>();
    for (const s of this.sockets.values()) {
      if (s.local === "") continue;
      const k = this.tupleKey(s.proto, s.local, s.remote, s.run);
      if (k === null) continue;
      const list = byTuple.get(k);
      if (list) list.push(s);
      else byTuple.set(k, [s]);
    }
    for (const s of this.sockets.values()) {
      if (s.local === "") continue;
      const k = this.tupleKey(s.proto, s.remote, s.local, s.run);
      if (k === null) continue;
      const peers = (byTuple.get(k) ?? []).filter((p) => p.run !== s.run);
      // each pair once: from the connecting side (or the lower node id when unknown)
      let best: { peer: SocketCandidate; from: number; to: number } | null = null;
      for (const p of peers) {
        const [client] = this.sides(s, p);
        if (client !== s) continue;
        if (s.first === null || p.first === null) {
          this.stats.tcpNoTime++;
          continue;
        }
        const from = Math.max(s.first, p.first);
        const to = Math.min(s.last ?? s.first, p.last ?? p.first);
        if (from > to + this.skewUs) {
          this.stats.tcpNoOverlap++;
          continue;
        }
        if (best === null || to - from > best.to - best.from) best = { peer: p, from, to };
      }
      if (best === null) continue;
      const p = best.peer;
      this.link(s.node, p.node, "tcp-4-tuple", {
        protocol: s.proto,
        clientLocal: s.local,
        clientRemote: s.remote,
        serverLocal: p.local,
        serverRemote: p.remote,
        clientRun: this.source(s.run).runId,
        serverRun: this.source(p.run).runId,
        clientSide: s.connected ? "connect" : "unknown",
        serverSide: p.accepted ? "accept" : "unknown",
        overlapStart: isoMicros(best.from),
        overlapEnd: isoMicros(Math.max(best.from, best.to)),
        overlapUs: Math.max(0, best.to - best.from),
        skewToleranceUs: this.skewUs,
      });
    }
  }

  /** Which of two matching sockets is the client: the one that connected (else the lower node id). */
  private sides(a: SocketCandidate, b: SocketCandidate): [SocketCandidate, SocketCandidate] {
    if (a.connected && !b.connected) return [a, b];
    if (b.connected && !a.connected) return [b, a];
    if (a.accepted && !b.accepted) return [b, a];
    if (b.accepted && !a.accepted) return [a, b];
    return a.node < b.node ? [a, b] : [b, a];
  }

  private linkServers(): void {
    // client sockets (they connected, or their local end is the ephemeral one) by server endpoint
    const byServer = new Map<string, SocketCandidate[]>();
    for (const s of this.sockets.values()) {
      if (s.accepted || (!s.connected && s.local !== "")) continue;
      const k = endpointKey(s.remote, this.machineOf.get(s.run) ?? "");
      if (k === null) continue;
      const list = byServer.get(`${s.proto}|${k}`);
      if (list) list.push(s);
      else byServer.set(`${s.proto}|${k}`, [s]);
    }
    const listeningBy = new Map<string, ListeningCandidate[]>();
    for (const l of this.listening) {
      const k = endpointKey(l.local, this.machineOf.get(l.run) ?? "");
      if (k === null) continue;
      for (const proto of ["tcp", "udp"]) {
        const key = `${proto}|${k}`;
        const list = listeningBy.get(key);
        if (list) list.push(l);
        else listeningBy.set(key, [l]);
      }
    }
    for (const [key, clients] of byServer) {
      const servers = listeningBy.get(key) ?? [];
      const runs = new Set([...clients.map((c) => c.run), ...servers.map((l) => l.run)]);
      if (runs.size < 2) continue;
      clients.sort((a, b) => a.run - b.run || a.node - b.node);
      const rep = clients[0]!;
      const server = key.slice(key.indexOf("|") + 1);
      const evidence = (run: number, role: string) => ({
        server: server.includes("|") ? server.slice(server.indexOf("|") + 1) : server,
        serverMachine: server.includes("|") ? server.slice(0, server.indexOf("|")) : null,
        role,
        runs: [this.source(run).runId, this.source(rep.run).runId],
      });
      for (const c of clients)
        if (c.run !== rep.run) this.link(c.node, rep.node, "same-server", evidence(c.run, "client"));
      for (const l of servers) this.link(l.node, rep.node, "same-server", evidence(l.run, "listening"));
    }
  }
}
