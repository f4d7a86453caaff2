/** Where the database lives: the --db option, else $PROVFLOW_DB, else ./provflow.db. */
export function resolveDbPath(cliDb?: string): string {
  if (cliDb !== undefined && cliDb !== "") return cliDb;
  const env = process.env.PROVFLOW_DB;
  if (env !== undefined && env !== "") return env;
  return "./provflow.db";
}
