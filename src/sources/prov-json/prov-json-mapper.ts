import type { ProvClass, ProvEvent, SourceLocation } from "../../events/event-types.js";
import { PROVFLOW_NS } from "../../export/prov-names.js";
import type { NodeType, RelationOp } from "../../graph/prov-types.js";
import {
  type DocContext,
  ELEMENT_SECTIONS,
  type ProvRecordMapper,
  RELATION_SECTIONS,
  type RelationSpec,
} from "./prov-json-reader.js";
import { badValue, valueDate, valueNumber, valueText, valueTexts } from "./prov-json-values.js";

/**
 * Plain W3C PROV-JSON records → node and relation events. A node's key and global id are its
 * expanded IRI (`ex:e1` with `ex` = `http://example.org/` → `http://example.org/e1`): PROV names are
 * global, so the same IRI in two runs is the same thing. Every attribute is kept as written, under
 * its qualified name. What provflow wrote itself (`provflow:gid`, a `provflow:TYPE` prov:type,
 * `provflow:op`…) is read back, so an exported run ingested again keeps its types and identities.
 */

const NODE_TYPES = new Set<string>([
  "process",
  "file",
  "directory",
  "pipe",
  "socket",
  "device",
  "anon",
  "user",
  "machine",
  "packet",
  "memory",
  "path",
  "address",
  "other",
]);

const RELATION_OPS = new Set<string>([
  "read",
  "write",
  "create",
  "truncate",
  "execute",
  "map",
  "probe",
  "open",
  "delete",
  "rename",
  "link",
  "version",
  "copy",
  "fork",
  "vfork",
  "clone",
  "exec",
  "wait",
  "signal",
  "pipe",
  "connect",
  "accept",
  "bind",
  "listen",
  "send",
  "recv",
  "associated",
  "attributed",
  "mkdir",
  "rmdir",
  "chdir",
  "other",
]);

export function isRelationOp(s: string): s is RelationOp {
  return RELATION_OPS.has(s);
}

export function isNodeType(s: string): s is NodeType {
  return NODE_TYPES.has(s);
}

/**
 * The attributes of a record that are PROV-JSON values, as written; the others are reported and
 * left out. `objects`: object values without `$` are accepted (CamFlow's `cf:address`). The record
 * itself is returned (and later completed) when every value is good: no copy per record. The
 * record is named in reports as `SECTION ID` (`ID` alone without a section).
 */
export function keptAttributes(
  rec: Record<string, unknown>,
  section: string | null,
  id: string,
  at: SourceLocation,
  cx: DocContext,
  objects: boolean,
): Record<string, unknown> {
  let attrs: Record<string, unknown> | null = null;
  for (const k in rec) {
    const v = rec[k];
    const bad = typeof v === "object" ? badValue(v, objects) : null;
    if (bad) {
      const what = section === null ? id : `${section} ${id}`;
      cx.problem(`${what}: attribute ${k} is ${bad}: left out`, at, JSON.stringify(v));
      if (!attrs) {
        attrs = {};
        for (const j in rec) {
          if (j === k) break;
          attrs[j] = rec[j];
        }
      }
      continue;
    }
    if (attrs) attrs[k] = v;
  }
  return attrs ?? rec;
}

export class W3cProvMapper implements ProvRecordMapper {
  readonly usesPrefixes = true;

  constructor(private readonly emit: (ev: ProvEvent) => void) {}

  knowsSection(name: string): boolean {
    return Object.hasOwn(ELEMENT_SECTIONS, name) || Object.hasOwn(RELATION_SECTIONS, name);
  }

  record(
    section: string | null,
    id: string,
    rec: Record<string, unknown>,
    at: SourceLocation,
    cx: DocContext,
  ): void {
    if (section === null) {
      cx.problem(`${JSON.stringify(id)} is outside any document: not PROV-JSON`, at);
      return;
    }
    if (Object.hasOwn(ELEMENT_SECTIONS, section)) {
      this.element(ELEMENT_SECTIONS[section]!, section, id, rec, at, cx);
    } else if (Object.hasOwn(RELATION_SECTIONS, section)) {
      this.relation(RELATION_SECTIONS[section]!, section, id, rec, at, cx);
    }
  }

  /** Key of a named node: its IRI; a blank node (`_:x`) is only itself inside its own document. */
  private key(qname: string, cx: DocContext): string {
    if (qname.startsWith("_:")) return `${cx.file}#${cx.doc}/${qname}`;
    return cx.ns.expand(qname);
  }

  private element(
    cls: ProvClass,
    section: string,
    id: string,
    rec: Record<string, unknown>,
    at: SourceLocation,
    cx: DocContext,
  ): void {
    const attrs = keptAttributes(rec, section, id, at, cx, false);
    attrs.sourceId = id;
    if (cx.bundle !== null) attrs.bundle = cx.bundle;
    const key = this.key(id, cx);
    let type: NodeType = "other";
    for (const t of valueTexts(attrs["prov:type"])) {
      const iri = cx.ns.expand(t);
      if (iri.startsWith(PROVFLOW_NS)) {
        const local = iri.slice(PROVFLOW_NS.length);
        if (isNodeType(local)) type = local;
      }
    }
    const gid = valueText(attrs["provflow:gid"]) ?? key;
    const version = valueNumber(attrs["provflow:version"]) ?? 0;
    const start = valueDate(attrs["prov:startTime"] ?? attrs["provflow:startTime"]);
    const end = valueDate(attrs["prov:endTime"] ?? attrs["provflow:endTime"]);
    this.emit({
      kind: "prov.node",
      key,
      cls,
      type,
      gid,
      version,
      label: valueText(attrs["prov:label"]) ?? id,
      start,
      end,
      attrs,
      at,
    });
  }

  private relation(
    spec: RelationSpec,
    section: string,
    id: string,
    rec: Record<string, unknown>,
    at: SourceLocation,
    cx: DocContext,
  ): void {
    const attrs = keptAttributes(rec, section, id, at, cx, false);
    attrs.sourceId = id;
    attrs.sourceType = section;
    if (cx.bundle !== null) attrs.bundle = cx.bundle;
    // a role may name several things (a membership of several entities): one relation each
    const froms = valueTexts(rec[spec.from]).map((n) => this.key(n, cx));
    const tos = valueTexts(rec[spec.to]).map((n) => this.key(n, cx));
    const opText = valueText(attrs["provflow:op"]);
    const op = opText !== undefined && isRelationOp(opText) ? opText : "other";
    const ts = valueDate(spec.time ? (attrs["prov:time"] ?? attrs["provflow:time"]) : attrs["provflow:time"]);
    const count = valueNumber(attrs["provflow:count"]);
    const bytes = valueNumber(attrs["provflow:bytes"]);
    const extra = {
      ...(count !== undefined && count >= 1 ? { count } : {}),
      ...(bytes !== undefined ? { bytes } : {}),
    };
    for (const from of froms.length > 0 ? froms : [null]) {
      for (const to of tos.length > 0 ? tos : [null]) {
        this.emit({
          kind: "prov.relation",
          type: spec.type,
          op,
          from,
          to,
          ts,
          ...extra,
          attrs: froms.length * tos.length > 1 ? { ...attrs } : attrs,
          at,
          ...(from !== null && to !== null
            ? { implicit: { from: spec.fromCls, to: spec.toCls, fromGid: from, toGid: to } }
            : {}),
        });
      }
    }
  }
}
