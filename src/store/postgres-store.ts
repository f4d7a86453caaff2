import { createRequire } from "node:module";
import { hostname } from "node:os";
import type pg from "pg";
import { attrsValue, takeAttrsJson } from "../events/attrs-text.js";
import type { GraphEdge, GraphNode, NodeType, RelationType } from "../graph/prov-types.js";
import { parsePostgresUrl } from "./db-path.js";
import { type EdgeRow, edgeFromRow, type NodeRow, nodeFromRow } from "./graph-rows.js";
import { type PathParams, pathParams, type WalkParams, walkParams } from "./lineage-params.js";
import { MACHINE_RUN_SOURCE } from "./machine-rows.js";
import { ChangeWatermark, pgChanges, pgEdgeClauses, pgNodeClauses } from "./postgres-changes.js";
import { pgEdgeEnds, pgNodeColumns } from "./postgres-graph-columns.js";
import {
  postgresCausalLineage,
  postgresCausalPaths,
  postgresLineage,
  postgresPaths,
} from "./postgres-lineage.js";
import {
  compactCountsSql,
  type KeyedEncoders,
  keyedBatchSql,
  LIST_MACHINES_SQL,
  STAGING_SQL,
  SWEEP_PENDING_SQL,
} from "./postgres-machines.js";
import {
  DEFAULT_PG_SCHEMA,
  PG_APP_TAG,
  PG_SCHEMA_NAME,
  PG_SCHEMA_VERSION,
  pgMigrations,
} from "./postgres-schema.js";
import { chunkSteps, compareSteps, decodeStepChunk, type StepScanStats } from "./step-chunks.js";
import { StoreError } from "./store-error.js";
import type {
  Batch,
  ChangeQuery,
  ChangeSet,
  EdgeEnds,
  EdgeFilter,
  GraphStore,
  LineageQuery,
  LineageResult,
  MachinePart,
  MachinePartResult,
  MachineRecord,
  MachineRunInfo,
  NewRun,
  NodeColumns,
  NodeFilter,
  PathQuery,
  PathResult,
  Problem,
  RunPatch,
  RunRecord,
  RunStats,
  RunStatus,
  Step,
} from "./store-types.js";

export interface PostgresStoreOptions {
  /** no schema creation or migration, no stale-run repair, read-only transactions */
  readonly?: boolean;
  /** the schema holding the tables; overrides the URL's `?schema=` (default `provflow`) */
  schema?: string;
  /** batches encoded and not yet written before appendBatch waits for the oldest (default 2) */
  maxInFlight?: number;
  /** how long to wait for the server when connecting (default 10 s) */
  connectTimeoutMs?: number;
}

/** Keyset pagination: only rows with a greater id (as SqliteStore). */
export interface KeysetFilter {
  afterId?: number;
}

interface RunRow {
  id: number;
  name: string;
  source: string;
  command: string;
  tracer_command: string | null;
  host: string;
  machine_id: string | null;
  boot_id: string | null;
  cwd: string | null;
  user: string | null;
  start: number | null;
  end: number | null;
  exit_code: number | null;
  exit_signal: string | null;
  status: RunStatus;
  stats: string | null;
  node_count: number;
  edge_count: number;
}

const EMPTY_STATS: RunStats = { lines: 0, bytes: 0, events: 0, calls: 0, problems: 0 };

const INT8_OID = 20;

/** bigint comes back as a JS number (times in µs, counts, ids: all within 2^53, as with SQLite). */
/** the pg driver, loaded on first use: commands that never open PostgreSQL do not pay for it (~15 MB) */
let driver: typeof pg | undefined;
function pgDriver(): typeof pg {
  driver ??= createRequire(import.meta.url)("pg") as typeof pg;
  return driver;
}

const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? (v: string) => Number(v)
      : pgDriver().types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

// --- COPY text format -------------------------------------------------------------------------

const COPY_SPECIAL = /[\\\n\r\t\0]/;
const COPY_SPECIAL_G = /[\\\n\r\t\0]/g;

function copyEscape(c: string): string {
  switch (c) {
    case "\\":
      return "\\\\";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    default:
      // U+0000: PostgreSQL text cannot hold it (see pgText)
      return "\uFFFD";
  }
}

/** A text value as a COPY field: backslash, newline, CR and tab escaped; null as \N. */
function copyText(s: string | null | undefined): string {
  if (s === null || s === undefined) return "\\N";
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, copyEscape) : s;
}

/** An integer as a COPY field. */
function copyInt(n: number | null | undefined): string {
  return n === null || n === undefined ? "\\N" : String(n);
}

/** JSON text as a COPY field: JSON.stringify escapes every control character, only `\` remains. */
function copyJson(text: string): string {
  return text.includes("\\") ? text.replace(/\\/g, "\\\\") : text;
}

/**
 * PostgreSQL `text` cannot hold U+0000: in plain text columns (names, labels, problem lines…) it is
 * stored as U+FFFD. JSON values (attributes, commands, the calls log) keep it exactly.
 */
export function pgText<T extends string | null | undefined>(s: T): T {
  return (typeof s === "string" && s.includes("\0") ? s.replace(/\0/g, "\uFFFD") : s) as T;
}

/** JSON escapes jsonb refuses: U+0000 and lone surrogates. */
const JSONB_UNSAFE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
const JSONB_UNSAFE_G = /\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

/**
 * Would jsonb give this value back with its keys in the same order? jsonb sorts the keys of every
 * object by length, then bytewise; keys beyond ASCII are not checked (answered no).
 */
export function jsonbKeepsOrder(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  if (Array.isArray(value)) {
    for (const v of value) if (!jsonbKeepsOrder(v)) return false;
    return true;
  }
  let prev: string | null = null;
  // for…in, not Object.entries: the answer is often no at the second key (CamFlow's records), and
  // the entries of every attribute object were built for nothing
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    for (let i = 0; i < k.length; i++) if (k.charCodeAt(i) > 0x7f) return false;
    if (prev !== null && (k.length < prev.length || (k.length === prev.length && k < prev))) return false;
    if (!jsonbKeepsOrder((value as Record<string, unknown>)[k])) return false;
    prev = k;
  }
  return true;
}

/**
 * An attribute object as [jsonb text, exact text when the jsonb copy would not give it back: U+0000
 * or lone surrogates (jsonb refuses them; the jsonb copy has U+FFFD), keys out of jsonb's order].
 */
export function attrsColumns(attrs: unknown): [string, string | null] {
  // the members of a lazy object are in its text, which takeAttrsJson hands out
  const value = attrsValue(attrs);
  const text = attrsText(attrs);
  if (text.includes("\\u") && JSONB_UNSAFE.test(text)) return [text.replace(JSONB_UNSAFE_G, "\\ufffd"), text];
  return [text, jsonbKeepsOrder(value) ? null : text];
}

/** The exact JSON text of an attribute object (the text its source kept, else JSON.stringify). */
function attrsText(attrs: unknown): string {
  return typeof attrs === "object" && attrs !== null ? takeAttrsJson(attrs) : JSON.stringify(attrs ?? {});
}

/** Accumulates COPY rows into pieces of about 64 KB. */
class CopyBuffer {
  readonly pieces: string[] = [];
  private cur = "";
  add(row: string): void {
    this.cur += row;
    if (this.cur.length >= 65_536) {
      this.pieces.push(this.cur);
      this.cur = "";
    }
  }
  finish(): string[] {
    if (this.cur.length > 0) this.pieces.push(this.cur);
    this.cur = "";
    return this.pieces;
  }
}

/** Keep the last of rows sharing an id, in first-seen order (usually nothing to do). */
function dedupeById<T extends { id: number }>(rows: readonly T[]): readonly T[] {
  const seen = new Set<number>();
  let dup = false;
  for (const r of rows) {
    if (seen.has(r.id)) {
      dup = true;
      break;
    }
    seen.add(r.id);
  }
  if (!dup) return rows;
  const last = new Map<number, T>();
  for (const r of rows) last.set(r.id, r);
  return [...last.values()];
}

/**
 * What this store knows of a run it writes: the largest node and edge ids in the table (rows above
 * them are new and go straight in by COPY; the others are one upsert of array parameters), and the
 * largest step start written (see chunkSteps).
 */
interface RunState {
  maxNode: number;
  maxEdge: number;
  stepMark: number | null;
  /** the machine id stamped on the run's nodes and edges */
  machine: string;
}

/** A batch turned into COPY text at the time appendBatch was called (a snapshot). */
interface EncodedBatch {
  /** COPY rows of the new ids, and the upsert parameters of the rows written again */
  newNodes: string[];
  nodes: string | null;
  newEdges: string[];
  edges: string | null;
  problems: string[];
  /** step_chunks rows, when the run's watermark was known at encoding time */
  chunks: string[] | null;
  /** otherwise copies of the steps, cut into chunks once the watermark is read */
  steps: Step[] | null;
}

/**
 * Nodes as [COPY rows of the new ones (ids above `maxId`), a JSON array of the others (an upsert
 * through json_to_recordset), the new largest id].
 */
function encodeNodes(
  runId: number,
  nodes: readonly GraphNode[],
  maxId: number,
  machine: string,
): [string[], string | null, number] {
  const m = copyText(machine);
  const fresh = new CopyBuffer();
  const again: string[] = [];
  let max = maxId;
  for (const n of dedupeById(nodes)) {
    const [json, exact] = attrsColumns(n.attrs);
    if (n.id > maxId) {
      fresh.add(
        `${runId}\t${copyInt(n.id)}\t${copyText(n.kind)}\t${copyText(n.type)}\t${copyText(n.gid)}\t${copyInt(
          n.version,
        )}\t${copyText(n.label)}\t${copyInt(n.start)}\t${copyInt(n.end)}\t${copyJson(json)}\t${
          exact === null ? "\\N" : copyJson(exact)
        }\t${m}\n`,
      );
      if (n.id > max) max = n.id;
    } else {
      again.push(
        `{"id":${jsonInt(n.id)},"kind":${jsonText(n.kind)},"type":${jsonText(n.type)},"gid":${jsonText(n.gid)},"version":${jsonInt(
          n.version,
        )},"label":${jsonText(n.label)},"start":${jsonInt(n.start)},"end":${jsonInt(n.end)},"attrs":${json},"attrs_text":${jsonText(exact)}}`,
      );
    }
  }
  return [fresh.finish(), again.length === 0 ? null : `[${again.join(",")}]`, max];
}

/** Edges as [COPY rows of the new ones, a JSON array of the others, the new largest id] (as nodes). */
function encodeEdges(
  runId: number,
  edges: readonly GraphEdge[],
  maxId: number,
  machine: string,
): [string[], string | null, number] {
  const m = copyText(machine);
  const fresh = new CopyBuffer();
  const again: string[] = [];
  let max = maxId;
  for (const e of dedupeById(edges)) {
    const [json, exact] = attrsColumns(e.attrs);
    if (e.id > maxId) {
      fresh.add(
        `${runId}\t${copyInt(e.id)}\t${copyText(e.type)}\t${copyText(e.op)}\t${copyInt(e.from)}\t${copyInt(
          e.to,
        )}\t${copyInt(e.ts)}\t${copyInt(e.tsEnd)}\t${copyInt(e.count)}\t${copyInt(e.bytes)}\t${copyJson(json)}\t${
          exact === null ? "\\N" : copyJson(exact)
        }\t${m}\n`,
      );
      if (e.id > max) max = e.id;
    } else {
      again.push(
        `{"id":${jsonInt(e.id)},"type":${jsonText(e.type)},"op":${jsonText(e.op)},"src":${jsonInt(e.from)},"dst":${jsonInt(
          e.to,
        )},"ts":${jsonInt(e.ts)},"ts_end":${jsonInt(e.tsEnd)},"count":${jsonInt(e.count)},"bytes":${jsonInt(
          e.bytes,
        )},"attrs":${json},"attrs_text":${jsonText(exact)}}`,
      );
    }
  }
  return [fresh.finish(), again.length === 0 ? null : `[${again.join(",")}]`, max];
}

/** A text value inside the upsert JSON (U+0000 as in plain text columns). */
function jsonText(s: string | null | undefined): string {
  return s === null || s === undefined ? "null" : JSON.stringify(pgText(s));
}

/** An integer inside the upsert JSON (a non-number is written as is, for the server to refuse). */
function jsonInt(n: number | null | undefined): string {
  return n === null || n === undefined
    ? "null"
    : typeof n === "number"
      ? String(n)
      : JSON.stringify(String(n));
}

function encodeProblems(runId: number, problems: readonly Problem[]): string[] {
  const buf = new CopyBuffer();
  for (const p of problems) {
    buf.add(
      `${runId}\t${copyText(p.file)}\t${copyInt(p.line)}\t${copyText(p.message)}\t${copyText(p.text)}\n`,
    );
  }
  return buf.finish();
}

function encodeChunks(runId: number, steps: Step[], watermark: number | null): [string[], number | null] {
  const buf = new CopyBuffer();
  let mark = watermark;
  for (const c of chunkSteps(steps, watermark)) {
    buf.add(`${runId}\t${c.minStart}\t${c.maxStart}\t${c.count}\t${copyJson(c.data)}\n`);
    if (mark === null || c.maxStart > mark) mark = c.maxStart;
  }
  return [buf.finish(), mark];
}

// --- SQL ----------------------------------------------------------------------------------------

const NODES_COPY = `COPY nodes (run_id, id, kind, type, gid, version, label, "start", "end", attrs, attrs_text,
  machine_id) FROM STDIN`;
const EDGES_COPY =
  "COPY edges (run_id, id, type, op, src, dst, ts, ts_end, count, bytes, attrs, attrs_text, machine_id) FROM STDIN";

/** SQL: the machine id stamped on a run's nodes and edges (its machine, else its host). */
function runMachineSql(runId: number): string {
  return `(SELECT coalesce(machine_id, host) FROM runs WHERE id = ${runId})`;
}
const CHUNKS_COPY = "COPY step_chunks (run_id, min_start, max_start, n, data) FROM STDIN";
const PROBLEMS_COPY = "COPY problems (run_id, file, line, message, text) FROM STDIN";

/** Nodes written again (ids not above the run's largest): one upsert from a JSON array. */
function upsertNodes(runId: number, json: string): string {
  return `INSERT INTO nodes (run_id, id, kind, type, gid, version, label, "start", "end", attrs, attrs_text, machine_id)
SELECT ${runId}, x.*, ${runMachineSql(runId)} FROM json_to_recordset(${dollarQuote(json)}) AS x(id bigint, kind text,
  type text, gid text, version integer, label text, "start" bigint, "end" bigint, attrs jsonb, attrs_text text)
ON CONFLICT (run_id, id, machine_id) DO UPDATE SET kind = EXCLUDED.kind, type = EXCLUDED.type, gid = EXCLUDED.gid,
  version = EXCLUDED.version, label = EXCLUDED.label, "start" = EXCLUDED."start", "end" = EXCLUDED."end",
  attrs = EXCLUDED.attrs, attrs_text = EXCLUDED.attrs_text, seq = EXCLUDED.seq`;
}

function upsertEdges(runId: number, json: string): string {
  return `INSERT INTO edges (run_id, id, type, op, src, dst, ts, ts_end, count, bytes, attrs, attrs_text, machine_id)
SELECT ${runId}, x.*, ${runMachineSql(runId)} FROM json_to_recordset(${dollarQuote(json)}) AS x(id bigint, type text,
  op text, src bigint, dst bigint, ts bigint, ts_end bigint, count bigint, bytes bigint, attrs jsonb, attrs_text text)
ON CONFLICT (run_id, id, machine_id) DO UPDATE SET type = EXCLUDED.type, op = EXCLUDED.op, src = EXCLUDED.src,
  dst = EXCLUDED.dst, ts = EXCLUDED.ts, ts_end = EXCLUDED.ts_end, count = EXCLUDED.count, bytes = EXCLUDED.bytes,
  attrs = EXCLUDED.attrs, attrs_text = EXCLUDED.attrs_text, seq = EXCLUDED.seq`;
}

/** A string as a dollar-quoted SQL literal, with a tag the string does not contain. */
function dollarQuote(text: string): string {
  let tag = "$pf$";
  for (let i = 0; text.includes(tag); i++) tag = `$pf${i}$`;
  return `${tag}${text}${tag}`;
}

const COPY_DATA = 0x64;
const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]);

/**
 * One simple-query message holding a whole batch (BEGIN … COMMIT, several COPY FROM STDIN among the
 * statements), sent together with the data of every COPY: one round trip per batch instead of one
 * per statement. The server reads the data of each COPY when it reaches it; after an error it skips
 * the rest of the message and drops the COPY data still coming (protocol: "Copy-in mode"), so the
 * caller only has to roll back.
 */
class BatchSubmit implements pg.Submittable {
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  readonly done = new Promise<void>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
  constructor(
    readonly text: string,
    private readonly copies: string[][],
    /** the rows the statements return, as text fields */
    private readonly onRow?: (fields: (string | null)[]) => void,
  ) {}

  submit(connection: pg.Connection): void {
    const stream = connection.stream as NodeJS.WritableStream & { cork(): void; uncork(): void };
    stream.cork();
    connection.query(this.text);
    for (const pieces of this.copies) {
      for (const piece of pieces) {
        const data = Buffer.from(piece, "utf8");
        const head = Buffer.allocUnsafe(5);
        head[0] = COPY_DATA;
        head.writeUInt32BE(data.length + 4, 1);
        stream.write(head);
        stream.write(data);
      }
      stream.write(COPY_DONE);
    }
    stream.uncork();
  }
  // pg's query timeout hooks in here
  callback(): void {}
  handleCopyInResponse(): void {}
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(msg: { fields: (string | null)[] }): void {
    this.onRow?.(msg.fields);
  }
  handleEmptyQuery(): void {}
  handleReadyForQuery(): void {
    this.resolve();
  }
  handleError(err: unknown): void {
    this.reject(err);
  }
}

/** 31-bit FNV-1a: the first key of this schema's advisory locks (locks are per database, not schema). */
function lockKey(schema: string): number {
  let h = 0x811c9dc5;
  const s = `provflow:${schema}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0x7fffffff;
}

const MAX_INT4 = 2_147_483_647;

const HEAD_PAGE = 64;

interface Cursor {
  steps: Step[];
  pos: number;
}

/** Min-heap of chunk cursors by their current step's (start, seq). */
class CursorHeap {
  private readonly h: Cursor[] = [];
  get size(): number {
    return this.h.length;
  }
  peek(): Step | undefined {
    const top = this.h[0];
    return top === undefined ? undefined : top.steps[top.pos];
  }
  push(c: Cursor): void {
    const h = this.h;
    h.push(c);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i] as Cursor, h[parent] as Cursor)) break;
      [h[i], h[parent]] = [h[parent] as Cursor, h[i] as Cursor];
      i = parent;
    }
  }
  /** take the smallest step; returns the number of steps of a chunk that was used up, else 0 */
  take(out: Step[]): number {
    const h = this.h;
    const top = h[0] as Cursor;
    out.push(top.steps[top.pos] as Step);
    top.pos++;
    if (top.pos < top.steps.length) {
      this.down(0);
      return 0;
    }
    const last = h.pop() as Cursor;
    if (h.length > 0) {
      h[0] = last;
      this.down(0);
    }
    return top.steps.length;
  }
  private less(a: Cursor, b: Cursor): boolean {
    return compareSteps(a.steps[a.pos] as Step, b.steps[b.pos] as Step) < 0;
  }
  private down(i: number): void {
    const h = this.h;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(h[l] as Cursor, h[m] as Cursor)) m = l;
      if (r < n && this.less(h[r] as Cursor, h[m] as Cursor)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Cursor, h[i] as Cursor];
      i = m;
    }
  }
}

/** The message of a driver error (connection errors may be an AggregateError with an empty message). */
function causeOf(err: unknown): unknown {
  if (err instanceof AggregateError && err.message === "" && err.errors.length > 0) {
    const parts = err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e)));
    return new Error([...new Set(parts)].join("; "), { cause: err });
  }
  return err;
}

/**
 * GraphStore on PostgreSQL, one connection. Every call runs in the order it was made, so a read sees
 * every write made before it. appendBatch encodes the batch at once (a snapshot: later changes to
 * the objects are not written) and, for a run created or already written here, returns while fewer
 * than `maxInFlight` batches wait. A batch is one transaction: nodes and edges with new ids, steps
 * and problems go in by COPY; nodes and edges written again are one upsert each. A write that fails
 * is reported by the next call, once; batches queued behind it are dropped.
 *
 * A run being written holds a session advisory lock (schema key, run id). A `running` run whose lock
 * nobody holds lost its writer (killed, crashed): it reads as `incomplete`, and is marked so when the
 * store is next opened read-write, from any host.
 */
export class PostgresStore implements GraphStore {
  readonly engine = "postgres" as const;
  /** the URL without password (for messages) */
  readonly path: string;
  readonly schema: string;
  readonly readonly: boolean;
  private readonly client: pg.Client;
  private readonly key: number;
  private readonly maxInFlight: number;
  private readonly host = hostname();
  private readonly ready: Promise<void>;
  private connectedOk = false;
  private tail: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  /** a detached write failed: thrown by the next call */
  private failure: StoreError | null = null;
  /** the connection broke */
  private broken: StoreError | null = null;
  private closing: Promise<void> | null = null;
  /** runs this store holds the writer lock of */
  private readonly owned = new Set<number>();
  /** machines' runs this store writes (a shared writer lock: several writers share such a run) */
  private readonly shared = new Set<number>();
  /** the staging tables of machines' batches exist on this connection */
  private stagingReady = false;
  /** when this store last swept the waiting relations (ms), and whether it wrote since */
  private lastSweep = 0;
  private wroteSinceSweep = false;
  /** runs known to exist (created or written here), and what is known of their rows */
  private readonly runState = new Map<number, RunState>();
  /** what the last finished iterateSteps held at most at once */
  lastStepScan: StepScanStats | null = null;

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    const target = parsePostgresUrl(url);
    this.path = target.display;
    this.readonly = opts.readonly === true;
    const schema = opts.schema ?? target.schema ?? DEFAULT_PG_SCHEMA;
    if (!PG_SCHEMA_NAME.test(schema)) {
      throw new StoreError(
        this.path,
        `bad schema name ${JSON.stringify(schema)} (lower-case letters, digits and _, not starting with a digit)`,
      );
    }
    this.schema = schema;
    this.key = lockKey(schema);
    this.maxInFlight = Math.max(1, Math.floor(opts.maxInFlight ?? 2));
    this.client = new (pgDriver().Client)({
      connectionString: target.connectionString,
      types: pgTypes,
      application_name: "provflow",
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    });
    this.client.on("error", (err) => {
      this.broken = new StoreError(this.path, "connection lost", causeOf(err));
    });
    this.ready = this.open();
    // reported by the first call
    this.ready.catch(() => undefined);
  }

  private fail(what: string, err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    return new StoreError(this.path, what, causeOf(err));
  }

  private async open(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      throw this.fail("cannot connect", err);
    }
    this.connectedOk = true;
    const c = this.client;
    try {
      await c.query(`SET search_path TO "${this.schema}"`);
      if (this.readonly) await c.query("SET default_transaction_read_only = on");
      // the calls log is big JSON text: lz4 compresses it several times faster than the default pglz
      else await c.query("SET default_toast_compression = lz4").catch(() => undefined);
      await this.prepareSchema(c);
      if (!this.readonly) await this.markStale(c);
    } catch (err) {
      throw this.fail("cannot open", err);
    }
  }

  /** The schema's version: 0 when it holds no table; an error when the tables are not ours. */
  private async schemaVersion(c: pg.Client): Promise<number> {
    const tables = (
      await c.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = $1", [
        this.schema,
      ])
    ).rows.map((r) => r.tablename);
    if (tables.length === 0) return 0;
    if (!tables.includes("schema_version") || !tables.includes("meta")) {
      throw new StoreError(
        this.path,
        `schema "${this.schema}" is not a provflow store (it has tables but no schema_version/meta)`,
      );
    }
    const app = await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'app'");
    if (app.rows[0]?.value !== PG_APP_TAG) {
      throw new StoreError(this.path, `schema "${this.schema}" is not a provflow store (no app tag)`);
    }
    const v = await c.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_version");
    const version = v.rows[0]?.v ?? 0;
    if (version > PG_SCHEMA_VERSION) {
      throw new StoreError(
        this.path,
        `schema version ${version} is newer than this provflow supports (${PG_SCHEMA_VERSION}); upgrade provflow`,
      );
    }
    return version;
  }

  /** Check the schema is ours and at a version we know; create or migrate it forward when writable. */
  private async prepareSchema(c: pg.Client): Promise<void> {
    let version = await this.schemaVersion(c);
    if (version === PG_SCHEMA_VERSION) return;
    if (this.readonly) {
      throw new StoreError(
        this.path,
        version === 0
          ? `no provflow tables in schema "${this.schema}", nothing to read`
          : `schema version ${version} needs migrating to ${PG_SCHEMA_VERSION}; open it once read-write`,
      );
    }
    await c.query("BEGIN");
    try {
      // one migrator at a time per schema; the others find it done
      await c.query("SELECT pg_advisory_xact_lock($1, 0)", [this.key]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      version = await this.schemaVersion(c);
      await c.query(
        "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL, applied_at bigint NOT NULL)",
      );
      for (const m of pgMigrations) {
        if (m.version <= version) continue;
        await c.query(m.sql);
        await c.query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)", [
          m.version,
          Date.now(),
        ]);
      }
      await c.query("INSERT INTO meta (key, value) VALUES ('app', $1) ON CONFLICT (key) DO NOTHING", [
        PG_APP_TAG,
      ]);
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }

  /** SQL: is the run's writer lock held by some session? */
  private lockHeld(runIdSql: string): string {
    return `EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ${this.key}::oid AND l.objid = ${runIdSql}::oid AND l.objsubid = 2 AND l.granted)`;
  }

  private async markStale(c: pg.Client): Promise<number[]> {
    const res = await c.query<{ id: number }>(
      `UPDATE runs r SET status = 'incomplete' WHERE r.status = 'running' AND NOT ${this.lockHeld("r.id")} RETURNING r.id`,
    );
    return res.rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /**
   * Mark as incomplete every run still "running" whose writer is gone (its lock is free). Returns the
   * ids marked.
   */
  markStaleRuns(): Promise<number[]> {
    return this.exclusive("cannot mark stale runs", (c) => this.markStale(c));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Run `fn` on the connection after every call made before it. A detached write's failure is thrown
   * by the next call that is not itself detached (once); detached writes behind a failure are dropped.
   */
  private exclusive<T>(what: string, fn: (c: pg.Client) => Promise<T>, detached = false): Promise<T> {
    if (this.closing !== null)
      return Promise.reject(new StoreError(this.path, `${what}: the store is closed`));
    const task = this.tail.then(async () => {
      await this.ready;
      if (this.broken !== null) throw this.broken;
      if (this.failure !== null) {
        if (detached) return undefined as T;
        const f = this.failure;
        this.failure = null;
        throw f;
      }
      try {
        return await fn(this.client);
      } catch (err) {
        throw this.fail(what, err);
      }
    });
    this.tail = task.catch(() => undefined);
    return task;
  }

  private toRun(row: RunRow): RunRecord {
    return {
      id: row.id,
      name: row.name,
      source: row.source,
      command: JSON.parse(row.command) as string[],
      tracerCommand: row.tracer_command === null ? null : (JSON.parse(row.tracer_command) as string[]),
      host: row.host,
      machineId: row.machine_id,
      bootId: row.boot_id,
      cwd: row.cwd,
      user: row.user,
      start: row.start,
      end: row.end,
      exitCode: row.exit_code,
      exitSignal: row.exit_signal,
      status: row.status,
      stats: row.stats === null ? { ...EMPTY_STATS } : (JSON.parse(row.stats) as RunStats),
      nodeCount: row.node_count,
      edgeCount: row.edge_count,
    };
  }

  private runSelect(): string {
    return `SELECT r.id, r.name, r.source, r.command, r.tracer_command, r.host, r.machine_id, r.boot_id, r.cwd,
      r."user", r."start", r."end", r.exit_code, r.exit_signal,
      CASE WHEN r.status = 'running' AND NOT ${this.lockHeld("r.id")} THEN 'incomplete' ELSE r.status END AS status,
      r.stats, (SELECT count(*) FROM nodes n WHERE n.run_id = r.id) AS node_count,
      (SELECT count(*) FROM edges e WHERE e.run_id = r.id) AS edge_count
    FROM runs r`;
  }

  async createRun(run: NewRun): Promise<number> {
    const id = await this.exclusive(`cannot create run ${JSON.stringify(run.name)}`, async (c) => {
      // the lock is taken before the row exists, so no opener can see the run without its writer
      const next = await c.query<{ id: number }>(
        "SELECT nextval(pg_get_serial_sequence('runs', 'id')) AS id",
      );
      const runId = next.rows[0]?.id as number;
      await c.query("SELECT pg_advisory_lock($1, $2)", [this.key, runId]);
      try {
        await c.query(
          `INSERT INTO runs (id, name, source, command, tracer_command, host, machine_id, boot_id, cwd, "user", "start",
            status, stats, writer_pid, writer_host, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running', $12, $13, $14, $15)`,
          [
            runId,
            pgText(run.name),
            pgText(run.source),
            JSON.stringify(run.command),
            run.tracerCommand == null ? null : JSON.stringify(run.tracerCommand),
            pgText(run.host),
            pgText(run.machineId ?? null),
            pgText(run.bootId ?? null),
            pgText(run.cwd ?? null),
            pgText(run.user ?? null),
            run.start ?? null,
            JSON.stringify(EMPTY_STATS),
            process.pid,
            pgText(this.host),
            Date.now(),
          ],
        );
      } catch (err) {
        await c.query("SELECT pg_advisory_unlock($1, $2)", [this.key, runId]).catch(() => undefined);
        throw err;
      }
      return runId;
    });
    this.owned.add(id);
    this.runState.set(id, {
      maxNode: 0,
      maxEdge: 0,
      stepMark: null,
      machine: pgText(run.machineId ?? run.host),
    });
    return id;
  }

  async updateRun(id: number, patch: RunPatch): Promise<void> {
    const sets: string[] = [];
    const values: unknown[] = [];
    const add = (column: string, value: unknown): void => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (patch.start !== undefined) add('"start"', patch.start);
    if (patch.end !== undefined) add('"end"', patch.end);
    if (patch.exitCode !== undefined) add("exit_code", patch.exitCode);
    if (patch.exitSignal !== undefined) add("exit_signal", pgText(patch.exitSignal));
    if (patch.status !== undefined) add("status", patch.status);
    if (patch.stats !== undefined) add("stats", JSON.stringify(patch.stats));
    if (patch.cwd !== undefined) add("cwd", pgText(patch.cwd));
    if (patch.command !== undefined) add("command", JSON.stringify(patch.command));
    const what = `cannot update run ${id}`;
    const changed = await this.exclusive(what, async (c) => {
      if (!Number.isInteger(id) || id < 1 || id > MAX_INT4) return 0;
      values.push(id);
      const sql =
        sets.length === 0
          ? "SELECT id FROM runs WHERE id = $1"
          : `UPDATE runs SET ${sets.join(", ")} WHERE id = $${values.length}`;
      const res = await c.query(sql, values);
      const n = res.rowCount ?? 0;
      if (n > 0 && patch.status !== undefined && patch.status !== "running" && this.owned.has(id)) {
        await c.query("SELECT pg_advisory_unlock($1, $2)", [this.key, id]);
        this.owned.delete(id);
      }
      return n;
    });
    if (changed === 0) throw new StoreError(this.path, `${what}: no such run`);
  }

  private encode(runId: number, batch: Batch): EncodedBatch {
    const st = this.runState.get(runId);
    // an unknown run: everything is an upsert, and the steps wait for the watermark
    const [newNodes, nodes, maxNode] = encodeNodes(
      runId,
      batch.nodes,
      st?.maxNode ?? Number.POSITIVE_INFINITY,
      st?.machine ?? "",
    );
    const [newEdges, edges, maxEdge] = encodeEdges(
      runId,
      batch.edges,
      st?.maxEdge ?? Number.POSITIVE_INFINITY,
      st?.machine ?? "",
    );
    let chunks: string[] | null = null;
    let steps: Step[] | null = null;
    if (batch.steps.length > 0) {
      if (st === undefined) steps = batch.steps.map((x) => ({ ...x }));
      else [chunks, st.stepMark] = encodeChunks(runId, [...batch.steps], st.stepMark);
    }
    if (st !== undefined) {
      st.maxNode = maxNode;
      st.maxEdge = maxEdge;
    }
    return {
      newNodes,
      nodes,
      newEdges,
      edges,
      problems: encodeProblems(runId, batch.problems),
      chunks,
      steps,
    };
  }

  /** One batch, one transaction, one round trip (two for the first batch of a run not created here). */
  private async writeBatch(c: pg.Client, runId: number, enc: EncodedBatch): Promise<void> {
    let learnt: RunState | null = null;
    let chunks = enc.chunks;
    if (!this.runState.has(runId)) {
      // first write to a run not created here: learn its state from the tables
      const m = await c.query<{ n: number | null; e: number | null; s: number | null; m: string | null }>(
        `SELECT (SELECT max(id) FROM nodes WHERE run_id = $1) AS n, (SELECT max(id) FROM edges WHERE run_id = $1) AS e,
           (SELECT max(max_start) FROM step_chunks WHERE run_id = $1) AS s,
           (SELECT coalesce(machine_id, host) FROM runs WHERE id = $1) AS m`,
        [runId],
      );
      const row = m.rows[0];
      learnt = {
        maxNode: row?.n ?? 0,
        maxEdge: row?.e ?? 0,
        stepMark: row?.s ?? null,
        machine: row?.m ?? "",
      };
      if (enc.steps !== null) [chunks, learnt.stepMark] = encodeChunks(runId, enc.steps, learnt.stepMark);
    }
    // a batch lost in a crash of the server leaves the run incomplete, never inconsistent
    const sql = [
      "BEGIN",
      "SET LOCAL synchronous_commit TO off",
      `DO $check$BEGIN IF NOT EXISTS (SELECT 1 FROM runs WHERE id = ${runId}) THEN
         RAISE EXCEPTION 'no run %', ${runId}; END IF; END$check$`,
    ];
    const copies: string[][] = [];
    const copy = (statement: string, pieces: string[] | null): void => {
      if (pieces === null || pieces.length === 0) return;
      sql.push(statement);
      copies.push(pieces);
    };
    copy(NODES_COPY, enc.newNodes);
    if (enc.nodes !== null) sql.push(upsertNodes(runId, enc.nodes));
    copy(EDGES_COPY, enc.newEdges);
    if (enc.edges !== null) sql.push(upsertEdges(runId, enc.edges));
    copy(CHUNKS_COPY, chunks);
    copy(PROBLEMS_COPY, enc.problems);
    sql.push("COMMIT");
    const batch = new BatchSubmit(`${sql.join(";\n")};`, copies);
    c.query(batch);
    try {
      await batch.done;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      // what was written is not there: learn the run's state again next time
      this.runState.delete(runId);
      throw err;
    }
    if (learnt !== null) this.runState.set(runId, learnt);
  }

  async appendBatch(runId: number, batch: Batch): Promise<void> {
    const what = `cannot append batch to run ${runId}`;
    if (this.closing !== null) throw new StoreError(this.path, `${what}: the store is closed`);
    let enc: EncodedBatch;
    try {
      enc = this.encode(runId, batch);
    } catch (err) {
      throw this.fail(what, err);
    }
    if (!this.runState.has(runId)) {
      // a run not created nor written here yet: wait for the answer (it may not exist)
      await this.exclusive(what, (c) => this.writeBatch(c, runId, enc));
      return;
    }
    this.inFlight++;
    this.exclusive(what, (c) => this.writeBatch(c, runId, enc), true)
      .catch((err: unknown) => {
        if (this.failure === null) this.failure = this.fail(what, err);
      })
      .finally(() => {
        this.inFlight--;
        this.wake();
      });
    while (this.inFlight >= this.maxInFlight) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** The highest change sequence stamped so far (cursor for "changes since"). */
  async currentSeq(): Promise<number> {
    const n = await this.exclusive("cannot read the change sequence", async (c) => {
      const r = await c.query<{ v: number }>(
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS v FROM change_seq",
      );
      return r.rows[0]?.v ?? 0;
    });
    return n;
  }

  async findRun(ref: string | number): Promise<RunRecord | null> {
    return this.exclusive(`cannot find run ${JSON.stringify(ref)}`, async (c) => {
      let rows: RunRow[];
      if (typeof ref === "number" || /^\d+$/.test(ref)) {
        const id = Number(ref);
        if (!Number.isInteger(id) || id < 1 || id > MAX_INT4) return null;
        rows = (await c.query<RunRow>(`${this.runSelect()} WHERE r.id = $1`, [id])).rows;
      } else {
        rows = (
          await c.query<RunRow>(`${this.runSelect()} WHERE r.name = $1 ORDER BY r.id DESC LIMIT 1`, [
            pgText(ref),
          ])
        ).rows;
      }
      const row = rows[0];
      return row === undefined ? null : this.toRun(row);
    });
  }

  async latestRun(): Promise<RunRecord | null> {
    return this.exclusive("cannot read the latest run", async (c) => {
      const row = (await c.query<RunRow>(`${this.runSelect()} ORDER BY r.id DESC LIMIT 1`)).rows[0];
      return row === undefined ? null : this.toRun(row);
    });
  }

  async listRuns(): Promise<RunRecord[]> {
    return this.exclusive("cannot list runs", async (c) => {
      const rows = (await c.query<RunRow>(`${this.runSelect()} ORDER BY r.id`)).rows;
      return rows.map((r) => this.toRun(r));
    });
  }

  async getNodes(runId: number, filter: NodeFilter & KeysetFilter = {}): Promise<GraphNode[]> {
    const where = ["run_id = $1"];
    const params: unknown[] = [runId];
    const add = (cond: (p: string) => string, value: unknown): void => {
      params.push(value);
      where.push(cond(`$${params.length}`));
    };
    if (filter.afterId !== undefined) add((p) => `id > ${p}`, filter.afterId);
    if (filter.types !== undefined) add((p) => `type = ANY(${p}::text[])`, filter.types);
    if (filter.ids !== undefined) add((p) => `id = ANY(${p}::bigint[])`, filter.ids);
    pgNodeClauses(filter, add);
    if (filter.gids !== undefined) add((p) => `gid = ANY(${p}::text[])`, filter.gids);
    // the two below match the expressions of the indexes nodes_path and nodes_pid
    if (filter.paths !== undefined)
      add((p) => `kind = 'entity' AND (attrs ->> 'path') = ANY(${p}::text[])`, filter.paths);
    if (filter.pids !== undefined)
      add((p) => `kind = 'activity' AND (attrs ->> 'pid') = ANY(${p}::text[])`, filter.pids.map(String));
    params.push(filter.limit ?? null, filter.offset ?? 0);
    const sql = `SELECT id, kind, type, gid, version, label, "start", "end", coalesce(attrs_text, attrs::text) AS attrs
      FROM nodes WHERE ${where.join(" AND ")} ORDER BY id LIMIT $${params.length - 1} OFFSET $${params.length}`;
    return this.exclusive(`cannot read nodes of run ${runId}`, async (c) => {
      const rows = (await c.query<NodeRow>(sql, params)).rows;
      return rows.map(nodeFromRow);
    });
  }

  async getEdges(runId: number, filter: EdgeFilter & KeysetFilter = {}): Promise<GraphEdge[]> {
    const where = ["run_id = $1"];
    const params: unknown[] = [runId];
    const add = (cond: (p: string) => string, value: unknown): void => {
      params.push(value);
      where.push(cond(`$${params.length}`));
    };
    if (filter.afterId !== undefined) add((p) => `id > ${p}`, filter.afterId);
    if (filter.types !== undefined) add((p) => `type = ANY(${p}::text[])`, filter.types);
    if (filter.nodeIds !== undefined) {
      add((p) => `(src = ANY(${p}::bigint[]) OR dst = ANY(${p}::bigint[]))`, filter.nodeIds);
    }
    pgEdgeClauses(filter, add);
    params.push(filter.limit ?? null, filter.offset ?? 0);
    const sql = `SELECT id, type, op, src, dst, ts, ts_end, count, bytes, coalesce(attrs_text, attrs::text) AS attrs
      FROM edges WHERE ${where.join(" AND ")} ORDER BY id LIMIT $${params.length - 1} OFFSET $${params.length}`;
    return this.exclusive(`cannot read edges of run ${runId}`, async (c) => {
      const rows = (await c.query<EdgeRow>(sql, params)).rows;
      return rows.map(edgeFromRow);
    });
  }

  async getNodeColumns(runId: number, afterId: number, limit: number): Promise<NodeColumns> {
    return this.exclusive(`cannot read nodes of run ${runId}`, (c) =>
      pgNodeColumns(c, runId, afterId, limit),
    );
  }

  async getEdgeEnds(runId: number, afterId: number, limit: number): Promise<EdgeEnds> {
    return this.exclusive(`cannot read edges of run ${runId}`, (c) => pgEdgeEnds(c, runId, afterId, limit));
  }

  private readonly watermark = new ChangeWatermark();

  async getChanges(runId: number, query: ChangeQuery = {}): Promise<ChangeSet> {
    return this.exclusive(`cannot read changes of run ${runId}`, (c) =>
      pgChanges(c, this.watermark, runId, query),
    );
  }

  /**
   * Steps in (start, seq) order, as SqliteStore: chunks are read in order of their smallest start (a
   * page of chunk heads at a time, by keyset) and merged; a chunk is loaded only once it could hold
   * the next step, so only the chunks overlapping the current start are held.
   */
  async *iterateSteps(runId: number, batchSize = 5000): AsyncIterable<Step[]> {
    const size = Math.max(1, Math.floor(batchSize));
    const what = `cannot read steps of run ${runId}`;
    let heads: { id: number; min_start: number }[] = [];
    let at = 0;
    let after: [number, number] = [Number.MIN_SAFE_INTEGER, 0];
    let done = false;
    const heap = new CursorHeap();
    const stats: StepScanStats = { chunks: 0, peakOpenChunks: 0, peakOpenSteps: 0 };
    let openSteps = 0;
    let out: Step[] = [];
    for (;;) {
      if (at >= heads.length && !done) {
        const from = after;
        heads = await this.exclusive(what, async (c) => {
          const r = await c.query<{ id: number; min_start: number }>(
            `SELECT id, min_start FROM step_chunks WHERE run_id = $1 AND (min_start, id) > ($2, $3)
             ORDER BY min_start, id LIMIT ${HEAD_PAGE}`,
            [runId, from[0], from[1]],
          );
          return r.rows;
        });
        at = 0;
        if (heads.length < HEAD_PAGE) done = true;
        const last = heads[heads.length - 1];
        if (last !== undefined) after = [last.min_start, last.id];
      }
      const head = heads[at];
      const top = heap.peek();
      if (head !== undefined && (top === undefined || head.min_start <= top.start)) {
        at++;
        const steps = await this.exclusive(what, async (c) => {
          const r = await c.query<{ data: string }>("SELECT data FROM step_chunks WHERE id = $1", [head.id]);
          const data = r.rows[0]?.data;
          return data === undefined ? [] : decodeStepChunk(data);
        });
        stats.chunks++;
        if (steps.length === 0) continue;
        heap.push({ steps, pos: 0 });
        openSteps += steps.length;
        if (heap.size > stats.peakOpenChunks) stats.peakOpenChunks = heap.size;
        if (openSteps > stats.peakOpenSteps) stats.peakOpenSteps = openSteps;
        continue;
      }
      if (top === undefined) break;
      // hand out steps while no unread chunk can hold an earlier one
      const limit = head === undefined ? Number.POSITIVE_INFINITY : head.min_start;
      for (;;) {
        const s = heap.peek();
        if (s === undefined || s.start >= limit) break;
        openSteps -= heap.take(out);
        if (out.length >= size) {
          yield out;
          out = [];
        }
      }
    }
    if (out.length > 0) yield out;
    this.lastStepScan = stats;
  }

  /** Nodes of a run in id order, in batches (keyset pagination, never the whole table at once). */
  iterateNodes(
    runId: number,
    filter: { types?: NodeType[] } = {},
    batchSize = 5000,
  ): AsyncIterable<GraphNode[]> {
    return keysetPages((afterId, limit) => this.getNodes(runId, { ...filter, afterId, limit }), batchSize);
  }

  /** Edges of a run in id order, in batches (keyset pagination). */
  iterateEdges(
    runId: number,
    filter: { types?: RelationType[] } = {},
    batchSize = 5000,
  ): AsyncIterable<GraphEdge[]> {
    return keysetPages((afterId, limit) => this.getEdges(runId, { ...filter, afterId, limit }), batchSize);
  }

  async lineage(q: LineageQuery): Promise<LineageResult> {
    let p: WalkParams;
    try {
      p = walkParams(q);
    } catch (err) {
      throw this.fail(`cannot read the ${q.direction} of nodes of run ${q.runId}`, err);
    }
    return this.exclusive(`cannot read the ${q.direction} of nodes of run ${q.runId}`, (c) =>
      p.causal ? postgresCausalLineage(c, p) : postgresLineage(c, p),
    );
  }

  async paths(q: PathQuery): Promise<PathResult> {
    let p: PathParams;
    try {
      p = pathParams(q);
    } catch (err) {
      throw this.fail(`cannot read the chains between nodes of run ${q.runId}`, err);
    }
    return this.exclusive(`cannot read the chains between nodes of run ${q.runId}`, (c) =>
      p.causal ? postgresCausalPaths(c, p) : postgresPaths(c, p),
    );
  }

  async getProblems(runId: number, limit?: number): Promise<Problem[]> {
    return this.exclusive(`cannot read problems of run ${runId}`, async (c) => {
      const r = await c.query<Problem>(
        "SELECT file, line, message, text FROM problems WHERE run_id = $1 ORDER BY id LIMIT $2",
        [runId, limit ?? null],
      );
      return r.rows;
    });
  }

  async deleteRun(id: number): Promise<void> {
    await this.exclusive(`cannot delete run ${id}`, async (c) => {
      await c.query("BEGIN");
      try {
        for (const table of ["nodes", "edges", "step_chunks", "problems", "pending_edges"]) {
          await c.query(`DELETE FROM ${table} WHERE run_id = $1`, [id]);
        }
        await c.query("UPDATE machines SET run_id = NULL WHERE run_id = $1", [id]);
        await c.query("DELETE FROM runs WHERE id = $1", [id]);
        await c.query("COMMIT");
      } catch (err) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
      this.runState.delete(id);
      if (this.owned.delete(id)) await c.query("SELECT pg_advisory_unlock($1, $2)", [this.key, id]);
      if (this.shared.delete(id)) await c.query("SELECT pg_advisory_unlock_shared($1, $2)", [this.key, id]);
    });
  }

  // --- machines streaming in (provflow mqtt): see postgres-machines.ts ---

  async openMachineRun(info: MachineRunInfo): Promise<number> {
    const machine = pgText(info.machineId);
    const seen = info.start ?? Date.now() * 1000;
    const id = await this.exclusive(
      `cannot open the run of machine ${JSON.stringify(machine)}`,
      async (c) => {
        await c.query("BEGIN");
        let runId: number;
        try {
          // one creator per machine, whichever worker sees it first
          await c.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [
            lockKey(`${this.schema}#machines`),
            machine,
          ]);
          const found = await c.query<{ id: number }>(
            `SELECT id FROM runs WHERE source = '${MACHINE_RUN_SOURCE}' AND machine_id = $1 ORDER BY id DESC LIMIT 1`,
            [machine],
          );
          const known = found.rows[0]?.id;
          if (known === undefined) {
            const made = await c.query<{ id: number }>(
              `INSERT INTO runs (name, source, command, tracer_command, host, machine_id, "start", status, stats, writer_pid,
               writer_host, created_at)
             VALUES ($1, '${MACHINE_RUN_SOURCE}', $2, NULL, $3, $4, $5, 'running', $6, $7, $8, $9) RETURNING id`,
              [
                pgText(info.name ?? `mqtt-${info.machineId}`),
                JSON.stringify(info.command ?? []),
                pgText(info.host ?? info.machineId),
                machine,
                info.start ?? null,
                JSON.stringify(EMPTY_STATS),
                process.pid,
                pgText(this.host),
                Date.now(),
              ],
            );
            runId = made.rows[0]?.id as number;
          } else {
            runId = known;
            await c.query(
              `UPDATE runs SET status = 'running', "end" = NULL, writer_pid = $2, writer_host = $3 WHERE id = $1`,
              [runId, process.pid, pgText(this.host)],
            );
          }
          await c.query(
            `INSERT INTO machines (machine_id, run_id, first_seen, last_seen) VALUES ($1, $2, $3, $3)
           ON CONFLICT (machine_id) DO UPDATE SET run_id = EXCLUDED.run_id,
             first_seen = least(machines.first_seen, EXCLUDED.first_seen),
             last_seen = greatest(machines.last_seen, EXCLUDED.last_seen)`,
            [machine, runId, seen],
          );
          await c.query("COMMIT");
        } catch (err) {
          await c.query("ROLLBACK").catch(() => undefined);
          throw err;
        }
        if (!this.shared.has(runId)) {
          await c.query("SELECT pg_advisory_lock_shared($1, $2)", [this.key, runId]);
          this.shared.add(runId);
        }
        return runId;
      },
    );
    return id;
  }

  /**
   * Writes a batch (see postgres-machines.ts); about once a second it also sweeps the relations that
   * began waiting lately (an empty batch only sweeps, when due).
   */
  async appendMachineBatch(parts: MachinePart[]): Promise<MachinePartResult[]> {
    const enc: KeyedEncoders = {
      text: copyText,
      int: copyInt,
      json: copyJson,
      attrs: attrsColumns,
      attrsText,
      plain: pgText,
    };
    return this.exclusive("cannot append machines' batch", async (c) => {
      const out = new Map<string, MachinePartResult>();
      if (parts.length > 0) {
        if (!this.stagingReady) {
          await c.query(STAGING_SQL);
          this.stagingReady = true;
        }
        const b = keyedBatchSql(parts, enc);
        for (const p of parts) {
          const m = pgText(p.machineId);
          if (!out.has(m)) out.set(m, { runId: p.runId, machineId: p.machineId, nodes: 0, edges: 0 });
        }
        const submit = new BatchSubmit(b.sql, b.copies, (f) => {
          const r = out.get(f[0] ?? "");
          if (r === undefined) return;
          if (f[1] === "nodes") r.nodes += Number(f[2]);
          else r.edges += Number(f[2]);
        });
        c.query(submit);
        try {
          await submit.done;
        } catch (err) {
          await c.query("ROLLBACK").catch(() => undefined);
          throw err;
        }
        this.wroteSinceSweep = true;
      }
      if (Date.now() - this.lastSweep >= 1000 && this.wroteSinceSweep) {
        for (const [m, n] of await this.sweep(c)) {
          const r = out.get(m);
          if (r !== undefined) r.edges += n;
        }
      }
      return [...out.values()];
    });
  }

  /** Settles the relations that began waiting lately; folds the registry's counter rows. */
  private async sweep(c: pg.Client): Promise<Map<string, number>> {
    this.lastSweep = Date.now();
    this.wroteSinceSweep = false;
    const settled = new Map<string, number>();
    const submit = new BatchSubmit(
      [
        "BEGIN",
        "SET LOCAL enable_hashjoin TO off",
        "SET LOCAL enable_mergejoin TO off",
        "SET LOCAL jit TO off",
        SWEEP_PENDING_SQL,
        "COMMIT",
        compactCountsSql(lockKey(`${this.schema}#counts`)),
      ].join(";\n"),
      [],
      (f) => {
        if (f[1] === "edges") settled.set(f[0] ?? "", (settled.get(f[0] ?? "") ?? 0) + Number(f[2]));
      },
    );
    c.query(submit);
    try {
      await submit.done;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
    return settled;
  }

  async closeMachineRun(runId: number, end: number | null = null): Promise<void> {
    await this.exclusive(`cannot close run ${runId}`, async (c) => {
      // what this writer may have missed of another's, settled before it goes
      if (this.wroteSinceSweep || Date.now() - this.lastSweep > 500) await this.sweep(c);
      if (this.shared.delete(runId))
        await c.query("SELECT pg_advisory_unlock_shared($1, $2)", [this.key, runId]);
      // complete unless another writer still holds it
      await c.query(
        `UPDATE runs r SET status = 'complete', "end" = coalesce($2, r."end")
         WHERE r.id = $1 AND r.status = 'running' AND NOT ${this.lockHeld("r.id")}`,
        [runId, end],
      );
    });
  }

  async noteMachine(machineId: string, seen: number, announced = false): Promise<void> {
    await this.exclusive(`cannot register machine ${JSON.stringify(machineId)}`, async (c) => {
      await c.query(
        `INSERT INTO machines (machine_id, first_seen, last_seen, announced) VALUES ($1, $2, $2, $3)
         ON CONFLICT (machine_id) DO UPDATE SET last_seen = greatest(machines.last_seen, EXCLUDED.last_seen),
           announced = machines.announced OR EXCLUDED.announced`,
        [pgText(machineId), Math.round(seen), announced],
      );
    });
  }

  async listMachines(): Promise<MachineRecord[]> {
    return this.exclusive("cannot list machines", async (c) => {
      const r = await c.query<{
        machine_id: string;
        run_id: number | null;
        first_seen: number;
        last_seen: number;
        packets: number;
        nodes: number;
        edges: number;
        errors: number;
        announced: boolean;
        waiting: number;
      }>(LIST_MACHINES_SQL);
      return r.rows.map((x) => ({
        machineId: x.machine_id,
        runId: x.run_id,
        firstSeen: x.first_seen,
        lastSeen: x.last_seen,
        packets: x.packets,
        nodes: x.nodes,
        edges: x.edges,
        waiting: x.waiting,
        errors: x.errors,
        announced: x.announced,
      }));
    });
  }

  /** Waits for the writes in flight; rejects with a write failure nobody has seen yet. */
  async close(): Promise<void> {
    if (this.closing === null) {
      this.closing = (async () => {
        await this.tail;
        const f = this.failure;
        this.failure = null;
        if (this.connectedOk) await this.client.end().catch(() => undefined);
        if (f !== null) throw f;
      })();
    }
    return this.closing;
  }
}

/** Open (creating and migrating the schema when writable) the provflow store at a PostgreSQL URL. */
export function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): PostgresStore {
  return new PostgresStore(url, opts);
}

/** Pages of rows in id order: each page starts after the last id of the previous one. */
async function* keysetPages<T extends { id: number }>(
  page: (afterId: number, limit: number) => Promise<T[]>,
  batchSize: number,
): AsyncIterable<T[]> {
  let after = Number.MIN_SAFE_INTEGER;
  const size = Math.max(1, Math.floor(batchSize));
  for (;;) {
    const batch = await page(after, size);
    if (batch.length === 0) return;
    after = (batch[batch.length - 1] as T).id;
    yield batch;
    if (batch.length < size) return;
  }
}
