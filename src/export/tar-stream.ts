/**
 * A folder as a POSIX ustar archive, written file by file to a byte sink: how a folder-writing
 * export (the dockerfile's build context) is downloaded from `provflow serve`. Regular files and
 * directories only (symbolic links are stored as links); names longer than ustar's 100 + 155 bytes
 * use a PAX extended header. Files are read in chunks, so the archive never sits in memory.
 */
import { lstat, open, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";

export type ByteSink = (chunk: Buffer) => void | Promise<void>;

const BLOCK = 512;
const READ_CHUNK = 256 * 1024;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

/** One 512-byte header; `name` fits ustar's fields (callers use PAX for longer ones). */
function header(name: string, size: number, mode: number, mtime: number, type: string, link = ""): Buffer {
  const h = Buffer.alloc(BLOCK);
  let prefix = "";
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 154);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  h.write(base, 0, 100, "utf8");
  h.write(octal(mode & 0o7777, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(Math.floor(mtime), 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(type, 156, "ascii");
  h.write(link, 157, 100, "utf8");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write("root", 265, "ascii");
  h.write("root", 297, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return h;
}

function fitsUstar(name: string, link: string): boolean {
  if (Buffer.byteLength(link) > 100) return false;
  if (Buffer.byteLength(name) <= 100) return true;
  const cut = name.lastIndexOf("/", 154);
  return (
    cut > 0 && Buffer.byteLength(name.slice(cut + 1)) <= 100 && Buffer.byteLength(name.slice(0, cut)) <= 155
  );
}

/** A PAX record `LEN key=value\n`, LEN counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  len += String(len).length;
  if (String(len).length !== String(len - String(len).length).length) len++;
  return `${len}${body}`;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

async function entry(
  out: ByteSink,
  name: string,
  size: number,
  mode: number,
  mtime: number,
  type: string,
  link = "",
): Promise<void> {
  if (!fitsUstar(name, link)) {
    const pax = Buffer.from(paxRecord("path", name) + (link ? paxRecord("linkpath", link) : ""), "utf8");
    await out(header("PaxHeader", pax.length, 0o644, mtime, "x"));
    await out(Buffer.concat([pax, padding(pax.length)]));
    name = name.slice(-100).replace(/^[^/]*\//, "");
    link = link.slice(0, 100);
  }
  await out(header(name, size, mode, mtime, type, link));
}

async function addTree(out: ByteSink, root: string, rel: string): Promise<void> {
  const names = (await readdir(join(root, rel))).sort();
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    const full = join(root, r);
    const st = await lstat(full);
    const mtime = st.mtimeMs / 1000;
    if (st.isSymbolicLink()) {
      await entry(out, r, 0, 0o777, mtime, "2", await readlink(full));
    } else if (st.isDirectory()) {
      await entry(out, `${r}/`, 0, st.mode, mtime, "5");
      await addTree(out, root, r);
    } else if (st.isFile()) {
      await entry(out, r, st.size, st.mode, mtime, "0");
      const fh = await open(full, "r");
      try {
        let left = st.size;
        const buf = Buffer.alloc(Math.min(READ_CHUNK, Math.max(left, 1)));
        while (left > 0) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), st.size - left);
          if (bytesRead === 0) break;
          await out(Buffer.from(buf.subarray(0, bytesRead)));
          left -= bytesRead;
        }
        // a file that shrank while archived: its declared size is kept, the rest zeros
        if (left > 0) await out(Buffer.alloc(left));
      } finally {
        await fh.close();
      }
      await out(padding(st.size));
    }
  }
}

/** Writes the folder `dir` (its contents, at the archive's top) as a ustar archive. */
export async function writeTar(dir: string, out: ByteSink): Promise<void> {
  await addTree(out, dir, "");
  await out(Buffer.alloc(2 * BLOCK));
}
