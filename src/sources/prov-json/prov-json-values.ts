/**
 * PROV-JSON values: qualified names and their namespaces, typed literals (`{"$": …, "type": …}`),
 * multiple values (lists), and the date-times of PROV (xsd:dateTime) and CamFlow (`2017:09:25T21:11:46`).
 */

export const PROV_NS = "http://www.w3.org/ns/prov#";
export const XSD_NS = "http://www.w3.org/2001/XMLSchema#";

/** The prefixes of a document (and of a bundle, which inherits its document's). */
export class Namespaces {
  private readonly own = new Map<string, string>();

  constructor(private readonly parent: Namespaces | null = null) {}

  static standard(): Namespaces {
    const ns = new Namespaces();
    ns.set("prov", PROV_NS);
    ns.set("xsd", XSD_NS);
    return ns;
  }

  set(prefix: string, uri: string): void {
    // CamFlow declares prov without its '#'
    this.own.set(prefix, prefix === "prov" && uri === "http://www.w3.org/ns/prov" ? PROV_NS : uri);
  }

  get(prefix: string): string | undefined {
    return this.own.get(prefix) ?? this.parent?.get(prefix);
  }

  /** `ex:e1` → `http://example.org/e1`; a name without a known prefix stays as written. */
  expand(qname: string): string {
    const colon = qname.indexOf(":");
    if (colon < 0) {
      const d = this.get("default");
      return d !== undefined ? d + qname : qname;
    }
    const uri = this.get(qname.slice(0, colon));
    return uri !== undefined ? uri + qname.slice(colon + 1) : qname;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The text of a value: a string, the `$` of a typed literal, the first of a list. */
export function valueText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.length > 0 ? valueText(v[0]) : undefined;
  if (isObject(v) && "$" in v) return valueText(v.$);
  return undefined;
}

/** Every text of a value (a list gives each of its values). */
export function valueTexts(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(valueTexts);
  const t = valueText(v);
  return t === undefined ? [] : [t];
}

/** A number from a number, a numeric string or a typed literal of one. */
export function valueNumber(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  const t = valueText(v);
  if (t === undefined || !/^-?\d+(\.\d+)?$/.test(t.trim())) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Why an attribute value is not a PROV-JSON value, or null when it is: strings, numbers, booleans,
 * typed literals with a `$`, and lists of those. Objects without `$` are CamFlow's own (an address)
 * and pass when `objects` is set.
 */
export function badValue(v: unknown, objects: boolean): string | null {
  if (v === null) return "null";
  if (Array.isArray(v)) {
    for (const x of v) {
      const bad = badValue(x, objects);
      if (bad) return bad;
    }
    return null;
  }
  if (typeof v === "object") {
    if ("$" in v) {
      const d = (v as { $: unknown }).$;
      return typeof d === "string" || typeof d === "number" || typeof d === "boolean"
        ? null
        : "a typed value whose $ is not a string";
    }
    return objects ? null : "a typed value without $";
  }
  return null;
}

const DATE =
  /^(-?\d{4,})[-:](\d{2})[-:](\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * µs since the epoch of an xsd:dateTime (`2011-11-16T16:05:00.123456+01:00`) or a CamFlow date
 * (`2017:09:25T21:11:46`, `2016:10:07T10:49:59.747`, colons in the date). Without a zone the time is
 * taken as UTC. Null when it is not a date-time.
 */
export function parseDateMicros(s: string): number | null {
  // a stream repeats its dates (CamFlow's have seconds): the last one is remembered
  if (s === lastDate) return lastMicros;
  const us = parseDate(s);
  lastDate = s;
  lastMicros = us;
  return us;
}

let lastDate = "";
let lastMicros: number | null = null;

function parseDate(s: string): number | null {
  const m = DATE.exec(s.trim());
  if (!m) return null;
  const ms = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
  );
  if (!Number.isFinite(ms)) return null;
  let us = ms * 1000 + (m[7] ? Number(m[7].slice(0, 6).padEnd(6, "0")) : 0);
  const zone = m[8];
  if (zone && zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0");
    us -= sign * minutes * 60_000_000;
  }
  return us;
}

/** µs of a value holding a date-time (string or typed literal), or null. */
export function valueDate(v: unknown): number | null {
  const t = valueText(v);
  return t === undefined ? null : parseDateMicros(t);
}
