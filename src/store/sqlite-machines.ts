import type Database from "better-sqlite3";
import { foldParts, MACHINE_RUN_SOURCE, mergeKeyedNode } from "./machine-rows.js";
import { nodeLookupParams } from "./packed-batch.js";
import type {
  KeyedEdge,
  KeyedNode,
  MachinePart,
  MachinePartResult,
  MachineRecord,
  MachineRunInfo,
} from "./store-types.js";

/**
 * The machines streaming into a SQLite store (provflow mqtt): one run per machine, keyed rows
 * written idempotently (one node per (run, source key), one edge per (run, relation key)),
 * relations waiting in `pending_edges` for a node of a later message, and the registry in
 * `machines`. SQLite has one writer at a time, so a batch reads what it needs row by row inside its
 * transaction.
 */

type Db = Database.Database;
type Stmt = Database.Statement<unknown[], unknown>;

interface StoredNode {
  id: number;
  kind: string;
  type: KeyedNode["type"];
  label: string;
  start: number | null;
  end: number | null;
  attrs: string;
}

interface PendingRow {
  ekey: string;
  type: KeyedEdge["type"];
  op: KeyedEdge["op"];
  src_key: string;
  dst_key: string;
  ts: number | null;
  ts_end: number | null;
  count: number;
  bytes: number;
  attrs: string;
}

interface MachineRow {
  machine_id: string;
  run_id: number | null;
  first_seen: number;
  last_seen: number;
  packets: number;
  nodes: number;
  edges: number;
  errors: number;
  announced: number;
  waiting: number;
}

export interface SqliteWriterIdentity {
  host: string;
  pid: number;
  startTicks: string | null;
}

export class SqliteMachines {
  private readonly s: Record<string, Stmt>;

  constructor(
    private readonly db: Db,
    private readonly writer: SqliteWriterIdentity,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      findRun: p(
        `SELECT id FROM runs WHERE source = '${MACHINE_RUN_SOURCE}' AND machine_id = ? ORDER BY id DESC LIMIT 1`,
      ).pluck(),
      newRun: p(
        `INSERT INTO runs (name, source, command, tracer_command, host, machine_id, "start", status, stats,
           writer_pid, writer_host, writer_start, created_at)
         VALUES (?, '${MACHINE_RUN_SOURCE}', ?, NULL, ?, ?, ?, 'running', ?, ?, ?, ?, ?)`,
      ),
      resume: p(
        `UPDATE runs SET status = 'running', "end" = NULL, writer_pid = ?, writer_host = ?, writer_start = ? WHERE id = ?`,
      ),
      close: p(
        `UPDATE runs SET status = 'complete', "end" = coalesce(?, "end") WHERE id = ? AND status = 'running'`,
      ),
      register: p(
        `INSERT INTO machines (machine_id, run_id, first_seen, last_seen, announced) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (machine_id) DO UPDATE SET run_id = coalesce(excluded.run_id, machines.run_id),
           last_seen = max(machines.last_seen, excluded.last_seen),
           announced = max(machines.announced, excluded.announced)`,
      ),
      counts: p(
        `INSERT INTO machines (machine_id, run_id, first_seen, last_seen, packets, nodes, edges, errors)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (machine_id) DO UPDATE SET run_id = coalesce(machines.run_id, excluded.run_id),
           last_seen = max(machines.last_seen, excluded.last_seen), packets = machines.packets + excluded.packets,
           nodes = machines.nodes + excluded.nodes, edges = machines.edges + excluded.edges,
           errors = machines.errors + excluded.errors`,
      ),
      list: p(
        `SELECT m.*, (SELECT count(*) FROM pending_edges p WHERE p.run_id = m.run_id) AS waiting
         FROM machines m ORDER BY m.machine_id`,
      ),
      runExists: p("SELECT 1 FROM runs WHERE id = ?").pluck(),
      maxNode: p("SELECT coalesce(max(id), 0) FROM nodes WHERE run_id = ?").pluck(),
      maxEdge: p("SELECT coalesce(max(id), 0) FROM edges WHERE run_id = ?").pluck(),
      getSeq: p("SELECT value FROM meta WHERE key = 'seq'").pluck(),
      setSeq: p("UPDATE meta SET value = ? WHERE key = 'seq'"),
      node: p(`SELECT id, kind, type, label, "start", "end", attrs FROM nodes WHERE run_id = ? AND skey = ?`),
      nodeId: p("SELECT id FROM nodes WHERE run_id = ? AND skey = ?").pluck(),
      insNode: p(
        `INSERT INTO nodes (run_id, id, kind, type, gid, version, label, "start", "end", attrs, seq, machine_id, skey,
           path, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updNode: p(
        `UPDATE nodes SET type = ?, label = ?, "start" = ?, "end" = ?, attrs = ?, seq = ?, path = ?, pid = ?
         WHERE run_id = ? AND id = ?`,
      ),
      edgeKnown: p("SELECT 1 FROM edges WHERE run_id = ? AND ekey = ?").pluck(),
      insEdge: p(
        `INSERT INTO edges (run_id, id, type, op, src, dst, ts, ts_end, count, bytes, attrs, seq, machine_id, ekey)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      wait: p(
        `INSERT OR IGNORE INTO pending_edges (run_id, machine_id, ekey, type, op, src_key, dst_key, ts, ts_end, count,
           bytes, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      waitingFor: p(
        `SELECT ekey, type, op, src_key, dst_key, ts, ts_end, count, bytes, attrs FROM pending_edges
         WHERE run_id = ? AND src_key = ?
         UNION SELECT ekey, type, op, src_key, dst_key, ts, ts_end, count, bytes, attrs FROM pending_edges
         WHERE run_id = ? AND dst_key = ?`,
      ),
      unwait: p("DELETE FROM pending_edges WHERE run_id = ? AND ekey = ?"),
      problem: p("INSERT INTO problems (run_id, file, line, message, text) VALUES (?, ?, ?, ?, ?)"),
    };
  }

  private get(name: string): Stmt {
    return this.s[name] as Stmt;
  }

  openRun(info: MachineRunInfo, emptyStats: string): number {
    const now = Date.now();
    const seen = info.start ?? now * 1000;
    const w = this.writer;
    return this.db
      .transaction(() => {
        let id = this.get("findRun").get(info.machineId) as number | undefined;
        if (id === undefined) {
          const res = this.get("newRun").run(
            info.name ?? `mqtt-${info.machineId}`,
            JSON.stringify(info.command ?? []),
            info.host ?? info.machineId,
            info.machineId,
            info.start ?? null,
            emptyStats,
            w.pid,
            w.host,
            w.startTicks,
            now,
          );
          id = Number(res.lastInsertRowid);
        } else {
          this.get("resume").run(w.pid, w.host, w.startTicks, id);
        }
        this.get("register").run(info.machineId, id, seen, seen, 0);
        return id;
      })
      .immediate();
  }

  closeRun(runId: number, end: number | null): void {
    this.get("close").run(end, runId);
  }

  note(machineId: string, seen: number, announced: boolean): void {
    this.get("register").run(machineId, null, seen, seen, announced ? 1 : 0);
  }

  list(): MachineRecord[] {
    return (this.get("list").all() as MachineRow[]).map((r) => ({
      machineId: r.machine_id,
      runId: r.run_id,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      packets: r.packets,
      nodes: r.nodes,
      edges: r.edges,
      waiting: r.waiting,
      errors: r.errors,
      announced: r.announced !== 0,
    }));
  }

  /** One transaction for every part; throws (nothing written) when a run does not exist. */
  append(parts: readonly MachinePart[]): MachinePartResult[] {
    const folded = foldParts(parts);
    return this.db
      .transaction(() => {
        let seq = Number(this.get("getSeq").get());
        const out: MachinePartResult[] = [];
        for (const part of folded) {
          if (this.get("runExists").get(part.runId) === undefined) throw new Error(`no run ${part.runId}`);
          const r = this.appendPart(part, () => ++seq);
          out.push(r);
        }
        this.get("setSeq").run(String(seq));
        return out;
      })
      .immediate();
  }

  private appendPart(part: MachinePart, nextSeq: () => number): MachinePartResult {
    const run = part.runId;
    const machine = part.machineId;
    let maxNode = Number(this.get("maxNode").get(run));
    let maxEdge = Number(this.get("maxEdge").get(run));
    let newNodes = 0;
    let newEdges = 0;
    const fresh: string[] = [];
    for (const n of part.nodes) {
      const row = this.get("node").get(run, n.key) as StoredNode | undefined;
      if (row === undefined) {
        this.get("insNode").run(
          run,
          ++maxNode,
          n.kind,
          n.type,
          n.gid,
          n.version,
          n.label,
          n.start,
          n.end,
          JSON.stringify(n.attrs),
          nextSeq(),
          machine,
          n.key,
          ...nodeLookupParams(n.kind, n.attrs),
        );
        newNodes++;
        fresh.push(n.key);
        continue;
      }
      const known: KeyedNode = {
        ...n,
        type: row.type,
        label: row.label,
        start: row.start,
        end: row.end,
        attrs: JSON.parse(row.attrs) as Record<string, unknown>,
      };
      if (mergeKeyedNode(known, n)) {
        this.get("updNode").run(
          known.type,
          known.label,
          known.start,
          known.end,
          JSON.stringify(known.attrs),
          nextSeq(),
          ...nodeLookupParams(row.kind, known.attrs),
          run,
          row.id,
        );
      }
    }
    const nodeId = (key: string) => this.get("nodeId").get(run, key) as number | undefined;
    const insert = (e: KeyedEdge | PendingRow, src: number, dst: number, attrs: string): void => {
      const tsEnd = "tsEnd" in e ? e.tsEnd : e.ts_end;
      this.get("insEdge").run(
        run,
        ++maxEdge,
        e.type,
        e.op,
        src,
        dst,
        e.ts,
        tsEnd,
        e.count,
        e.bytes,
        attrs,
        nextSeq(),
        machine,
        "key" in e ? e.key : e.ekey,
      );
      newEdges++;
    };
    for (const e of part.edges) {
      if (this.get("edgeKnown").get(run, e.key) !== undefined) continue;
      const src = nodeId(e.from);
      const dst = nodeId(e.to);
      const attrs = JSON.stringify(e.attrs);
      if (src !== undefined && dst !== undefined) insert(e, src, dst, attrs);
      else {
        this.get("wait").run(
          run,
          machine,
          e.key,
          e.type,
          e.op,
          e.from,
          e.to,
          e.ts,
          e.tsEnd,
          e.count,
          e.bytes,
          attrs,
        );
      }
    }
    // relations that waited for a node stored now
    for (const key of fresh) {
      const rows = this.get("waitingFor").all(run, key, run, key) as PendingRow[];
      for (const p of rows) {
        const src = nodeId(p.src_key);
        const dst = nodeId(p.dst_key);
        if (src === undefined || dst === undefined) continue;
        this.get("unwait").run(run, p.ekey);
        if (this.get("edgeKnown").get(run, p.ekey) === undefined) insert(p, src, dst, p.attrs);
      }
    }
    for (const pr of part.problems) this.get("problem").run(run, pr.file, pr.line, pr.message, pr.text);
    this.get("counts").run(machine, run, part.seen, part.seen, part.packets, newNodes, newEdges, part.errors);
    return { runId: run, machineId: machine, nodes: newNodes, edges: newEdges };
  }
}
