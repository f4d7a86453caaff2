/**
 * One error type per layer, each carrying where it happened. The CLI maps them to exit codes.
 */
export class ProvflowError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Exit codes that mean something (docs/cli.md lists them). */
export const ExitCode = {
  ok: 0,
  /** a comparison found differences (diff, detect) */
  different: 1,
  usage: 2,
  /** an input file is missing, unreadable or of no known kind */
  input: 3,
  /** the tracer is missing, or the kernel refused to let it trace */
  tracer: 4,
  /** the database could not be opened or written */
  store: 5,
  /** the run asked for does not exist */
  notFound: 6,
  interrupted: 130,
} as const;

/** Bad command-line use. */
export class UsageError extends ProvflowError {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** An input that cannot be read at all (a bad line inside an input is a Problem, not an error). */
export class InputError extends ProvflowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.input, options);
  }
}

/** The tracer cannot run: missing binary, ptrace refused, command not found. */
export class CaptureError extends ProvflowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.tracer, options);
  }
}

export class NotFoundError extends ProvflowError {
  constructor(message: string) {
    super(message, ExitCode.notFound);
  }
}
