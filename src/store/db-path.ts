/**
 * Where the database lives: the --db option, else $PROVFLOW_DB, else ./provflow.db. A value starting
 * with `postgres://` or `postgresql://` is a PostgreSQL URL; anything else is a SQLite file.
 */
export function resolveDbPath(cliDb?: string): string {
  if (cliDb !== undefined && cliDb !== "") return cliDb;
  const env = process.env.PROVFLOW_DB;
  if (env !== undefined && env !== "") return env;
  return "./provflow.db";
}

/** Is this database spec a PostgreSQL URL (postgres:// or postgresql://)? */
export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

export interface PostgresTarget {
  /** the URL handed to the driver: the given one without provflow's own `schema` parameter */
  connectionString: string;
  /** the PostgreSQL schema holding the tables (`?schema=`), or null for the default */
  schema: string | null;
  /** the URL for messages: no password (neither `user:pw@` nor `?password=`) */
  display: string;
}

/** Split a PostgreSQL URL into what the driver gets, the schema, and a printable form. */
export function parsePostgresUrl(spec: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    return { connectionString: spec, schema: null, display: redactPostgresUrl(spec) };
  }
  const schema = url.searchParams.get("schema");
  url.searchParams.delete("schema");
  const connectionString = url.toString();
  url.password = "";
  url.searchParams.delete("password");
  if (schema !== null) url.searchParams.set("schema", schema);
  return { connectionString, schema: schema === "" ? null : schema, display: url.toString() };
}

/** A URL with any password taken out (for messages). */
export function redactPostgresUrl(spec: string): string {
  return spec
    .replace(/^(postgres(?:ql)?:\/\/[^:/@?#]*):[^@/?#]*@/i, "$1@")
    .replace(/([?&])password=[^&#]*&?/gi, "$1");
}
