import pg from "pg";

/** The test server: trust auth on loopback, database `test` (override with PROVFLOW_TEST_PG). */
export const PG_URL = process.env.PROVFLOW_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * Is the PostgreSQL test server there? Resolves true when it is. When it is not: with CI=true this
 * throws (the test file fails loudly); otherwise it warns on the console and resolves false (skip).
 */
export async function postgresAvailable(what: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  let reason: string | null = null;
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (err) {
    reason =
      err instanceof AggregateError
        ? err.errors.map((e: unknown) => String((e as Error).message ?? e)).join("; ")
        : String((err as Error).message ?? err);
  } finally {
    await client.end().catch(() => undefined);
  }
  if (reason === null) return true;
  const msg = `PostgreSQL at ${PG_URL} is unreachable (${reason}): ${what}`;
  if (process.env.CI === "true") throw new Error(`${msg} cannot run, and CI=true requires it`);
  console.warn(`SKIPPED: ${msg} skipped (start it: pg_ctlcluster 15 main start)`);
  return false;
}

/** A schema name no other test file uses. */
export function uniqueSchema(prefix: string): string {
  return `pf_test_${prefix}_${process.pid}_${Math.floor(Math.random() * 1e9).toString(36)}`;
}

/** The test URL with `?schema=`. */
export function schemaUrl(schema: string): string {
  const u = new URL(PG_URL);
  u.searchParams.set("schema", schema);
  return u.toString();
}

/** Run SQL on the test server outside any store. */
export async function pgAdmin<T extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Drop the schemas whose names start with `prefix` (a test file's own). */
export async function dropSchemas(prefix: string): Promise<void> {
  const rows = await pgAdmin<{ nspname: string }>(
    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
    [prefix],
  );
  for (const r of rows) await pgAdmin(`DROP SCHEMA IF EXISTS "${r.nspname}" CASCADE`);
}
