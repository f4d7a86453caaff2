import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { CLI } from "./cli.js";

export const CHROMIUM = process.env.PROVFLOW_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Debian's chromium, headless. Missing: with CI=true this throws (the test file fails loudly);
 * otherwise it warns and gives null (skip).
 */
export async function launchChromium(what: string): Promise<Browser | null> {
  if (!existsSync(CHROMIUM)) {
    const msg = `${CHROMIUM} is not installed (apt-get install chromium): ${what}`;
    if (process.env.CI === "true") throw new Error(`${msg} cannot run, and CI=true requires it`);
    console.warn(`SKIPPED: ${msg} skipped`);
    return null;
  }
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // WebGL without a GPU (sigma's graph view): SwiftShader
    args: ["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
  });
}

export interface ServeProcess {
  url: string;
  /** what it printed on stderr until it listened */
  banner: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `provflow serve --db DB --port 0` (the built CLI), once it printed where it listens. */
export function startServe(db: string, extra: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, "serve", "--db", db, "--port", "0", ...extra], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provflow serve did not start: ${err}`)), 20_000);
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString("utf8");
      const m = /serving (http:\/\/\S+)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve({
          url: (m[1] as string).replace(/\?.*$/, ""),
          banner: err,
          child,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGTERM");
            }),
        });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`provflow serve exited ${code}: ${err}`));
    });
  });
}
