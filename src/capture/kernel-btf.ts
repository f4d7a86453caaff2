import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { CaptureError } from "../util/errors.js";

/**
 * Byte offsets of kernel struct members, read from the kernel's BTF (/sys/kernel/btf/vmlinux).
 *
 * provflow's eBPF program reads a few fields of kernel structs (the task's exit code, the file an fd
 * refers to and its f_mode). Written as `curtask->files->fdt->fd`, bpftrace 0.17 has clang parse C
 * definitions it generates from BTF, several times over (one parse for each level of structs it
 * resolves): about half of its compile time. With the offsets known, the program reads the same
 * memory through `*(uint64 *)((uint64)curtask + OFFSET)`, which bpftrace compiles without clang.
 */

const KIND_INT = 1;
const KIND_PTR = 2;
const KIND_ARRAY = 3;
const KIND_STRUCT = 4;
const KIND_UNION = 5;
const KIND_ENUM = 6;
const KIND_TYPEDEF = 8;
const KIND_VOLATILE = 9;
const KIND_CONST = 10;
const KIND_RESTRICT = 11;
const KIND_FUNC_PROTO = 13;
const KIND_VAR = 14;
const KIND_DATASEC = 15;
const KIND_DECL_TAG = 17;
const KIND_TYPE_TAG = 18;
const KIND_ENUM64 = 19;

/** A member found: its byte offset from the start of the struct and its size in bytes. */
export interface BtfMember {
  offset: number;
  size: number;
}

/** The types of one BTF blob, indexed by id (id 0 is void). */
export class KernelBtf {
  private readonly buf: Buffer;
  private readonly le: boolean;
  /** the blob as 32-bit words in this machine's byte order, when that is the blob's (the fast path) */
  private readonly words: Uint32Array | null;
  private readonly strOff: number;
  private readonly strEnd: number;
  /** byte position of each type's btf_type record, by id */
  private readonly pos: number[] = [0];
  private readonly structs = new Map<string, number>();

  /** `structs`: the only struct names looked up later (all of them when left out; slower) */
  constructor(buf: Buffer, structs?: string[]) {
    this.buf = buf;
    const wanted = structs?.map((n) => Buffer.from(`${n}\0`, "latin1"));
    if (buf.length >= 24 && buf.readUInt16LE(0) === 0xeb9f) this.le = true;
    else if (buf.length >= 24 && buf.readUInt16BE(0) === 0xeb9f) this.le = false;
    else throw new CaptureError("not BTF data (bad magic)");
    this.words = null;
    if (this.le === (endianness() === "LE")) {
      const copy = new Uint8Array(buf.length - (buf.length % 4));
      copy.set(buf.subarray(0, copy.length));
      this.words = new Uint32Array(copy.buffer);
    }
    const hdrLen = this.u32(4);
    const typeOff = hdrLen + this.u32(8);
    const typeEnd = typeOff + this.u32(12);
    this.strOff = hdrLen + this.u32(16);
    this.strEnd = this.strOff + this.u32(20);
    if (typeEnd > buf.length || this.strEnd > buf.length) throw new CaptureError("BTF data is truncated");
    let p = typeOff;
    while (p + 12 <= typeEnd) {
      this.pos.push(p);
      const info = this.u32(p + 4);
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      if ((kind === KIND_STRUCT || kind === KIND_UNION) && this.u32(p) !== 0) {
        const at = this.strOff + this.u32(p);
        let name: string | undefined;
        if (wanted === undefined) name = this.str(this.u32(p));
        else {
          const w = wanted.find((x) => sameBytes(buf, at, x));
          if (w !== undefined) name = w.toString("latin1", 0, w.length - 1);
        }
        // the first definition (a forward declaration is another kind, FWD)
        if (name !== undefined && !this.structs.has(name)) this.structs.set(name, this.pos.length - 1);
      }
      p += 12 + extraBytes(kind, vlen);
    }
  }

  private u32(at: number): number {
    // every field read is 4-byte aligned: the header, the type records and what follows them
    if (this.words !== null) return this.words[at >>> 2] as number;
    return this.le ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  private str(off: number): string {
    const start = this.strOff + off;
    const end = this.buf.indexOf(0, start);
    return this.buf.toString("latin1", start, end < 0 || end > this.strEnd ? this.strEnd : end);
  }

  /** The size in bytes of a type (typedefs and qualifiers followed); null when it has none. */
  sizeOf(id: number, depth = 0): number | null {
    const p = this.pos[id];
    if (p === undefined || id === 0 || depth > 32) return null;
    const info = this.u32(p + 4);
    const kind = (info >>> 24) & 0x1f;
    switch (kind) {
      case KIND_INT:
      case KIND_STRUCT:
      case KIND_UNION:
      case KIND_ENUM:
      case KIND_ENUM64:
        return this.u32(p + 8);
      case KIND_PTR:
        return 8;
      case KIND_ARRAY: {
        const elem = this.sizeOf(this.u32(p + 16), depth + 1);
        return elem === null ? null : elem * this.u32(p + 20);
      }
      case KIND_TYPEDEF:
      case KIND_VOLATILE:
      case KIND_CONST:
      case KIND_RESTRICT:
      case KIND_TYPE_TAG:
        return this.sizeOf(this.u32(p + 8), depth + 1);
      default:
        return null;
    }
  }

  /**
   * A member of a struct (or union) by name, searched in its anonymous struct and union members
   * too; null when the struct or the member is missing, or the member is a bitfield.
   */
  member(struct: string, name: string): BtfMember | null {
    const id = this.structs.get(struct);
    return id === undefined ? null : this.find(id, name, 0, 0);
  }

  private find(id: number, name: string, base: number, depth: number): BtfMember | null {
    const p = this.pos[id] as number;
    const info = this.u32(p + 4);
    const kind = (info >>> 24) & 0x1f;
    if ((kind !== KIND_STRUCT && kind !== KIND_UNION) || depth > 8) return null;
    const bitfields = info >>> 31 === 1;
    const vlen = info & 0xffff;
    for (let i = 0; i < vlen; i++) {
      const m = p + 12 + i * 12;
      const nameOff = this.u32(m);
      const type = this.u32(m + 4);
      const raw = this.u32(m + 8);
      const bits = bitfields ? raw & 0xffffff : raw;
      const bitSize = bitfields ? raw >>> 24 : 0;
      if (nameOff === 0) {
        const inner = this.find(this.resolve(type), name, base + bits / 8, depth + 1);
        if (inner) return inner;
        continue;
      }
      if (this.str(nameOff) !== name) continue;
      if (bitSize !== 0 || bits % 8 !== 0) return null;
      const size = this.sizeOf(type);
      return size === null ? null : { offset: base + bits / 8, size };
    }
    return null;
  }

  /** a type id with typedefs and qualifiers followed */
  private resolve(id: number): number {
    let cur = id;
    for (let i = 0; i < 32; i++) {
      const p = this.pos[cur];
      if (p === undefined || cur === 0) return cur;
      const kind = (this.u32(p + 4) >>> 24) & 0x1f;
      if (
        kind !== KIND_TYPEDEF &&
        kind !== KIND_VOLATILE &&
        kind !== KIND_CONST &&
        kind !== KIND_RESTRICT &&
        kind !== KIND_TYPE_TAG
      )
        return cur;
      cur = this.u32(p + 8);
    }
    return cur;
  }
}

/** whether `buf` holds the bytes of `x` at `at` */
function sameBytes(buf: Buffer, at: number, x: Buffer): boolean {
  if (at + x.length > buf.length) return false;
  for (let i = 0; i < x.length; i++) if (buf[at + i] !== x[i]) return false;
  return true;
}

/** the bytes that follow a btf_type record of this kind */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case KIND_INT:
    case KIND_VAR:
    case KIND_DECL_TAG:
      return 4;
    case KIND_ARRAY:
      return 12;
    case KIND_STRUCT:
    case KIND_UNION:
    case KIND_DATASEC:
    case KIND_ENUM64:
      return 12 * vlen;
    case KIND_ENUM:
    case KIND_FUNC_PROTO:
      return 8 * vlen;
    default:
      return 0;
  }
}

/** The kernel's own BTF, or null when it cannot be read or parsed. */
export function readKernelBtf(path = "/sys/kernel/btf/vmlinux", structs?: string[]): KernelBtf | null {
  try {
    return new KernelBtf(readFileSync(path), structs);
  } catch {
    return null;
  }
}
