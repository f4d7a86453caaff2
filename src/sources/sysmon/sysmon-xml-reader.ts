import type { SaxesTagPlain } from "saxes";
import type { ProvEvent } from "../../events/event-types.js";
import { XmlElementStream } from "../windows/xml-element-stream.js";
import { parseSysmonTime, type SysmonMapper } from "./sysmon-mapper.js";

/**
 * Windows event XML (`wevtutil qe /f:xml`, python-evtx's evtx_dump, Get-WinEvent ToXml), one
 * `<Event>` after another (under an `<Events>` root or not), read as it streams: System/EventID,
 * TimeCreated@SystemTime, Computer, EventRecordID and EventData/Data[@Name] make a Sysmon record.
 * Malformed XML is one problem with its line; the rest of the input is skipped.
 */
export class SysmonXmlReader {
  private readonly xml: XmlElementStream;
  private out: ProvEvent[] = [];
  private path: string[] = [];
  private fields: Record<string, string> | null = null;
  private eventId = "";
  private system: Record<string, string> = {};
  private dataName: string | null = null;
  private eventLine = 0;
  private started = false;
  events = 0;
  otherProviders = 0;
  private provider = "";

  constructor(
    private readonly file: string,
    private readonly mapper: SysmonMapper,
  ) {
    // the events follow one another without a single root
    this.xml = new XmlElementStream(
      file,
      { open: (t, line) => this.open(t, line), close: (t, text) => this.close(t, text) },
      this.out,
      true,
    );
  }

  write(text: string): ProvEvent[] {
    if (!this.started) {
      // a fragment parser takes no declaration: python-evtx writes `<?xml version="1.1" …?>`
      this.started = true;
      text = text.replace(/^\s*<\?xml[^>]*\?>/, "");
    }
    this.xml.write(text);
    return this.take();
  }

  end(): ProvEvent[] {
    this.xml.close();
    if (this.fields !== null && !this.xml.broken) {
      this.out.push({
        kind: "problem",
        at: { file: this.file, line: this.eventLine },
        message: "the input ends inside an <Event> (truncated?)",
      });
    }
    return this.take();
  }

  private take(): ProvEvent[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  private local(name: string): string {
    const i = name.indexOf(":");
    return i >= 0 ? name.slice(i + 1) : name;
  }

  private open(t: SaxesTagPlain, line: number): void {
    const name = this.local(t.name);
    this.path.push(name);
    if (name === "Event") {
      this.fields = {};
      this.system = {};
      this.eventId = "";
      this.provider = "";
      this.eventLine = line;
      return;
    }
    if (this.fields === null) return;
    if (name === "Provider") this.provider = String(t.attributes.Name ?? "");
    else if (name === "TimeCreated") this.system.TimeCreated = String(t.attributes.SystemTime ?? "");
    else if (name === "Data")
      this.dataName = t.attributes.Name !== undefined ? String(t.attributes.Name) : null;
  }

  private close(t: SaxesTagPlain, text: string): void {
    const name = this.local(t.name);
    this.path.pop();
    if (this.fields === null) return;
    if (name === "EventID") this.eventId = text.trim();
    else if (name === "Computer" || name === "EventRecordID" || name === "Channel")
      this.system[name] = text.trim();
    else if (name === "Data" && this.dataName !== null) {
      this.fields[this.dataName] = text;
      this.dataName = null;
    } else if (name === "Event") this.finishEvent();
  }

  private finishEvent(): void {
    const fields = this.fields!;
    this.fields = null;
    this.events++;
    const at = { file: this.file, line: this.eventLine };
    if (!/Sysmon/i.test(this.provider) && !/Sysmon/i.test(this.system.Channel ?? "")) {
      this.otherProviders++;
      return;
    }
    const eventId = Number(this.eventId);
    const ts = parseSysmonTime(fields.UtcTime) ?? parseSysmonTime(this.system.TimeCreated);
    if (!Number.isInteger(eventId) || ts === null) {
      this.out.push({ kind: "problem", at, message: "an <Event> without a usable EventID or time" });
      return;
    }
    this.mapper.map(
      {
        eventId,
        ts,
        fields,
        ...(this.system.Computer ? { host: this.system.Computer } : {}),
        ...(this.system.EventRecordID ? { recordId: this.system.EventRecordID } : {}),
        at,
      },
      this.out,
    );
  }
}
