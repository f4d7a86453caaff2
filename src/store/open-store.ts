import { isPostgresUrl } from "./db-path.js";
import { openPostgresStore } from "./postgres-store.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { GraphStore } from "./store-types.js";
import { openWorkerStore } from "./worker-store.js";

export interface OpenStoreOptions {
  /**
   * a recording command (trace, ingest): SQLite then writes through a worker thread so that writing
   * overlaps parsing; PostgreSQL overlaps on its own (the server writes while the next batch parses)
   */
  writer?: boolean;
}

/**
 * The store a database spec names: a `postgres://` or `postgresql://` URL is PostgreSQL (the tables
 * in the schema given by `?schema=`, default `provflow`); anything else is a SQLite file.
 * Both are opened read-write: created or migrated when needed, runs whose writer died marked
 * incomplete.
 */
export function openStore(spec: string, opts: OpenStoreOptions = {}): GraphStore {
  if (isPostgresUrl(spec)) return openPostgresStore(spec);
  return opts.writer === true ? openWorkerStore(spec) : openSqliteStore(spec);
}
