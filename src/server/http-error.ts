import { ExitCode, ProvflowError } from "../util/errors.js";

/** The server layer's error: an HTTP status and a message the client gets as JSON `{error}`. */
export class HttpError extends ProvflowError {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, status === 404 ? ExitCode.notFound : ExitCode.usage, options);
    this.status = status;
  }
}
