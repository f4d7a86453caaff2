import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createInflate } from "node:zlib";
import { sniffCompression } from "../../ingest/compressed-input.js";
import type { LineBatch } from "../line-batches.js";
import { parsePmlHeader, regionEnd } from "./pml-parser.js";

const CHUNK = 1 << 20;
const HEADER_SIZE = 0x3a8;

/**
 * The PML stream adapter: reads the file out of order, as its layout needs (the tables the events
 * refer to come after the events): the header, then the string, process and host/port tables, then
 * the event area in 1 MiB chunks. A compressed log (gzip, or the raw zlib streams of
 * procmon-parser's fixtures) is inflated to a temporary file first, since a stream cannot seek.
 */
export async function* readPmlFile(path: string): AsyncIterable<LineBatch> {
  const fh0 = await open(path, "r");
  const magic = Buffer.alloc(2);
  await fh0.read(magic, 0, 2, 0);
  await fh0.close();
  const compression = sniffCompression(magic);
  let tmpDir: string | null = null;
  let file = path;
  if (compression !== null) {
    tmpDir = await mkdtemp(join(tmpdir(), "provflow-pml-"));
    file = join(tmpDir, "log.pml");
    await pipeline(
      createReadStream(path),
      compression === "gzip" ? createGunzip() : createInflate(),
      createWriteStream(file),
    );
  }
  const fh = await open(file, "r");
  try {
    const size = (await fh.stat()).size;
    const read = async (pos: number, len: number): Promise<Buffer> => {
      const b = Buffer.allocUnsafe(Math.max(0, Math.min(len, size - pos)));
      const { bytesRead } = await fh.read(b, 0, b.length, pos);
      return b.subarray(0, bytesRead);
    };
    const headBytes = await read(0, HEADER_SIZE);
    yield { lines: [], firstLine: 0, bytes: headBytes.length, data: headBytes, offset: 0 };
    const h = parsePmlHeader(headBytes);
    if (typeof h === "string") return;
    for (const start of [h.stringTable, h.processTable, h.hostsTable]) {
      if (start >= size) continue;
      const data = await read(start, regionEnd(h, start, size) - start);
      yield { lines: [], firstLine: 0, bytes: data.length, data, offset: start };
    }
    const end = Math.min(h.offsetsArray, size);
    for (let pos = h.eventsOffset; pos < end; pos += CHUNK) {
      const data = await read(pos, Math.min(CHUNK, end - pos));
      if (data.length === 0) break;
      yield { lines: [], firstLine: 0, bytes: data.length, data, offset: pos };
    }
  } finally {
    await fh.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  }
}
