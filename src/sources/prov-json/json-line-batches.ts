import { isAscii } from "node:buffer";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { LineBatch } from "../line-batches.js";

/**
 * Line batches for JSON sources, where one line may be a whole document of any size (a minified
 * PROV-JSON file, python-prov's output): a line longer than `maxPiece` characters is handed over in
 * pieces, each later piece marked by a leading NUL (`CONTINUATION`), which no JSON text can hold
 * outside a string. The JSON parsers put the pieces back together as they scan, so memory stays at
 * one piece plus the record being read, however long the line.
 *
 * `firstLine` is the line of `lines[0]`; pieces of one line count as one line. (The run's `lines`
 * statistic counts each piece.)
 */

export const CONTINUATION = "\u0000";

export async function* readJsonLineBatches(stream: Readable, maxPiece = 1 << 20): AsyncIterable<LineBatch> {
  const decoder = new StringDecoder("utf8");
  let carry = "";
  /** the line being read already gave a piece */
  let continuing = false;
  /** line number of the line being read */
  let line = 1;
  let pendingBytes = 0;
  let out: string[] = [];
  let outFirst = 1;

  const put = (piece: string, ends: boolean) => {
    if (out.length === 0) outFirst = line;
    out.push(continuing ? CONTINUATION + piece : piece);
    continuing = !ends;
    if (ends) line++;
  };
  const flush = (): LineBatch | null => {
    if (out.length === 0) return null;
    const batch: LineBatch = { lines: out, firstLine: outFirst, bytes: pendingBytes };
    out = [];
    pendingBytes = 0;
    return batch;
  };

  /** the decoder holds no part of a character (the last byte read was ASCII) */
  let clean = true;
  for await (const chunk of stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    pendingBytes += buf.length;
    // ASCII (most logs) needs no UTF-8 decoding: one byte, one character
    const text = clean && isAscii(buf) ? buf.toString("latin1") : decoder.write(buf);
    if (buf.length > 0) clean = (buf[buf.length - 1] as number) < 0x80;
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      let piece = carry + text.slice(start, nl);
      carry = "";
      if (piece.endsWith("\r")) piece = piece.slice(0, -1);
      put(piece, true);
      start = nl + 1;
    }
    carry += text.slice(start);
    while (carry.length > maxPiece) {
      put(carry.slice(0, maxPiece), false);
      carry = carry.slice(maxPiece);
    }
    const batch = flush();
    if (batch) yield batch;
  }
  carry += decoder.end();
  if (carry.length > 0 || continuing) put(carry, true);
  const last = flush();
  if (last) yield last;
  else if (pendingBytes > 0) yield { lines: [], firstLine: line, bytes: pendingBytes };
}
