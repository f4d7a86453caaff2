import { deflateSync, inflateSync } from "node:zlib";

/**
 * CamFlow's MQTT payloads: camflowd (and camtool) publish `base64(zlib(json))` — a zlib stream with
 * its header, base64 without line breaks. A payload that is already plain JSON (starts with `{` or
 * `[`) is taken as it is, so hand-made test messages work too.
 */

export type DecodedPayload =
  | { ok: true; json: string }
  | { ok: false; error: string }
  /** an empty message: camflowd's keep-alive, nothing to read */
  | { ok: true; json: null };

const PLAIN_JSON = /^\s*[[{]/;

export function decodeCamflowPayload(payload: Uint8Array): DecodedPayload {
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const text = buf.toString("latin1").trim();
  if (text === "") return { ok: true, json: null };
  if (PLAIN_JSON.test(text)) return { ok: true, json: buf.toString("utf8") };
  if (!/^[A-Za-z0-9+/=\r\n_-]+$/.test(text)) {
    return { ok: false, error: "not base64 (expected base64 of a zlib stream, or JSON)" };
  }
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.from(text, "base64"));
  } catch (err) {
    return { ok: false, error: `not a zlib stream after base64 decoding (${(err as Error).message})` };
  }
  const json = raw.toString("utf8");
  if (json.includes("\uFFFD") && !isUtf8(raw))
    return { ok: false, error: "the inflated payload is not UTF-8" };
  return { ok: true, json };
}

function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/** A document as camflowd publishes it: zlib (with header), then base64 without line breaks. */
export function encodeCamflowPayload(json: string): string {
  return deflateSync(Buffer.from(json, "utf8")).toString("base64");
}
