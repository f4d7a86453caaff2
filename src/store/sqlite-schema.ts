/**
 * The SQLite schema as an ordered list of forward migrations. `schema_version` holds the version
 * the file is at; opening applies every migration above it, and refuses a file from the future.
 */
import type Database from "better-sqlite3";
import { chunkSteps } from "./step-chunks.js";
import type { Step } from "./store-types.js";

export interface Migration {
  version: number;
  sql: string;
  /** data to move after `sql` ran, in the same transaction */
  data?: (db: Database.Database) => void;
}

export const SCHEMA_VERSION = 6;

/** Tag stored in `meta` so another program's SQLite file is never mistaken for ours. */
export const APP_TAG = "provflow";

export const migrations: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  source TEXT NOT NULL,
  command TEXT NOT NULL,
  tracer_command TEXT,
  host TEXT NOT NULL,
  machine_id TEXT,
  boot_id TEXT,
  cwd TEXT,
  user TEXT,
  "start" INTEGER,
  "end" INTEGER,
  exit_code INTEGER,
  exit_signal TEXT,
  status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'incomplete')),
  stats TEXT NOT NULL,
  writer_pid INTEGER,
  writer_host TEXT,
  writer_start TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX runs_name ON runs (name, id);
CREATE TABLE nodes (
  run_id INTEGER NOT NULL,
  id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  type TEXT NOT NULL,
  gid TEXT NOT NULL,
  version INTEGER NOT NULL,
  label TEXT NOT NULL,
  "start" INTEGER,
  "end" INTEGER,
  attrs TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
CREATE INDEX nodes_type ON nodes (run_id, type);
CREATE INDEX nodes_gid ON nodes (gid);
CREATE TABLE edges (
  run_id INTEGER NOT NULL,
  id INTEGER NOT NULL,
  type TEXT NOT NULL,
  op TEXT NOT NULL,
  src INTEGER NOT NULL,
  dst INTEGER NOT NULL,
  ts INTEGER,
  ts_end INTEGER,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  attrs TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
CREATE INDEX edges_src ON edges (run_id, src);
CREATE INDEX edges_dst ON edges (run_id, dst);
CREATE TABLE steps (
  run_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  pid INTEGER NOT NULL,
  call TEXT NOT NULL,
  resource TEXT NOT NULL,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  "start" INTEGER NOT NULL,
  "end" INTEGER NOT NULL,
  dur INTEGER NOT NULL,
  ret TEXT,
  PRIMARY KEY (run_id, "start", seq)
) WITHOUT ROWID;
CREATE TABLE problems (
  run_id INTEGER NOT NULL,
  file TEXT NOT NULL,
  line INTEGER NOT NULL,
  message TEXT NOT NULL,
  text TEXT
);
CREATE INDEX problems_run ON problems (run_id);
`,
  },
  {
    // version 2: the calls log in chunks of steps (one row per up to 4096 steps, see step-chunks.ts)
    version: 2,
    sql: `
CREATE TABLE step_chunks (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL,
  min_start INTEGER NOT NULL,
  max_start INTEGER NOT NULL,
  n INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX step_chunks_run ON step_chunks (run_id, min_start, id);
`,
    data: migrateStepsToChunks,
  },
  {
    // version 3: machines streaming in (provflow mqtt): the machine id on every node and edge, the
    // source's keys of nodes and relations (unique per run: redelivered messages add nothing), the
    // relations waiting for a node of a later message, and the registry of machines
    version: 3,
    sql: `
ALTER TABLE nodes ADD COLUMN machine_id TEXT;
ALTER TABLE nodes ADD COLUMN skey TEXT;
ALTER TABLE edges ADD COLUMN machine_id TEXT;
ALTER TABLE edges ADD COLUMN ekey TEXT;
UPDATE nodes SET machine_id = (SELECT coalesce(r.machine_id, r.host) FROM runs r WHERE r.id = nodes.run_id);
UPDATE edges SET machine_id = (SELECT coalesce(r.machine_id, r.host) FROM runs r WHERE r.id = edges.run_id);
CREATE UNIQUE INDEX nodes_skey ON nodes (run_id, skey) WHERE skey IS NOT NULL;
CREATE UNIQUE INDEX edges_ekey ON edges (run_id, ekey) WHERE ekey IS NOT NULL;
CREATE TABLE pending_edges (
  run_id INTEGER NOT NULL,
  machine_id TEXT NOT NULL,
  ekey TEXT NOT NULL,
  type TEXT NOT NULL,
  op TEXT NOT NULL,
  src_key TEXT NOT NULL,
  dst_key TEXT NOT NULL,
  ts INTEGER,
  ts_end INTEGER,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  attrs TEXT NOT NULL,
  PRIMARY KEY (run_id, ekey)
) WITHOUT ROWID;
CREATE INDEX pending_edges_src ON pending_edges (run_id, src_key);
CREATE INDEX pending_edges_dst ON pending_edges (run_id, dst_key);
CREATE TABLE machines (
  machine_id TEXT PRIMARY KEY,
  run_id INTEGER,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  packets INTEGER NOT NULL DEFAULT 0,
  nodes INTEGER NOT NULL DEFAULT 0,
  edges INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  announced INTEGER NOT NULL DEFAULT 0
);
`,
  },
  {
    // version 4: lineage (sqlite-lineage.ts). The edge indexes hold the relation's type and other
    // end, so a step of a recursive walk reads only the index; nodes are found by path (entities) and
    // by pid (activities) without reading the run's nodes.
    version: 4,
    sql: `
DROP INDEX edges_src;
DROP INDEX edges_dst;
CREATE INDEX edges_src ON edges (run_id, src, type, dst);
CREATE INDEX edges_dst ON edges (run_id, dst, type, src);
CREATE INDEX nodes_path ON nodes (run_id, json_extract(attrs, '$.path')) WHERE kind = 'entity';
CREATE INDEX nodes_pid ON nodes (run_id, json_extract(attrs, '$.pid')) WHERE kind = 'activity';
`,
  },
  {
    // version 5: "what changed since" (GraphStore.getChanges, the server's changes and events): the
    // change stamps of a run's nodes and edges in order
    version: 5,
    sql: `
CREATE INDEX nodes_seq ON nodes (run_id, seq);
CREATE INDEX edges_seq ON edges (run_id, seq);
`,
  },
  {
    // version 6: an entity's path and an activity's pid in columns of their own, which the writer
    // fills from the node's attributes (nodeLookupKeys in packed-batch.ts), instead of the
    // expression indexes of version 4, for which SQLite parsed every node's JSON attributes at each
    // insert. The columns have no type (no affinity): they hold what json_extract gave, text, integer
    // or real (the writer binds whole numbers as integers, sqlLookup), and compare as it did. NULL
    // for every other node, so the partial indexes hold only the nodes that have one. Existing
    // files: the columns are filled with json_extract, as the old indexes read them.
    version: 6,
    sql: `
DROP INDEX nodes_path;
DROP INDEX nodes_pid;
ALTER TABLE nodes ADD COLUMN path;
ALTER TABLE nodes ADD COLUMN pid;
UPDATE nodes SET path = json_extract(attrs, '$.path') WHERE kind = 'entity' AND json_extract(attrs, '$.path') IS NOT NULL;
UPDATE nodes SET pid = json_extract(attrs, '$.pid') WHERE kind = 'activity' AND json_extract(attrs, '$.pid') IS NOT NULL;
CREATE INDEX nodes_path ON nodes (run_id, path) WHERE path IS NOT NULL;
CREATE INDEX nodes_pid ON nodes (run_id, pid) WHERE pid IS NOT NULL;
`,
  },
];

/** Version 1 → 2: every run's steps rows become chunks, run by run in (start, seq) order. */
function migrateStepsToChunks(db: Database.Database): void {
  const hasSteps = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'steps'").get();
  if (hasSteps !== undefined) {
    const runs = db.prepare("SELECT DISTINCT run_id FROM steps").pluck().all() as number[];
    const read = db.prepare(
      `SELECT seq, pid, call, resource, count, bytes, errors, "start", "end", dur, ret FROM steps
       WHERE run_id = ? AND ("start", seq) > (?, ?) ORDER BY "start", seq LIMIT 4096`,
    );
    const insert = db.prepare(
      `INSERT INTO step_chunks (run_id, min_start, max_start, n, data) VALUES (?, ?, ?, ?, ?)`,
    );
    for (const runId of runs) {
      let after: [number, number] = [Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
      for (;;) {
        const rows = read.all(runId, after[0], after[1]) as Step[];
        if (rows.length === 0) break;
        const last = rows[rows.length - 1] as Step;
        after = [last.start, last.seq];
        for (const c of chunkSteps(rows, null)) insert.run(runId, c.minStart, c.maxStart, c.count, c.data);
      }
    }
    db.exec("DROP TABLE steps");
  }
}
