import type { ProvClass } from "../../events/event-types.js";
import type { NodeType, RelationOp, RelationType } from "../../graph/prov-types.js";

/**
 * CamFlow's vocabulary across its versions: node types (`prov:type`, or the `[type]` of `prov:label`
 * in 0.1.x, which has no prov:type on most nodes), relation types, and the binary identifiers.
 * Sources: CamFlow 0.9.0's type tables (security/provenance/type.c, docs/VERTICES.md and
 * RELATIONS.md), and the type strings of the 0.1.7 and 0.3.5 samples of the corpus.
 */

export interface CamflowNodeKind {
  type: NodeType;
  /** the PROV class when no section tells it (bare members, SPADE's flavour) */
  cls: ProvClass;
}

const node = (type: NodeType, cls: ProvClass = "entity"): CamflowNodeKind => ({ type, cls });

export const CAMFLOW_NODE_TYPES: Readonly<Record<string, CamflowNodeKind>> = {
  // a thread (CamFlow's task), one node per version
  task: node("process", "activity"),
  // the memory of a process, shared by its threads
  process_memory: node("memory"),
  file: node("file"),
  // 0.3.x: a file mapped in memory
  mmaped_file: node("file"),
  inode_unknown: node("file"),
  link: node("file"),
  directory: node("directory"),
  char: node("device"),
  block: node("device"),
  pipe: node("pipe"),
  // ≤ 0.4 name of pipe
  fifo: node("pipe"),
  socket: node("socket"),
  msg: node("other"),
  shm: node("memory"),
  packet: node("packet"),
  packet_content: node("packet"),
  address: node("address"),
  path: node("path"),
  // ≤ 0.4 name of path
  file_name: node("path"),
  argv: node("other"),
  envp: node("other"),
  iattr: node("other"),
  xattr: node("other"),
  sb: node("other"),
  string: node("other"),
  // an agent in 0.9's W3C output, an entity in 0.1/0.3 and in the SPADE flavour
  machine: node("machine", "agent"),
  disc_entity: node("other"),
  disc_activity: node("other", "activity"),
  disc_agent: node("other", "agent"),
  unknown: node("other"),
};

/** The kind of a CamFlow node type, with `other` for a type this table does not know. */
export function camflowNodeKind(type: string): CamflowNodeKind {
  return Object.hasOwn(CAMFLOW_NODE_TYPES, type) ? CAMFLOW_NODE_TYPES[type]! : node("other");
}

/** Relation types that mean a finer op of ours; the rest are `other` (their name is kept). */
const OPS: ReadonlyArray<[RelationOp, string[]]> = [
  ["read", ["read", "read_ioctl", "memory_read", "ptrace_read", "sh_read"]],
  ["recv", ["receive", "receive_msg", "receive_msg_queue", "receive_unix", "receive_packet", "file_rcv"]],
  ["send", ["send", "send_msg", "send_msg_queue", "send_unix", "send_packet", "splice_out"]],
  ["write", ["write", "write_ioctl", "memory_write", "sh_write", "mmap_write"]],
  ["open", ["open"]],
  [
    "probe",
    [
      "getattr",
      "search",
      "read_link",
      "readlink",
      "getxattr",
      "listxattr",
      "perm_check",
      "perm_read",
      "perm_write",
      "perm_exec",
      "getpgid",
    ],
  ],
  ["map", ["mmap", "mmap_private", "mmap_read", "mmap_exec", "load_file"]],
  ["exec", ["exec", "exec_task", "exec_process"]],
  ["clone", ["clone", "clone_mem"]],
  ["version", ["version", "version_entity", "version_activity"]],
  ["create", ["create", "inode_create", "socket_create", "socket_pair_create", "msg_create", "sh_create"]],
  ["delete", ["unlink"]],
  ["rename", ["rename"]],
  ["link", ["link", "symlink"]],
  ["connect", ["connect", "connect_unix_stream"]],
  ["accept", ["accept", "accept_socket"]],
  ["bind", ["bind"]],
  ["listen", ["listen"]],
  ["associated", ["ran_on"]],
];

const OP_OF = new Map<string, RelationOp>(OPS.flatMap(([op, names]) => names.map((n) => [n, op] as const)));

export function camflowOp(relationType: string | undefined): RelationOp {
  return (relationType !== undefined && OP_OF.get(relationType)) || "other";
}

/**
 * used and wasGeneratedBy share their role keys (prov:activity, prov:entity): a bare relation
 * (outside any section) is a generation when its type says so (0.9 names, and 0.1/0.3 ones).
 */
const GENERATED = new Set([
  "clone_mem",
  "msg_create",
  "socket_create",
  "socket_pair_create",
  "inode_create",
  "write",
  "write_ioctl",
  "memory_write",
  "connect",
  "connect_unix_stream",
  "listen",
  "bind",
  "send",
  "send_msg",
  "send_msg_queue",
  "link",
  "rename",
  "unlink",
  "symlink",
  "setattr",
  "setxattr",
  "removexattr",
  "setuid",
  "setpgid",
  "sh_attach",
  "sh_create",
  "file_lock",
  "splice_out",
  "exec_task",
  "ptrace_attach",
  "generated_disc",
  "create",
  "mmap_write",
  "perm_write",
  "send_unix",
]);

/** The PROV relation of a bare CamFlow relation record, from its role keys and type. */
export function camflowSectionOf(
  rec: Record<string, unknown>,
  relationType: string | undefined,
): string | null {
  if ("prov:informant" in rec || "prov:informed" in rec) return "wasInformedBy";
  if ("prov:usedEntity" in rec || "prov:generatedEntity" in rec) return "wasDerivedFrom";
  if ("prov:agent" in rec) return "wasAssociatedWith";
  if ("prov:influencer" in rec || "prov:influencee" in rec) return "wasInfluencedBy";
  if ("cf:sender" in rec && "cf:receiver" in rec) return "relation";
  if ("prov:activity" in rec || "prov:entity" in rec) {
    return relationType !== undefined && GENERATED.has(relationType) ? "wasGeneratedBy" : "used";
  }
  return null;
}

/** The PROV relation of SPADE's edge types (PROV names in PascalCase, and OPM's). */
export const SPADE_EDGE_TYPES: Readonly<Record<string, RelationType>> = {
  Used: "used",
  WasGeneratedBy: "wasGeneratedBy",
  WasInformedBy: "wasInformedBy",
  WasTriggeredBy: "wasInformedBy",
  WasDerivedFrom: "wasDerivedFrom",
  WasAssociatedWith: "wasAssociatedWith",
  WasControlledBy: "wasAssociatedWith",
  WasAttributedTo: "wasAttributedTo",
  ActedOnBehalfOf: "actedOnBehalfOf",
  WasInfluencedBy: "wasInfluencedBy",
  WasInvalidatedBy: "wasInvalidatedBy",
  WasStartedBy: "wasStartedBy",
  WasEndedBy: "wasEndedBy",
};

/** The fields of a CamFlow node identifier (32 bytes, little-endian, standard base64). */
export interface CamflowId {
  /** the type bits, in hex */
  type: string;
  id: string;
  boot: number;
  machine: number;
  version: number;
}

const B64_ID = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Decodes `type u64 | id u64 | boot_id u32 | machine_id u32 | version u32 | pad`. Packet ids have
 * another layout (they carry no machine): callers read packets by their attributes.
 */
export function decodeCamflowId(b64: string): CamflowId | null {
  if (!B64_ID.test(b64)) return null;
  const b = Buffer.from(b64, "base64");
  if (b.length < 28) return null;
  return {
    type: b.readBigUInt64LE(0).toString(16),
    id: b.readBigUInt64LE(8).toString(),
    boot: b.readUInt32LE(16),
    machine: b.readUInt32LE(20),
    version: b.readUInt32LE(24),
  };
}

/** `cf:AQAA…` → `AQAA…`: 0.3.x writes ids without the prefix, 0.1.x and ≥ 0.4 with it. */
export function camflowKey(id: string): string {
  return id.startsWith("cf:") ? id.slice(3) : id;
}

/** `cf:509509127`, `509509127` or 509509127 → `509509127`. */
export function camflowMachineId(v: unknown): string | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v !== "string") return undefined;
  const s = camflowKey(v);
  return /^\d+$/.test(s) ? s : undefined;
}
