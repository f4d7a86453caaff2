import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const CLI = join(ROOT, "dist/provflow.js");
/** ../shared beside the repository (as CI lays it), or PROVFLOW_SHARED (a git worktree elsewhere). */
export const SHARED = process.env.PROVFLOW_SHARED ?? resolve(ROOT, "../shared");
export const CORPUS = join(SHARED, "corpus");

export function tempDir(prefix = "provflow-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs the built CLI (npm test builds it first). */
export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {},
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeout ?? 120_000,
    maxBuffer: 256 << 20,
  });
}

/** Runs the CLI and parses its stdout as JSON, failing with the stderr when it did not work. */
export function cliJson<T = unknown>(args: string[], opts: Parameters<typeof runCli>[1] = {}): T {
  const r = runCli(args, opts);
  if (r.status !== 0) throw new Error(`provflow ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The keys of the JSON summary other tools rely on. */
export interface SummaryJson {
  run: {
    id: number;
    command: string[] | string;
    host: string;
    start: string | null;
    end: string | null;
    exitCode: number | null;
  };
  processes: Array<{
    pid: number;
    ppid: number | null;
    exe: string | null;
    argv: string[] | null;
    cwd: string | null;
    start: string | null;
    end: string | null;
    exit: { code?: number; signal?: string } | null;
  }>;
  files: Array<{
    path: string;
    category: string;
    read: boolean;
    written: boolean;
    created: boolean;
    deleted: boolean;
    executed: boolean;
    renamedTo: string | null;
  }>;
  sockets: Array<{ family: string; local: string | null; remote: string | null; role: string }>;
  [key: string]: unknown;
}
