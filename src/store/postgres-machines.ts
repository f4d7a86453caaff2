import { foldParts } from "./machine-rows.js";
import type { MachinePart } from "./store-types.js";

/**
 * The SQL of a batch of machines' keyed rows in PostgreSQL (provflow mqtt), written as one
 * transaction in one round trip: the rows go by COPY into session staging tables, then a few
 * INSERT … SELECT statements move them into the tables:
 *
 * - nodes: one per (run, source key); a key already stored merges its new attributes in (a
 *   redelivered message changes nothing);
 * - relations whose two ends are stored become edges, one per (run, relation key); the others wait
 *   in `pending_edges`; the waiting relations that a node of this batch completes become edges;
 * - the registry's counters (`machine_counts`: messages, errors, new rows) are added in the same
 *   transaction, so they never drift from the tables; rows are only inserted, never updated, so
 *   writers sharing machines never wait for one another (they are folded together by the sweep).
 *
 * Several writers may write one machine at once (shared subscription): a relation and the node it
 * waits for may then be written by two transactions that do not see each other, and the relation
 * would wait for ever. The sweep (SWEEP_PENDING_SQL), run by every writer about once a second, when
 * idle and when closing its runs, settles the relations that began waiting in the last minute.
 * Every join names the machine id, so the statements stay on one shard when the tables are
 * distributed by machine (Citus).
 */

/** Staging tables, one set per connection, emptied at every commit. */
export const STAGING_SQL = `
CREATE TEMP TABLE IF NOT EXISTS pf_keyed_nodes (run_id integer, machine_id text, skey text, kind text, type text,
  gid text, version integer, label text, "start" bigint, "end" bigint, attrs jsonb, attrs_text text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS pf_keyed_edges (run_id integer, machine_id text, ekey text, type text, op text,
  src_key text, dst_key text, ts bigint, ts_end bigint, count bigint, bytes bigint, attrs_text text)
  ON COMMIT DELETE ROWS`;

const NODES_IN = `COPY pf_keyed_nodes (run_id, machine_id, skey, kind, type, gid, version, label, "start", "end", attrs,
  attrs_text) FROM STDIN`;
// relations: attributes as text only (schema version 6), no jsonb to parse, store and index
const EDGES_IN = `COPY pf_keyed_edges (run_id, machine_id, ekey, type, op, src_key, dst_key, ts, ts_end, count, bytes,
  attrs_text) FROM STDIN`;
const PROBLEMS_IN = "COPY problems (run_id, file, line, message, text) FROM STDIN";

const MOVE_NODES = `WITH up AS (
  INSERT INTO nodes AS n (run_id, id, machine_id, skey, kind, type, gid, version, label, "start", "end", attrs, attrs_text)
  SELECT run_id, nextval('keyed_ids'), machine_id, skey, kind, type, gid, version, label, "start", "end", attrs, attrs_text
  FROM pf_keyed_nodes ORDER BY skey, run_id
  ON CONFLICT (skey, run_id, machine_id) WHERE skey IS NOT NULL DO UPDATE SET
    attrs = merge_attrs(n.attrs, EXCLUDED.attrs), attrs_text = NULL,
    type = CASE WHEN n.type = 'other' THEN EXCLUDED.type ELSE n.type END,
    label = CASE WHEN n.label = '' THEN EXCLUDED.label ELSE n.label END,
    "start" = least(n."start", EXCLUDED."start"), "end" = greatest(n."end", EXCLUDED."end"),
    seq = nextval('change_seq')
  WHERE merge_attrs(n.attrs, EXCLUDED.attrs) <> n.attrs OR (n.type = 'other' AND EXCLUDED.type <> 'other')
    OR (n.label = '' AND EXCLUDED.label <> '') OR EXCLUDED."start" < n."start" OR EXCLUDED."end" > n."end"
  RETURNING n.machine_id, (xmax = 0) AS fresh)
INSERT INTO machine_counts (machine_id, nodes)
SELECT machine_id, count(*) FROM up WHERE fresh GROUP BY machine_id
RETURNING machine_id, 'nodes', nodes`;

const EDGE_COLUMNS =
  "run_id, id, machine_id, ekey, type, op, src, dst, ts, ts_end, count, bytes, attrs, attrs_text";
const PENDING_COLUMNS =
  "run_id, machine_id, ekey, type, op, src_key, dst_key, ts, ts_end, count, bytes, attrs, attrs_text";

/** SQL: the id of the node a key names in the run of `row` (one index lookup). */
function nodeId(row: string, keyColumn: string): string {
  return `(SELECT x.id FROM nodes x WHERE x.skey = ${row}.${keyColumn} AND x.run_id = ${row}.run_id
    AND x.machine_id = ${row}.machine_id)`;
}

const MOVE_EDGES = `WITH k AS MATERIALIZED (
  SELECT e.*, NULL::jsonb AS attrs, ${nodeId("e", "src_key")} AS src, ${nodeId("e", "dst_key")} AS dst
  FROM pf_keyed_edges e),
made AS (
  INSERT INTO edges (${EDGE_COLUMNS})
  SELECT run_id, nextval('keyed_ids'), machine_id, ekey, type, op, src, dst, ts, ts_end, count, bytes, NULL, attrs_text
  FROM k WHERE src IS NOT NULL AND dst IS NOT NULL
  ON CONFLICT (ekey, run_id, machine_id) WHERE ekey IS NOT NULL DO NOTHING
  RETURNING machine_id),
waiting AS (
  INSERT INTO pending_edges (${PENDING_COLUMNS}, since)
  SELECT ${PENDING_COLUMNS}, (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM k
  WHERE src IS NULL OR dst IS NULL
  ON CONFLICT (run_id, ekey, machine_id) DO NOTHING)
INSERT INTO machine_counts (machine_id, edges)
SELECT machine_id, count(*) FROM made GROUP BY machine_id
RETURNING machine_id, 'edges', edges`;

/**
 * Waiting relations whose two ends are now stored become edges. `cand` picks which to look at: those
 * touching a node of this batch, or (the sweep) those that began waiting recently — two writers of
 * one machine may each have missed the other's rows, as their transactions ran side by side.
 */
function settle(cand: string): string {
  return `WITH cand AS MATERIALIZED (${cand}),
ends AS MATERIALIZED (
  SELECT p.run_id, p.ekey, p.machine_id, ${nodeId("p", "src_key")} AS src, ${nodeId("p", "dst_key")} AS dst
  FROM cand c JOIN pending_edges p ON p.run_id = c.run_id AND p.ekey = c.ekey AND p.machine_id = c.machine_id),
ready AS (
  DELETE FROM pending_edges p USING ends n
  WHERE p.run_id = n.run_id AND p.ekey = n.ekey AND p.machine_id = n.machine_id
    AND n.src IS NOT NULL AND n.dst IS NOT NULL
  RETURNING p.*, n.src, n.dst),
made AS (
  INSERT INTO edges (${EDGE_COLUMNS})
  SELECT run_id, nextval('keyed_ids'), machine_id, ekey, type, op, src, dst, ts, ts_end, count, bytes, attrs, attrs_text
  FROM ready
  ON CONFLICT (ekey, run_id, machine_id) WHERE ekey IS NOT NULL DO NOTHING
  RETURNING machine_id)
INSERT INTO machine_counts (machine_id, edges)
SELECT machine_id, count(*) FROM made GROUP BY machine_id
RETURNING machine_id, 'edges', edges`;
}

const SETTLE_PENDING = settle(`
  SELECT p.run_id, p.ekey, p.machine_id FROM pf_keyed_nodes k
  JOIN pending_edges p ON p.src_key = k.skey AND p.run_id = k.run_id AND p.machine_id = k.machine_id
  UNION
  SELECT p.run_id, p.ekey, p.machine_id FROM pf_keyed_nodes k
  JOIN pending_edges p ON p.dst_key = k.skey AND p.run_id = k.run_id AND p.machine_id = k.machine_id`);

/** The sweep: relations that began waiting in the last minute (see `settle`). */
export const SWEEP_PENDING_SQL = settle(`
  SELECT run_id, ekey, machine_id FROM pending_edges
  WHERE since > (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 60000`);

/** Folds the counter rows into one per machine; one writer at a time (the others skip it). */
export function compactCountsSql(lockKey: number): string {
  return `DO $compact$BEGIN IF pg_try_advisory_xact_lock(${lockKey}, 0) THEN
  WITH gone AS (DELETE FROM machine_counts RETURNING *)
  INSERT INTO machine_counts (machine_id, packets, errors, nodes, edges, first_seen, last_seen)
  SELECT machine_id, sum(packets), sum(errors), sum(nodes), sum(edges), min(first_seen), max(last_seen)
  FROM gone GROUP BY machine_id;
END IF; END$compact$`;
}

/** The registry, counters summed. */
export const LIST_MACHINES_SQL = `SELECT m.machine_id, m.run_id, m.announced,
  least(m.first_seen, c.first_seen) AS first_seen, greatest(m.last_seen, c.last_seen) AS last_seen,
  coalesce(c.packets, 0)::bigint AS packets, coalesce(c.errors, 0)::bigint AS errors,
  coalesce(c.nodes, 0)::bigint AS nodes, coalesce(c.edges, 0)::bigint AS edges,
  (SELECT count(*) FROM pending_edges p WHERE p.run_id = m.run_id AND p.machine_id = m.machine_id) AS waiting
FROM machines m LEFT JOIN (
  SELECT machine_id, sum(packets) AS packets, sum(errors) AS errors, sum(nodes) AS nodes, sum(edges) AS edges,
    min(first_seen) AS first_seen, max(last_seen) AS last_seen
  FROM machine_counts GROUP BY machine_id) c ON c.machine_id = m.machine_id
ORDER BY m.machine_id`;

/** A text value as an SQL literal (standard_conforming_strings: only quotes double). */
export function sqlText(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** How a batch is encoded; the store supplies its COPY encoders (the same as its own batches'). */
export interface KeyedEncoders {
  text(s: string | null | undefined): string;
  int(n: number | null | undefined): string;
  json(text: string): string;
  /** [jsonb text, exact text or null] of an attribute object */
  attrs(attrs: unknown): [string, string | null];
  /** the exact JSON text of an attribute object (relations keep only that) */
  attrsText(attrs: unknown): string;
  /** U+0000 out of a plain text value */
  plain<T extends string | null | undefined>(s: T): T;
}

export interface KeyedBatchSql {
  sql: string;
  copies: string[][];
  /** the runs of the batch */
  runs: number[];
}

class Pieces {
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

/** The batch as one simple-query text (BEGIN … COMMIT) and the data of its COPY statements. */
export function keyedBatchSql(parts: readonly MachinePart[], enc: KeyedEncoders): KeyedBatchSql {
  const folded = foldParts(parts);
  const nodes = new Pieces();
  const edges = new Pieces();
  const problems = new Pieces();
  const counts: string[] = [];
  for (const p of folded) {
    const run = p.runId;
    const m = enc.text(enc.plain(p.machineId));
    for (const n of p.nodes) {
      const [json, exact] = enc.attrs(n.attrs);
      nodes.add(
        `${run}\t${m}\t${enc.text(n.key)}\t${enc.text(n.kind)}\t${enc.text(n.type)}\t${enc.text(n.gid)}\t${enc.int(
          n.version,
        )}\t${enc.text(n.label)}\t${enc.int(n.start)}\t${enc.int(n.end)}\t${enc.json(json)}\t${
          exact === null ? "\\N" : enc.json(exact)
        }\n`,
      );
    }
    for (const e of p.edges) {
      edges.add(
        `${run}\t${m}\t${enc.text(e.key)}\t${enc.text(e.type)}\t${enc.text(e.op)}\t${enc.text(e.from)}\t${enc.text(
          e.to,
        )}\t${enc.int(e.ts)}\t${enc.int(e.tsEnd)}\t${enc.int(e.count)}\t${enc.int(e.bytes)}\t${enc.json(
          enc.attrsText(e.attrs),
        )}\n`,
      );
    }
    for (const pr of p.problems) {
      problems.add(
        `${run}\t${enc.text(pr.file)}\t${enc.int(pr.line)}\t${enc.text(pr.message)}\t${enc.text(pr.text)}\n`,
      );
    }
    counts.push(
      `(${sqlText(enc.plain(p.machineId))}, ${Math.round(p.seen)}, ${Math.round(p.seen)}, ${p.packets}, ${p.errors})`,
    );
  }
  const runs = folded.map((p) => p.runId);
  const sql = [
    "BEGIN",
    "SET LOCAL enable_hashjoin TO off",
    "SET LOCAL enable_mergejoin TO off",
    // the estimates of these plans are high (rows × index lookups): compiling them would cost more than running them
    "SET LOCAL jit TO off",
  ];
  sql.push(
    `DO $check$BEGIN IF (SELECT count(*) FROM runs WHERE id = ANY('{${runs.join(",")}}'::int[])) < ${runs.length} THEN
       RAISE EXCEPTION 'no run among %', '${runs.join(", ")}'; END IF; END$check$`,
  );
  if (counts.length > 0) {
    sql.push(
      `INSERT INTO machine_counts (machine_id, first_seen, last_seen, packets, errors) VALUES ${counts.join(", ")}`,
    );
  }
  const copies: string[][] = [];
  const nodeData = nodes.finish();
  const edgeData = edges.finish();
  const problemData = problems.finish();
  if (nodeData.length > 0) {
    sql.push(NODES_IN);
    copies.push(nodeData);
    sql.push(MOVE_NODES);
  }
  if (edgeData.length > 0) {
    sql.push(EDGES_IN);
    copies.push(edgeData);
    sql.push(MOVE_EDGES);
  }
  if (nodeData.length > 0) sql.push(SETTLE_PENDING);
  if (problemData.length > 0) {
    sql.push(PROBLEMS_IN);
    copies.push(problemData);
  }
  sql.push("COMMIT");
  return { sql: `${sql.join(";\n")};`, copies, runs };
}
