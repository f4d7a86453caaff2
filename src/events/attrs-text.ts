/**
 * The JSON text of a node's or relation's attributes, kept beside the object by a source that read
 * the attributes as JSON text (CamFlow's records), so that the store writes that text instead of
 * serializing the object again: parsing each record into an object and serializing it back was a
 * third of the ingest's work.
 *
 * The text lives under a symbol key, not enumerable (JSON.stringify, Object.entries, for…in, spread
 * copies and structured clone ignore it) in its "open" form: the object's text without its closing brace, so that an added
 * attribute is appended at no cost. Whoever changes such an object must do it with `setAttr`, or
 * drop the text with `dropAttrsJson` (the graph builder does when it merges two descriptions of a
 * node). Parsing the text gives the object back: same keys, same order, same values.
 */

const ATTRS_JSON: unique symbol = Symbol("provflow.attrsJson");

type WithText = { [ATTRS_JSON]?: string | undefined };

/**
 * Keep `text`, the JSON text `attrs` was parsed from (an object with at least one member, integers
 * within 2^53, so that parsing it gives `attrs` exactly).
 */
export function keepAttrsJson(attrs: object, text: string): void {
  const end = text.lastIndexOf("}");
  if (end <= 0) return;
  // an empty object keeps nothing: its open text could not take a member after a comma
  for (const _ in attrs) {
    // not enumerable: copies ({...attrs}) and deep comparisons do not see it
    Object.defineProperty(attrs, ATTRS_JSON, {
      value: text.slice(0, end),
      writable: true,
      configurable: true,
    });
    return;
  }
}

/** Sets an attribute and keeps the text in step (a key already there, or undefined, drops the text). */
export function setAttr(attrs: Record<string, unknown>, key: string, value: unknown): void {
  const w = attrs as WithText;
  const open = w[ATTRS_JSON];
  if (open !== undefined) {
    if (value === undefined || Object.hasOwn(attrs, key) || typeof value === "bigint")
      w[ATTRS_JSON] = undefined;
    else w[ATTRS_JSON] = `${open},${JSON.stringify(key)}:${JSON.stringify(value)}`;
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

/**
 * The JSON text of `attrs`: the kept text (then released: it may share memory with the input read)
 * or JSON.stringify. For the stores, which write each node and edge once per batch.
 */
export function takeAttrsJson(attrs: object): string {
  const w = attrs as WithText;
  const open = w[ATTRS_JSON];
  if (open === undefined) return JSON.stringify(attrs);
  w[ATTRS_JSON] = undefined;
  return `${open}}`;
}
