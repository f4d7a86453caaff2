import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, ROOT } from "../helpers/cli.js";

/**
 * The CLI bundle loads the heavy drivers only when a command needs them (each costs 6 to 17 MB of
 * memory at start-up: docs/benchmarks.md). A static import of one of them would make every command,
 * and the memory of every streaming job, pay for it.
 */
const LAZY = ["pg", "better-sqlite3", "mqtt", "aedes", "n3", "saxes"];

describe("CLI start-up", () => {
  it("has no static import of a driver that only some commands use", () => {
    const bundle = readFileSync(CLI, "utf8");
    const statics = [...bundle.matchAll(/^import\s[^;]*?from\s+"([^"]+)";/gms)].map((m) => m[1]);
    expect(statics.length).toBeGreaterThan(5); // the pattern finds the bundle's imports
    for (const pkg of LAZY) expect(statics, pkg).not.toContain(pkg);
  });

  it("bin/provflow runs the bundle with a small young generation (a larger one for provflow mqtt)", () => {
    const r = spawnSync(join(ROOT, "bin/provflow"), ["--version"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const launcher = readFileSync(join(ROOT, "bin/provflow"), "utf8");
    expect(launcher).toMatch(/exec node --max-semi-space-size="\$semi" /);
    // small for every command but the MQTT writer, whose throughput is bound by its garbage
    expect(launcher).toMatch(/^\s*\*\) semi=2 ;;$/m);
    expect(launcher).toMatch(/^\s*mqtt\) semi=32 ;;$/m);
  });
});
