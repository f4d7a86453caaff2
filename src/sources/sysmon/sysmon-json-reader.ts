import { type ScanPos, TopValueSink } from "../prov-json/json-scanner.js";
import { parseSysmonTime, type SysmonMapper, type SysmonRecord } from "./sysmon-mapper.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const DATA_RE = /<Data Name=['"]([^'"]+)['"]\s*(?:\/>|>([^<]*)<\/Data>)/g;

/** `<EventData><Data Name="X">v</Data>…` (the 2.0 exports keep it as a string) → fields. */
export function eventDataXmlFields(xml: string, into: Record<string, string>): void {
  for (const m of xml.matchAll(DATA_RE)) {
    if (into[m[1]!] === undefined) into[m[1]!] = xmlText(m[2] ?? "");
  }
}

/** XML character references and the five predefined entities. */
export function xmlText(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) => {
    if (e[0] === "#")
      return String.fromCodePoint(e[1] === "x" ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[e] ?? "";
  });
}

/** Whether a JSON event is one of Sysmon's (exports mix in Security and System events). */
function isSysmon(o: Record<string, unknown>): boolean {
  const names = [o.Channel, o.SourceName, o.Provider, o.EventSourceName, o.ProviderName];
  for (const n of names) {
    if (typeof n === "string" && /Sysmon/i.test(n)) return true;
    if (isObject(n) && typeof n.Name === "string" && /Sysmon/i.test(n.Name)) return true;
  }
  const w = o.winlog;
  if (isObject(w) && typeof w.channel === "string" && /Sysmon/i.test(w.channel)) return true;
  return false;
}

/**
 * Sysmon events exported as JSON, read from the JsonScanner (objects one a line, or in arrays):
 * OTRF/HELK NDJSON (EventData fields at the top level), the OTRF 2.0 arrays (flattened fields plus
 * `EventData` as an XML string), winlogbeat (`winlog.event_data`), and `EventData` as an object.
 */
export class SysmonJsonReader extends TopValueSink {
  events = 0;
  otherChannels = 0;

  constructor(
    file: string,
    private readonly mapper: SysmonMapper,
  ) {
    super(file);
  }

  topValue(value: unknown, at: ScanPos): void {
    const loc = { file: this.file, line: at.line };
    if (!isObject(value)) {
      this.out.push({ kind: "problem", at: loc, message: "not a Sysmon event (a JSON object)" });
      return;
    }
    this.events++;
    if (!isSysmon(value)) {
      this.otherChannels++;
      return;
    }
    const w = isObject(value.winlog) ? value.winlog : undefined;
    const eventId = Number(value.EventID ?? value.EventId ?? w?.event_id);
    if (!Number.isInteger(eventId)) {
      this.out.push({ kind: "problem", at: loc, message: "a Sysmon event without an EventID" });
      return;
    }
    const fields: Record<string, string> = {};
    const add = (o: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === "string") fields[k] ??= v;
        else if (typeof v === "number" || typeof v === "boolean") fields[k] ??= String(v);
      }
    };
    if (w && isObject(w.event_data)) add(w.event_data);
    if (isObject(value.EventData)) add(value.EventData);
    if (isObject(value.event_data)) add(value.event_data);
    if (typeof value.EventData === "string") eventDataXmlFields(value.EventData, fields);
    add(value);
    const ts =
      parseSysmonTime(fields.UtcTime) ??
      parseSysmonTime(typeof value.TimeCreated === "string" ? value.TimeCreated : undefined) ??
      parseSysmonTime(typeof value["@timestamp"] === "string" ? (value["@timestamp"] as string) : undefined);
    if (ts === null) {
      this.out.push({
        kind: "problem",
        at: loc,
        message: `Sysmon event ${eventId} without a time (UtcTime)`,
      });
      return;
    }
    const rec: SysmonRecord = { eventId, ts, fields, at: loc };
    const host = fields.Hostname ?? fields.Computer;
    if (host) rec.host = host;
    this.mapper.map(rec, this.out);
  }
}
