import { setAttr } from "../../events/attrs-text.js";
import type { ProvClass, ProvEvent, ProvNodeEvent, SourceLocation } from "../../events/event-types.js";
import { keptAttributes } from "../prov-json/prov-json-mapper.js";
import {
  type DocContext,
  ELEMENT_SECTIONS,
  type ProvRecordMapper,
  RELATION_SECTIONS,
  type RelationSpec,
} from "../prov-json/prov-json-reader.js";
import { valueDate, valueNumber, valueText } from "../prov-json/prov-json-values.js";
import {
  type CamflowId,
  camflowKey,
  camflowMachineId,
  camflowNodeKind,
  camflowOp,
  camflowSectionOf,
  decodeCamflowId,
} from "./camflow-vocabulary.js";

/**
 * CamFlow's records → node and relation events, for its W3C PROV-JSON flavour (every version seen:
 * 0.1.x, 0.3.x, 0.9) and, through `camflowNode`, for its SPADE JSON flavour.
 *
 * - Keys are CamFlow's own ids without the `cf:` prefix (0.3.x writes none), so references made
 *   with and without it meet.
 * - Global ids: `camflow://MACHINE/BOOT/ID` (the version is the node's version field), the machine
 *   `camflow://MACHINE`, a packet `packet://SENDER->RECEIVER/ID/SEQ` — a packet has no machine in
 *   its identity, so the sender's and the receiver's captures name it alike and join on it.
 * - Every attribute stays as CamFlow wrote it (`cf:secctx`, `cf:cgroupns`, `cf:machine_id`…), plus
 *   `sourceId`, `sourceType` (CamFlow's type), `machineId`, `bootId` and the few fields provflow
 *   reads (`pid`, `uid`, `path`, `inode`, `host`).
 * - Relations whose nodes come in a later document wait in the graph builder; those whose nodes
 *   never come are reported as dangling.
 */

/** The `[type]` that starts CamFlow's labels (`[task] 16`, `[path] /etc/passwd`). */
function labelType(label: string | undefined): string | undefined {
  if (label === undefined) return undefined;
  const m = /^\[([a-z_]+)\]/.exec(label);
  return m ? m[1] : undefined;
}

/** An attribute CamFlow writes as `cf:NAME` (W3C) or `NAME` (SPADE flavour). */
function field(attrs: Record<string, unknown>, cfName: string, name: string): unknown {
  const v = attrs[cfName];
  return v !== undefined ? v : attrs[name];
}

function isDigits(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export interface CamflowNodeInput {
  /** the id as written */
  id: string;
  /** CamFlow's node type, when the record says it */
  camflowType: string | undefined;
  /** the PROV class the source gives it, if any */
  cls: ProvClass | undefined;
  attrs: Record<string, unknown>;
  machineId: unknown;
  bootId: unknown;
  objectId: unknown;
  version: unknown;
  label: string | undefined;
  at: SourceLocation;
}

/** The node event of a CamFlow node (either flavour). `machineHint`: the MQTT topic's machine. */
export function camflowNode(input: CamflowNodeInput, machineHint?: string): ProvNodeEvent {
  const key = camflowKey(input.id);
  const a = input.attrs;
  const type = input.camflowType ?? labelType(input.label) ?? "unknown";
  const kind = camflowNodeKind(type);
  const isPacket = kind.type === "packet";
  // what the record does not say, its id does (decoded only then; undefined: not decoded yet)
  let decoded: CamflowId | null | undefined;
  let machine = camflowMachineId(input.machineId);
  if (machine === undefined && kind.type === "machine" && isDigits(key)) machine = key;
  if (machine === undefined && !isPacket) {
    decoded = decodeCamflowId(key);
    if (decoded) machine = String(decoded.machine);
  }
  machine ??= machineHint;
  let bootN = valueNumber(input.bootId);
  if (bootN === undefined && !isPacket) {
    if (decoded === undefined) decoded = decodeCamflowId(key);
    bootN = decoded?.boot;
  }
  const boot = bootN !== undefined ? String(bootN) : undefined;
  let objectId = valueText(input.objectId);
  if (objectId === undefined) {
    if (decoded === undefined) decoded = decodeCamflowId(key);
    objectId = decoded?.id ?? key;
  }
  let version = kind.type === "machine" ? undefined : valueNumber(input.version);
  if (version === undefined && !isPacket) {
    if (decoded === undefined) decoded = decodeCamflowId(key);
    version = decoded?.version;
  }
  version ??= 0;
  let gid: string;
  if (kind.type === "machine") gid = `camflow://${machine ?? key}`;
  else if (kind.type === "packet") {
    const sender = valueText(field(a, "cf:sender", "sender"));
    const receiver = valueText(field(a, "cf:receiver", "receiver"));
    const seq = valueText(field(a, "cf:seq", "seq"));
    gid =
      sender !== undefined && receiver !== undefined
        ? `packet://${sender}->${receiver}/${objectId}/${seq ?? "-"}`
        : `packet://camflow/${key}`;
  } else gid = `camflow://${machine ?? "-"}/${boot ?? "-"}/${objectId}`;

  setAttr(a, "sourceId", input.id);
  setAttr(a, "sourceType", type);
  if (machine !== undefined) setAttr(a, "machineId", machine);
  if (boot !== undefined) setAttr(a, "bootId", boot);
  const uid = valueNumber(field(a, "cf:uid", "uid"));
  if (uid !== undefined) setAttr(a, "uid", uid);
  if (kind.type === "process") {
    const pid = valueNumber(field(a, "cf:pid", "pid"));
    if (pid !== undefined) setAttr(a, "pid", pid);
    // provflow agent's tasks say their program (CamFlow's own do so through argv entities)
    const exe = valueText(a["cf:exe"]);
    if (exe !== undefined) setAttr(a, "exe", exe);
    const argv = a["cf:argv"];
    if (Array.isArray(argv))
      setAttr(
        a,
        "argv",
        argv.map((x) => valueText(x) ?? String(x)),
      );
    const cwd = valueText(a["cf:cwd"]);
    if (cwd !== undefined) setAttr(a, "cwd", cwd);
  } else if (kind.type === "file" || kind.type === "directory") {
    // provflow agent's files carry their path (CamFlow's are named by path entities)
    const p = valueText(field(a, "cf:pathname", "pathname"));
    if (p !== undefined) setAttr(a, "path", p);
  } else if (kind.type === "memory") {
    const tgid = valueNumber(field(a, "cf:tgid", "tgid"));
    if (tgid !== undefined) setAttr(a, "pid", tgid);
  } else if (kind.type === "path") {
    const p = valueText(field(a, "cf:pathname", "pathname"));
    if (p !== undefined) setAttr(a, "path", p);
  } else if (kind.type === "machine") {
    const host = valueText(field(a, "cf:u_nodename", "u_nodename") ?? field(a, "cf:nodename", "nodename"));
    if (host !== undefined) setAttr(a, "host", host);
  }
  const ino = valueText(field(a, "cf:ino", "ino"));
  if (ino !== undefined && kind.type !== "process") setAttr(a, "inode", ino);
  return {
    kind: "prov.node",
    key,
    cls: input.cls ?? kind.cls,
    type: kind.type,
    gid,
    version,
    label: input.label ?? `[${type}] ${objectId}`,
    start: valueDate(field(a, "cf:date", "date")),
    end: null,
    attrs: a,
    at: input.at,
  };
}

/** CamFlow 0.3.x's `relation` section: an `unknown` relation from a sender to a receiver. */
const CAMFLOW_RELATION: RelationSpec = {
  type: "wasInfluencedBy",
  from: "cf:receiver",
  to: "cf:sender",
  fromCls: "entity",
  toCls: "entity",
  time: false,
};

export class CamflowW3cMapper implements ProvRecordMapper {
  readonly usesPrefixes = false;
  /** records keep their JSON text: the attributes are the record plus setAttr's additions */
  readonly keepsRecordText = true;
  /** the machine of the records that do not say (the MQTT topic's), if known */
  machineHint: string | undefined;

  constructor(private readonly emit: (ev: ProvEvent) => void) {}

  knowsSection(name: string): boolean {
    return (
      Object.hasOwn(ELEMENT_SECTIONS, name) ||
      Object.hasOwn(RELATION_SECTIONS, name) ||
      name === "relation" ||
      name === "message"
    );
  }

  record(
    section: string | null,
    id: string,
    rec: Record<string, unknown>,
    at: SourceLocation,
    cx: DocContext,
  ): void {
    const relType = valueText(rec["prov:type"]) ?? valueText(rec["cf:type"]);
    if (section === null) {
      // a bare member (CamFlow's documentation fragments): its roles tell a relation from a node
      section = camflowSectionOf(rec, relType);
      if (section === null) {
        this.node(undefined, id, rec, at, cx);
        return;
      }
    }
    if (Object.hasOwn(ELEMENT_SECTIONS, section)) {
      this.node(ELEMENT_SECTIONS[section], id, rec, at, cx);
      return;
    }
    if (section === "message") {
      this.node("entity", id, rec, at, cx);
      return;
    }
    const spec = section === "relation" ? CAMFLOW_RELATION : RELATION_SECTIONS[section];
    if (!spec) return;
    const attrs = keptAttributes(rec, section, id, at, cx, true);
    setAttr(attrs, "sourceId", id);
    if (relType !== undefined) setAttr(attrs, "sourceType", relType);
    const from = valueText(rec[spec.from]);
    const to = valueText(rec[spec.to]);
    this.emit({
      kind: "prov.relation",
      type: spec.type,
      op: camflowOp(relType),
      from: from !== undefined ? camflowKey(from) : null,
      to: to !== undefined ? camflowKey(to) : null,
      ts: valueDate(rec["cf:date"]),
      attrs,
      at,
    });
  }

  private node(
    cls: ProvClass | undefined,
    id: string,
    rec: Record<string, unknown>,
    at: SourceLocation,
    cx: DocContext,
  ): void {
    const attrs = keptAttributes(rec, null, id, at, cx, true);
    const t = valueText(rec["prov:type"]);
    this.emit(
      camflowNode(
        {
          id,
          camflowType: t !== undefined ? camflowKey(t) : undefined,
          cls,
          attrs,
          machineId: rec["cf:machine_id"],
          bootId: rec["cf:boot_id"],
          objectId: rec["cf:id"],
          version: rec["cf:version"],
          label: valueText(rec["prov:label"]),
          at,
        },
        this.machineHint,
      ),
    );
  }
}
