import type { NodeType, RelationOp, RelationType } from "../graph/prov-types.js";
import type { NetworkMount } from "../util/mount-table.js";

/**
 * The event stream every source is reduced to. Sources (strace, ltrace, later audit, CamFlow,
 * Windows traces) emit these; the graph builder turns them into W3C PROV nodes and relations.
 *
 * Conventions:
 * - `ts` is microseconds since the Unix epoch (UTC). A source whose clock has no date (strace -tt)
 *   adds the run's date; a source with no clock at all uses the line number as a monotonic stand-in
 *   and says so in `RunContext.clock`.
 * - `pid` is the process (thread-group id) as the source names it; `tid` the thread when it differs.
 * - `at` tells where the fact came from (file and 1-based line), for error messages and provenance.
 * - Paths are absolute and normalised when the source allows; `rawPath` keeps what the program asked.
 */

export interface SourceLocation {
  file: string;
  line: number;
  /**
   * 1-based index of the document in a stream of documents (CamFlow writes one PROV-JSON document
   * per line or MQTT message, a PROV-JSON file may hold several): where a PROV source said something.
   */
  doc?: number;
}

export interface EventBase {
  ts: number;
  pid: number;
  tid?: number;
  at?: SourceLocation;
}

/** A resource a call touched, as the source could identify it. */
export type ResourceRef =
  | { type: "file"; path: string; dev?: string; inode?: string }
  | { type: "pipe"; inode: string }
  | {
      type: "socket";
      family: SocketFamily;
      /** protocol as strace names it: TCP, TCPv6, UDP, UDPv6, UNIX, NETLINK, … */
      protocol: string;
      local?: string;
      remote?: string;
      inode?: string;
      path?: string;
    }
  | { type: "device"; path: string; major?: number; minor?: number; kind?: "char" | "block" }
  | { type: "anon"; name: string }
  /** a Windows registry key or value (`HKLM\Software\…`), as the source wrote it */
  | { type: "registry"; key: string }
  | { type: "unknown"; name: string };

export type SocketFamily = "inet" | "inet6" | "unix" | "netlink" | "other";

export interface ProcessStartEvent extends EventBase {
  kind: "process.start";
  ppid: number | null;
  /** how it began: fork-like call in the parent, attach (-p), or the first process seen */
  via: "fork" | "vfork" | "clone" | "clone3" | "attach" | "root" | "unknown" | "create";
  /** what the source knows of the process beyond the event (Windows: ProcessGuid, user, integrity) */
  attrs?: Record<string, unknown>;
}

export interface ThreadStartEvent extends EventBase {
  kind: "thread.start";
  /** the new thread's id; `pid` is its thread-group leader */
  newTid: number;
}

export interface ExecEvent extends EventBase {
  kind: "process.exec";
  exe: string;
  argv: string[];
  /** the environment when the tracer shows it (strace -v); secrets are redacted on export */
  env?: string[];
  envCount?: number;
  cwd?: string;
  ok: boolean;
  errno?: string;
  /** what the source knows of the program beyond argv (Windows: ProcessGuid, user, integrity) */
  attrs?: Record<string, unknown>;
}

export interface ExitEvent extends EventBase {
  kind: "process.exit";
  code?: number;
  signal?: string;
  coreDumped?: boolean;
}

export interface WaitEvent extends EventBase {
  kind: "process.wait";
  child: number;
  code?: number;
  signal?: string;
}

export interface SignalEvent extends EventBase {
  kind: "process.signal";
  signal: string;
  /** sender pid when the source knows it (si_pid) */
  from?: number;
  code?: string;
}

export interface ChdirEvent extends EventBase {
  kind: "process.chdir";
  cwd: string;
}

export type FileOp =
  | "open"
  | "read"
  | "write"
  | "create"
  | "truncate"
  | "delete"
  | "mkdir"
  | "rmdir"
  | "execute"
  | "map"
  | "probe"
  | "chmod"
  | "chown"
  | "link"
  | "symlink";

/** Something a process did to a resource: opens, reads, writes, deletes, probes… */
export interface AccessEvent extends EventBase {
  kind: "access";
  op: FileOp;
  res: ResourceRef;
  /** the call that did it (openat, read, unlinkat…) */
  call: string;
  /** for open: what the flags allow */
  read?: boolean;
  write?: boolean;
  create?: boolean;
  truncate?: boolean;
  append?: boolean;
  /** the resource is a directory (O_DIRECTORY, getdents, mkdir/rmdir) */
  directory?: boolean;
  /** bytes moved by read/write calls */
  bytes?: number;
  fd?: number;
  ok: boolean;
  errno?: string;
  /** for link/symlink: the other name */
  target?: string;
}

export interface RenameEvent extends EventBase {
  kind: "rename";
  from: string;
  to: string;
  call: string;
  ok: boolean;
  errno?: string;
}

export interface PipeEvent extends EventBase {
  kind: "pipe";
  /** pipe2/pipe → the pipe; socketpair → a pair of unix sockets */
  res: ResourceRef;
  fds: [number, number];
  call: string;
}

export interface SocketEvent extends EventBase {
  kind: "socket";
  op: "socket" | "bind" | "listen" | "connect" | "accept" | "send" | "recv" | "shutdown";
  res: ResourceRef;
  call: string;
  /** address named in the call (connect/bind/sendto), decoded */
  address?: string;
  bytes?: number;
  fd?: number;
  ok: boolean;
  errno?: string;
  /** database queries recognised in the bytes sent (strace -s buffers): `protocol: text` */
  queries?: string[];
}

/** One system or library call as the tracer showed it; the calls log folds these into steps. */
export interface CallEvent extends EventBase {
  kind: "call";
  name: string;
  /** the resource it acted on (a display name: path, pipe:[ino], TCP:[a->b]) or "" */
  resource: string;
  bytes?: number;
  ok: boolean;
  ret?: string;
  errno?: string;
  /** duration in microseconds (strace -T) */
  dur?: number;
  /** database queries its buffer carried (socket writes): `protocol: text` */
  queries?: string[];
}

/** PROV class of a node described by a PROV source: the PROV-JSON section it was found in. */
export type ProvClass = "activity" | "entity" | "agent";

/**
 * A node a PROV source (PROV-JSON, CamFlow, SPADE) describes itself, with its own identifier. The
 * graph builder keeps one node per `key`: a second description of the same key adds to the first.
 */
export interface ProvNodeEvent {
  kind: "prov.node";
  /** the source's identifier of the node, unique in the run (expanded IRI, CamFlow id, SPADE id) */
  key: string;
  cls: ProvClass;
  type: NodeType;
  gid: string;
  version: number;
  label: string;
  start: number | null;
  end: number | null;
  /** every attribute of the source, under its own name, and the few provflow reads (pid, path…) */
  attrs: Record<string, unknown>;
  at: SourceLocation;
}

/**
 * A relation between two nodes of a PROV source, by their keys. A relation may arrive before the
 * nodes it joins (CamFlow: a third of them point into a later document): the builder keeps it
 * pending (bounded) until both ends are described.
 */
export interface ProvRelationEvent {
  kind: "prov.relation";
  type: RelationType;
  op: RelationOp;
  /** keys of the subject and the object of the PROV statement; null when the record names none */
  from: string | null;
  to: string | null;
  ts: number | null;
  count?: number;
  bytes?: number;
  attrs: Record<string, unknown>;
  at: SourceLocation;
  /**
   * What an end never described becomes at the end of the input. PROV-JSON: a reference is a valid
   * statement that the thing exists, so it becomes a node of the class its role implies. Absent
   * (CamFlow, SPADE): the relation is dangling, reported as a problem and left out.
   */
  implicit?: { from: ProvClass; to: ProvClass; fromGid: string; toGid: string };
}

/** A line or record the source could not understand: counted, reported, never fatal. */
export interface ProblemEvent {
  kind: "problem";
  at: SourceLocation;
  message: string;
  /** the offending text, cut to a reasonable length */
  text?: string;
}

export type ProvEvent =
  | ProcessStartEvent
  | ThreadStartEvent
  | ExecEvent
  | ExitEvent
  | WaitEvent
  | SignalEvent
  | ChdirEvent
  | AccessEvent
  | RenameEvent
  | PipeEvent
  | SocketEvent
  | CallEvent
  | ProvNodeEvent
  | ProvRelationEvent
  | ProblemEvent;

/** What a source knows about the run as a whole (from the log or the tracer's command line). */
export interface RunContext {
  host: string;
  machineId?: string;
  bootId?: string;
  /** the date (YYYY-MM-DD) to add to clock-only timestamps (strace -t/-tt) */
  date?: string;
  /**
   * the capture machine's time zone (an IANA name or an offset, see src/util/time-zone.ts) for
   * sources that print local time without a zone: strace and ltrace -t/-tt, Process Monitor's CSV
   * and XML exports. Unset: those times are UTC.
   */
  tz?: string;
  /** the working directory of the first process when known */
  cwd?: string;
  /** "epoch" (-ttt), "time-of-day" (-t/-tt), "relative" (-r), "none" (line numbers) */
  clock?: "epoch" | "time-of-day" | "relative" | "none";
  /**
   * The first process's program when the tracer started it itself and prints no exec for it
   * (ltrace): its exe and argv.
   */
  rootCommand?: { exe: string; argv: string[] };
  /** the recording machine's network mounts (NFS, CIFS), kept on its machine agent for `provflow merge` */
  mounts?: NetworkMount[];
  /** the recording machine's distribution (its container image, its os-release PRETTY_NAME) */
  os?: { image: string; name: string | null };
}
