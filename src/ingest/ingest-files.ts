import { createReadStream } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { RunContext } from "../events/event-types.js";
import { readLineBatches } from "../sources/line-batches.js";
import { detectFormat, findFormat } from "../sources/source-registry.js";
import type { SourceFormat } from "../sources/source-types.js";
import { groupFfFiles, mergeFfLineBatches } from "../sources/strace/strace-ff-merge.js";
import { InputError } from "../util/errors.js";
import type { PipelineInput } from "./ingest-pipeline.js";

/** What an argument of `provflow ingest` turned out to be. */
export type ResolvedInput =
  | { type: "file"; path: string; format: SourceFormat; size: number | null }
  | { type: "ff-set"; prefix: string; paths: string[]; format: SourceFormat; size: number };

const HEAD_BYTES = 64 * 1024;

async function readHead(path: string): Promise<string[]> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    const lines = buf.subarray(0, bytesRead).toString("utf8").split("\n");
    if (bytesRead === HEAD_BYTES) lines.pop();
    return lines.slice(0, 200);
  } finally {
    await fh.close();
  }
}

function pickFormat(head: string[], name: string, kind?: string): SourceFormat {
  if (kind) {
    const f = findFormat(kind);
    if (!f) throw new InputError(`unknown --kind ${kind}`);
    return f;
  }
  const found = detectFormat(head, name);
  if (!found) {
    throw new InputError(
      `${name}: cannot tell what kind of log this is (give --kind strace, ltrace or audit)`,
    );
  }
  return found.format;
}

async function existing(path: string) {
  try {
    return await stat(path);
  } catch {
    return null;
  }
}

/**
 * Turns the command-line arguments into inputs: plain logs, `-ff` sets (FILE.PID files given one by
 * one, as a prefix, or as a directory holding them), and `-` for stdin.
 */
export async function resolveInputs(args: string[], kind?: string): Promise<ResolvedInput[]> {
  const out: ResolvedInput[] = [];
  const loose: string[] = [];
  for (const arg of args) {
    if (arg === "-") {
      loose.push(arg);
      continue;
    }
    const st = await existing(arg);
    if (st?.isDirectory()) {
      const names = (await readdir(arg)).sort();
      loose.push(...names.map((n) => join(arg, n)));
    } else if (st) {
      loose.push(arg);
    } else {
      // a -ff prefix: PREFIX.1234 files beside it
      const dir = dirname(arg);
      const base = basename(arg);
      const names = await readdir(dir).catch(() => [] as string[]);
      const members = names.filter((n) => n.startsWith(`${base}.`) && /^\d+$/.test(n.slice(base.length + 1)));
      if (members.length === 0) throw new InputError(`${arg}: no such file`);
      loose.push(...members.map((n) => join(dir, n)));
    }
  }
  const files = loose.filter((p) => p !== "-");
  const groups = groupFfFiles(files);
  const grouped = new Set<string>();
  for (const g of groups) {
    if (g.paths.length < 2 && !/\.\d+$/.test(g.prefix)) continue;
    let size = 0;
    for (const p of g.paths) {
      grouped.add(p);
      size += (await stat(p)).size;
    }
    const format = pickFormat(await readHead(g.paths[0]!), g.paths[0]!, kind);
    out.push({ type: "ff-set", prefix: g.prefix, paths: g.paths, format, size });
  }
  for (const p of loose) {
    if (grouped.has(p)) continue;
    if (p === "-") {
      if (!kind) throw new InputError("reading stdin needs --kind (strace, ltrace or audit)");
      out.push({ type: "file", path: "-", format: pickFormat([], "-", kind), size: null });
      continue;
    }
    const st = await stat(p);
    out.push({ type: "file", path: p, format: pickFormat(await readHead(p), p, kind), size: st.size });
  }
  return out;
}

/** Builds the pipeline inputs (streams + parsers) for resolved inputs. */
export function pipelineInputs(inputs: ResolvedInput[], ctx: RunContext, topPid?: number): PipelineInput[] {
  return inputs.map((input) => {
    if (input.type === "ff-set") {
      return {
        label: `${input.prefix}.*`,
        batches: mergeFfLineBatches(input.paths),
        parser: input.format.createParser({ file: `${input.prefix}.*`, ctx }),
      };
    }
    const stream =
      input.path === "-" ? process.stdin : createReadStream(input.path, { highWaterMark: 128 << 10 });
    return {
      label: input.path,
      batches: readLineBatches(stream),
      parser: input.format.createParser({ file: input.path === "-" ? "<stdin>" : input.path, ctx, topPid }),
    };
  });
}

export function totalSize(inputs: ResolvedInput[]): number | null {
  let total = 0;
  for (const i of inputs) {
    if (i.size === null) return null;
    total += i.size;
  }
  return total;
}
