import { createReadStream } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { RunContext } from "../events/event-types.js";
import { camflowHeadContext } from "../sources/camflow/camflow-source.js";
import { readByteBatches, readLineBatches } from "../sources/line-batches.js";
import { readJsonLineBatches } from "../sources/prov-json/json-line-batches.js";
import { sniffJson } from "../sources/prov-json/prov-json-source.js";
import { detectFormat, findFormat, JSON_KINDS } from "../sources/source-registry.js";
import type { SourceFormat } from "../sources/source-types.js";
import { groupFfFiles, mergeFfLineBatches } from "../sources/strace/strace-ff-merge.js";
import { InputError } from "../util/errors.js";
import { type Compression, inflateHead, openContent, sniffCompression } from "./compressed-input.js";
import type { PipelineInput } from "./ingest-pipeline.js";

/** What the first lines of a log say about where it was recorded (CamFlow's machine record). */
export interface HeadContext {
  host?: string;
  machineId?: string;
  bootId?: string;
}

/** What an argument of `provflow ingest` turned out to be. */
export type ResolvedInput =
  | {
      type: "file";
      path: string;
      format: SourceFormat;
      size: number | null;
      head?: HeadContext;
      /** gzip or zlib content, decompressed while read */
      compression?: Compression;
    }
  | { type: "ff-set"; prefix: string; paths: string[]; format: SourceFormat; size: number };

/** Formats provflow cannot read, told by their file names: a hint rather than "unknown kind". */
const UNREAD_FORMATS: ReadonlyArray<[RegExp, string]> = [
  [/\.(rdf|owl|n3)$/i, "RDF/XML or N3 (PROV-O in Turtle, TriG, N-Triples or N-Quads is read)"],
  [
    /\.etl$/i,
    "an ETW trace (.etl; Windows activity is read from Sysmon JSON/XML/EVTX and ProcMon CSV/XML/PML)",
  ],
  [/\.pmc$/i, "a Process Monitor configuration (.pmc), not a log (ProcMon's CSV, XML and PML logs are read)"],
];

const HEAD_BYTES = 64 * 1024;

async function readHeadAndCompression(
  path: string,
): Promise<{ head: string[]; compression: Compression; bytes: Buffer }> {
  const fh = await open(path, "r");
  try {
    let buf: Buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    buf = buf.subarray(0, bytesRead);
    const compression = sniffCompression(buf);
    const cut = compression !== null || bytesRead === HEAD_BYTES;
    if (compression !== null) buf = inflateHead(buf, compression, HEAD_BYTES);
    const lines = buf.toString("utf8").split("\n");
    // a line cut by the end of the head is dropped, unless it is the only one (a one-line JSON document)
    if (cut && lines.length > 1) lines.pop();
    return { head: lines.slice(0, 200), compression, bytes: buf };
  } finally {
    await fh.close();
  }
}

async function readHead(path: string): Promise<string[]> {
  return (await readHeadAndCompression(path)).head;
}

function pickFormat(head: string[], name: string, kind?: string): SourceFormat {
  if (kind) {
    const f = findFormat(kind);
    if (!f) throw new InputError(`unknown --kind ${kind}`);
    return f;
  }
  const found = detectFormat(head, name);
  if (!found) {
    const json = sniffJson(head);
    // CDM JSON that names no com.bbn.tc.schema record in its first lines
    const unread: [RegExp, string] | undefined =
      json.firstKey === "datum" || json.firstKey === "CDMVersion"
        ? [/./, "DARPA TC CDM JSON (SPADE's CDM output) without a CDM record in its first lines"]
        : UNREAD_FORMATS.find(([re]) => re.test(name));
    if (unread) {
      throw new InputError(
        `${name}: looks like ${unread[1]}, which provflow does not read (it reads strace, ltrace, audit logs, PROV-JSON, PROV-N, PROV-XML, PROV-O, PROV-JSONLD, CamFlow, SPADE JSON, DARPA TC CDM JSON, ProvMark clingo facts, Graphviz DOT, Process Monitor CSV/XML/PML, Sysmon JSON/XML/EVTX and WinDbg logexts logs)`,
      );
    }
    throw new InputError(
      `${name}: cannot tell what kind of log this is (give --kind strace, ltrace, audit, prov, camflow, spade, cdm, clingo, dot, procmon-csv, procmon-xml, procmon-pml, sysmon, evtx or windbg)`,
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
    if (JSON_KINDS.has(format.kind)) {
      // FILE.N names of JSON logs (rotated CamFlow logs) are separate files, not an strace -ff set
      for (const p of g.paths) grouped.delete(p);
      continue;
    }
    out.push({ type: "ff-set", prefix: g.prefix, paths: g.paths, format, size });
  }
  for (const p of loose) {
    if (grouped.has(p)) continue;
    if (p === "-") {
      if (!kind)
        throw new InputError(
          "reading stdin needs --kind (strace, ltrace, audit, prov, camflow, spade, cdm, clingo or dot)",
        );
      out.push({ type: "file", path: "-", format: pickFormat([], "-", kind), size: null });
      continue;
    }
    const st = await stat(p);
    const { head, compression, bytes } = await readHeadAndCompression(p);
    const format = pickFormat(head, p, kind);
    out.push({
      type: "file",
      path: p,
      format,
      size: compression ? null : st.size,
      ...(compression ? { compression } : {}),
      ...(format.kind === "camflow"
        ? { head: camflowHeadContext(head) }
        : format.headContext
          ? { head: format.headContext(head, bytes) }
          : {}),
    });
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
    if (input.format.binary) {
      if (input.format.readFile && input.path === "-")
        throw new InputError(
          `--kind ${input.format.kind} reads a file, not stdin (its layout needs seeking)`,
        );
      const batches = input.format.readFile
        ? input.format.readFile(input.path)
        : readByteBatches(
            input.path === "-" ? process.stdin : openContent(input.path, input.compression ?? null, 1 << 20),
          );
      return {
        label: input.path,
        batches,
        parser: input.format.createParser({ file: input.path === "-" ? "<stdin>" : input.path, ctx }),
      };
    }
    const stream =
      input.path === "-"
        ? process.stdin
        : input.compression
          ? openContent(input.path, input.compression)
          : createReadStream(input.path, { highWaterMark: 128 << 10 });
    return {
      label: input.path,
      batches: JSON_KINDS.has(input.format.kind) ? readJsonLineBatches(stream) : readLineBatches(stream),
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
