/**
 * The JSON text of a node's or relation's attributes, kept beside the object by a source that read
 * the attributes as JSON text (CamFlow's records), so that the store writes that text instead of
 * serializing the object again: parsing each record into an object and serializing it back, then
 * copying the text to the store's thread, was a third of the ingest's work.
 *
 * The text lives under a symbol key, not enumerable (JSON.stringify, Object.entries, for…in, spread
 * copies, deep comparisons and structured clone ignore it), in two parts: the record as read without
 * its closing brace (the `head`), and the attributes added since (`tail`, `,"key":value…`), so that
 * an added attribute costs one append.
 *
 * Whoever changes such an object must do it with `setAttr`, or drop the text with `dropAttrsJson`
 * (the graph builder does when it merges two descriptions of a node). Parsing the text gives the
 * object back: same keys, same order, same values.
 */

const ATTRS_JSON: unique symbol = Symbol("provflow.attrsJson");

/** The kept text: `head` + `tail` + "}". */
interface KeptJson {
  head: string;
  tail: string;
  /**
   * the object has no members of its own: they are in the text alone, and become properties when
   * something needs them (`materializeAttrs`, `dropAttrsJson`, `setAttr`); see `compactAttrs`
   */
  lazy: boolean;
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
  if (end > 0) keep(attrs, { head: text.slice(0, end), tail: "", lazy: false });
}

/**
 * For an object whose members nobody reads any more, only its text: the graph builder's PROV
 * relations, from the relation to the drain that hands them to the store, which writes their text.
 * It is an empty object with the text alone (a lazy object), so that the object of members dies
 * young: what the garbage collector copies for each relation waiting to be written is then the text
 * (which it kept anyway), and no longer the members and their values as well (with the objects that
 * outlived a young-generation collection promoted, and the old generation grown, at the pace of the
 * input). Whatever needs the members gets them back, in the order of the text, from
 * `materializeAttrs` (which `dropAttrsJson` and `setAttr` call) or `attrsValue`; `takeAttrsJson`
 * takes the text once, and leaves the object empty. An object without kept text is returned as it is.
 */
export function compactAttrs<T extends object>(attrs: T): T {
  const k = (attrs as WithText)[ATTRS_JSON];
  if (k === undefined || k.lazy) return attrs;
  const c = {} as T;
  KEEP.value = { head: k.tail === "" ? k.head : k.head + k.tail, tail: "", lazy: true } satisfies KeptJson;
  Object.defineProperty(c, ATTRS_JSON, KEEP);
  KEEP.value = null;
  return c;
}

/**
 * The object with every member of its text, in place: a lazy object (`compactAttrs`) becomes an
 * ordinary one with its text kept. Any other object is returned as it is.
 */
export function materializeAttrs<T>(attrs: T): T {
  if (typeof attrs !== "object" || attrs === null) return attrs;
  const k = (attrs as WithText)[ATTRS_JSON];
  if (k === undefined || !k.lazy) return attrs;
  const full = JSON.parse(`${k.head}${k.tail}}`) as Record<string, unknown>;
  const a = attrs as Record<string, unknown>;
  for (const key of Object.keys(a)) delete a[key];
  Object.assign(a, full);
  k.lazy = false;
  return attrs;
}

const KEY_JSON = new Map<string, string>();

/** Sets an attribute and keeps the text in step (a key already there, or undefined, drops the text). */
export function setAttr(attrs: Record<string, unknown>, key: string, value: unknown): void {
  const w = attrs as WithText;
  let k = w[ATTRS_JSON];
  if (k?.lazy) {
    // its members are in the text only: the new one could be one of them
    materializeAttrs(attrs);
    k = w[ATTRS_JSON];
  }
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
  const k = (attrs as WithText)[ATTRS_JSON];
  if (k === undefined) return;
  if (k.lazy) materializeAttrs(attrs);
  (attrs as WithText)[ATTRS_JSON] = undefined;
}

/**
 * The value of `attrs` as its text gives it, without changing the object: a new object parsed from
 * the text of a lazy object, `attrs` itself otherwise.
 */
export function attrsValue<T>(attrs: T): T {
  if (typeof attrs !== "object" || attrs === null) return attrs;
  const k = (attrs as WithText)[ATTRS_JSON];
  return k?.lazy ? (JSON.parse(`${k.head}${k.tail}}`) as T) : attrs;
}

/**
 * The JSON text of `attrs`: the kept text (then released: it shares memory with the input read), or
 * JSON.stringify. A lazy object (`compactAttrs`) is left empty: its text is taken once, to write it.
 */
export function takeAttrsJson(attrs: object): string {
  const w = attrs as WithText;
  const k = w[ATTRS_JSON];
  if (k === undefined) return JSON.stringify(attrs);
  w[ATTRS_JSON] = undefined;
  return `${k.head}${k.tail}}`;
}
