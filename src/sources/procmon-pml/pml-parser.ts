import type { ProvEvent, SourceLocation } from "../../events/event-types.js";
import type { LineParser } from "../source-types.js";
import { filetimeMicros } from "../windows/filetime.js";
import { ProcmonMapper, type ProcmonProcessInfo, type ProcmonRecord } from "../windows/procmon-record.js";
import { trimNuls } from "../windows/utf16-text.js";

/**
 * Process Monitor's native log (PML, version 9), from the layout reverse-engineered by procmon-parser
 * (docs/PML Format.md, MIT): a 0x3a8-byte header (computer name, event count, offsets of the
 * tables), the events one after another, then the event-offset array, the process table, the string
 * table, icons, and the host and port names of network events.
 *
 * The stream adapter (pml-file.ts) hands over, in this order, the header, the string table, the
 * process table, the host/port tables, then the event area in chunks; this parser walks the events
 * in sequence (an event: 0x34 bytes of common fields, its stack, its detail structure, and an optional
 * extra-detail block) and gives each to the ProcMon mapper as the CSV reader does, so both give the
 * same graph. What cannot be decoded is a problem at its byte offset.
 */

const HEADER_SIZE = 0x3a8;
const EVENT_HEAD = 0x34;

export interface PmlHeader {
  is64: boolean;
  computer: string;
  events: number;
  eventsOffset: number;
  offsetsArray: number;
  processTable: number;
  stringTable: number;
  iconTable: number;
  hostsTable: number;
}

export function parsePmlHeader(b: Buffer): PmlHeader | string {
  if (b.length < HEADER_SIZE) return `truncated: ${b.length} bytes, less than the ${HEADER_SIZE}-byte header`;
  if (b.toString("latin1", 0, 4) !== "PML_") return "not a Process Monitor log (no PML_ signature)";
  const version = b.readUInt32LE(4);
  if (version !== 9) return `PML version ${version} (version 9 is read)`;
  const q = (o: number) => Number(b.readBigUInt64LE(o));
  const h: PmlHeader = {
    is64: b.readUInt32LE(8) !== 0,
    computer: trimNuls(b.toString("utf16le", 0x0c, 0x2c), true),
    events: b.readUInt32LE(0x234),
    eventsOffset: q(0x240),
    offsetsArray: q(0x248),
    processTable: q(0x250),
    stringTable: q(0x258),
    iconTable: q(0x260),
    hostsTable: q(0x3a0),
  };
  if (!h.eventsOffset || !h.offsetsArray || !h.processTable || !h.stringTable || !h.hostsTable)
    return "the log was not closed cleanly during the capture (table offsets are 0)";
  return h;
}

/** The end of the region starting at `start`: the next table (or the end of the file). */
export function regionEnd(h: PmlHeader, start: number, fileSize: number): number {
  let end = fileSize;
  for (const o of [
    h.eventsOffset,
    h.offsetsArray,
    h.processTable,
    h.stringTable,
    h.iconTable,
    h.hostsTable,
  ]) {
    if (o > start && o < end) end = o;
  }
  return end;
}

/** Windows NTSTATUS values ProcMon names in its Result column (the common ones). */
const RESULTS: Readonly<Record<number, string>> = {
  0: "SUCCESS",
  260: "REPARSE",
  261: "MORE ENTRIES",
  2147483653: "BUFFER OVERFLOW",
  2147483654: "NO MORE FILES",
  2147483674: "NO MORE ENTRIES",
  3221225480: "INVALID HANDLE",
  3221225485: "INVALID PARAMETER",
  3221225487: "NO SUCH FILE",
  3221225488: "INVALID DEVICE REQUEST",
  3221225489: "END OF FILE",
  3221225506: "ACCESS DENIED",
  3221225507: "BUFFER TOO SMALL",
  3221225523: "NAME INVALID",
  3221225524: "NAME NOT FOUND",
  3221225525: "NAME COLLISION",
  3221225530: "PATH NOT FOUND",
  3221225539: "SHARING VIOLATION",
  3221225558: "DELETE PENDING",
  3221225658: "IS DIRECTORY",
  3221225659: "NOT SUPPORTED",
  3221225729: "NOT EMPTY",
  3221225731: "NOT A DIRECTORY",
  3221226021: "NOT FOUND",
  3223060484: "FAST IO DISALLOWED",
};

const PROCESS_OPS: Readonly<Record<number, string>> = {
  0: "Process Defined",
  1: "Process Create",
  2: "Process Exit",
  3: "Thread Create",
  4: "Thread Exit",
  5: "Load Image",
  7: "Process Start",
};
const REGISTRY_OPS = [
  "RegOpenKey",
  "RegCreateKey",
  "RegCloseKey",
  "RegQueryKey",
  "RegSetValue",
  "RegQueryValue",
  "RegEnumValue",
  "RegEnumKey",
  "RegSetInfoKey",
  "RegDeleteKey",
  "RegDeleteValue",
  "RegFlushKey",
  "RegLoadKey",
  "RegUnloadKey",
  "RegRenameKey",
  "RegQueryMultipleValueKey",
  "RegSetKeySecurity",
  "RegQueryKeySecurity",
];
const NETWORK_OPS = [
  "Unknown",
  "Other",
  "Send",
  "Receive",
  "Accept",
  "Connect",
  "Disconnect",
  "Reconnect",
  "Retransmit",
  "TCPCopy",
];
/** File-system operations mapped (IRP major function numbers as ProcMon stores them). */
const FS_OPS: Readonly<Record<number, string>> = {
  20: "CreateFile",
  23: "ReadFile",
  24: "WriteFile",
  26: "SetInformationFile",
};
const SET_INFO_OPS: Readonly<Record<number, string>> = {
  10: "SetRenameInformationFile",
  13: "SetDispositionInformationFile",
  20: "SetEndOfFileInformationFile",
  64: "SetDispositionInformationEx",
  65: "SetRenameInformationEx",
  66: "SetRenameInformationExBypassAccessCheck",
};
const OPEN_RESULTS = ["Superseded", "Opened", "Created", "Overwritten", "Exists", "DoesNotExist"];
const DISPOSITIONS = ["Supersede", "Open", "Create", "OpenIf", "Overwrite", "OverwriteIf"];

/** CreateFile's access mask in ProcMon's words (the ones the mapper reads). */
function accessText(mask: number): string {
  const words: string[] = [];
  if (mask & 0x80000000) words.push("Generic Read");
  if (mask & 0x40000000) words.push("Generic Write");
  if (mask & 0x20000000) words.push("Generic Execute");
  if (mask & 0x10000000) words.push("Generic All");
  if (mask & 0x1) words.push("Read Data");
  if (mask & 0x2) words.push("Write Data");
  if (mask & 0x4) words.push("Append Data");
  if (mask & 0x20) words.push("Execute/Traverse");
  if (mask & 0x80) words.push("Read Attributes");
  return words.join(", ");
}

/** A bounds-checked cursor over one event. */
class Cursor {
  constructor(
    readonly b: Buffer,
    public p: number,
    readonly end: number,
  ) {}
  need(n: number): void {
    if (this.p + n > this.end) throw new RangeError("detail structure runs past its event");
  }
  u8(): number {
    this.need(1);
    return this.b[this.p++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16LE(this.p);
    this.p += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.p);
    this.p += 4;
    return v;
  }
  skip(n: number): void {
    this.need(n);
    this.p += n;
  }
  /** ProcMon's detail string: an info word (bit 15 ASCII, low 15 bits the length) read earlier. */
  str(info: number): string {
    const ascii = (info & 0x8000) !== 0;
    const n = info & 0x7fff;
    const bytes = ascii ? n : n * 2;
    this.need(bytes);
    const s = this.b.toString(ascii ? "latin1" : "utf16le", this.p, this.p + bytes);
    this.p += bytes;
    return s;
  }
}

export class PmlParser implements LineParser {
  private header: PmlHeader | null = null;
  private strings: string[] = [];
  private readonly processes = new Map<number, ProcmonProcessInfo & { name: string }>();
  private readonly infoByIndex = new Map<string, ProcmonProcessInfo>();
  private readonly mapper = new ProcmonMapper(this.infoByIndex);
  private readonly hosts = new Map<string, string>();
  private readonly ports = new Map<string, string>();
  private carry: Buffer | null = null;
  /** file offset of the next event (the first byte of `carry`) */
  private next = 0;
  private failed = false;
  private lastTs = 0;
  eventsRead = 0;

  constructor(private readonly file: string) {}

  get computer(): string | undefined {
    return this.header?.computer;
  }

  private problem(offset: number, message: string): ProvEvent {
    return {
      kind: "problem",
      at: { file: this.file, line: 0 },
      message: `byte offset ${offset} (0x${offset.toString(16)}): ${message}`,
    };
  }

  push(): ProvEvent[] {
    return [];
  }

  pushBytes(data: Buffer, offset: number): ProvEvent[] {
    const out: ProvEvent[] = [];
    if (this.failed) return out;
    if (this.header === null) {
      const h = parsePmlHeader(data);
      if (typeof h === "string") {
        this.failed = true;
        out.push(this.problem(0, h));
        return out;
      }
      this.header = h;
      this.next = h.eventsOffset;
      return out;
    }
    const h = this.header;
    try {
      if (offset === h.stringTable && this.strings.length === 0) this.readStrings(data);
      else if (offset === h.processTable && this.processes.size === 0) this.readProcesses(data);
      else if (offset === h.hostsTable && offset !== h.eventsOffset) this.readHosts(data);
      else this.readEvents(data, offset, out);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      out.push(this.problem(offset, `a table runs past its end (${err.message}): the log is damaged`));
    }
    return out;
  }

  private readStrings(b: Buffer): void {
    const n = b.readUInt32LE(0);
    const strings = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const off = b.readUInt32LE(4 + i * 4);
      const size = b.readUInt32LE(off);
      strings[i] = trimNuls(b.toString("utf16le", off + 4, off + 4 + size));
    }
    this.strings = strings;
  }

  private str(i: number): string {
    return this.strings[i] ?? "";
  }

  private readProcesses(b: Buffer): void {
    const n = b.readUInt32LE(0);
    for (let i = 0; i < n; i++) {
      const o = b.readUInt32LE(4 + n * 4 + i * 4);
      const index = b.readUInt32LE(o);
      const ft = (x: number) => filetimeMicros(b.readBigUInt64LE(x));
      const info = {
        pid: b.readUInt32LE(o + 4),
        parentPid: b.readUInt32LE(o + 8),
        start: ft(o + 0x20),
        end: ft(o + 0x28),
        integrity: this.str(b.readUInt32LE(o + 0x38)),
        user: this.str(b.readUInt32LE(o + 0x3c)),
        name: this.str(b.readUInt32LE(o + 0x40)),
        imagePath: this.str(b.readUInt32LE(o + 0x44)),
        commandLine: this.str(b.readUInt32LE(o + 0x48)),
      };
      this.processes.set(index, info);
      this.infoByIndex.set(String(index), info);
    }
  }

  private readHosts(b: Buffer): void {
    let p = 0;
    const nh = b.readUInt32LE(p);
    p += 4;
    for (let i = 0; i < nh; i++) {
      const ip = b.toString("hex", p, p + 16);
      const len = b.readUInt32LE(p + 16);
      this.hosts.set(ip, trimNuls(b.toString("utf16le", p + 20, p + 20 + len)));
      p += 20 + len;
    }
    const np = b.readUInt32LE(p);
    p += 4;
    for (let i = 0; i < np; i++) {
      const port = b.readUInt16LE(p);
      const tcp = b.readUInt16LE(p + 2) !== 0;
      const len = b.readUInt32LE(p + 4);
      this.ports.set(`${port}/${tcp ? 1 : 0}`, trimNuls(b.toString("utf16le", p + 8, p + 8 + len)));
      p += 8 + len;
    }
  }

  private readEvents(data: Buffer, offset: number, out: ProvEvent[]): void {
    const h = this.header!;
    if (this.processes.size === 0) {
      this.failed = true;
      out.push(
        this.problem(
          h.processTable,
          "no process table where the header puts it (a truncated log?): its events cannot be read",
        ),
      );
      return;
    }
    let buf: Buffer;
    if (this.carry && this.carry.length > 0) {
      if (offset !== this.next + this.carry.length) {
        out.push(this.problem(offset, "event data out of sequence"));
        return;
      }
      buf = Buffer.concat([this.carry, data]);
    } else {
      if (offset !== this.next) {
        out.push(this.problem(offset, "event data out of sequence"));
        return;
      }
      buf = data;
    }
    let p = 0;
    const limit = h.offsetsArray - this.next;
    while (p + EVENT_HEAD <= buf.length && p < limit && this.eventsRead < h.events) {
      const cls = buf.readUInt32LE(p + 8);
      const depth = buf.readUInt16LE(p + 0x28);
      const detailSize = buf.readUInt32LE(p + 0x2c);
      const extraOff = buf.readUInt32LE(p + 0x30);
      const ptr = h.is64 ? 8 : 4;
      const detailStart = p + EVENT_HEAD + depth * ptr;
      let end = detailStart + detailSize;
      if (cls > 5 || detailSize > 1 << 24) {
        this.failed = true;
        out.push(
          this.problem(
            this.next + p,
            `event ${this.eventsRead + 1}: not an event (class ${cls}, detail ${detailSize} bytes): the rest of the log is skipped`,
          ),
        );
        this.carry = null;
        return;
      }
      let extra: [number, number] | null = null;
      if (extraOff > 0) {
        if (p + extraOff + 2 > buf.length) break;
        const size = buf.readUInt16LE(p + extraOff);
        extra = [p + extraOff + 2, p + extraOff + 2 + size];
        end = Math.max(end, extra[1]);
      }
      if (end > buf.length) break;
      this.event(buf, p, detailStart, detailStart + detailSize, extra, out);
      this.eventsRead++;
      p = end;
    }
    this.next += p;
    this.carry = p < buf.length && this.eventsRead < h.events ? Buffer.from(buf.subarray(p)) : null;
    if (this.carry && this.carry.length > 64 << 20) {
      this.failed = true;
      out.push(this.problem(this.next, "an event larger than 64 MiB: the log is damaged"));
    }
  }

  private event(
    b: Buffer,
    p: number,
    ds: number,
    de: number,
    extra: [number, number] | null,
    out: ProvEvent[],
  ): void {
    const fileOffset = this.next + p;
    const index = b.readUInt32LE(p);
    const cls = b.readUInt32LE(p + 8);
    const opCode = b.readUInt16LE(p + 12);
    const ts = filetimeMicros(b.readBigUInt64LE(p + 0x1c)) ?? this.lastTs;
    this.lastTs = ts;
    const status = b.readUInt32LE(p + 0x24);
    const proc = this.processes.get(index);
    const at: SourceLocation = { file: this.file, line: this.eventsRead + 1 };
    if (!proc) {
      out.push(
        this.problem(
          fileOffset,
          `event ${this.eventsRead + 1} names process index ${index}, which the process table lacks`,
        ),
      );
      return;
    }
    const rec: ProcmonRecord = {
      ts,
      pid: proc.pid,
      instance: String(index),
      operation: "",
      path: "",
      result: RESULTS[status] ?? `0x${status.toString(16).toUpperCase()}`,
      detail: new Map(),
      processName: proc.name,
      imagePath: proc.imagePath,
      commandLine: proc.commandLine,
      parentPid: proc.parentPid,
      user: proc.user,
      integrity: proc.integrity,
      at,
    };
    const d = rec.detail as Map<string, string>;
    const c = new Cursor(b, ds, de);
    const x = extra ? new Cursor(b, extra[0], extra[1]) : null;
    try {
      switch (cls) {
        case 1:
          rec.operation = PROCESS_OPS[opCode] ?? `Process ${opCode}`;
          this.processDetail(rec, opCode, c, d);
          break;
        case 2:
          rec.operation = REGISTRY_OPS[opCode] ?? `Registry ${opCode}`;
          this.registryDetail(rec, opCode, c, x, d);
          break;
        case 3:
          this.fileDetail(rec, opCode, c, x, d);
          break;
        case 5:
          this.networkDetail(rec, opCode, c, d);
          break;
        default:
          rec.operation = "Profiling";
      }
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      out.push(this.problem(fileOffset, `event ${this.eventsRead + 1} (${rec.operation}): ${err.message}`));
      return;
    }
    this.mapper.map(rec, out);
  }

  private processDetail(rec: ProcmonRecord, op: number, c: Cursor, d: Map<string, string>): void {
    if (op === 0 || op === 1) {
      c.skip(4);
      d.set("PID", String(c.u32()));
      c.skip(0x24);
      const s1 = c.u8();
      const s2 = c.u8();
      const pathInfo = c.u16();
      const cmdInfo = c.u16();
      c.skip(2 + s1 + s2);
      rec.path = c.str(pathInfo);
      d.set("Command line", c.str(cmdInfo));
    } else if (op === 7) {
      d.set("Parent PID", String(c.u32()));
      const cmdInfo = c.u16();
      const cwdInfo = c.u16();
      const envChars = c.u32();
      d.set("Command line", c.str(cmdInfo));
      d.set("Current directory", c.str(cwdInfo));
      c.need(envChars * 2);
      const env = c.b
        .toString("utf16le", c.p, c.p + envChars * 2)
        .split("\u0000")
        .filter(Boolean);
      d.set("Environment", env.map((e) => `;\t${e}`).join(""));
    } else if (op === 2) {
      d.set("Exit Status", String(c.u32() | 0));
    } else if (op === 5) {
      c.skip(this.header!.is64 ? 8 : 4);
      c.skip(4);
      const pathInfo = c.u16();
      c.skip(2);
      rec.path = c.str(pathInfo);
    }
  }

  private registryDetail(
    rec: ProcmonRecord,
    op: number,
    c: Cursor,
    x: Cursor | null,
    d: Map<string, string>,
  ): void {
    const pathInfo = c.u16();
    let access = 0;
    if (op === 12 || op === 14) c.u16();
    else if (op === 0 || op === 1) {
      c.skip(2);
      access = c.u32();
    } else if (op === 3 || op === 5) c.skip(2 + 8);
    else if (op === 6 || op === 7) c.skip(2 + 12);
    else if (op === 8) c.skip(2 + 4 + 4 + 2 + 2);
    else if (op === 4) {
      c.skip(2 + 4);
      d.set("Length", String(c.u32()));
      c.skip(4);
    }
    rec.path = c.str(pathInfo);
    if ((op === 0 || op === 1) && access !== 0 && x && x.end - x.p >= 8) {
      x.skip(4);
      const disp = x.u32();
      if (disp === 1) d.set("Disposition", "REG_CREATED_NEW_KEY");
      else if (disp === 2) d.set("Disposition", "REG_OPENED_EXISTING_KEY");
    }
  }

  private fileDetail(
    rec: ProcmonRecord,
    op: number,
    c: Cursor,
    x: Cursor | null,
    d: Map<string, string>,
  ): void {
    const is64 = this.header!.is64;
    const ptr = is64 ? 8 : 4;
    const sub = c.u8();
    c.skip(3);
    const di = new Cursor(c.b, c.p, c.p + ptr * 5 + 0x14);
    c.skip(ptr * 5 + 0x14);
    const pathInfo = c.u16();
    c.skip(2);
    rec.path = c.str(pathInfo);
    const name = op === 26 ? SET_INFO_OPS[sub] : FS_OPS[op];
    rec.operation = name ?? `FileSystem ${op}/${sub}`;
    if (op === 20) {
      d.set("Desired Access", accessText(c.u32()));
      di.skip(0x10 + (is64 ? 4 : 0));
      const dispOpts = di.u32();
      d.set("Disposition", DISPOSITIONS[dispOpts >>> 24] ?? "<unknown>");
      const opts = dispOpts & 0xffffff;
      const words: string[] = [];
      if (opts & 0x1) words.push("Directory File");
      if (opts & 0x40) words.push("Non-Directory File");
      d.set("Options", words.join(", "));
      if (x && x.end - x.p >= 4) d.set("OpenResult", OPEN_RESULTS[x.u32()] ?? "<unknown>");
    } else if (op === 23 || op === 24) {
      di.skip(4 + 4 + 4);
      let length = di.u32();
      if (x && x.end - x.p >= 4) length = x.u32();
      d.set("Length", String(length));
    } else if (op === 26 && (sub === 0x0d || sub === 0x40)) {
      const flag = c.u8();
      if (sub === 0x0d) d.set("Delete", flag ? "True" : "False");
      else if (flag & 1) d.set("Flags", "FILE_DISPOSITION_DELETE");
    } else if (op === 26 && sub === 0x14) {
      // the new end of file is not decoded: a write of the file
      d.set("EndOfFile", "?");
    }
  }

  private networkDetail(rec: ProcmonRecord, op: number, c: Cursor, d: Map<string, string>): void {
    const flags = c.u16();
    const tcp = (flags & 4) !== 0;
    rec.operation = `${tcp ? "TCP" : "UDP"} ${NETWORK_OPS[op] ?? "Unknown"}`;
    c.skip(2);
    d.set("Length", String(c.u32()));
    c.need(36);
    const src = c.b.subarray(c.p, c.p + 16);
    const dst = c.b.subarray(c.p + 16, c.p + 32);
    c.skip(32);
    const sport = c.u16();
    const dport = c.u16();
    const host = (ip: Buffer, v4: boolean) =>
      this.hosts.get(ip.toString("hex")) ||
      (v4
        ? [...ip.subarray(0, 4)].join(".")
        : `[${[0, 2, 4, 6, 8, 10, 12, 14].map((i) => ip.readUInt16BE(i).toString(16)).join(":")}]`);
    const port = (n: number) => this.ports.get(`${n}/${tcp ? 1 : 0}`) || String(n);
    rec.path = `${host(src, (flags & 1) !== 0)}:${port(sport)} -> ${host(dst, (flags & 2) !== 0)}:${port(dport)}`;
  }

  end(): ProvEvent[] {
    const out: ProvEvent[] = [];
    if (this.header === null) {
      out.push(this.problem(0, "empty input"));
      return out;
    }
    if (!this.failed && this.eventsRead < this.header.events) {
      out.push(
        this.problem(
          this.next,
          `truncated: ${this.eventsRead} of the ${this.header.events} events the header announces were read`,
        ),
      );
    }
    this.mapper.end(out, this.lastTs, { file: this.file, line: this.eventsRead });
    return out;
  }
}
