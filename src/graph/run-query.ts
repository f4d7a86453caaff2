import type { GraphEdge, GraphNode, NodeKind, NodeType, RelationOp, RelationType } from "./prov-types.js";

/**
 * Questions asked of one stored run, for every source (strace, ltrace, audit, PROV-JSON, CamFlow,
 * SPADE): the inventory of its node and relation types and labels, who sent and received its
 * packets and socket traffic, the processes of a container (security context, cgroup namespace, any
 * attribute), and everything about one node. The run is read through `RunGraphReader` (batches,
 * and nodes or edges picked by id), so a big run is scanned, never loaded whole; only what a
 * question keeps (counts, the sockets and packets and their ends, the matches) stays in memory.
 */

/** What the queries read of a run. */
export interface RunGraphReader {
  /** every node of the run, in batches in id order; `types` narrows */
  nodes(types?: NodeType[]): AsyncIterable<GraphNode[]>;
  /** every edge of the run, in batches in id order */
  edges(): AsyncIterable<GraphEdge[]>;
  nodesById(ids: readonly number[]): Promise<GraphNode[]>;
  /** edges with either end among `ids` */
  edgesTouching(ids: readonly number[]): Promise<GraphEdge[]>;
}

/** A reader over arrays in memory (tests, small graphs). */
export function memoryGraphReader(
  nodes: readonly GraphNode[],
  edges: readonly GraphEdge[],
  batchSize = 1000,
): RunGraphReader {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const sortedNodes = [...nodes].sort((a, b) => a.id - b.id);
  const sortedEdges = [...edges].sort((a, b) => a.id - b.id);
  return {
    async *nodes(types) {
      const kept = types ? sortedNodes.filter((n) => types.includes(n.type)) : sortedNodes;
      for (let i = 0; i < kept.length; i += batchSize) yield kept.slice(i, i + batchSize);
    },
    async *edges() {
      for (let i = 0; i < sortedEdges.length; i += batchSize) yield sortedEdges.slice(i, i + batchSize);
    },
    async nodesById(ids) {
      return [...new Set(ids)].flatMap((id) => byId.get(id) ?? []).sort((a, b) => a.id - b.id);
    },
    async edgesTouching(ids) {
      const set = new Set(ids);
      return sortedEdges.filter((e) => set.has(e.from) || set.has(e.to));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// values

/** Every text of an attribute value: a list gives each of its values, a typed literal its `$`. */
export function attrTexts(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return [v];
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return [String(v)];
  if (Array.isArray(v)) return v.flatMap(attrTexts);
  if (typeof v === "object" && "$" in v) return attrTexts((v as { $: unknown }).$);
  return [JSON.stringify(v)];
}

/** The first attribute present among `names` (CamFlow writes `cf:NAME`, its SPADE flavour `NAME`). */
function attrOf(n: GraphNode, names: readonly string[]): unknown {
  for (const name of names) {
    const v = n.attrs[name];
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

function firstText(n: GraphNode, names: readonly string[]): string | null {
  return attrTexts(attrOf(n, names))[0] ?? null;
}

const SECCTX = ["cf:secctx", "secctx"];
const CGROUPNS = ["cf:cgroupns", "cgroupns"];

const GLOB_CHARS = /[*?[]/;

/** A shell-style pattern (`*`, `?`, `[…]`) matching the whole text. */
export function globRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close < 0) re += "\\[";
      else {
        let body = pattern.slice(i + 1, close).replace(/\\/g, "\\\\");
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        re += `[${body}]`;
        i = close;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/**
 * A text test: with glob characters the pattern must match the whole text, without them it is a
 * substring (`substring`) or the exact text.
 */
export function textMatcher(pattern: string, substring: boolean): (text: string) => boolean {
  if (GLOB_CHARS.test(pattern)) {
    const re = globRegExp(pattern);
    return (t) => re.test(t);
  }
  return substring ? (t) => t.includes(pattern) : (t) => t === pattern;
}

function sortCounts<T extends { count: number }>(rows: T[], key: (r: T) => string): T[] {
  return rows.sort((a, b) => b.count - a.count || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// types: the inventory of types and labels

export interface NodeTypeCount {
  kind: NodeKind;
  type: NodeType;
  /** the source's own type (CamFlow's `task`, SPADE's `Process`…), "" when the source has none */
  sourceType: string;
  count: number;
}

export interface RelationTypeCount {
  type: RelationType;
  op: RelationOp;
  sourceType: string;
  count: number;
  /** calls the relations stand for (strace folds repeated calls into one relation) */
  calls: number;
}

export interface ValueCount {
  value: string;
  count: number;
}

export interface ProvTypeCount<K> {
  /** the node kind, or the relation type */
  of: K;
  value: string;
  count: number;
}

export interface LabelInventory {
  distinct: number;
  /** the most frequent first, at most the limit asked */
  values: ValueCount[];
}

export interface TypeInventory {
  nodes: {
    total: number;
    byType: NodeTypeCount[];
    /** values of the `prov:type` attribute (a node with a list counts each value) */
    provTypes: ProvTypeCount<NodeKind>[];
    withoutProvType: number;
    labels: LabelInventory;
  };
  relations: {
    total: number;
    calls: number;
    byType: RelationTypeCount[];
    provTypes: ProvTypeCount<RelationType>[];
    withoutProvType: number;
    labels: LabelInventory;
  };
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function topLabels(map: Map<string, number>, limit: number): LabelInventory {
  const values = sortCounts(
    [...map].map(([value, count]) => ({ value, count })),
    (r) => r.value,
  );
  return { distinct: map.size, values: values.slice(0, Math.max(0, limit)) };
}

const SEP = "\u0000";

/**
 * Counts per node kind/type and relation type/op (with the source's own type), the `prov:type`
 * values of nodes and relations, and the labels: a node's `prov:label` (provflow's label where it
 * has none), a relation's `prov:label`.
 */
export async function typeInventory(reader: RunGraphReader, labelLimit = 20): Promise<TypeInventory> {
  const nodeTypes = new Map<string, number>();
  const nodeProv = new Map<string, number>();
  const nodeLabels = new Map<string, number>();
  let nodes = 0;
  let nodesWithout = 0;
  for await (const batch of reader.nodes()) {
    for (const n of batch) {
      nodes++;
      bump(nodeTypes, [n.kind, n.type, attrTexts(n.attrs.sourceType)[0] ?? ""].join(SEP));
      const provTypes = attrTexts(n.attrs["prov:type"]);
      if (provTypes.length === 0) nodesWithout++;
      for (const t of new Set(provTypes)) bump(nodeProv, n.kind + SEP + t);
      const labels = attrTexts(n.attrs["prov:label"]);
      for (const l of labels.length > 0 ? new Set(labels) : [n.label]) bump(nodeLabels, l);
    }
  }
  const relTypes = new Map<string, { count: number; calls: number }>();
  const relProv = new Map<string, number>();
  const relLabels = new Map<string, number>();
  let relations = 0;
  let calls = 0;
  let relationsWithout = 0;
  for await (const batch of reader.edges()) {
    for (const e of batch) {
      relations++;
      calls += e.count;
      const key = [e.type, e.op, attrTexts(e.attrs.sourceType)[0] ?? ""].join(SEP);
      const row = relTypes.get(key);
      if (row) {
        row.count++;
        row.calls += e.count;
      } else relTypes.set(key, { count: 1, calls: e.count });
      const provTypes = attrTexts(e.attrs["prov:type"]);
      if (provTypes.length === 0) relationsWithout++;
      for (const t of new Set(provTypes)) bump(relProv, e.type + SEP + t);
      for (const l of new Set(attrTexts(e.attrs["prov:label"]))) bump(relLabels, l);
    }
  }
  const split = (k: string) => k.split(SEP) as [string, string, string];
  return {
    nodes: {
      total: nodes,
      byType: sortCounts(
        [...nodeTypes].map(([k, count]) => {
          const [kind, type, sourceType] = split(k);
          return { kind: kind as NodeKind, type: type as NodeType, sourceType, count };
        }),
        (r) => `${r.kind} ${r.type} ${r.sourceType}`,
      ),
      provTypes: sortCounts(
        [...nodeProv].map(([k, count]) => {
          const [of, value] = split(k);
          return { of: of as NodeKind, value, count };
        }),
        (r) => `${r.of} ${r.value}`,
      ),
      withoutProvType: nodesWithout,
      labels: topLabels(nodeLabels, labelLimit),
    },
    relations: {
      total: relations,
      calls,
      byType: sortCounts(
        [...relTypes].map(([k, { count, calls }]) => {
          const [type, op, sourceType] = split(k);
          return { type: type as RelationType, op: op as RelationOp, sourceType, count, calls };
        }),
        (r) => `${r.type} ${r.op} ${r.sourceType}`,
      ),
      provTypes: sortCounts(
        [...relProv].map(([k, count]) => {
          const [of, value] = split(k);
          return { of: of as RelationType, value, count };
        }),
        (r) => `${r.of} ${r.value}`,
      ),
      withoutProvType: relationsWithout,
      labels: topLabels(relLabels, labelLimit),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// processes: identity and description

/** A process (all the nodes of one global id: a CamFlow task's versions, one exec generation). */
export interface ProcessRef {
  gid: string;
  /** its first node */
  id: number;
  pid: number | null;
  /** the executable, else the source's name for it, else its label */
  name: string;
}

function numberOf(v: unknown): number | null {
  const t = attrTexts(v)[0];
  if (t === undefined || !/^-?\d+$/.test(t)) return null;
  return Number(t);
}

const NAME_ATTRS = ["exe", "cf:name", "name", "exe_name", "command line", "commandline"];

function processName(n: GraphNode): string {
  return firstText(n, NAME_ATTRS) ?? n.label ?? n.gid;
}

export function processRef(n: GraphNode): ProcessRef {
  return { gid: n.gid, id: n.id, pid: numberOf(n.attrs.pid), name: processName(n) };
}

/** Relations naming a process's program (CamFlow 0.3's `named_process`: task → path). */
const NAMING_RELATIONS = new Set(["named_process"]);

/**
 * Names processes whose nodes carry no executable (CamFlow's tasks) after the program path a
 * naming relation gives one of their nodes (the latest such relation, any version of the process).
 */
async function nameByPath(
  reader: RunGraphReader,
  refs: Iterable<{ gid: string; name: string }>,
): Promise<void> {
  const wanted = new Set<string>();
  const ids: number[] = [];
  const gidOf = new Map<number, string>();
  for await (const batch of reader.nodes(["process", "other"]))
    for (const n of batch) {
      if (n.kind !== "activity") continue;
      if (attrOf(n, NAME_ATTRS) !== undefined) continue;
      ids.push(n.id);
      gidOf.set(n.id, n.gid);
      wanted.add(n.gid);
    }
  const targets = [...refs].filter((r) => wanted.has(r.gid));
  if (targets.length === 0) return;
  const needed = new Set(targets.map((r) => r.gid));
  const named = new Map<string, { edge: number; path: number }>();
  const relevant = ids.filter((id) => needed.has(gidOf.get(id)!));
  for (let i = 0; i < relevant.length; i += ID_CHUNK) {
    for (const e of await reader.edgesTouching(relevant.slice(i, i + ID_CHUNK))) {
      if (!NAMING_RELATIONS.has(attrTexts(e.attrs.sourceType)[0] ?? "")) continue;
      const [proc, other] = gidOf.has(e.from) ? [e.from, e.to] : [e.to, e.from];
      const gid = gidOf.get(proc);
      if (gid === undefined || !needed.has(gid)) continue;
      const cur = named.get(gid);
      if (!cur || e.id > cur.edge) named.set(gid, { edge: e.id, path: other });
    }
  }
  if (named.size === 0) return;
  const pathIds = [...new Set([...named.values()].map((v) => v.path))];
  const paths = new Map((await chunked(pathIds, (chunk) => reader.nodesById(chunk))).map((n) => [n.id, n]));
  for (const r of targets) {
    const v = named.get(r.gid);
    const pn = v ? paths.get(v.path) : undefined;
    if (pn)
      r.name = firstText(pn, ["path", "cf:pathname", "pathname"]) ?? pn.label.replace(/^\[[a-z_]+\]\s*/, "");
  }
}

// ---------------------------------------------------------------------------------------------
// packets: who sent and who received

/** A packet, or a socket carrying no packets, with the processes on each side. */
export interface Channel {
  via: "packet" | "socket";
  gid: string;
  /** its nodes (a socket's versions) */
  ids: number[];
  label: string;
  /** packet: sender → receiver address; socket: local → remote */
  from: string | null;
  to: string | null;
  senders: ProcessRef[];
  receivers: ProcessRef[];
}

/** Channels aggregated by (sender, receiver, addresses). */
export interface Flow {
  via: "packet" | "socket";
  /** null: not a process of this run (the other machine, or a process not recorded) */
  sender: ProcessRef | null;
  receiver: ProcessRef | null;
  /** the sender's and the receiver's address, where the attributes have them */
  from: string | null;
  to: string | null;
  /** packets; for sockets the send calls of the sender (the receive calls when it is unknown) */
  count: number;
  bytes: number;
  /** packets or sockets aggregated */
  channels: number;
}

export interface PacketReport {
  flows: Flow[];
  /** every channel, when asked */
  channels: Channel[] | null;
  packets: number;
  sockets: number;
}

const SEND_OPS: ReadonlySet<RelationOp> = new Set(["send", "write"]);
const RECV_OPS: ReadonlySet<RelationOp> = new Set(["recv", "read"]);
/** what a process did to a socket that tells its address apart: local (bind) or remote (connect) */
const SETUP_OPS: ReadonlySet<RelationOp> = new Set(["connect", "bind", "listen"]);
const COMM_TYPES: NodeType[] = ["packet", "socket", "address"];
/** ids per store request: the edges of 500 busy nodes are a few MB */
const ID_CHUNK = 500;

interface Side {
  count: number;
  bytes: number;
}

interface SocketObj {
  gid: string;
  ids: number[];
  label: string;
  local: string | null;
  remote: string | null;
  addresses: Set<string>;
  bound: boolean;
  connected: boolean;
  senders: Map<number, Side>;
  receivers: Map<number, Side>;
  /** sockets this one's data went to (CamFlow 0.3's `relation`: sender socket → receiver socket) */
  downstream: Set<SocketObj>;
  upstream: Set<SocketObj>;
  hasPackets: boolean;
}

interface PacketObj {
  gid: string;
  ids: number[];
  label: string;
  from: string | null;
  to: string | null;
  bytes: number;
  senders: Set<number>;
  receivers: Set<number>;
  sendSockets: Set<SocketObj>;
  recvSockets: Set<SocketObj>;
}

function joinHostPort(host: string | null, port: string | null): string | null {
  if (host === null) return null;
  if (port === null) return host;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An address node's address: CamFlow's `cf:address` object, else its label without `[address]`. */
function addressText(n: GraphNode): string {
  const a = n.attrs["cf:address"] ?? n.attrs.address;
  if (a && typeof a === "object" && !Array.isArray(a)) {
    const o = a as Record<string, unknown>;
    const path = attrTexts(o.path)[0];
    if (path !== undefined) return path;
    const host = attrTexts(o.host)[0] ?? null;
    const serv = attrTexts(o.serv ?? o.service ?? o.port)[0] ?? null;
    const hp = joinHostPort(host, serv);
    if (hp !== null) return hp;
  }
  return n.label.replace(/^\[address\]\s*/, "");
}

function socketEnds(n: GraphNode): { local: string | null; remote: string | null } {
  const local =
    firstText(n, ["local"]) ?? joinHostPort(firstText(n, ["local address"]), firstText(n, ["local port"]));
  const remote =
    firstText(n, ["remote"]) ?? joinHostPort(firstText(n, ["remote address"]), firstText(n, ["remote port"]));
  return { local, remote };
}

async function chunked<T>(ids: readonly number[], read: (ids: number[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += ID_CHUNK) out.push(...(await read(ids.slice(i, i + ID_CHUNK))));
  return out;
}

/**
 * Senders and receivers of the run's packets and sockets.
 *
 * - A packet's senders are the processes that sent or wrote to the socket it came from (the socket
 *   on the other end of its `send` relation: CamFlow's `send_packet`), or that sent it directly;
 *   its receivers are the processes that received or read from the socket it went to
 *   (`receive_packet`). A socket is all its versions (one global id). The addresses are the
 *   packet's `cf:sender` and `cf:receiver`.
 * - A socket that carries no packet (strace, audit, SPADE, CamFlow's unix sockets) is a channel of
 *   its own: each process that sent or wrote on it is a sender, each that received or read a
 *   receiver; a sender's receivers are the others (both ends of a local connection share one
 *   socket), or nobody recorded; a CamFlow socket-to-socket relation joins two sockets. The
 *   addresses are the socket's local and remote ones, or the address nodes linked to it (CamFlow's
 *   `named`/`addressed`: the local one for a socket that was bound and never connected).
 */
export async function packetFlows(
  reader: RunGraphReader,
  opts: { each?: boolean } = {},
): Promise<PacketReport> {
  const sockets = new Map<string, SocketObj>();
  const socketOf = new Map<number, SocketObj>();
  const packets = new Map<string, PacketObj>();
  const packetOf = new Map<number, PacketObj>();
  const addressOf = new Map<number, string>();
  // only what the answer needs is kept of each node, never the node itself
  for await (const batch of reader.nodes(COMM_TYPES)) {
    for (const n of batch) {
      if (n.type === "socket") {
        const ends = socketEnds(n);
        let s = sockets.get(n.gid);
        if (!s) {
          s = {
            gid: n.gid,
            ids: [],
            label: n.label,
            ...ends,
            addresses: new Set(),
            bound: false,
            connected: false,
            senders: new Map(),
            receivers: new Map(),
            downstream: new Set(),
            upstream: new Set(),
            hasPackets: false,
          };
          sockets.set(n.gid, s);
        } else {
          s.local ??= ends.local;
          s.remote ??= ends.remote;
        }
        s.ids.push(n.id);
        socketOf.set(n.id, s);
      } else if (n.type === "packet" && attrTexts(n.attrs.sourceType)[0] !== "packet_content") {
        let p = packets.get(n.gid);
        if (!p) {
          p = {
            gid: n.gid,
            ids: [],
            label: n.label,
            from: firstText(n, ["cf:sender", "sender"]),
            to: firstText(n, ["cf:receiver", "receiver"]),
            bytes: numberOf(attrOf(n, ["cf:len", "len", "cf:length"])) ?? 0,
            senders: new Set(),
            receivers: new Set(),
            sendSockets: new Set(),
            recvSockets: new Set(),
          };
          packets.set(n.gid, p);
        }
        p.ids.push(n.id);
        packetOf.set(n.id, p);
      } else if (n.type === "address") addressOf.set(n.id, addressText(n));
    }
  }

  // relations between a socket or packet and a node of another kind wait, compact, for the kind
  // of that node (a process or not)
  interface Pending {
    here: number;
    there: number;
    op: RelationOp;
    count: number;
    bytes: number;
  }
  const pending: Pending[] = [];
  const otherIds = new Set<number>();
  const seen = new Set<number>();
  const commIds = [...socketOf.keys(), ...packetOf.keys(), ...addressOf.keys()].sort((a, b) => a - b);
  for (let i = 0; i < commIds.length; i += ID_CHUNK) {
    for (const e of await reader.edgesTouching(commIds.slice(i, i + ID_CHUNK))) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      for (const [here, there] of [
        [e.from, e.to],
        [e.to, e.from],
      ] as const) {
        const s = socketOf.get(here);
        const p = packetOf.get(here);
        if (s) {
          const address = addressOf.get(there);
          const t = socketOf.get(there);
          if (address !== undefined) s.addresses.add(address);
          else if (t) {
            // PROV's direction: from = influencee (the receiver), to = influencer (the sender)
            if (t !== s && e.type === "wasInfluencedBy" && here === e.to) {
              s.downstream.add(t);
              t.upstream.add(s);
            }
          } else if (
            !packetOf.has(there) &&
            (SEND_OPS.has(e.op) || RECV_OPS.has(e.op) || SETUP_OPS.has(e.op))
          ) {
            pending.push({ here, there, op: e.op, count: e.count, bytes: e.bytes });
            otherIds.add(there);
          }
        } else if (p) {
          const t = socketOf.get(there);
          if (t) {
            t.hasPackets = true;
            if (e.op === "send") p.sendSockets.add(t);
            else if (e.op === "recv") p.recvSockets.add(t);
          } else if (
            !addressOf.has(there) &&
            !packetOf.has(there) &&
            (SEND_OPS.has(e.op) || RECV_OPS.has(e.op))
          ) {
            pending.push({ here, there, op: e.op, count: e.count, bytes: e.bytes });
            otherIds.add(there);
          }
        }
      }
    }
  }
  seen.clear();

  // the processes among the other ends: one ref per global id (a CamFlow task's versions are one
  // process), from its first node
  const refs = new Map<string, ProcessRef>();
  const gidOfProcess = new Map<number, string>();
  const others = [...otherIds].sort((a, b) => a - b);
  for (let i = 0; i < others.length; i += ID_CHUNK) {
    for (const n of (await reader.nodesById(others.slice(i, i + ID_CHUNK))).sort((a, b) => a.id - b.id)) {
      if (n.kind !== "activity") continue;
      gidOfProcess.set(n.id, n.gid);
      if (!refs.has(n.gid)) refs.set(n.gid, processRef(n));
    }
  }
  const refOf = (id: number): ProcessRef => refs.get(gidOfProcess.get(id)!)!;
  await nameByPath(reader, refs.values());

  const addSide = (m: Map<number, Side>, proc: number, x: Pending) => {
    const side = m.get(proc);
    if (side) {
      side.count += x.count;
      side.bytes += x.bytes;
    } else m.set(proc, { count: x.count, bytes: x.bytes });
  };
  for (const x of pending) {
    if (!gidOfProcess.has(x.there)) continue;
    const s = socketOf.get(x.here);
    if (s) {
      if (SEND_OPS.has(x.op)) addSide(s.senders, x.there, x);
      else if (RECV_OPS.has(x.op)) addSide(s.receivers, x.there, x);
      else if (x.op === "connect") s.connected = true;
      else s.bound = true;
      continue;
    }
    const p = packetOf.get(x.here)!;
    if (SEND_OPS.has(x.op)) p.senders.add(x.there);
    else p.receivers.add(x.there);
  }
  pending.length = 0;

  const uniqueRefs = (ids: Iterable<number>): ProcessRef[] => {
    const byGid = new Map<string, ProcessRef>();
    for (const id of ids) {
      const r = refOf(id);
      byGid.set(r.gid, r);
    }
    return [...byGid.values()].sort((a, b) => (a.pid ?? -1) - (b.pid ?? -1) || a.id - b.id);
  };

  const flows = new Map<string, Flow>();
  const addFlow = (
    via: Flow["via"],
    sender: ProcessRef | null,
    receiver: ProcessRef | null,
    from: string | null,
    to: string | null,
    count: number,
    bytes: number,
  ) => {
    const key = [via, sender?.gid ?? "", receiver?.gid ?? "", from ?? "", to ?? ""].join(SEP);
    const f = flows.get(key);
    if (f) {
      f.count += count;
      f.bytes += bytes;
      f.channels++;
    } else flows.set(key, { via, sender, receiver, from, to, count, bytes, channels: 1 });
  };
  const channels: Channel[] = [];

  for (const p of packets.values()) {
    const senders = new Set(p.senders);
    for (const s of p.sendSockets) for (const id of s.senders.keys()) senders.add(id);
    const receivers = new Set(p.receivers);
    for (const s of p.recvSockets) for (const id of s.receivers.keys()) receivers.add(id);
    const sRefs = uniqueRefs(senders);
    const rRefs = uniqueRefs(receivers);
    // each packet counts once per (sender, receiver) pair
    const pairs = new Set<string>();
    for (const s of sRefs.length > 0 ? sRefs : [null])
      for (const r of rRefs.length > 0 ? rRefs : [null]) {
        const k = `${s?.gid ?? ""}${SEP}${r?.gid ?? ""}`;
        if (pairs.has(k)) continue;
        pairs.add(k);
        addFlow("packet", s, r, p.from, p.to, 1, p.bytes);
      }
    if (opts.each)
      channels.push({
        via: "packet",
        gid: p.gid,
        ids: p.ids,
        label: p.label,
        from: p.from,
        to: p.to,
        senders: sRefs,
        receivers: rRefs,
      });
  }

  let socketChannels = 0;
  for (const s of sockets.values()) {
    if (s.hasPackets) continue;
    socketChannels++;
    const address = s.addresses.size > 0 ? [...s.addresses].sort().join(", ") : null;
    const local = s.local ?? (s.bound && !s.connected ? address : null);
    const remote = s.remote ?? (s.bound && !s.connected ? null : address);
    // who reads what this socket's senders send, and who wrote what its receivers read
    const readers = new Map(s.receivers);
    for (const t of s.downstream) for (const [id, side] of t.receivers) readers.set(id, side);
    const writers = new Map(s.senders);
    for (const t of s.upstream) for (const [id, side] of t.senders) writers.set(id, side);
    for (const [id, side] of s.senders) {
      const me = refOf(id);
      const others = uniqueRefs(readers.keys()).filter((r) => r.gid !== me.gid);
      if (others.length === 0) addFlow("socket", me, null, local, remote, side.count, side.bytes);
      for (const r of others) addFlow("socket", me, r, local, remote, side.count, side.bytes);
    }
    for (const [id, side] of s.receivers) {
      const me = refOf(id);
      const others = uniqueRefs(writers.keys()).filter((r) => r.gid !== me.gid);
      if (others.length === 0) addFlow("socket", null, me, remote, local, side.count, side.bytes);
    }
    if (opts.each)
      channels.push({
        via: "socket",
        gid: s.gid,
        ids: s.ids,
        label: s.label,
        from: local,
        to: remote,
        senders: uniqueRefs(s.senders.keys()),
        receivers: uniqueRefs(s.receivers.keys()),
      });
  }

  const flowRows = [...flows.values()].sort(
    (a, b) =>
      (a.via === b.via ? 0 : a.via === "packet" ? -1 : 1) ||
      b.count - a.count ||
      (a.sender?.pid ?? -1) - (b.sender?.pid ?? -1) ||
      (a.receiver?.pid ?? -1) - (b.receiver?.pid ?? -1) ||
      (a.from ?? "").localeCompare(b.from ?? "") ||
      (a.to ?? "").localeCompare(b.to ?? ""),
  );
  return {
    flows: flowRows,
    channels: opts.each ? channels : null,
    packets: packets.size,
    sockets: socketChannels,
  };
}

// ---------------------------------------------------------------------------------------------
// processes of a container

export interface ProcessSelector {
  /** `cf:secctx` (or `secctx`): a glob matching the whole context, else a substring */
  secctx?: string;
  /** `cf:cgroupns` (or `cgroupns`): the namespace's inode number */
  cgroupns?: string;
  /** KEY=VALUE: the attribute KEY is VALUE (a glob when it has glob characters) */
  attrs?: Array<{ key: string; value: string }>;
}

export interface ProcessRow {
  gid: string;
  /** the matching nodes (a CamFlow task's versions) */
  ids: number[];
  pid: number | null;
  name: string;
  secctx: string | null;
  cgroupns: string | null;
  /** µs; the first start and the last end (or last start: CamFlow's versions have no end) */
  start: number | null;
  end: number | null;
  /** the security context came from the process's memory (CamFlow 0.9 keeps it there) */
  secctxFromMemory: boolean;
}

export interface ProcessReport {
  processes: ProcessRow[];
  /** activity nodes matched */
  nodes: number;
}

/** Parses `KEY=VALUE` (the first `=` splits). */
export function parseAttrSelector(text: string): { key: string; value: string } | null {
  const eq = text.indexOf("=");
  if (eq <= 0) return null;
  return { key: text.slice(0, eq), value: text.slice(eq + 1) };
}

/**
 * The processes (activities) a selector picks; every criterion must hold. A process without a
 * security context of its own takes the one of the memory it is linked to (CamFlow 0.9 writes
 * `cf:secctx` on `process_memory`, not on the task).
 */
export async function selectProcesses(reader: RunGraphReader, sel: ProcessSelector): Promise<ProcessReport> {
  const secctx = sel.secctx !== undefined ? textMatcher(sel.secctx, true) : null;
  const cgroupns = sel.cgroupns !== undefined ? sel.cgroupns.replace(/^cf:/, "") : null;
  const attrTests = (sel.attrs ?? []).map(({ key, value }) => ({ key, test: textMatcher(value, false) }));
  /** what a row needs of a matching node (the node itself is not kept) */
  interface Hit {
    id: number;
    gid: string;
    pid: number | null;
    name: string;
    secctx: string | null;
    cgroupns: string | null;
    start: number | null;
    last: number | null;
  }
  const hit = (n: GraphNode): Hit => ({
    id: n.id,
    gid: n.gid,
    pid: numberOf(n.attrs.pid),
    name: processName(n),
    secctx: firstText(n, SECCTX),
    cgroupns: firstText(n, CGROUPNS),
    start: n.start,
    last: n.end ?? n.start,
  });
  const matched: Hit[] = [];
  /** processes that passed every other criterion and have no security context */
  const pending: Hit[] = [];
  const memory = new Map<number, string>();
  for await (const batch of reader.nodes()) {
    for (const n of batch) {
      if (n.kind !== "activity") {
        if (secctx && n.type === "memory") {
          const ctx = attrTexts(attrOf(n, SECCTX)).find(secctx);
          if (ctx !== undefined) memory.set(n.id, ctx);
        }
        continue;
      }
      if (
        cgroupns !== null &&
        !attrTexts(attrOf(n, CGROUPNS)).some((v) => v.replace(/^cf:/, "") === cgroupns)
      )
        continue;
      if (!attrTests.every(({ key, test }) => attrTexts(n.attrs[key]).some(test))) continue;
      if (secctx) {
        const own = attrTexts(attrOf(n, SECCTX));
        if (own.length === 0) pending.push(hit(n));
        else if (own.some(secctx)) matched.push(hit(n));
        continue;
      }
      matched.push(hit(n));
    }
  }
  const fromMemory = new Map<number, string>();
  if (pending.length > 0 && memory.size > 0) {
    const pendingIds = new Set(pending.map((n) => n.id));
    const memoryIds = [...memory.keys()];
    for (let i = 0; i < memoryIds.length; i += ID_CHUNK) {
      for (const e of await reader.edgesTouching(memoryIds.slice(i, i + ID_CHUNK))) {
        for (const [m, p] of [
          [e.from, e.to],
          [e.to, e.from],
        ] as const) {
          const ctx = memory.get(m);
          if (ctx !== undefined && pendingIds.has(p) && !fromMemory.has(p)) fromMemory.set(p, ctx);
        }
      }
    }
    for (const h of pending) if (fromMemory.has(h.id)) matched.push(h);
  }

  const rows = new Map<string, ProcessRow>();
  for (const h of matched.sort((a, b) => a.id - b.id)) {
    const ctx = h.secctx ?? fromMemory.get(h.id) ?? null;
    const row = rows.get(h.gid);
    if (!row) {
      rows.set(h.gid, {
        gid: h.gid,
        ids: [h.id],
        pid: h.pid,
        name: h.name,
        secctx: ctx,
        cgroupns: h.cgroupns,
        start: h.start,
        end: h.last,
        secctxFromMemory: h.secctx === null && ctx !== null,
      });
      continue;
    }
    row.ids.push(h.id);
    if (h.start !== null && (row.start === null || h.start < row.start)) row.start = h.start;
    if (h.last !== null && (row.end === null || h.last > row.end)) row.end = h.last;
    row.pid ??= h.pid;
    row.secctx ??= ctx;
    row.cgroupns ??= h.cgroupns;
  }
  await nameByPath(reader, rows.values());
  const processes = [...rows.values()].sort(
    (a, b) =>
      (a.start ?? Number.MAX_SAFE_INTEGER) - (b.start ?? Number.MAX_SAFE_INTEGER) || a.ids[0]! - b.ids[0]!,
  );
  return { processes, nodes: matched.length };
}

// ---------------------------------------------------------------------------------------------
// one node

export interface RelationRow {
  edge: number;
  type: RelationType;
  op: RelationOp;
  /** the source's own relation type (CamFlow's `send_packet`…), if any */
  sourceType: string | null;
  other: { id: number; kind: NodeKind | null; type: NodeType | null; label: string | null };
  count: number;
  bytes: number;
  ts: number | null;
  tsEnd: number | null;
  attrs: Record<string, unknown>;
}

export interface NodeDetail {
  node: GraphNode;
  /** relations whose subject (`from`) is this node */
  out: RelationRow[];
  /** relations whose object (`to`) is this node */
  in: RelationRow[];
}

export interface NodeReport {
  /** all the nodes that answer to the reference */
  matches: number;
  nodes: NodeDetail[];
}

/** The CamFlow-style id without its `cf:` prefix. */
const bareId = (s: string) => (s.startsWith("cf:") ? s.slice(3) : s);

/**
 * The nodes a reference names: a node id (digits), else every node whose global id, label
 * (`prov:label`) or source id (CamFlow's, SPADE's, a PROV-JSON name; with or without `cf:`) is
 * the reference. At most `limit` are described, with their relations in and out.
 */
export async function describeNode(reader: RunGraphReader, ref: string, limit = 10): Promise<NodeReport> {
  let found: GraphNode[] = [];
  let matches = 0;
  if (/^\d+$/.test(ref)) {
    found = await reader.nodesById([Number(ref)]);
    matches = found.length;
  }
  if (found.length === 0) {
    const bare = bareId(ref);
    for await (const batch of reader.nodes()) {
      for (const n of batch) {
        const hit =
          n.gid === ref ||
          n.label === ref ||
          attrTexts(n.attrs["prov:label"]).includes(ref) ||
          attrTexts(n.attrs.sourceId).some((id) => id === ref || bareId(id) === bare);
        if (!hit) continue;
        matches++;
        if (found.length < limit) found.push(n);
      }
    }
  }
  found = found.slice(0, Math.max(0, limit));
  if (found.length === 0) return { matches, nodes: [] };
  const ids = found.map((n) => n.id);
  const edges = await chunked(ids, (chunk) => reader.edgesTouching(chunk));
  const unique = [...new Map(edges.map((e) => [e.id, e])).values()].sort((a, b) => a.id - b.id);
  const known = new Map(found.map((n) => [n.id, n]));
  const otherIds = new Set<number>();
  for (const e of unique) for (const id of [e.from, e.to]) if (!known.has(id)) otherIds.add(id);
  for (const n of await chunked([...otherIds], (chunk) => reader.nodesById(chunk))) known.set(n.id, n);
  const row = (e: GraphEdge, otherId: number): RelationRow => {
    const o = known.get(otherId);
    return {
      edge: e.id,
      type: e.type,
      op: e.op,
      sourceType: attrTexts(e.attrs.sourceType)[0] ?? null,
      other: { id: otherId, kind: o?.kind ?? null, type: o?.type ?? null, label: o?.label ?? null },
      count: e.count,
      bytes: e.bytes,
      ts: e.ts,
      tsEnd: e.tsEnd,
      attrs: e.attrs,
    };
  };
  return {
    matches,
    nodes: found.map((node) => ({
      node,
      out: unique.filter((e) => e.from === node.id).map((e) => row(e, e.to)),
      in: unique.filter((e) => e.to === node.id).map((e) => row(e, e.from)),
    })),
  };
}
