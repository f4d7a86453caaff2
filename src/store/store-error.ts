import { ExitCode, ProvflowError } from "../util/errors.js";

/** The one error class of the storage layer: says which database and what failed. */
export class StoreError extends ProvflowError {
  readonly dbPath: string;

  constructor(dbPath: string, what: string, cause?: unknown) {
    const detail =
      cause instanceof Error ? `: ${cause.message}` : cause === undefined ? "" : `: ${String(cause)}`;
    super(
      `provflow database ${dbPath}: ${what}${detail}`,
      ExitCode.store,
      cause === undefined ? undefined : { cause },
    );
    this.name = "StoreError";
    this.dbPath = dbPath;
  }
}
