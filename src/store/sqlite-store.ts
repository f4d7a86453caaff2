import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import type Database from "better-sqlite3";
import type { GraphEdge, GraphNode, NodeType, RelationType } from "../graph/prov-types.js";
import { type EdgeRow, edgeFromRow, type NodeRow, nodeFromRow } from "./graph-rows.js";
import { pathParams, walkParams } from "./lineage-params.js";
import {
  EDGE_NUMS,
  type LookupParam,
  lookupParams,
  NODE_NUMS,
  NODE_STRS,
  nullable,
  type PackedBatch,
  packBatch,
  rowsToWrite,
  unpackSteps,
} from "./packed-batch.js";
import { sqliteChanges, sqliteEdgeClauses, sqliteNodeClauses } from "./sqlite-changes.js";
import { sqliteEdgeEnds, sqliteNodeColumns } from "./sqlite-graph-columns.js";
import { sqliteCausalLineage, sqliteCausalPaths, sqliteLineage, sqlitePaths } from "./sqlite-lineage.js";
import { SqliteMachines } from "./sqlite-machines.js";
import { APP_TAG, migrations, SCHEMA_VERSION } from "./sqlite-schema.js";
import {
  type ChunkHead,
  chunkSteps,
  decodeStepChunk,
  StepMerger,
  type StepScanStats,
} from "./step-chunks.js";
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

export interface SqliteStoreOptions {
  /** open without writing: no migration, no stale-run repair (stale runs still read as incomplete) */
  readonly?: boolean;
}

/** better-sqlite3, loaded on first use (its native module is not needed by every command) */
let driver: typeof Database | undefined;
function sqliteDriver(): typeof Database {
  driver ??= createRequire(import.meta.url)("better-sqlite3") as typeof Database;
  return driver;
}

type Db = Database.Database;

/** Keyset pagination: only rows with a greater id (SQLite extension of the filters). */
export interface KeysetFilter {
  afterId?: number;
}
type Stmt = Database.Statement<unknown[], unknown>;

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
  stats: string;
  writer_pid: number | null;
  writer_host: string | null;
  writer_start: string | null;
  node_count: number;
  edge_count: number;
}

const RUN_COLUMNS = `r.*, (SELECT count(*) FROM nodes n WHERE n.run_id = r.id) AS node_count,
  (SELECT count(*) FROM edges e WHERE e.run_id = r.id) AS edge_count`;

const EMPTY_STATS: RunStats = { lines: 0, bytes: 0, events: 0, calls: 0, problems: 0 };

/** Start time of a live process as the kernel reports it (field 22 of /proc/PID/stat), or null. */
function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); starttime is field 22
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  return JSON.parse(text) as T;
}

/** Rows per multi-row INSERT: amortises the per-statement cost, well under SQLite's 32766 parameters. */
const BULK_ROWS = 64;

/**
 * A multi-row INSERT: rows go BULK_ROWS at a time through one prepared statement, the remainder
 * through a one-row statement. `fill` writes the values of row `index` of `rows` into the shared
 * parameter array.
 */
function bulkInsert<T, C>(
  db: Db,
  head: string,
  width: number,
  tail: string,
  fill: (rows: T, index: number, params: unknown[], at: number, ctx: C) => void,
): (rows: T, count: number, ctx: C) => void {
  const tuple = `(${new Array<string>(width).fill("?").join(", ")})`;
  const many = db.prepare(`${head} ${new Array<string>(BULK_ROWS).fill(tuple).join(", ")} ${tail}`);
  const one = db.prepare(`${head} ${tuple} ${tail}`);
  const manyParams: unknown[] = new Array<unknown>(width * BULK_ROWS);
  const oneParams: unknown[] = new Array<unknown>(width);
  return (rows, n, ctx) => {
    let i = 0;
    for (; i + BULK_ROWS <= n; i += BULK_ROWS) {
      for (let j = 0; j < BULK_ROWS; j++) fill(rows, i + j, manyParams, j * width, ctx);
      many.run(manyParams);
    }
    for (; i < n; i++) {
      fill(rows, i, oneParams, 0, ctx);
      one.run(oneParams);
    }
  };
}

/** GraphStore on one SQLite file (WAL, so one writer and many readers can share it). */
export class SqliteStore implements GraphStore {
  readonly engine = "sqlite" as const;
  readonly path: string;
  readonly readonly: boolean;
  private readonly db: Db;
  private readonly host = hostname();
  private readonly stmts = new Map<string, Stmt>();
  private closed = false;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.path = path;
    this.readonly = opts.readonly === true;
    try {
      this.db = new (sqliteDriver())(path, {
        readonly: this.readonly,
        fileMustExist: this.readonly,
        timeout: 5000,
      });
    } catch (err) {
      throw new StoreError(path, this.readonly ? "cannot open for reading" : "cannot open", err);
    }
    try {
      this.db.pragma("busy_timeout = 5000");
      this.prepareSchema();
      if (!this.readonly) {
        this.db.pragma("journal_mode = WAL");
        this.db.pragma("synchronous = NORMAL");
        this.db.pragma("cache_size = -16384");
        // fewer, larger checkpoints while a run is written (the WAL may grow to ~64 MB between them)
        const pageSize = Number(this.db.pragma("page_size", { simple: true })) || 4096;
        this.db.pragma(`wal_autocheckpoint = ${Math.max(1000, Math.floor((64 << 20) / pageSize))}`);
        this.markStaleRuns();
      }
    } catch (err) {
      this.db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError(path, "cannot open", err);
    }
  }

  private fail(what: string, err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    return new StoreError(this.path, what, err);
  }

  private stmt(sql: string): Stmt {
    let s = this.stmts.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** Check the file is ours and at a version we know; migrate forward when writable. */
  private prepareSchema(): void {
    let tables: string[];
    try {
      tables = (
        this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      ).map((t) => t.name);
    } catch (err) {
      throw new StoreError(this.path, "not a SQLite database", err);
    }
    let version = 0;
    if (tables.length > 0) {
      if (!tables.includes("schema_version") || !tables.includes("meta")) {
        throw new StoreError(this.path, "not a provflow database (no schema_version/meta tables)");
      }
      const app = this.db.prepare("SELECT value FROM meta WHERE key = 'app'").get() as
        | { value: string }
        | undefined;
      if (app?.value !== APP_TAG) throw new StoreError(this.path, "not a provflow database (no app tag)");
      const row = this.db.prepare("SELECT max(version) AS v FROM schema_version").get() as {
        v: number | null;
      };
      version = row.v ?? 0;
      if (version > SCHEMA_VERSION) {
        throw new StoreError(
          this.path,
          `schema version ${version} is newer than this provflow supports (${SCHEMA_VERSION}); upgrade provflow`,
        );
      }
    }
    if (version === SCHEMA_VERSION) return;
    if (this.readonly) {
      throw new StoreError(
        this.path,
        version === 0
          ? "empty database, nothing to read"
          : `schema version ${version} needs migrating to ${SCHEMA_VERSION}; open it once read-write`,
      );
    }
    // a new file: 16 KiB pages (before the first table, and before WAL fixes the page size); runs
    // write rows of ~0.5 KB of JSON attributes in bulk, ~25% faster than with 4 KiB pages
    if (tables.length === 0) this.db.pragma("page_size = 16384");
    const migrate = this.db.transaction(() => {
      this.db.exec(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at INTEGER NOT NULL)",
      );
      for (const m of migrations) {
        if (m.version <= version) continue;
        this.db.exec(m.sql);
        m.data?.(this.db);
        this.db
          .prepare("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)")
          .run(m.version, Date.now());
      }
      this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('app', ?)").run(APP_TAG);
      this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('seq', '0')").run();
    });
    migrate.immediate();
  }

  /** Is the process that was writing this run gone (so the run can never complete)? */
  private writerGone(row: Pick<RunRow, "status" | "writer_pid" | "writer_host" | "writer_start">): boolean {
    if (row.status !== "running" || row.writer_pid === null || row.writer_host !== this.host) return false;
    if (row.writer_pid === process.pid) return false;
    if (!processAlive(row.writer_pid)) return true;
    // the pid exists: it is our writer unless the pid was reused by a later process
    if (row.writer_start !== null) {
      const now = processStartTicks(row.writer_pid);
      if (now !== null && now !== row.writer_start) return true;
    }
    return false;
  }

  /**
   * Mark as incomplete every run still "running" whose writer process on this host is gone (killed,
   * crashed). Returns the ids marked. Runs written from another host are left alone.
   */
  markStaleRuns(): number[] {
    if (this.readonly) return [];
    try {
      const rows = this.stmt(
        "SELECT id, status, writer_pid, writer_host, writer_start FROM runs WHERE status = 'running'",
      ).all() as Pick<RunRow, "id" | "status" | "writer_pid" | "writer_host" | "writer_start">[];
      const stale = rows.filter((r) => this.writerGone(r)).map((r) => r.id);
      const mark = this.stmt("UPDATE runs SET status = 'incomplete' WHERE id = ? AND status = 'running'");
      if (stale.length > 0) {
        this.db
          .transaction(() => {
            for (const id of stale) mark.run(id);
          })
          .immediate();
      }
      return stale;
    } catch (err) {
      throw this.fail("cannot mark stale runs", err);
    }
  }

  private toRun(row: RunRow): RunRecord {
    return {
      id: row.id,
      name: row.name,
      source: row.source,
      command: parseJson<string[]>(row.command, []),
      tracerCommand: parseJson<string[] | null>(row.tracer_command, null),
      host: row.host,
      machineId: row.machine_id,
      bootId: row.boot_id,
      cwd: row.cwd,
      user: row.user,
      start: row.start,
      end: row.end,
      exitCode: row.exit_code,
      exitSignal: row.exit_signal,
      status: this.writerGone(row) ? "incomplete" : row.status,
      stats: parseJson<RunStats>(row.stats, { ...EMPTY_STATS }),
      nodeCount: row.node_count,
      edgeCount: row.edge_count,
    };
  }

  async createRun(run: NewRun): Promise<number> {
    try {
      const res = this.stmt(
        `INSERT INTO runs (name, source, command, tracer_command, host, machine_id, boot_id, cwd, user, "start",
          status, stats, writer_pid, writer_host, writer_start, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)`,
      ).run(
        run.name,
        run.source,
        JSON.stringify(run.command),
        run.tracerCommand == null ? null : JSON.stringify(run.tracerCommand),
        run.host,
        run.machineId ?? null,
        run.bootId ?? null,
        run.cwd ?? null,
        run.user ?? null,
        run.start ?? null,
        JSON.stringify(EMPTY_STATS),
        process.pid,
        this.host,
        processStartTicks(process.pid),
        Date.now(),
      );
      return Number(res.lastInsertRowid);
    } catch (err) {
      throw this.fail(`cannot create run ${JSON.stringify(run.name)}`, err);
    }
  }

  async updateRun(id: number, patch: RunPatch): Promise<void> {
    const sets: string[] = [];
    const values: unknown[] = [];
    const add = (column: string, value: unknown): void => {
      sets.push(`${column} = ?`);
      values.push(value);
    };
    if (patch.start !== undefined) add('"start"', patch.start);
    if (patch.end !== undefined) add('"end"', patch.end);
    if (patch.exitCode !== undefined) add("exit_code", patch.exitCode);
    if (patch.exitSignal !== undefined) add("exit_signal", patch.exitSignal);
    if (patch.status !== undefined) add("status", patch.status);
    if (patch.stats !== undefined) add("stats", JSON.stringify(patch.stats));
    if (patch.cwd !== undefined) add("cwd", patch.cwd);
    if (patch.command !== undefined) add("command", JSON.stringify(patch.command));
    let changes: number;
    try {
      if (sets.length === 0) {
        changes = this.stmt("SELECT id FROM runs WHERE id = ?").get(id) === undefined ? 0 : 1;
      } else {
        changes = this.stmt(`UPDATE runs SET ${sets.join(", ")} WHERE id = ?`).run(...values, id).changes;
      }
    } catch (err) {
      throw this.fail(`cannot update run ${id}`, err);
    }
    if (changes === 0) throw new StoreError(this.path, `cannot update run ${id}: no such run`);
  }

  private appendTx: ((runId: number, batch: PackedBatch) => void) | null = null;
  /** per run, the largest step start written by this store (null: none yet) */
  private readonly stepWatermark = new Map<number, number | null>();
  /** what the last finished iterateSteps held at most at once */
  lastStepScan: StepScanStats | null = null;

  private buildAppend(): (runId: number, batch: PackedBatch) => void {
    const db = this.db;
    // the run's machine, stamped on every node and edge (null: no such run)
    const runMachine = db.prepare("SELECT coalesce(machine_id, host) FROM runs WHERE id = ?").pluck();
    const getSeq = db.prepare("SELECT value FROM meta WHERE key = 'seq'").pluck();
    const setSeq = db.prepare("UPDATE meta SET value = ? WHERE key = 'seq'");
    // ctx.order: the rows to write (rowsToWrite), null for all
    type Ctx = {
      runId: number;
      seq: number;
      machine: string;
      order: number[] | null;
      keys: LookupParam[] | null;
    };
    const nodes = bulkInsert<PackedBatch, Ctx>(
      db,
      `INSERT INTO nodes (run_id, id, kind, type, gid, version, label, "start", "end", attrs, seq, machine_id, path, pid)
       VALUES`,
      14,
      `ON CONFLICT (run_id, id) DO UPDATE SET kind = excluded.kind, type = excluded.type, gid = excluded.gid,
         version = excluded.version, label = excluded.label, "start" = excluded."start", "end" = excluded."end",
         attrs = excluded.attrs, seq = excluded.seq, path = excluded.path, pid = excluded.pid`,
      (b, r, p, i, ctx) => {
        const row = ctx.order === null ? r : (ctx.order[r] as number);
        const nums = b.nodeNums;
        const strs = b.nodeStrs;
        const at = row * NODE_NUMS;
        const st = row * NODE_STRS;
        p[i] = ctx.runId;
        p[i + 1] = nums[at];
        p[i + 2] = b.words[nums[at + 1] as number];
        p[i + 3] = b.words[nums[at + 2] as number];
        p[i + 4] = strs[st];
        p[i + 5] = nums[at + 3];
        p[i + 6] = strs[st + 1];
        p[i + 7] = nullable(nums[at + 4] as number);
        p[i + 8] = nullable(nums[at + 5] as number);
        p[i + 9] = strs[st + 2];
        p[i + 10] = ++ctx.seq;
        p[i + 11] = ctx.machine;
        const keys = ctx.keys as LookupParam[];
        p[i + 12] = keys[row * 2];
        p[i + 13] = keys[row * 2 + 1];
      },
    );
    const edges = bulkInsert<PackedBatch, Ctx>(
      db,
      "INSERT INTO edges (run_id, id, type, op, src, dst, ts, ts_end, count, bytes, attrs, seq, machine_id) VALUES",
      13,
      `ON CONFLICT (run_id, id) DO UPDATE SET type = excluded.type, op = excluded.op, src = excluded.src,
         dst = excluded.dst, ts = excluded.ts, ts_end = excluded.ts_end, count = excluded.count,
         bytes = excluded.bytes, attrs = excluded.attrs, seq = excluded.seq`,
      (b, r, p, i, ctx) => {
        const row = ctx.order === null ? r : (ctx.order[r] as number);
        const nums = b.edgeNums;
        const at = row * EDGE_NUMS;
        p[i] = ctx.runId;
        p[i + 1] = nums[at];
        p[i + 2] = b.words[nums[at + 1] as number];
        p[i + 3] = b.words[nums[at + 2] as number];
        p[i + 4] = nums[at + 3];
        p[i + 5] = nums[at + 4];
        p[i + 6] = nullable(nums[at + 5] as number);
        p[i + 7] = nullable(nums[at + 6] as number);
        p[i + 8] = nums[at + 7];
        p[i + 9] = nums[at + 8];
        p[i + 10] = b.edgeStrs[row];
        p[i + 11] = ++ctx.seq;
        p[i + 12] = ctx.machine;
      },
    );
    const insertChunk = db.prepare(
      "INSERT INTO step_chunks (run_id, min_start, max_start, n, data) VALUES (?, ?, ?, ?, ?)",
    );
    const maxStart = db.prepare("SELECT max(max_start) FROM step_chunks WHERE run_id = ?").pluck();
    const steps = (rows: readonly Step[], ctx: { runId: number }) => {
      if (rows.length === 0) return;
      let watermark = this.stepWatermark.get(ctx.runId);
      if (watermark === undefined) {
        watermark = (maxStart.get(ctx.runId) as number | null) ?? null;
      }
      for (const c of chunkSteps([...rows], watermark)) {
        insertChunk.run(ctx.runId, c.minStart, c.maxStart, c.count, c.data);
        if (watermark === null || c.maxStart > watermark) watermark = c.maxStart;
      }
      this.stepWatermark.set(ctx.runId, watermark);
    };
    const problems = bulkInsert<readonly Problem[], { runId: number }>(
      db,
      "INSERT INTO problems (run_id, file, line, message, text) VALUES",
      5,
      "",
      (rows, r, p, i, ctx) => {
        const pr = rows[r] as Problem;
        p[i] = ctx.runId;
        p[i + 1] = pr.file;
        p[i + 2] = pr.line;
        p[i + 3] = pr.message;
        p[i + 4] = pr.text;
      },
    );
    const tx = db.transaction((runId: number, batch: PackedBatch) => {
      const machine = runMachine.get(runId) as string | undefined;
      if (machine === undefined) throw new StoreError(this.path, `no run ${runId}`);
      const ctx: Ctx = { runId, seq: Number(getSeq.get()), machine, order: null, keys: lookupParams(batch) };
      // duplicates inside one multi-row statement would make ON CONFLICT fail: the last write wins
      ctx.order = rowsToWrite(batch.nodeNums, NODE_NUMS);
      nodes(batch, ctx.order?.length ?? batch.nodeNums.length / NODE_NUMS, ctx);
      ctx.order = rowsToWrite(batch.edgeNums, EDGE_NUMS);
      edges(batch, ctx.order?.length ?? batch.edgeNums.length / EDGE_NUMS, ctx);
      steps(unpackSteps(batch), ctx);
      problems(batch.problems, batch.problems.length, ctx);
      setSeq.run(String(ctx.seq));
    });
    return (runId, batch) => {
      const before = this.stepWatermark.get(runId);
      try {
        tx.immediate(runId, batch);
      } catch (err) {
        // rolled back: what was written is not there
        if (before === undefined) this.stepWatermark.delete(runId);
        else this.stepWatermark.set(runId, before);
        throw err;
      }
    };
  }

  async appendBatch(runId: number, batch: Batch): Promise<void> {
    let packed: PackedBatch;
    try {
      packed = packBatch(batch);
    } catch (err) {
      throw this.fail(`cannot append batch to run ${runId}`, err);
    }
    return this.appendPacked(runId, packed);
  }

  /** appendBatch of a batch packed already (by the store worker's caller, see packed-batch.ts). */
  async appendPacked(runId: number, batch: PackedBatch): Promise<void> {
    try {
      if (this.appendTx === null) this.appendTx = this.buildAppend();
      this.appendTx(runId, batch);
    } catch (err) {
      throw this.fail(`cannot append batch to run ${runId}`, err);
    }
  }

  /** The highest change sequence stamped so far (cursor for "changes since"). */
  async currentSeq(): Promise<number> {
    return Number(this.stmt("SELECT value FROM meta WHERE key = 'seq'").pluck().get() ?? 0);
  }

  async findRun(ref: string | number): Promise<RunRecord | null> {
    try {
      let row: RunRow | undefined;
      if (typeof ref === "number" || /^\d+$/.test(ref)) {
        row = this.stmt(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id = ?`).get(Number(ref)) as
          | RunRow
          | undefined;
      } else {
        row = this.stmt(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.name = ? ORDER BY r.id DESC LIMIT 1`).get(
          ref,
        ) as RunRow | undefined;
      }
      return row === undefined ? null : this.toRun(row);
    } catch (err) {
      throw this.fail(`cannot find run ${JSON.stringify(ref)}`, err);
    }
  }

  async latestRun(): Promise<RunRecord | null> {
    try {
      const row = this.stmt(`SELECT ${RUN_COLUMNS} FROM runs r ORDER BY r.id DESC LIMIT 1`).get() as
        | RunRow
        | undefined;
      return row === undefined ? null : this.toRun(row);
    } catch (err) {
      throw this.fail("cannot read the latest run", err);
    }
  }

  async listRuns(): Promise<RunRecord[]> {
    try {
      const rows = this.stmt(`SELECT ${RUN_COLUMNS} FROM runs r ORDER BY r.id`).all() as RunRow[];
      return rows.map((r) => this.toRun(r));
    } catch (err) {
      throw this.fail("cannot list runs", err);
    }
  }

  async getNodes(runId: number, filter: NodeFilter & KeysetFilter = {}): Promise<GraphNode[]> {
    const where = ["run_id = ?"];
    const params: unknown[] = [runId];
    if (filter.afterId !== undefined) {
      where.push("id > ?");
      params.push(filter.afterId);
    }
    if (filter.types !== undefined) {
      where.push("type IN (SELECT value FROM json_each(?))");
      params.push(JSON.stringify(filter.types));
    }
    if (filter.ids !== undefined) {
      where.push("id IN (SELECT value FROM json_each(?))");
      params.push(JSON.stringify(filter.ids));
    }
    sqliteNodeClauses(filter, where, params);
    if (filter.gids !== undefined) {
      where.push("gid IN (SELECT value FROM json_each(?))");
      params.push(JSON.stringify(filter.gids));
    }
    // the columns path (entities only) and pid (activities only) and their partial indexes nodes_path
    // and nodes_pid: `IS NOT NULL` is the indexes' condition, which lets the planner use them
    if (filter.paths !== undefined) {
      where.push("path IS NOT NULL AND path IN (SELECT value FROM json_each(?)) AND kind = 'entity'");
      params.push(JSON.stringify(filter.paths));
    }
    if (filter.pids !== undefined) {
      where.push("pid IS NOT NULL AND pid IN (SELECT value FROM json_each(?)) AND kind = 'activity'");
      params.push(JSON.stringify(filter.pids));
    }
    // without statistics the planner prefers a scan of the run's nodes to either index: told so,
    // a lookup by path or pid reads a few index entries (unless ids name the nodes already)
    const indexed =
      filter.ids !== undefined
        ? ""
        : filter.paths !== undefined
          ? " INDEXED BY nodes_path"
          : filter.pids !== undefined
            ? " INDEXED BY nodes_pid"
            : "";
    const sql = `SELECT id, kind, type, gid, version, label, "start", "end", attrs FROM nodes${indexed} WHERE ${where.join(
      " AND ",
    )} ORDER BY id LIMIT ? OFFSET ?`;
    params.push(filter.limit ?? -1, filter.offset ?? 0);
    try {
      const rows = this.stmt(sql).all(...params) as NodeRow[];
      return rows.map(nodeFromRow);
    } catch (err) {
      throw this.fail(`cannot read nodes of run ${runId}`, err);
    }
  }

  async getEdges(runId: number, filter: EdgeFilter & KeysetFilter = {}): Promise<GraphEdge[]> {
    const where = ["run_id = ?"];
    const params: unknown[] = [runId];
    if (filter.afterId !== undefined) {
      where.push("id > ?");
      params.push(filter.afterId);
    }
    if (filter.types !== undefined) {
      where.push("type IN (SELECT value FROM json_each(?))");
      params.push(JSON.stringify(filter.types));
    }
    if (filter.nodeIds !== undefined) {
      const ids = JSON.stringify(filter.nodeIds);
      // two index lookups (edges_src, edges_dst) rather than a scan of the run's edges
      where.push(
        `id IN (SELECT id FROM edges WHERE run_id = ? AND src IN (SELECT value FROM json_each(?))
          UNION SELECT id FROM edges WHERE run_id = ? AND dst IN (SELECT value FROM json_each(?)))`,
      );
      params.push(runId, ids, runId, ids);
    }
    sqliteEdgeClauses(filter, where, params);
    const sql = `SELECT id, type, op, src, dst, ts, ts_end, count, bytes, attrs FROM edges WHERE ${where.join(
      " AND ",
    )} ORDER BY id LIMIT ? OFFSET ?`;
    params.push(filter.limit ?? -1, filter.offset ?? 0);
    try {
      const rows = this.stmt(sql).all(...params) as EdgeRow[];
      return rows.map(edgeFromRow);
    } catch (err) {
      throw this.fail(`cannot read edges of run ${runId}`, err);
    }
  }

  async getNodeColumns(runId: number, afterId: number, limit: number): Promise<NodeColumns> {
    try {
      return sqliteNodeColumns((sql) => this.stmt(sql), runId, afterId, limit);
    } catch (err) {
      throw this.fail(`cannot read nodes of run ${runId}`, err);
    }
  }

  async getEdgeEnds(runId: number, afterId: number, limit: number): Promise<EdgeEnds> {
    try {
      return sqliteEdgeEnds((sql) => this.stmt(sql), runId, afterId, limit);
    } catch (err) {
      throw this.fail(`cannot read edges of run ${runId}`, err);
    }
  }

  /**
   * Steps in (start, seq) order: chunks are read in order of their smallest start (a page of chunk
   * heads at a time, by keyset) and merged; only the chunks overlapping the current start are held.
   */
  async *iterateSteps(runId: number, batchSize = 5000): AsyncIterable<Step[]> {
    const size = Math.max(1, Math.floor(batchSize));
    const headsStmt = this.stmt(
      `SELECT id, min_start AS minStart FROM step_chunks WHERE run_id = ? AND (min_start, id) > (?, ?)
       ORDER BY min_start, id LIMIT 256`,
    );
    const dataStmt = this.stmt("SELECT data FROM step_chunks WHERE id = ?").pluck();
    let heads: ChunkHead[] = [];
    let at = 0;
    let after: [number, number] = [Number.MIN_SAFE_INTEGER, 0];
    let done = false;
    const fail = (err: unknown) => this.fail(`cannot read steps of run ${runId}`, err);
    const nextHead = (): ChunkHead | null => {
      if (at < heads.length) return heads[at] as ChunkHead;
      if (done) return null;
      try {
        heads = headsStmt.all(runId, after[0], after[1]) as ChunkHead[];
      } catch (err) {
        throw fail(err);
      }
      at = 0;
      if (heads.length < 256) done = true;
      const last = heads[heads.length - 1];
      if (last === undefined) return null;
      after = [last.minStart, last.id];
      return heads[0] as ChunkHead;
    };
    const take = (): Step[] => {
      const head = heads[at++] as ChunkHead;
      let data: string | undefined;
      try {
        data = dataStmt.get(head.id) as string | undefined;
        return data === undefined ? [] : decodeStepChunk(data);
      } catch (err) {
        throw fail(err);
      }
    };
    const merger = new StepMerger(nextHead, take);
    for (;;) {
      const out = merger.read(size);
      if (out.length > 0) yield out;
      if (out.length < size) break;
    }
    this.lastStepScan = merger.stats;
  }

  /**
   * Nodes of a run in id order, in batches (keyset pagination, never the whole table at once).
   * Not part of GraphStore yet; exporters use it when the store has it.
   */
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
    try {
      const p = walkParams(q);
      return p.causal ? sqliteCausalLineage(this.db, p) : sqliteLineage(this.db, p);
    } catch (err) {
      throw this.fail(`cannot read the ${q.direction} of nodes of run ${q.runId}`, err);
    }
  }

  async paths(q: PathQuery): Promise<PathResult> {
    try {
      const p = pathParams(q);
      return p.causal ? sqliteCausalPaths(this.db, p) : sqlitePaths(this.db, p);
    } catch (err) {
      throw this.fail(`cannot read the chains between nodes of run ${q.runId}`, err);
    }
  }

  async getProblems(runId: number, limit?: number): Promise<Problem[]> {
    try {
      return this.stmt(
        "SELECT file, line, message, text FROM problems WHERE run_id = ? ORDER BY rowid LIMIT ?",
      ).all(runId, limit ?? -1) as Problem[];
    } catch (err) {
      throw this.fail(`cannot read problems of run ${runId}`, err);
    }
  }

  async getChanges(runId: number, query: ChangeQuery = {}): Promise<ChangeSet> {
    try {
      return sqliteChanges((sql) => this.stmt(sql), runId, query);
    } catch (err) {
      throw this.fail(`cannot read changes of run ${runId}`, err);
    }
  }

  async deleteRun(id: number): Promise<void> {
    try {
      this.db
        .transaction(() => {
          for (const table of ["nodes", "edges", "step_chunks", "problems", "pending_edges"]) {
            this.stmt(`DELETE FROM ${table} WHERE run_id = ?`).run(id);
          }
          this.stmt("UPDATE machines SET run_id = NULL WHERE run_id = ?").run(id);
          this.stmt("DELETE FROM runs WHERE id = ?").run(id);
          this.stepWatermark.delete(id);
        })
        .immediate();
    } catch (err) {
      throw this.fail(`cannot delete run ${id}`, err);
    }
  }

  private machineRows: SqliteMachines | null = null;

  private machines(): SqliteMachines {
    this.machineRows ??= new SqliteMachines(this.db, {
      host: this.host,
      pid: process.pid,
      startTicks: processStartTicks(process.pid),
    });
    return this.machineRows;
  }

  async openMachineRun(info: MachineRunInfo): Promise<number> {
    try {
      return this.machines().openRun(info, JSON.stringify(EMPTY_STATS));
    } catch (err) {
      throw this.fail(`cannot open the run of machine ${JSON.stringify(info.machineId)}`, err);
    }
  }

  async appendMachineBatch(parts: MachinePart[]): Promise<MachinePartResult[]> {
    try {
      return this.machines().append(parts);
    } catch (err) {
      throw this.fail("cannot append machines' batch", err);
    }
  }

  async closeMachineRun(runId: number, end: number | null = null): Promise<void> {
    try {
      this.machines().closeRun(runId, end);
    } catch (err) {
      throw this.fail(`cannot close run ${runId}`, err);
    }
  }

  async noteMachine(machineId: string, seen: number, announced = false): Promise<void> {
    try {
      this.machines().note(machineId, seen, announced);
    } catch (err) {
      throw this.fail(`cannot register machine ${JSON.stringify(machineId)}`, err);
    }
  }

  async listMachines(): Promise<MachineRecord[]> {
    try {
      return this.machines().list();
    } catch (err) {
      throw this.fail("cannot list machines", err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } catch (err) {
      throw this.fail("cannot close", err);
    }
  }
}

/** Open (creating and migrating when writable) the provflow database at `path`. */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, opts);
}

/** Pages of rows in id order: each page starts after the last id of the previous one. */
async function* keysetPages<T extends { id: number }>(
  page: (afterId: number, limit: number) => Promise<T[]>,
  batchSize: number,
): AsyncIterable<T[]> {
  let after = 0;
  const size = Math.max(1, Math.floor(batchSize));
  for (;;) {
    const batch = await page(after, size);
    if (batch.length === 0) return;
    after = batch[batch.length - 1]!.id;
    yield batch;
    if (batch.length < size) return;
  }
}
