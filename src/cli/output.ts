import { once } from "node:events";

/** Data goes to stdout; a closed pipe (provflow … | head) ends the program quietly. */
export function installEpipeHandler(): void {
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  };
  process.stdout.on("error", onError);
}

/** Writes to stdout honouring backpressure. */
export async function writeOut(chunk: string): Promise<void> {
  if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
}

/** Logs and progress go to stderr. */
export function logErr(message: string): void {
  process.stderr.write(`provflow: ${message}\n`);
}

/** A progress line on stderr, only when stderr is a terminal; silent otherwise or with --quiet. */
export class Progress {
  private last = 0;
  private readonly enabled: boolean;
  constructor(
    private readonly label: string,
    private readonly total: number | null,
    quiet = false,
  ) {
    this.enabled = !quiet && Boolean(process.stderr.isTTY);
  }

  update(done: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const mb = (done / 1e6).toFixed(1);
    let line: string;
    if (this.total && this.total > 0) {
      const frac = Math.min(1, done / this.total);
      const width = 30;
      const full = Math.round(frac * width);
      line = `${this.label} [${"#".repeat(full)}${".".repeat(width - full)}] ${(frac * 100).toFixed(0)}% ${mb} MB`;
    } else {
      line = `${this.label} ${mb} MB`;
    }
    process.stderr.write(`\r${line}\x1b[K`);
  }

  done(): void {
    if (this.enabled) process.stderr.write("\r\x1b[K");
  }
}
