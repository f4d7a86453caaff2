import { createRequire } from "node:module";
import type { SaxesParser, SaxesTagPlain } from "saxes";
import type { ProvEvent } from "../../events/event-types.js";
import { parseSysmonTime, type SysmonMapper } from "./sysmon-mapper.js";

let saxesModule: typeof import("saxes") | undefined;
function saxes(): typeof import("saxes") {
  saxesModule ??= createRequire(import.meta.url)("saxes") as typeof import("saxes");
  return saxesModule;
}

/** A field's text is capped: an event is small, a broken file must not grow one without end. */
const MAX_FIELD_CHARS = 1 << 20;

/**
 * Windows event XML (`wevtutil qe /f:xml`, python-evtx's evtx_dump, Get-WinEvent ToXml), one
 * `<Event>` after another (under an `<Events>` root or not), read as it streams: System/EventID,
 * TimeCreated@SystemTime, Computer, EventRecordID and EventData/Data[@Name] make a Sysmon record.
 * Malformed XML is one problem with its line; the rest of the input is skipped.
 */
export class SysmonXmlReader {
  private readonly parser: SaxesParser;
  private out: ProvEvent[] = [];
  private path: string[] = [];
  private fields: Record<string, string> | null = null;
  private eventId = "";
  private system: Record<string, string> = {};
  private dataName: string | null = null;
  private text = "";
  private eventLine = 0;
  broken = false;
  private started = false;
  events = 0;
  otherProviders = 0;
  private provider = "";

  constructor(
    private readonly file: string,
    private readonly mapper: SysmonMapper,
  ) {
    const S = saxes().SaxesParser;
    // the fragments have no single root: wrap them
    this.parser = new S({ fragment: true });
    this.parser.on("opentag", (t) => this.open(t as SaxesTagPlain));
    this.parser.on("closetag", (t) => this.close(t as SaxesTagPlain));
    this.parser.on("text", (t) => {
      if (this.text.length < MAX_FIELD_CHARS) this.text += t;
    });
    this.parser.on("error", (e) => {
      if (this.broken) return;
      this.broken = true;
      this.out.push({
        kind: "problem",
        at: { file: this.file, line: this.parser.line },
        message: `malformed XML: ${e.message.split("\n")[0]}; the rest of this input is skipped`,
      });
    });
  }

  write(text: string): ProvEvent[] {
    if (!this.started) {
      // a fragment parser takes no declaration: python-evtx writes `<?xml version="1.1" …?>`
      this.started = true;
      text = text.replace(/^\s*<\?xml[^>]*\?>/, "");
    }
    if (!this.broken) {
      try {
        this.parser.write(text);
      } catch {
        // reported by the error handler
      }
    }
    return this.take();
  }

  end(): ProvEvent[] {
    if (!this.broken) {
      try {
        this.parser.close();
      } catch {
        // reported by the error handler
      }
    }
    if (this.fields !== null && !this.broken) {
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

  private open(t: SaxesTagPlain): void {
    const name = this.local(t.name);
    this.path.push(name);
    this.text = "";
    if (name === "Event") {
      this.fields = {};
      this.system = {};
      this.eventId = "";
      this.provider = "";
      this.eventLine = this.parser.line;
      return;
    }
    if (this.fields === null) return;
    if (name === "Provider") this.provider = String(t.attributes.Name ?? "");
    else if (name === "TimeCreated") this.system.TimeCreated = String(t.attributes.SystemTime ?? "");
    else if (name === "Data")
      this.dataName = t.attributes.Name !== undefined ? String(t.attributes.Name) : null;
  }

  private close(t: SaxesTagPlain): void {
    const name = this.local(t.name);
    this.path.pop();
    if (this.fields === null) return;
    if (name === "EventID") this.eventId = this.text.trim();
    else if (name === "Computer" || name === "EventRecordID" || name === "Channel")
      this.system[name] = this.text.trim();
    else if (name === "Data" && this.dataName !== null) {
      this.fields[this.dataName] = this.text;
      this.dataName = null;
    } else if (name === "Event") this.finishEvent();
    this.text = "";
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
