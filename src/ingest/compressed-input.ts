import { createReadStream } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { constants, createGunzip, createInflate, gunzipSync, inflateSync } from "node:zlib";

/**
 * Logs kept compressed (`Logfile.CSV.gz`, the raw zlib streams of procmon-parser's fixtures) are
 * read as they are: the compression is told from the first bytes, not from the name.
 */
export type Compression = "gzip" | "zlib" | null;

export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  // zlib: CMF 0x78 (deflate, 32K window) and a header checksum that divides by 31
  if (head.length >= 2 && head[0] === 0x78 && ((head[0] << 8) | head[1]!) % 31 === 0) return "zlib";
  return null;
}

/** The first bytes of the decompressed content (as much as the compressed head gives). */
export function inflateHead(head: Buffer, c: Exclude<Compression, null>, max: number): Buffer {
  const opts = { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: max };
  try {
    return c === "gzip" ? gunzipSync(head, opts) : inflateSync(head, opts);
  } catch (err) {
    // more output than `max`: the head is what we wanted
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      const big = { finishFlush: constants.Z_SYNC_FLUSH };
      const all = c === "gzip" ? gunzipSync(head, big) : inflateSync(head, big);
      return all.subarray(0, max);
    }
    return Buffer.alloc(0);
  }
}

/** The file's compression, from its first bytes. */
export async function fileCompression(fh: FileHandle): Promise<Compression> {
  const b = Buffer.alloc(2);
  const { bytesRead } = await fh.read(b, 0, 2, 0);
  return sniffCompression(b.subarray(0, bytesRead));
}

/** A read stream of the file's content, decompressed when it is compressed. */
export function openContent(path: string, c: Compression, highWaterMark = 128 << 10): Readable {
  const raw = createReadStream(path, { highWaterMark });
  if (c === null) return raw;
  const z =
    c === "gzip" ? createGunzip({ chunkSize: highWaterMark }) : createInflate({ chunkSize: highWaterMark });
  raw.on("error", (e) => z.destroy(e));
  return raw.pipe(z);
}
