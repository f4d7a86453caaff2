import type { ProvClass, ProvEvent, SourceLocation } from "../../events/event-types.js";
import type { NodeType, RelationOp, RelationType } from "../../graph/prov-types.js";

/**
 * DARPA Transparent Computing's Common Data Model (CDM 17–20) in its JSON encoding, as SPADE's CDM
 * storage writes it: one record a line, `{"datum":{"com.bbn.tc.schema.avro.cdm18.Subject":{…}},
 * "CDMVersion":"18","source":…}`, Avro unions written as `{"int":3}`, `{"string":"…"}`,
 * `{"com.bbn.tc.schema.avro.cdm18.UUID":"…"}`.
 *
 * Subjects are activities (processes, SPADE's units), the objects are entities, principals and hosts
 * are agents, and each Event becomes the relations SPADE's CDM reporter makes of it (its OPM edges:
 * Used, WasGeneratedBy, WasTriggeredBy, WasDerivedFrom), from the subject of the PROV statement to
 * its object. Markers (TimeMarker, StartMarker, EndMarker) carry nothing of the graph.
 */

/** An Avro union value `{"type": value}` unwrapped; other values as they are. */
export function avro(v: unknown): unknown {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const k = keys[0]!;
      if (/^(int|long|string|boolean|float|double|bytes)$/.test(k) || k.startsWith("com.bbn.tc.")) {
        return (v as Record<string, unknown>)[k];
      }
    }
  }
  return v;
}

function text(v: unknown): string | undefined {
  const u = avro(v);
  if (typeof u === "string") return u;
  if (typeof u === "number" && Number.isFinite(u)) return String(u);
  return undefined;
}

function num(v: unknown): number | undefined {
  const u = avro(v);
  if (typeof u === "number" && Number.isFinite(u)) return u;
  if (typeof u === "string" && /^-?\d+$/.test(u)) return Number(u);
  return undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  const u = avro(v);
  return typeof u === "object" && u !== null && !Array.isArray(u)
    ? (u as Record<string, unknown>)
    : undefined;
}

/** `properties.map` of a record (or of its baseObject), as plain strings. */
function propertiesOf(rec: Record<string, unknown>): Record<string, unknown> {
  const props = obj(rec.properties) ?? obj(obj(rec.baseObject)?.properties);
  return obj(props?.map) ?? {};
}

/** ns → µs, exact from the digits of the line when they are there (19 digits do not fit a double). */
function micros(raw: string | undefined, v: unknown): number | null {
  if (raw !== undefined && /^\d+$/.test(raw)) {
    return raw.length > 3 ? Number(raw.slice(0, -3)) : 0;
  }
  const n = num(v);
  return n === undefined ? null : Math.floor(n / 1000);
}

const FILE_TYPES: Readonly<Record<string, NodeType>> = {
  FILE_OBJECT_FILE: "file",
  FILE_OBJECT_LINK: "file",
  FILE_OBJECT_DIR: "directory",
  FILE_OBJECT_NAMED_PIPE: "pipe",
  FILE_OBJECT_UNIX_SOCKET: "socket",
  FILE_OBJECT_CHAR: "device",
  FILE_OBJECT_BLOCK: "device",
  FILE_OBJECT_PEFILE: "file",
};

/** What an event means: relations from the subject (S), its object (O) and second object (O2). */
type End = "S" | "O" | "O2";
type Rel = [RelationType, RelationOp, End, End];

const END_NAMES: Readonly<Record<End, string>> = {
  S: "subject",
  O: "predicateObject",
  O2: "predicateObject2",
};

const used = (op: RelationOp): Rel[] => [["used", op, "S", "O"]];
const generated = (op: RelationOp): Rel[] => [["wasGeneratedBy", op, "O", "S"]];
const informed = (op: RelationOp): Rel[] => [["wasInformedBy", op, "O", "S"]];
/** rename, link: the old name is used, the new one generated and derived from it */
const derived = (op: RelationOp): Rel[] => [
  ["used", op, "S", "O"],
  ["wasGeneratedBy", op, "O2", "S"],
  ["wasDerivedFrom", op, "O2", "O"],
];

const EVENTS: Readonly<Record<string, Rel[]>> = {
  EVENT_READ: used("read"),
  EVENT_RECVMSG: used("recv"),
  EVENT_RECVFROM: used("recv"),
  EVENT_ACCEPT: used("accept"),
  EVENT_LOADLIBRARY: used("map"),
  EVENT_READ_SOCKET_PARAMS: used("probe"),
  EVENT_CHECK_FILE_ATTRIBUTES: used("probe"),
  EVENT_WRITE: generated("write"),
  EVENT_SENDMSG: generated("send"),
  EVENT_SENDTO: generated("send"),
  EVENT_CONNECT: generated("connect"),
  EVENT_BIND: generated("bind"),
  EVENT_CREATE_OBJECT: generated("create"),
  EVENT_TRUNCATE: generated("truncate"),
  EVENT_MODIFY_FILE_ATTRIBUTES: generated("other"),
  EVENT_WRITE_SOCKET_PARAMS: generated("other"),
  EVENT_MPROTECT: generated("other"),
  EVENT_UNLINK: generated("delete"),
  EVENT_FORK: informed("fork"),
  EVENT_CLONE: informed("clone"),
  EVENT_EXECUTE: informed("exec"),
  EVENT_CHANGE_PRINCIPAL: informed("other"),
  EVENT_UNIT: informed("other"),
  EVENT_SIGNAL: [["wasInformedBy", "signal", "O", "S"]],
  EVENT_RENAME: derived("rename"),
  EVENT_LINK: derived("link"),
  EVENT_UPDATE: [["wasDerivedFrom", "version", "O2", "O"]],
};

export interface CdmNodeInfo {
  cls: ProvClass;
  /** the CDM record type (Subject, FileObject…) */
  record: string;
}

/** Maps CDM records to events; keeps the hosts' names (for global ids) and the class of each uuid. */
export class CdmMapper {
  /** host uuid → host name */
  private readonly hosts = new Map<string, string>();
  /** uuid → class, for events whose meaning depends on their object (EXECUTE of a file, MMAP) */
  private readonly classes = new Map<string, ProvClass>();

  constructor(private readonly defaultHost: string) {}

  private hostOf(rec: Record<string, unknown>): string {
    const id = text(rec.hostId) ?? text(obj(rec.baseObject)?.hostId);
    return (id !== undefined ? this.hosts.get(id) : undefined) ?? this.defaultHost;
  }

  /**
   * One record: `type` is the last part of its datum's name, `raw` the line (for exact nanoseconds).
   * Returns the events, or a message when the record is not usable.
   */
  map(type: string, rec: Record<string, unknown>, raw: string, at: SourceLocation): ProvEvent[] | string {
    if (type === "TimeMarker" || type === "StartMarker" || type === "EndMarker") return [];
    const uuid = text(rec.uuid);
    if (uuid === undefined) return `a CDM ${type} without a uuid`;
    if (type === "Event") return this.event(uuid, rec, raw, at);
    const props = propertiesOf(rec);
    const attrs: Record<string, unknown> = { ...props, sourceId: uuid, sourceType: text(rec.type) ?? type };
    const host = this.hostOf(rec);
    let cls: ProvClass = "entity";
    let nodeType: NodeType = "other";
    let gid = `cdm://${host}/${uuid}`;
    let label: string | undefined;
    let start: number | null = null;
    switch (type) {
      case "Subject": {
        cls = "activity";
        const pid = num(rec.cid);
        const cmd = text(rec.cmdLine);
        if (pid !== undefined) attrs.pid = pid;
        if (cmd !== undefined) attrs.cmdline = cmd;
        const ppid = num(props.ppid);
        if (ppid !== undefined) attrs.ppid = ppid;
        start = micros(/"startTimestampNanos":(\d+)/.exec(raw)?.[1], rec.startTimestampNanos);
        if (start === 0) start = null;
        if (text(rec.type) === "SUBJECT_PROCESS" || text(rec.type) === "SUBJECT_THREAD") {
          nodeType = "process";
          if (pid !== undefined && start !== null) gid = `proc://${host}/-/${pid}@${start}`;
        }
        label = cmd ?? text(props.name) ?? `[${text(rec.type) ?? type}] ${pid ?? uuid}`;
        break;
      }
      case "Host": {
        cls = "agent";
        nodeType = "machine";
        const name = text(rec.hostName);
        if (name !== undefined) {
          this.hosts.set(uuid, name);
          gid = `machine://${name}`;
          attrs.hostname = name;
        }
        const os = text(rec.osDetails);
        if (os !== undefined) attrs.osDetails = os;
        label = name ?? uuid;
        break;
      }
      case "Principal": {
        cls = "agent";
        const uid = text(rec.userId);
        if (uid !== undefined) {
          nodeType = "user";
          attrs.uid = /^\d+$/.test(uid) ? Number(uid) : uid;
          gid = `user://${host}/${uid}`;
        }
        const name = text(rec.username);
        if (name !== undefined) attrs.username = name;
        label = uid !== undefined ? `uid ${uid}` : (name ?? uuid);
        break;
      }
      case "FileObject": {
        const ft = text(rec.type) ?? "";
        nodeType = FILE_TYPES[ft] ?? "other";
        const path = text(props.path);
        if (path !== undefined) {
          attrs.path = path;
          label = path;
          if (
            (nodeType === "file" || nodeType === "directory" || nodeType === "device") &&
            path.startsWith("/")
          )
            gid = `file://${host}${path}`;
        }
        break;
      }
      case "NetFlowObject": {
        nodeType = "socket";
        const la = text(rec.localAddress);
        const lp = text(rec.localPort);
        const ra = text(rec.remoteAddress);
        const rp = text(rec.remotePort);
        const proto = num(rec.ipProtocol);
        Object.assign(attrs, { localAddress: la, localPort: lp, remoteAddress: ra, remotePort: rp });
        if (proto !== undefined) attrs.ipProtocol = proto;
        label = `${la ?? "?"}:${lp ?? "?"}->${ra ?? "?"}:${rp ?? "?"}`;
        const scheme = proto === 6 ? "tcp" : proto === 17 ? "udp" : undefined;
        if (scheme && la && ra) gid = `${scheme}://${host}/${label}`;
        break;
      }
      case "UnnamedPipeObject":
        nodeType = "pipe";
        label = `pipe [${text(rec.sourceFileDescriptor) ?? "?"}, ${text(rec.sinkFileDescriptor) ?? "?"}]`;
        break;
      case "MemoryObject": {
        nodeType = "memory";
        const addr = num(rec.memoryAddress);
        if (addr !== undefined) attrs.memoryAddress = addr;
        label = addr !== undefined ? `memory 0x${addr.toString(16)}` : undefined;
        break;
      }
      case "SrcSinkObject":
      case "RegistryKeyObject":
      case "IpcObject":
      case "PacketSocketObject":
        if (type === "IpcObject") nodeType = "pipe";
        break;
      default:
        return `${type} is not a CDM record provflow reads`;
    }
    this.classes.set(uuid, cls);
    const version = num(props.version) ?? 0;
    const events: ProvEvent[] = [
      {
        kind: "prov.node",
        key: uuid,
        cls,
        type: nodeType,
        gid,
        version,
        label: label ?? `[${attrs.sourceType as string}] ${uuid}`,
        start,
        end: null,
        attrs,
        at,
      },
    ];
    // a subject's principal
    const principal = type === "Subject" ? text(rec.localPrincipal) : undefined;
    if (principal !== undefined) {
      events.push({
        kind: "prov.relation",
        type: "wasAssociatedWith",
        op: "associated",
        from: uuid,
        to: principal,
        ts: start,
        attrs: { sourceType: "localPrincipal" },
        at,
      });
    }
    return events;
  }

  private event(
    uuid: string,
    rec: Record<string, unknown>,
    raw: string,
    at: SourceLocation,
  ): ProvEvent[] | string {
    const evType = text(rec.type);
    if (evType === undefined) return `the CDM event ${uuid} has no type`;
    const ends: Record<End, string | undefined> = {
      S: text(rec.subject),
      O: text(rec.predicateObject),
      O2: text(rec.predicateObject2),
    };
    const props = propertiesOf(rec);
    const ts = micros(/"timestampNanos":(\d+)/.exec(raw)?.[1], rec.timestampNanos);
    const size = num(rec.size);
    let rels: Rel[] | undefined = EVENTS[evType];
    if (evType === "EVENT_EXIT") return [];
    if (evType === "EVENT_OPEN" || evType === "EVENT_CLOSE") {
      // SPADE says which way in its `opm` property
      rels =
        props.opm === "WasGeneratedBy"
          ? generated(evType === "EVENT_OPEN" ? "open" : "other")
          : used(evType === "EVENT_OPEN" ? "open" : "other");
    } else if (evType === "EVENT_MMAP") {
      // with a file: the process maps the file into memory; without: it makes the memory
      rels =
        ends.O2 !== undefined
          ? [
              ["used", "map", "S", "O"],
              ["wasGeneratedBy", "map", "O2", "S"],
              ["wasDerivedFrom", "map", "O2", "O"],
            ]
          : generated("map");
    } else if (evType === "EVENT_EXECUTE" && ends.O !== undefined && this.classes.get(ends.O) === "entity") {
      rels = used("execute");
    }
    if (rels === undefined) {
      // an event type of no finer meaning: the subject used its object
      rels =
        ends.O !== undefined && this.classes.get(ends.O) === "activity" ? informed("other") : used("other");
    }
    const out: ProvEvent[] = [];
    for (const [relType, op, from, to] of rels) {
      const f = ends[from];
      const t = ends[to];
      if (f === undefined || t === undefined) {
        return `the CDM event ${uuid} (${evType}) has no ${END_NAMES[f === undefined ? from : to]}`;
      }
      const attrs: Record<string, unknown> = { ...props, sourceId: uuid, sourceType: evType };
      const seq = num(rec.sequence);
      if (seq !== undefined) attrs.sequence = seq;
      const tid = num(rec.threadId);
      if (tid !== undefined) attrs.threadId = tid;
      out.push({
        kind: "prov.relation",
        type: relType,
        op,
        from: f,
        to: t,
        ts,
        ...(size !== undefined && (op === "read" || op === "write" || op === "send" || op === "recv")
          ? { bytes: size }
          : {}),
        attrs,
        at,
      });
    }
    return out;
  }
}
