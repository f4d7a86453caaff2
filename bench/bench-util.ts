import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Measured {
  wallS: number;
  peakRssMb: number;
  status: number;
}

/** Runs a command under GNU time and returns its wall time and peak RSS (the command's own). */
export function measure(
  argv: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; quiet?: boolean; timeoutS?: number } = {},
): Measured {
  if (process.env.BENCH_VERBOSE) process.stderr.write(`bench: ${argv.join(" ")}\n`);
  const dir = mkdtempSync(join(tmpdir(), "pf-bench-"));
  const out = join(dir, "time.txt");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", "-o", out, ...argv], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: opts.quiet === false ? "inherit" : "ignore",
    maxBuffer: 64 << 20,
    timeout: (opts.timeoutS ?? 1800) * 1000,
    killSignal: "SIGKILL",
  });
  let text = "";
  try {
    text = readFileSync(out, "utf8");
  } catch {
    // killed by the timeout before GNU time could write
  }
  rmSync(dir, { recursive: true, force: true });
  const last = text.trim().split("\n").pop() ?? "";
  const m = /^([\d.]+) (\d+)$/.exec(last);
  if (r.error || !m) return { wallS: Number.NaN, peakRssMb: Number.NaN, status: r.status ?? 124 };
  return { wallS: Number(m[1]), peakRssMb: Number(m[2]) / 1024, status: r.status ?? 1 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

export function row(cells: (string | number)[]): string {
  return `| ${cells.map(String).join(" | ")} |`;
}
