import type { ProvEvent } from "../../events/event-types.js";
import { JsonScanner } from "../prov-json/json-scanner.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { EvtxParser, evtxComputer } from "./evtx-parser.js";
import { SysmonJsonReader } from "./sysmon-json-reader.js";
import { SysmonMapper } from "./sysmon-mapper.js";
import { SysmonXmlReader } from "./sysmon-xml-reader.js";

/**
 * Sysmon event exports as text (`--kind sysmon`): JSON (one event a line, or arrays) or event XML,
 * told apart by the first character. The EVTX binary log is `sysmon-evtx.ts`.
 */
export class SysmonTextParser implements LineParser {
  readonly mapper = new SysmonMapper();
  private json: { scanner: JsonScanner; reader: SysmonJsonReader } | null = null;
  private xml: SysmonXmlReader | null = null;
  private sawContent = false;

  constructor(private readonly file: string) {}

  push(lines: string[], firstLine: number): ProvEvent[] {
    const out: ProvEvent[] = [];
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      if (!this.sawContent) {
        if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
        const t = line.trimStart();
        if (t.length === 0) continue;
        this.sawContent = true;
        if (t.startsWith("<")) this.xml = new SysmonXmlReader(this.file, this.mapper);
        else {
          const reader = new SysmonJsonReader(this.file, this.mapper);
          this.json = { scanner: new JsonScanner("spade", reader), reader };
        }
      }
      if (this.xml) out.push(...this.xml.write(`${line}\n`));
      else if (this.json) {
        this.json.scanner.push(line, firstLine + i, false);
        const ev = this.json.reader.take();
        for (const e of ev) out.push(e);
      }
    }
    return out;
  }

  end(): ProvEvent[] {
    if (this.xml) return this.xml.end();
    if (this.json) {
      this.json.scanner.end();
      return this.json.reader.take();
    }
    return [
      {
        kind: "problem",
        at: { file: this.file, line: 1 },
        message: "no Sysmon events in the input (it is empty)",
      },
    ];
  }
}

/** Sysmon JSON or XML exports (`--kind sysmon`). */
export const sysmonFormat: SourceFormat = {
  kind: "sysmon",
  detect(head: string[]): number {
    const text = head.slice(0, 40).join("\n");
    if (/Microsoft-Windows-Sysmon/.test(text)) {
      const t = text.replace(/^\uFEFF/, "").trimStart();
      if (t.startsWith("{") || t.startsWith("[") || t.startsWith("<")) return 0.9;
    }
    // Windows event JSON with EventID and a channel, Sysmon's events further down
    if (/"EventID"\s*:/.test(text) && /"(?:Channel|SourceName)"\s*:/.test(text)) return 0.6;
    if (/<Events?>|<Event xmlns="http:\/\/schemas\.microsoft\.com\/win\/2004\/08\/events\/event"/.test(text))
      return 0.6;
    return 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new SysmonTextParser(opts.file);
  },
  headContext(head: string[]): { host?: string } {
    const text = head.slice(0, 40).join("\n");
    const m =
      /<Computer>([^<]+)<\/Computer>/.exec(text) ?? /"(?:Computer|Hostname)"\s*:\s*"([^"]+)"/.exec(text);
    return m ? { host: m[1]! } : {};
  },
};

/** EVTX event log files (`--kind evtx`): Sysmon's events from the binary log. */
export const sysmonEvtxFormat: SourceFormat = {
  kind: "evtx",
  binary: true,
  detect(head: string[]): number {
    return (head[0] ?? "").startsWith("ElfFile\u0000") ? 0.95 : 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new EvtxParser(opts.file);
  },
  headContext(_head: string[], headBytes?: Buffer): { host?: string } {
    const host = headBytes ? evtxComputer(headBytes) : undefined;
    return host ? { host } : {};
  },
};
