import { filetimeIso } from "../windows/filetime.js";
import { trimNuls } from "../windows/utf16-text.js";

/**
 * Binary XML of Windows event logs (EVTX "BinXml", as documented by libevtx and python-evtx's
 * format notes): the tokens of one event record, read against the 64 KiB chunk that holds it
 * (element and attribute names, and templates, live at offsets in the chunk). A record is a
 * template instance: the template's element tree plus an array of typed substitution values.
 * `readRecordXml` returns the instantiated tree; names are read from the chunk, templates are cached
 * per chunk.
 */

export interface XElement {
  name: string;
  attrs: Array<[string, string]>;
  children: XNode[];
}
export type XNode = XElement | string;

/** A token stream that cannot be read: where, and why. */
export class BinXmlError extends Error {
  constructor(
    message: string,
    readonly chunkOffset: number,
  ) {
    super(message);
  }
}

/** Template parts before substitution. */
interface TElement {
  name: string;
  attrs: Array<[string, TPart[]]>;
  children: Array<TElement | TPart>;
}
type TPart = { text: string } | { sub: number; optional: boolean };

interface SubValue {
  type: number;
  bytes: Buffer;
}

const MAX_DEPTH = 64;

function hex(n: number | bigint, width: number): string {
  return `0x${n.toString(16).padStart(width, "0")}`;
}

function guidText(b: Buffer): string {
  if (b.length < 16) return "";
  const h = (o: number, n: number) => b.subarray(o, o + n).toString("hex");
  return `{${b.readUInt32LE(0).toString(16).padStart(8, "0")}-${b.readUInt16LE(4).toString(16).padStart(4, "0")}-${b
    .readUInt16LE(6)
    .toString(16)
    .padStart(4, "0")}-${h(8, 2)}-${h(10, 6)}}`;
}

function sidText(b: Buffer): string {
  if (b.length < 8) return "";
  const count = b[1]!;
  let auth = 0;
  for (let i = 2; i < 8; i++) auth = auth * 256 + b[i]!;
  const parts = [`S-${b[0]}-${auth}`];
  for (let i = 0; i < count && 8 + i * 4 + 4 <= b.length; i++) parts.push(String(b.readUInt32LE(8 + i * 4)));
  return parts.join("-");
}

/** A substitution value as text (the way event viewers print it). */
function valueText(v: SubValue, chunk: Buffer, names: Map<number, string>, depth: number): XNode[] | string {
  const b = v.bytes;
  switch (v.type) {
    case 0x00:
      return "";
    case 0x01:
      return trimNuls(b.toString("utf16le"));
    case 0x02:
      return trimNuls(b.toString("latin1"));
    case 0x03:
      return b.length >= 1 ? String(b.readInt8(0)) : "";
    case 0x04:
      return b.length >= 1 ? String(b[0]) : "";
    case 0x05:
      return b.length >= 2 ? String(b.readInt16LE(0)) : "";
    case 0x06:
      return b.length >= 2 ? String(b.readUInt16LE(0)) : "";
    case 0x07:
      return b.length >= 4 ? String(b.readInt32LE(0)) : "";
    case 0x08:
      return b.length >= 4 ? String(b.readUInt32LE(0)) : "";
    case 0x09:
      return b.length >= 8 ? String(b.readBigInt64LE(0)) : "";
    case 0x0a:
      return b.length >= 8 ? String(b.readBigUInt64LE(0)) : "";
    case 0x0b:
      return b.length >= 4 ? String(b.readFloatLE(0)) : "";
    case 0x0c:
      return b.length >= 8 ? String(b.readDoubleLE(0)) : "";
    case 0x0d:
      return b.length >= 4 ? (b.readUInt32LE(0) !== 0 ? "true" : "false") : "";
    case 0x0e:
      return b.toString("hex").toUpperCase();
    case 0x0f:
      return guidText(b);
    case 0x10:
      return b.length >= 8 ? hex(b.readBigUInt64LE(0), 16) : b.length >= 4 ? hex(b.readUInt32LE(0), 8) : "";
    case 0x11:
      return b.length >= 8 ? filetimeIso(b.readBigUInt64LE(0)) : "";
    case 0x12: {
      if (b.length < 16) return "";
      const [y, mo, , d, h, mi, s, ms] = [0, 2, 4, 6, 8, 10, 12, 14].map((o) => b.readUInt16LE(o));
      return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!)).toISOString();
    }
    case 0x13:
      return sidText(b);
    case 0x14:
      return b.length >= 4 ? hex(b.readUInt32LE(0), 8) : "";
    case 0x15:
      return b.length >= 8 ? hex(b.readBigUInt64LE(0), 16) : "";
    case 0x21: {
      // nested binary XML (EventData of some providers): its own token stream in the value bytes
      const r = new BinXmlReader(chunk, names, depth + 1);
      return r.readStandalone(b);
    }
    case 0x81:
      return b.toString("utf16le").split("\u0000").filter(Boolean).join(", ");
    default:
      return b.toString("hex");
  }
}

/** Reads BinXml tokens of one chunk. */
export class BinXmlReader {
  private buf: Buffer;
  private pos = 0;

  constructor(
    private readonly chunk: Buffer,
    private readonly names: Map<number, string>,
    private readonly depth = 0,
    private readonly templates = new Map<number, TElement[]>(),
  ) {
    this.buf = chunk;
    if (depth > MAX_DEPTH) throw new BinXmlError("binary XML nested too deep", 0);
  }

  /** The record's tree: the BinXml from `start` to `end` in the chunk. */
  readRecord(start: number, end: number): XNode[] {
    this.buf = this.chunk;
    this.pos = start;
    return this.instantiateAll(this.fragment(end), []);
  }

  /** A value holding its own BinXml (type 0x21): offsets inside it are its own. */
  readStandalone(bytes: Buffer): XNode[] {
    const saved = [this.buf, this.pos] as const;
    // a value cut from the chunk is read in place, so inline names and templates are recognised
    const start = bytes.byteOffset - this.chunk.byteOffset;
    const inChunk =
      bytes.buffer === this.chunk.buffer && start >= 0 && start + bytes.length <= this.chunk.length;
    this.buf = inChunk ? this.chunk : bytes;
    this.pos = inChunk ? start : 0;
    try {
      return this.instantiateAll(this.fragment(this.pos + bytes.length), []);
    } finally {
      [this.buf, this.pos] = saved;
    }
  }

  private fail(msg: string): never {
    throw new BinXmlError(msg, this.pos);
  }

  private need(n: number, end: number): void {
    if (this.pos + n > end || this.pos + n > this.buf.length) this.fail("binary XML runs past its record");
  }

  private u8(end: number): number {
    this.need(1, end);
    return this.buf[this.pos++]!;
  }
  private u16(end: number): number {
    this.need(2, end);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  private u32(end: number): number {
    this.need(4, end);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A name at a chunk offset: next(4) hash(2) length(2) UTF-16 chars, NUL. */
  private nameAt(off: number): string {
    const known = this.names.get(off);
    if (known !== undefined) return known;
    if (off + 8 > this.chunk.length) this.fail(`a name offset (${off}) outside the chunk`);
    const len = this.chunk.readUInt16LE(off + 6);
    if (off + 8 + len * 2 > this.chunk.length) this.fail(`a name at ${off} runs outside the chunk`);
    const s = this.chunk.toString("utf16le", off + 8, off + 8 + len * 2);
    this.names.set(off, s);
    return s;
  }

  /** A name reference; an inline name (defined right here) is stepped over. */
  private nameRef(end: number): string {
    const off = this.u32(end);
    const name = this.nameAt(off);
    if (this.buf === this.chunk && off === this.pos) {
      const len = this.chunk.readUInt16LE(off + 6);
      this.pos += 8 + len * 2 + 2;
    }
    return name;
  }

  /** Tokens up to the end of the stream; a template instance stands for its instantiated tree. */
  private fragment(end: number): Array<TElement | TPart | XNode[]> {
    const out: Array<TElement | TPart | XNode[]> = [];
    while (this.pos < end) {
      const tok = this.buf[this.pos]!;
      const base = tok & 0x0f;
      if (base === 0x00) {
        this.pos++;
        break;
      }
      if (base === 0x0f) {
        this.pos += 4;
        continue;
      }
      if (base === 0x0c) {
        out.push(this.templateInstance(end));
        continue;
      }
      if (base === 0x01) {
        out.push(this.element(end));
        continue;
      }
      const part = this.content(end);
      if (part === null) this.fail(`unexpected binary XML token 0x${tok.toString(16)}`);
      out.push(part);
    }
    return out;
  }

  /** Character content: a value, a substitution, a character or entity reference, CDATA. */
  private content(end: number): TPart | null {
    const tok = this.buf[this.pos]!;
    switch (tok & 0x0f) {
      case 0x05: {
        this.pos++;
        const type = this.u8(end);
        if (type !== 0x01) this.fail(`a value token of type 0x${type.toString(16)}`);
        const n = this.u16(end);
        this.need(n * 2, end);
        const text = this.buf.toString("utf16le", this.pos, this.pos + n * 2);
        this.pos += n * 2;
        return { text };
      }
      case 0x0d:
      case 0x0e: {
        this.pos++;
        const sub = this.u16(end);
        this.u8(end);
        return { sub, optional: (tok & 0x0f) === 0x0e };
      }
      case 0x08: {
        this.pos++;
        return { text: String.fromCharCode(this.u16(end)) };
      }
      case 0x09: {
        this.pos++;
        const name = this.nameRef(end);
        return { text: { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[name] ?? `&${name};` };
      }
      case 0x07: {
        this.pos++;
        const n = this.u16(end);
        this.need(n * 2, end);
        const text = this.buf.toString("utf16le", this.pos, this.pos + n * 2);
        this.pos += n * 2;
        return { text };
      }
      case 0x0a:
      case 0x0b: {
        // processing instructions: not part of an event
        this.pos++;
        if ((tok & 0x0f) === 0x0a) this.nameRef(end);
        else {
          const n = this.u16(end);
          this.pos += n * 2;
        }
        return { text: "" };
      }
      default:
        return null;
    }
  }

  private element(end: number): TElement {
    const tok = this.u8(end);
    this.u16(end); // dependency id
    this.u32(end); // data size
    const name = this.nameRef(end);
    const el: TElement = { name, attrs: [], children: [] };
    if (tok & 0x40) this.u32(end); // attribute list size
    while (this.pos < end && (this.buf[this.pos]! & 0x0f) === 0x06) {
      this.pos++;
      const an = this.nameRef(end);
      const parts: TPart[] = [];
      for (;;) {
        const t = this.buf[this.pos]! & 0x0f;
        if (t !== 0x05 && t !== 0x0d && t !== 0x0e && t !== 0x08 && t !== 0x09) break;
        parts.push(this.content(end)!);
      }
      el.attrs.push([an, parts]);
    }
    const close = this.u8(end);
    if (close === 0x03) return el;
    if (close !== 0x02)
      this.fail(`element ${name}: expected the end of its start tag, got 0x${close.toString(16)}`);
    for (;;) {
      if (this.pos >= end) this.fail(`element ${name} is not closed`);
      const t = this.buf[this.pos]! & 0x0f;
      if (t === 0x04) {
        this.pos++;
        return el;
      }
      if (t === 0x01) el.children.push(this.element(end));
      else {
        const part = this.content(end);
        if (part === null)
          this.fail(`element ${name}: unexpected token 0x${this.buf[this.pos]!.toString(16)}`);
        el.children.push(part);
      }
    }
  }

  /** A template instance: the template (inline or at an offset of the chunk) and its values. */
  private templateInstance(end: number): XNode[] {
    this.pos++;
    this.u8(end);
    this.u32(end); // template id
    const defOff = this.u32(end);
    let tmpl = this.templates.get(defOff);
    const inline = this.buf === this.chunk && defOff === this.pos;
    if (inline || !tmpl) {
      if (defOff + 24 > this.chunk.length) this.fail(`a template offset (${defOff}) outside the chunk`);
      const size = this.chunk.readUInt32LE(defOff + 20);
      const saved = [this.buf, this.pos] as const;
      this.buf = this.chunk;
      this.pos = defOff + 24;
      const body = this.fragment(defOff + 24 + size).filter(
        (x): x is TElement => !Array.isArray(x) && "name" in x,
      );
      [this.buf, this.pos] = saved;
      tmpl = body;
      this.templates.set(defOff, tmpl);
      if (inline) this.pos = defOff + 24 + size;
    }
    const count = this.u32(end);
    if (count > 4096) this.fail(`${count} substitution values`);
    const descs: Array<[number, number]> = [];
    for (let i = 0; i < count; i++) {
      const size = this.u16(end);
      const type = this.u8(end);
      this.u8(end);
      descs.push([size, type]);
    }
    const values: SubValue[] = [];
    for (const [size, type] of descs) {
      this.need(size, end);
      values.push({ type, bytes: this.buf.subarray(this.pos, this.pos + size) });
      this.pos += size;
    }
    return this.instantiateAll(tmpl, values);
  }

  private instantiateAll(parts: Array<TElement | TPart | XNode[]>, values: SubValue[]): XNode[] {
    const out: XNode[] = [];
    for (const p of parts) {
      if (Array.isArray(p)) out.push(...p);
      else if ("name" in p) out.push(this.instantiate(p, values));
      else out.push(...this.partNodes(p, values));
    }
    return out;
  }

  private partNodes(p: TPart, values: SubValue[]): XNode[] {
    if ("text" in p) return [p.text];
    const v = values[p.sub];
    if (!v) return [];
    const t = valueText(v, this.chunk, this.names, this.depth);
    return typeof t === "string" ? [t] : t;
  }

  private instantiate(t: TElement, values: SubValue[]): XElement {
    const attrs: Array<[string, string]> = [];
    for (const [name, parts] of t.attrs) {
      let s = "";
      let present = false;
      for (const p of parts) {
        if ("sub" in p) {
          const v = values[p.sub];
          if (!v || (p.optional && v.type === 0x00)) continue;
        }
        present = true;
        for (const n of this.partNodes(p, values)) if (typeof n === "string") s += n;
      }
      if (present) attrs.push([name, s]);
    }
    const children: XNode[] = [];
    for (const c of t.children) {
      if ("name" in c) children.push(this.instantiate(c, values));
      else children.push(...this.partNodes(c, values));
    }
    return { name: t.name, attrs, children };
  }
}

/** The text of an element (its string children joined). */
export function textOf(e: XElement): string {
  let s = "";
  for (const c of e.children) if (typeof c === "string") s += c;
  return s;
}

export function childNamed(e: XElement, name: string): XElement | undefined {
  for (const c of e.children) if (typeof c !== "string" && c.name === name) return c;
  return undefined;
}
