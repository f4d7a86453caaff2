/**
 * PostgreSQL side of "what changed since" (GraphStore.getChanges) and of the browsing filters of
 * getNodes/getEdges.
 *
 * Several writers (a trace, MQTT workers) may stamp the change sequence at once, and a transaction
 * can commit after another one that took a later stamp: a reader following cursors would then step
 * over the older stamp. So a stamp is handed out only once every transaction that could still hold an
 * older one has ended. Every statement that stamps (an INSERT or COPY into nodes or edges, an upsert)
 * holds the table's RowExclusiveLock from before its first stamp until its transaction ends. A look
 * reads the last stamp taken, then the transactions holding that lock on this schema's nodes and edges;
 * once none of them is left, every stamp up to the one read is committed or rolled back, and safe.
 * Transactions elsewhere in the database (other schemas, other programs) never hold anything back.
 * With no writer in progress the last stamp is safe at once; while writers write, changes come one
 * look later.
 */
import type pg from "pg";
import type { EdgeRow, NodeRow } from "./graph-rows.js";
import { DEFAULT_CHANGE_LIMIT, likeSubstring, mergeChanges } from "./sqlite-changes.js";
import type { ChangeQuery, ChangeSet, EdgeFilter, NodeFilter } from "./store-types.js";

/** WHERE clauses of the browsing filters of nodes; `add` binds a parameter and gives its placeholder. */
export function pgNodeClauses(
  filter: NodeFilter,
  add: (cond: (p: string) => string, value: unknown) => void,
): void {
  if (filter.categories !== undefined)
    add((p) => `attrs->>'category' = ANY(${p}::text[])`, filter.categories);
  if (filter.from !== undefined) add((p) => `coalesce("end", "start") >= ${p}`, filter.from);
  if (filter.to !== undefined) add((p) => `"start" <= ${p}`, filter.to);
  if (filter.match !== undefined) {
    add((p) => `(label ILIKE ${p} OR attrs->>'exe' ILIKE ${p})`, likeSubstring(filter.match));
  }
}

/** WHERE clauses of the time window of edges. */
export function pgEdgeClauses(
  filter: EdgeFilter,
  add: (cond: (p: string) => string, value: unknown) => void,
): void {
  if (filter.from !== undefined) add((p) => `coalesce(ts_end, ts) >= ${p}`, filter.from);
  if (filter.to !== undefined) add((p) => `ts <= ${p}`, filter.to);
}

interface Look {
  seq: number;
  /** the transactions (virtual ids) that held a write lock on nodes or edges just after `seq` was read */
  writers: string[];
}

/** The highest stamp no transaction in progress can undercut (see the module comment). */
export class ChangeWatermark {
  private safe = 0;
  private looks: Look[] = [];

  async read(c: pg.Client): Promise<number> {
    const seqRow = await c.query<{ v: string }>(
      "SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::text AS v FROM change_seq",
    );
    const held = await c.query<{ vx: string }>(
      `SELECT DISTINCT virtualtransaction AS vx FROM pg_locks
       WHERE locktype = 'relation' AND mode = 'RowExclusiveLock'
         AND relation IN ('nodes'::regclass, 'edges'::regclass) AND pid <> pg_backend_pid()`,
    );
    const now = new Set(held.rows.map((r) => r.vx));
    this.looks.push({ seq: Number(seqRow.rows[0]?.v ?? 0), writers: [...now] });
    const waiting: Look[] = [];
    for (const l of this.looks) {
      // virtual transaction ids are not reused: one still there is the same writer, still going
      if (l.writers.every((w) => !now.has(w))) this.safe = Math.max(this.safe, l.seq);
      else waiting.push(l);
    }
    // bounded: a writer holding on for very long keeps only the newest looks
    this.looks = waiting.slice(-64);
    return this.safe;
  }
}

/** Nodes and edges of the run stamped after `since` and at most at the watermark, in stamp order. */
export async function pgChanges(
  c: pg.Client,
  watermark: ChangeWatermark,
  runId: number,
  query: ChangeQuery,
): Promise<ChangeSet> {
  const since = Math.max(0, Math.floor(query.since ?? 0));
  const limit = Math.max(0, Math.floor(query.limit ?? DEFAULT_CHANGE_LIMIT));
  const upTo = await watermark.read(c);
  if (upTo <= since || limit === 0)
    return { nodes: [], edges: [], cursor: Math.max(since, upTo), more: false };
  const nodes = await c.query<NodeRow & { seq: string }>(
    `SELECT id, kind, type, gid, version, label, "start", "end", coalesce(attrs_text, attrs::text) AS attrs, seq
     FROM nodes WHERE run_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
    [runId, since, upTo, limit + 1],
  );
  const edges = await c.query<EdgeRow & { seq: string }>(
    `SELECT id, type, op, src, dst, ts, ts_end, count, bytes, coalesce(attrs_text, attrs::text) AS attrs, seq
     FROM edges WHERE run_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
    [runId, since, upTo, limit + 1],
  );
  const out = mergeChanges(nodes.rows, edges.rows, since, limit);
  // nothing of this run up to the watermark: the cursor can move to it
  if (!out.more && out.nodes.length + out.edges.length === 0) out.cursor = upTo;
  else if (!out.more) out.cursor = Math.max(out.cursor, upTo);
  return out;
}
