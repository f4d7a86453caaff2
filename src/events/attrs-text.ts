/**
 * The JSON text of a node's or relation's attributes, kept beside the object by a source that read
 * the attributes as JSON text (CamFlow's records), so that the store writes that text instead of
 * serializing the object again: parsing each record into an object and serializing it back, then
 * copying the text to the store's thread, was a third of the ingest's work.
 *
 * The text lives under a symbol key, not enumerable (JSON.stringify, Object.entries, for…in, spread
 * copies, deep comparisons and structured clone ignore it), in two parts: the record as read without
 * its closing brace (the `head`), and the attributes added since (`tail`, `,"key":value…`), so that
 * an added attribute costs one append. The head is either a string, or, for ASCII text, a span of
 * bytes in shared memory (a `TextArena`): the SQLite writer thread reads those bytes where they are,
 * and nothing of the record's text is copied between threads.
 *
 * Whoever changes such an object must do it with `setAttr`, or drop the text with `dropAttrsJson`
 * (the graph builder does when it merges two descriptions of a node). Parsing the text gives the
 * object back: same keys, same order, same values.
 */

import { isAscii } from "node:buffer";

const ATTRS_JSON: unique symbol = Symbol("provflow.attrsJson");

/** The kept text: `head` (a string, or bytes [start, end) of `buf`) + `tail` + "}". */
export interface KeptJson {
  head: string | null;
  buf: SharedArrayBuffer | null;
  start: number;
  end: number;
  tail: string;
}

type WithText = { [ATTRS_JSON]?: KeptJson | undefined };

/** not enumerable: copies ({...attrs}) and deep comparisons do not see it (one descriptor, reused) */
const KEEP: PropertyDescriptor = { value: null, writable: true, configurable: true, enumerable: false };

function keep(attrs: object, k: KeptJson): void {
  // an empty object keeps nothing: its head could not take a member after a comma
  for (const _ in attrs) {
    KEEP.value = k;
    Object.defineProperty(attrs, ATTRS_JSON, KEEP);
    KEEP.value = null;
    return;
  }
}

/**
 * Keep `text`, the JSON text `attrs` was parsed from (an object with at least one member, integers
 * within 2^53, so that parsing it gives `attrs` exactly).
 */
export function keepAttrsJson(attrs: object, text: string): void {
  const end = text.lastIndexOf("}");
  if (end > 0) keep(attrs, { head: text.slice(0, end), buf: null, start: 0, end: 0, tail: "" });
}

/** Keep the JSON text `attrs` was parsed from, ASCII bytes [start, end) of `buf`, its closing brace excluded. */
export function keepAttrsBytes(attrs: object, buf: SharedArrayBuffer, start: number, end: number): void {
  keep(attrs, { head: null, buf, start, end, tail: "" });
}

const KEY_JSON = new Map<string, string>();

/** Sets an attribute and keeps the text in step (a key already there, or undefined, drops the text). */
export function setAttr(attrs: Record<string, unknown>, key: string, value: unknown): void {
  const w = attrs as WithText;
  const k = w[ATTRS_JSON];
  if (k !== undefined) {
    if (value === undefined || typeof value === "bigint" || Object.hasOwn(attrs, key))
      w[ATTRS_JSON] = undefined;
    else {
      let kj = KEY_JSON.get(key);
      if (kj === undefined) {
        kj = `,${JSON.stringify(key)}:`;
        if (KEY_JSON.size < 256) KEY_JSON.set(key, kj);
      }
      k.tail +=
        kj + (typeof value === "number" && Number.isFinite(value) ? String(value) : JSON.stringify(value));
    }
  }
  attrs[key] = value;
}

/** Whether `attrs` carries its JSON text. */
export function attrsJsonKept(attrs: object): boolean {
  return (attrs as WithText)[ATTRS_JSON] !== undefined;
}

/** The object is about to change another way: its text no longer holds. */
export function dropAttrsJson(attrs: object): void {
  if ((attrs as WithText)[ATTRS_JSON] !== undefined) (attrs as WithText)[ATTRS_JSON] = undefined;
}

/** The kept text of `attrs`, released (it may share memory with the input read); null when none. */
export function takeKeptJson(attrs: object): KeptJson | null {
  const w = attrs as WithText;
  const k = w[ATTRS_JSON];
  if (k === undefined) return null;
  w[ATTRS_JSON] = undefined;
  return k;
}

/** The whole text of a kept text. */
export function keptJsonText(k: KeptJson): string {
  const head = k.head ?? Buffer.from(k.buf!, k.start, k.end - k.start).toString("latin1");
  return `${head}${k.tail}}`;
}

/** The JSON text of `attrs`: the kept text (then released), or JSON.stringify. */
export function takeAttrsJson(attrs: object): string {
  const k = takeKeptJson(attrs);
  return k === null ? JSON.stringify(attrs) : keptJsonText(k);
}

/**
 * Shared memory that pieces of ASCII text are copied into, so that spans of them can be kept
 * (keepAttrsBytes) and read by another thread without a copy. Chunks are allocated as needed and
 * freed by the garbage collector once no kept text refers to them.
 */
export class TextArena {
  private buf: SharedArrayBuffer | null = null;
  private bytes: Buffer | null = null;
  private used = 0;

  constructor(private readonly chunkBytes = 4 << 20) {}

  /**
   * Copies `text`; returns where it starts in the returned chunk, or null when the text is not all
   * ASCII (string indices would not be byte offsets) or is larger than a chunk.
   */
  put(text: string): { buf: SharedArrayBuffer; at: number } | null {
    const n = text.length;
    if (n > this.chunkBytes) return null;
    if (this.bytes === null || this.used + n > this.chunkBytes) {
      this.buf = new SharedArrayBuffer(this.chunkBytes);
      this.bytes = Buffer.from(this.buf);
      this.used = 0;
    }
    const at = this.used;
    // all ASCII: n characters give n bytes, none of them above 0x7f
    const written = this.bytes.write(text, at, n, "utf8");
    if (written !== n || !isAscii(this.bytes.subarray(at, at + n))) return null;
    this.used = at + n;
    return { buf: this.buf!, at };
  }
}
