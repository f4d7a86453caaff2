/**
 * The provenance graph in W3C PROV terms. Processes (one activity per exec generation) are
 * activities; files, pipes, sockets and devices are entities, one node per version; the user and
 * the machine are agents. Relations keep PROV's direction: `from` is the subject of the PROV
 * statement (used: activity → entity, wasGeneratedBy: entity → activity, wasInformedBy:
 * informed → informant, wasDerivedFrom: derived → source, wasAssociatedWith: activity → agent;
 * from PROV sources also wasStartedBy/wasEndedBy: activity → trigger, wasInfluencedBy: influencee →
 * influencer, specializationOf/mentionOf: specific → general, alternateOf: alternate1 → alternate2,
 * hadMember: collection → member).
 */

export type NodeKind = "activity" | "entity" | "agent";

export type NodeType =
  | "process"
  | "file"
  | "directory"
  | "pipe"
  | "socket"
  | "device"
  | "anon"
  /** a Windows registry key or value (ProcMon, Sysmon) */
  | "registry"
  | "user"
  | "machine"
  // from PROV sources (PROV-JSON, CamFlow, SPADE): see docs/data-model.md
  /** a network packet (CamFlow packet, packet_content) */
  | "packet"
  /** a process's memory (CamFlow process_memory, SPADE memory artifacts) */
  | "memory"
  /** a file name (CamFlow path / file_name), linked to its inode by `named` */
  | "path"
  /** a socket address (CamFlow address) */
  | "address"
  /** anything else a PROV source describes; `attrs.sourceType` says what */
  | "other";

export interface GraphNode {
  /** run-local id, 1..n, assigned by the builder */
  id: number;
  kind: NodeKind;
  type: NodeType;
  /**
   * Global identity, the same across runs and machines for the same resource:
   * file `file://HOST/abs/path`, listening socket `tcp://HOST/127.0.0.1:5000`, connected socket
   * `tcp://HOST/a:p->b:p`, pipe `pipe://HOST/BOOT/ino`, process `proc://HOST/BOOT/pid@start`,
   * user `user://HOST/uid`, machine `machine://HOST`; Windows paths `file://HOST/c:/users/x.txt`
   * (normalised: lower case, `/`), registry keys `registry://HOST/hklm/software/…`.
   */
  gid: string;
  /** entity version (0 = as found); 0 for activities and agents */
  version: number;
  /** short human label: path, command line, socket address */
  label: string;
  /** µs since epoch; for activities start/end of the process generation */
  start: number | null;
  end: number | null;
  attrs: NodeAttrs;
}

/** Attributes by node type; all optional so every source fills what it knows. */
export interface NodeAttrs {
  // process
  pid?: number;
  ppid?: number | null;
  generation?: number;
  exe?: string;
  argv?: string[];
  cwd?: string;
  env?: string[];
  tids?: number[];
  exitCode?: number;
  exitSignal?: string;
  coreDumped?: boolean;
  /** how the process began: fork, vfork, clone, clone3, attach, root */
  via?: string;
  // file
  path?: string;
  category?: string;
  deleted?: boolean;
  // socket
  family?: string;
  protocol?: string;
  local?: string;
  remote?: string;
  role?: "listening" | "connected" | "unconnected";
  // pipe / socket
  inode?: string;
  // device
  major?: number;
  minor?: number;
  // agents
  host?: string;
  uid?: number;
  [key: string]: unknown;
}

export type RelationType =
  | "used"
  | "wasGeneratedBy"
  | "wasInformedBy"
  | "wasDerivedFrom"
  | "wasAssociatedWith"
  | "wasAttributedTo"
  | "wasInvalidatedBy"
  | "actedOnBehalfOf"
  // the rest of PROV-DM, from PROV sources
  | "wasInfluencedBy"
  | "wasStartedBy"
  | "wasEndedBy"
  | "specializationOf"
  | "alternateOf"
  | "hadMember"
  | "mentionOf";

/**
 * What the relation stands for, finer than its PROV type:
 * used: read, execute, map, probe, recv, accept-from; wasGeneratedBy: write, create, truncate,
 * send; wasInformedBy: fork, vfork, clone, exec, wait, signal, pipe; wasDerivedFrom: rename,
 * version, link, copy; wasInvalidatedBy: delete, rename-away; alternateOf: same-as (provflow merge).
 */
export type RelationOp =
  | "read"
  | "write"
  | "create"
  | "truncate"
  | "execute"
  | "map"
  | "probe"
  | "open"
  | "delete"
  | "rename"
  | "link"
  | "version"
  | "copy"
  | "fork"
  | "vfork"
  | "clone"
  | "exec"
  | "wait"
  | "signal"
  | "pipe"
  | "connect"
  | "accept"
  | "bind"
  | "listen"
  | "send"
  | "recv"
  | "associated"
  | "attributed"
  | "mkdir"
  | "rmdir"
  | "chdir"
  /** alternateOf made by `provflow merge`: two runs' nodes for the same resource (`attrs.link` is the rule) */
  | "same-as"
  /** a PROV source's relation with no finer meaning here; `attrs.sourceType` keeps the source's own */
  | "other";

export interface GraphEdge {
  /** run-local id, 1..n, assigned by the builder */
  id: number;
  type: RelationType;
  op: RelationOp;
  from: number;
  to: number;
  /** first and last time the relation held (µs) */
  ts: number | null;
  tsEnd: number | null;
  /** how many calls it stands for, and bytes moved */
  count: number;
  bytes: number;
  attrs: Record<string, unknown>;
}
