/**
 * The SQLite schema as an ordered list of forward migrations. `schema_version` holds the version
 * the file is at; opening applies every migration above it, and refuses a file from the future.
 */

export interface Migration {
  version: number;
  sql: string;
}

export const SCHEMA_VERSION = 1;

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
];
