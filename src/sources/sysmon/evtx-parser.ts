import type { ProvEvent, SourceLocation } from "../../events/event-types.js";
import type { LineParser } from "../source-types.js";
import { BinXmlError, BinXmlReader, childNamed, textOf, type XElement, type XNode } from "./evtx-binxml.js";
import { parseSysmonTime, SysmonMapper } from "./sysmon-mapper.js";

const FILE_HEADER = 4096;
const CHUNK = 65536;
const FILE_MAGIC = "ElfFile\u0000";
const CHUNK_MAGIC = "ElfChnk\u0000";
const RECORD_MAGIC = 0x00002a2a;

/**
 * EVTX files (the Windows event log, `Microsoft-Windows-Sysmon%4Operational.evtx`) read as they
 * stream: a 4 KiB file header (`ElfFile`), then 64 KiB chunks (`ElfChnk`), each self-contained: a
 * header, then event records (`**\0\0`, size, record id, FILETIME, BinXml, size again) up to the
 * chunk's free-space offset. Each record's BinXml (evtx-binxml.ts) gives System/EventID,
 * TimeCreated, Computer and EventData/Data[@Name]; Sysmon's records go to the Sysmon mapper, other
 * providers' are counted and left out. A damaged chunk or record is a problem at its byte offset;
 * the next chunk is read anyway. At most one chunk is held in memory.
 */
/**
 * The machine an EVTX file was recorded on: the Computer of its first record, read from the first
 * bytes of the file (the file header and the start of the first chunk).
 */
export function evtxComputer(head: Buffer): string | undefined {
  if (head.length < FILE_HEADER + 512 + 24 || head.toString("latin1", 0, 8) !== FILE_MAGIC) return undefined;
  const chunk = head.subarray(FILE_HEADER, FILE_HEADER + CHUNK);
  if (chunk.toString("latin1", 0, 8) !== CHUNK_MAGIC || chunk.readUInt32LE(512) !== RECORD_MAGIC)
    return undefined;
  const size = chunk.readUInt32LE(512 + 4);
  if (512 + size > chunk.length) return undefined;
  try {
    const nodes = new BinXmlReader(chunk, new Map()).readRecord(512 + 24, 512 + size - 4);
    const ev = nodes.find((n): n is XElement => typeof n !== "string" && n.name === "Event");
    const sys = ev && childNamed(ev, "System");
    const c = sys && childNamed(sys, "Computer");
    return c ? textOf(c) || undefined : undefined;
  } catch {
    return undefined;
  }
}

export class EvtxParser implements LineParser {
  readonly mapper = new SysmonMapper();
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** file offset of the first byte not yet consumed */
  private consumed = 0;
  private headerSeen = false;
  private bad = false;
  records = 0;
  otherProviders = 0;
  chunks = 0;

  constructor(private readonly file: string) {}

  private problem(offset: number, message: string): ProvEvent {
    return {
      kind: "problem",
      at: { file: this.file, line: 0 },
      message: `byte offset ${offset} (0x${offset.toString(16)}): ${message}`,
    };
  }

  pushBytes(data: Buffer, _offset: number): ProvEvent[] {
    const out: ProvEvent[] = [];
    if (this.bad) return out;
    this.carry.push(data);
    this.carryBytes += data.length;
    for (;;) {
      const want = this.headerSeen ? CHUNK : FILE_HEADER;
      if (this.carryBytes < want) break;
      const all = this.carry.length === 1 ? this.carry[0]! : Buffer.concat(this.carry, this.carryBytes);
      const block = all.subarray(0, want);
      const rest = all.subarray(want);
      this.carry = rest.length > 0 ? [Buffer.from(rest)] : [];
      this.carryBytes = rest.length;
      const at = this.consumed;
      this.consumed += want;
      if (!this.headerSeen) {
        this.headerSeen = true;
        if (block.toString("latin1", 0, 8) !== FILE_MAGIC) {
          this.bad = true;
          out.push(this.problem(0, "not an EVTX file (no ElfFile signature)"));
          return out;
        }
        continue;
      }
      this.chunk(block, at, out);
    }
    return out;
  }

  push(): ProvEvent[] {
    return [];
  }

  end(): ProvEvent[] {
    const out: ProvEvent[] = [];
    if (!this.headerSeen) {
      out.push(
        this.problem(
          0,
          this.carryBytes === 0
            ? "empty input"
            : `truncated: ${this.carryBytes} bytes, less than the 4096-byte file header`,
        ),
      );
      return out;
    }
    if (this.carryBytes > 0 && !this.bad) {
      const rest = Buffer.concat(this.carry, this.carryBytes);
      if (rest.some((b) => b !== 0)) {
        out.push(
          this.problem(
            this.consumed,
            `truncated: the last chunk has ${rest.length} of ${CHUNK} bytes; its whole records are read`,
          ),
        );
        this.chunk(rest, this.consumed, out);
      }
    }
    this.carry = [];
    this.carryBytes = 0;
    return out;
  }

  private chunk(c: Buffer, at: number, out: ProvEvent[]): void {
    if (c.length < 512 || c.toString("latin1", 0, 8) !== CHUNK_MAGIC) {
      // preallocated, never written chunks are zeros
      if (c.some((b) => b !== 0))
        out.push(this.problem(at, "a chunk without the ElfChnk signature: skipped"));
      return;
    }
    this.chunks++;
    const free = Math.min(c.readUInt32LE(48), c.length);
    const names = new Map<number, string>();
    const reader = new BinXmlReader(c, names);
    let pos = 512;
    while (pos + 24 <= free) {
      const magic = c.readUInt32LE(pos);
      const size = c.readUInt32LE(pos + 4);
      if (magic !== RECORD_MAGIC || size < 28 || pos + size > c.length) {
        out.push(
          this.problem(
            at + pos,
            magic !== RECORD_MAGIC
              ? "no record signature where a record should start: rest of the chunk skipped"
              : `a record of ${size} bytes does not fit its chunk: rest of the chunk skipped`,
          ),
        );
        return;
      }
      const recordId = c.readBigUInt64LE(pos + 8);
      const loc: SourceLocation = { file: this.file, line: Number(recordId) };
      try {
        const nodes = reader.readRecord(pos + 24, pos + size - 4);
        this.record(nodes, loc, at + pos, out);
      } catch (err) {
        if (!(err instanceof BinXmlError)) throw err;
        out.push(this.problem(at + pos, `record ${recordId}: ${err.message}`));
      }
      this.records++;
      pos += size;
    }
  }

  private record(nodes: XNode[], loc: SourceLocation, offset: number, out: ProvEvent[]): void {
    const ev = nodes.find((n): n is XElement => typeof n !== "string" && n.name === "Event");
    const sys = ev && childNamed(ev, "System");
    if (!ev || !sys) {
      out.push(this.problem(offset, `record ${loc.line}: no Event/System element`));
      return;
    }
    const provider = childNamed(sys, "Provider")?.attrs.find(([k]) => k === "Name")?.[1] ?? "";
    const channel = textOf(childNamed(sys, "Channel") ?? { name: "", attrs: [], children: [] });
    if (!/Sysmon/i.test(provider) && !/Sysmon/i.test(channel)) {
      this.otherProviders++;
      return;
    }
    const fields: Record<string, string> = {};
    const data = childNamed(ev, "EventData");
    if (data) {
      for (const d of data.children) {
        if (typeof d === "string" || d.name !== "Data") continue;
        const name = d.attrs.find(([k]) => k === "Name")?.[1];
        if (name !== undefined) fields[name] = textOf(d);
      }
    }
    const eid = Number(textOf(childNamed(sys, "EventID") ?? { name: "", attrs: [], children: [] }).trim());
    const created = childNamed(sys, "TimeCreated")?.attrs.find(([k]) => k === "SystemTime")?.[1];
    const ts = parseSysmonTime(fields.UtcTime) ?? parseSysmonTime(created);
    if (!Number.isInteger(eid) || ts === null) {
      out.push(this.problem(offset, `record ${loc.line}: no usable EventID or time`));
      return;
    }
    const host = childNamed(sys, "Computer");
    this.mapper.map(
      {
        eventId: eid,
        ts,
        fields,
        ...(host ? { host: textOf(host) } : {}),
        recordId: String(loc.line),
        at: loc,
      },
      out,
    );
  }
}
