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
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; quiet?: boolean } = {},
): Measured {
  const dir = mkdtempSync(join(tmpdir(), "pf-bench-"));
  const out = join(dir, "time.txt");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", "-o", out, ...argv], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: opts.quiet === false ? "inherit" : ["ignore", "ignore", "pipe"],
    maxBuffer: 64 << 20,
  });
  const [wall, rss] = readFileSync(out, "utf8").trim().split("\n").pop()!.split(" ");
  rmSync(dir, { recursive: true, force: true });
  return { wallS: Number(wall), peakRssMb: Number(rss) / 1024, status: r.status ?? 1 };
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
