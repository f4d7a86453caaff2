import type { ProvClass, ProvEvent, SourceLocation } from "../../events/event-types.js";
import type { NodeType, RelationOp } from "../../graph/prov-types.js";
import { camflowNode } from "../camflow/camflow-mapper.js";
import { camflowKey, camflowOp, SPADE_EDGE_TYPES } from "../camflow/camflow-vocabulary.js";
import { JsonScanner, type ScanPos, TopValueSink } from "../prov-json/json-scanner.js";
import { describe } from "../prov-json/prov-json-reader.js";
import { feedLines, sniffJson } from "../prov-json/prov-json-source.js";
import { isObject, parseDateMicros, valueNumber, valueText } from "../prov-json/prov-json-values.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";

/**
 * SPADE's JSON (its JSON reporter's input and its JSON storage's output): vertices
 * `{"type","id","annotations"}` and edges `{"type","from","to","annotations"}`, back to back, one per
 * line, or in an array with commas (trailing ones too, as in SPADE's wiki). `from` is the effect and
 * `to` the cause, which is the subject → object order of PROV statements that provflow keeps.
 *
 * Two vocabularies: SPADE's Audit reporter (OPM: Process, Artifact, Agent; Used, WasGeneratedBy,
 * WasTriggeredBy, WasControlledBy, WasDerivedFrom; annotations `pid`, `path`, `subtype`,
 * `operation`, `time`…) and PROV's (Activity, Entity, Agent…), plus CamFlow's SPADE flavour, whose
 * annotations (`object_type`, `cf:machine_id`, `relation_type`…) are read as CamFlow's.
 */

const VERTEX_CLASSES: Readonly<Record<string, ProvClass>> = {
  Process: "activity",
  Activity: "activity",
  Artifact: "entity",
  Entity: "entity",
  Agent: "agent",
};

/** SPADE's Audit reporter's artifact subtypes. */
const SUBTYPES: Readonly<Record<string, NodeType>> = {
  file: "file",
  link: "file",
  directory: "directory",
  "character device": "device",
  "block device": "device",
  "named pipe": "pipe",
  "unnamed pipe": "pipe",
  "network socket": "socket",
  "unix socket": "socket",
  "unix socket pair": "socket",
  "network socket pair": "socket",
  memory: "memory",
};

/** SPADE's Audit reporter's operations that mean a finer op of ours. */
const AUDIT_OPS: Readonly<Record<string, RelationOp>> = {
  read: "read",
  pread: "read",
  readv: "read",
  recv: "recv",
  recvfrom: "recv",
  recvmsg: "recv",
  write: "write",
  pwrite: "write",
  writev: "write",
  send: "send",
  sendto: "send",
  sendmsg: "send",
  open: "open",
  create: "create",
  mknod: "create",
  truncate: "truncate",
  unlink: "delete",
  rename: "rename",
  link: "link",
  symlink: "link",
  execve: "exec",
  load: "execute",
  mmap: "map",
  fork: "fork",
  vfork: "vfork",
  clone: "clone",
  connect: "connect",
  accept: "accept",
  bind: "bind",
  update: "version",
  chdir: "chdir",
};

/** Seconds since the epoch (SPADE's `time`, `start time`) or a date-time → µs. */
function spadeTime(v: unknown): number | null {
  const t = valueText(v);
  if (t === undefined) return null;
  if (/^\d+(\.\d+)?$/.test(t)) {
    const [s, frac = ""] = t.split(".");
    return Number(s) * 1_000_000 + Number(frac.slice(0, 6).padEnd(6, "0"));
  }
  return parseDateMicros(t);
}

function idText(v: unknown): string | undefined {
  return typeof v === "string" || (typeof v === "number" && Number.isFinite(v)) ? String(v) : undefined;
}

/** Reads SPADE JSON records from a JsonScanner (spade mode) and collects their events. */
export class SpadeRecordReader extends TopValueSink {
  records = 0;
  /** the machine of CamFlow records that do not say (MQTT topic) */
  machineHint: string | undefined;

  constructor(
    file: string,
    private readonly host: string,
  ) {
    super(file);
  }

  topValue(value: unknown, at: ScanPos): void {
    if (!isObject(value)) {
      this.problem(at, `${describe(value)} is not a SPADE record (an object with a type)`);
      return;
    }
    this.records++;
    const type = value.type;
    const loc: SourceLocation = { file: this.file, line: at.line };
    if (value.annotations !== undefined && !isObject(value.annotations)) {
      this.problem(at, `the annotations are ${describe(value.annotations)}, not an object`);
      return;
    }
    const ann: Record<string, unknown> = isObject(value.annotations) ? { ...value.annotations } : {};
    if (typeof type !== "string") {
      const what =
        type === undefined ? "an object without a type" : `a record whose type is ${describe(type)}`;
      this.problem(at, `${what}: not a SPADE vertex or edge`, JSON.stringify(value));
      return;
    }
    if (Object.hasOwn(VERTEX_CLASSES, type)) {
      const id = idText(value.id);
      if (id === undefined) {
        this.problem(at, `a ${type} vertex without an id`, JSON.stringify(value));
        return;
      }
      this.vertex(VERTEX_CLASSES[type]!, type, id, ann, loc);
      return;
    }
    if (Object.hasOwn(SPADE_EDGE_TYPES, type)) {
      this.edge(type, value, ann, loc);
      return;
    }
    this.problem(at, `${JSON.stringify(type)} is not a SPADE vertex or edge type`, JSON.stringify(value));
  }

  private vertex(
    cls: ProvClass,
    type: string,
    id: string,
    ann: Record<string, unknown>,
    at: SourceLocation,
  ): void {
    if (ann.object_type !== undefined) {
      // CamFlow's SPADE flavour
      this.out.push(
        camflowNode(
          {
            id,
            camflowType: valueText(ann.object_type),
            cls,
            attrs: ann,
            machineId: ann["cf:machine_id"],
            bootId: ann.boot_id,
            objectId: ann.object_id,
            version: ann.version,
            label: undefined,
            at,
          },
          this.machineHint,
        ),
      );
      return;
    }
    const host = this.host;
    let nodeType: NodeType = "other";
    let gid = `spade://${host}/${id}`;
    let label: string | undefined;
    const version = valueNumber(ann.version) ?? 0;
    const attrs = ann;
    attrs.sourceId = id;
    attrs.sourceType = valueText(ann.subtype) ?? type;
    const path = valueText(ann.path);
    if (cls === "activity") {
      nodeType = type === "Process" || ann.pid !== undefined ? "process" : "other";
      // SPADE's own annotations (pid, exe, cwd, path…) are the names provflow reads: kept as written
      const pid = valueNumber(ann.pid);
      const exe = valueText(ann.exe);
      const start = spadeTime(ann["start time"]);
      if (pid !== undefined && start !== null) gid = `proc://${host}/-/${pid}@${start}`;
      label = valueText(ann["command line"]) ?? exe ?? valueText(ann.name) ?? valueText(ann.program);
    } else if (cls === "entity") {
      const subtype = valueText(ann.subtype);
      if (subtype !== undefined && Object.hasOwn(SUBTYPES, subtype)) nodeType = SUBTYPES[subtype]!;
      if (path !== undefined) {
        if (
          (nodeType === "file" || nodeType === "directory" || nodeType === "device") &&
          path.startsWith("/")
        ) {
          gid = `file://${host}${path}`;
        }
        label = path;
      } else {
        const la = valueText(ann["local address"]);
        const ra = valueText(ann["remote address"]);
        if (la !== undefined || ra !== undefined) {
          label = `${la ?? "?"}:${valueText(ann["local port"]) ?? "?"}->${ra ?? "?"}:${valueText(ann["remote port"]) ?? "?"}`;
        }
      }
    } else {
      const uid = valueNumber(ann.uid);
      if (uid !== undefined) {
        nodeType = "user";
        gid = `user://${host}/${uid}`;
        label = `uid ${uid}`;
      }
    }
    this.out.push({
      kind: "prov.node",
      key: id,
      cls,
      type: nodeType,
      gid,
      version,
      label: label ?? `[${type}] ${id}`,
      start: cls === "activity" ? spadeTime(ann["start time"]) : null,
      end: null,
      attrs,
      at,
    });
  }

  private edge(
    type: string,
    rec: Record<string, unknown>,
    ann: Record<string, unknown>,
    at: SourceLocation,
  ): void {
    const from = idText(rec.from);
    const to = idText(rec.to);
    const camflow = ann.relation_type !== undefined;
    const relType = valueText(camflow ? ann.relation_type : ann.operation);
    const attrs = ann;
    const id = idText(rec.id) ?? valueText(ann.id);
    if (id !== undefined) attrs.sourceId = id;
    attrs.sourceType = relType ?? type;
    let op: RelationOp = "other";
    if (camflow) op = camflowOp(relType);
    else if (relType !== undefined) {
      // "mmap (write)", "link (read)": the call, then which way the data went
      const call = relType.replace(/ \((read|write)\)$/, "");
      if (Object.hasOwn(AUDIT_OPS, call)) op = AUDIT_OPS[call]!;
    }
    const key = (v: string | undefined) => (v === undefined ? null : camflow ? camflowKey(v) : v);
    this.out.push({
      kind: "prov.relation",
      type: SPADE_EDGE_TYPES[type]!,
      op,
      from: key(from),
      to: key(to),
      ts: camflow ? spadeTime(ann["cf:date"]) : spadeTime(ann.time ?? ann["event time"]),
      ...(valueNumber(ann.size) !== undefined && (op === "read" || op === "write")
        ? { bytes: valueNumber(ann.size) }
        : {}),
      attrs,
      at,
    });
  }
}

/** A LineParser over SPADE JSON. */
export class SpadeJsonParser implements LineParser {
  readonly reader: SpadeRecordReader;
  private readonly scanner: JsonScanner;

  constructor(file: string, host: string) {
    this.reader = new SpadeRecordReader(file, host);
    this.scanner = new JsonScanner("spade", this.reader);
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    feedLines(this.scanner, lines, firstLine);
    return this.reader.take();
  }

  /** One message holding SPADE records (CamFlow publishes a batch of them per MQTT message). */
  pushDocument(text: string, line: number): ProvEvent[] {
    this.scanner.push(text, line, false);
    this.scanner.end();
    return this.reader.take();
  }

  end(): ProvEvent[] {
    this.scanner.end();
    const out = this.reader.take();
    if (this.reader.records === 0 && this.reader.problems === 0) {
      out.push({
        kind: "problem",
        at: { file: this.reader.file, line: 1 },
        message: "no SPADE record in the input",
      });
    }
    return out;
  }
}

const SPADE_KEYS = new Set(["type", "id", "from", "to", "annotations"]);
const SPADE_TYPE = new RegExp(
  `"type"\\s*:\\s*"(?:${[...Object.keys(VERTEX_CLASSES), ...Object.keys(SPADE_EDGE_TYPES)].join("|")})"`,
);

/** The first object of the input is a SPADE record (0 when not). */
export function spadeLikelihood(head: string[]): number {
  const h = sniffJson(head);
  if ((h.first !== "{" && h.first !== "[") || h.firstKey === undefined || !SPADE_KEYS.has(h.firstKey))
    return 0;
  return SPADE_TYPE.test(h.text.slice(0, 4096)) ? 0.9 : 0;
}

export const spadeJsonFormat: SourceFormat = {
  kind: "spade",
  detect(head: string[]): number {
    return spadeLikelihood(head);
  },
  createParser(opts: ParserOptions): LineParser {
    return new SpadeJsonParser(opts.file, opts.ctx.host || "localhost");
  },
};
