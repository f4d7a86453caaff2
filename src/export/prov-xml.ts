import { ChunkedWriter } from "./export-sink.js";
import type { Exporter, ExportInput, ExportSink } from "./exporter-types.js";
import { type Attrs, attributesComment, forEachProvRecord, type JsonValue, prefixes } from "./prov-json.js";
import { NODE_ARGS, RELATION_ARGS } from "./prov-n.js";

/**
 * W3C PROV-XML (https://www.w3.org/TR/prov-xml/), written element by element from the records of
 * the PROV-JSON export. Elements follow the schema's order: the positional arguments, then
 * prov:label, prov:location, prov:role, prov:type, prov:value, then provflow's attributes.
 * Characters XML 1.0 cannot hold at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF) become
 * U+FFFD; a carriage return is kept as `&#xD;`.
 */

const XSD_SCHEMA_NS = "http://www.w3.org/2001/XMLSchema";
const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";

/** PROV attributes with their own element, in schema order, before the others. */
const PROV_ATTRS = ["prov:label", "prov:location", "prov:role", "prov:type", "prov:value"];

/** Characters outside XML 1.0's Char production: C0 controls but tab/newline/CR, U+FFFE/U+FFFF… */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML 1.0 forbids
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
/** …and lone surrogates */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "\r": "&#xD;",
};

/** Text or attribute content escaped for XML 1.0; invalid characters become U+FFFD. */
export function xmlEscape(text: string): string {
  return text
    .replace(INVALID_XML, "\uFFFD")
    .replace(LONE_SURROGATE, "\uFFFD")
    .replace(/[&<>"\r]/g, (c) => XML_ESCAPES[c] ?? c);
}

/** One attribute as an element: `<provflow:op>read</provflow:op>`, typed with xsi:type. */
function xmlAttr(name: string, value: Exclude<JsonValue, JsonValue[]>): string {
  let type: string | null = null;
  let text: string;
  if (typeof value === "string") text = value;
  else if (typeof value === "boolean") {
    type = "xsd:boolean";
    text = String(value);
  } else if (typeof value === "number") {
    type = Number.isSafeInteger(value) ? "xsd:long" : "xsd:double";
    text = String(value);
  } else {
    type = value.type === "prov:QUALIFIED_NAME" ? "xsd:QName" : value.type;
    text = String(value.$);
  }
  const typed = type === null ? "" : ` xsi:type="${xmlEscape(type)}"`;
  return `    <${name}${typed}>${xmlEscape(text)}</${name}>\n`;
}

function xmlAttrs(rec: Attrs, formal: readonly string[]): string {
  const keys = Object.keys(rec).filter((k) => !formal.includes(k));
  const ordered = [
    ...PROV_ATTRS.filter((k) => keys.includes(k)),
    ...keys.filter((k) => !PROV_ATTRS.includes(k)),
  ];
  let body = "";
  for (const key of ordered) {
    const v = rec[key] as JsonValue;
    for (const item of Array.isArray(v) ? v : [v]) if (!Array.isArray(item)) body += xmlAttr(key, item);
  }
  return body;
}

/** The positional arguments: `prov:ref` for nodes, text for times, left out when absent. */
function xmlArgs(rec: Attrs, formal: readonly string[]): string {
  let body = "";
  for (const key of formal) {
    const v = rec[key];
    if (typeof v !== "string") continue;
    body +=
      key.endsWith("Time") || key === "prov:time"
        ? `    <${key}>${xmlEscape(v)}</${key}>\n`
        : `    <${key} prov:ref="${xmlEscape(v)}"/>\n`;
  }
  return body;
}

async function writeProvXml(input: ExportInput, out: ExportSink): Promise<void> {
  const w = new ChunkedWriter(out);
  const ns = prefixes(input.run);
  const decls = Object.entries({ ...ns, xsd: XSD_SCHEMA_NS, xsi: XSI_NS })
    .map(([p, uri]) => ` xmlns:${p}="${xmlEscape(uri)}"`)
    .join("");
  w.write(`<?xml version="1.0" encoding="UTF-8"?>\n<prov:document${decls}>\n`);
  await forEachProvRecord(input, {
    node(kind, id, rec) {
      const formal = NODE_ARGS[kind];
      return w.write(
        `  <prov:${kind} prov:id="${xmlEscape(id)}">\n${xmlArgs(rec, formal)}${xmlAttrs(rec, formal)}  </prov:${kind}>\n`,
      );
    },
    edge(rel, id, rec) {
      const shape = RELATION_ARGS[rel.type];
      const idAttr = shape.id ? ` prov:id="${xmlEscape(id)}"` : "";
      const attrs = shape.id ? xmlAttrs(rec, shape.args) : "";
      // the schema gives these no attributes: they go in a comment before the element
      const note = shape.id ? "" : attributesComment(rec, shape.args);
      if (note) {
        const text = note
          .replace(INVALID_XML, "\uFFFD")
          .replace(LONE_SURROGATE, "\uFFFD")
          .replace(/-$/, "- ");
        w.write(`  <!-- ${text} -->\n`);
      }
      return w.write(
        `  <prov:${rel.type}${idAttr}>\n${xmlArgs(rec, shape.args)}${attrs}  </prov:${rel.type}>\n`,
      );
    },
  });
  w.write("</prov:document>\n");
  await w.flush();
}

export const provXmlExporter: Exporter = {
  format: "prov-xml",
  mediaType: "application/provenance+xml",
  extension: "provx",
  description: "W3C PROV-XML document (same records as prov-json)",
  write: writeProvXml,
};
