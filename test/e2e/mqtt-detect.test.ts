import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, CORPUS, runCli, tempDir } from "../helpers/cli.js";
import { freePort } from "../helpers/mqtt.js";

const FRAP = join(CORPUS, "camflow/frap-dataset");

describe("provflow mqtt --detect", () => {
  it("flags the machine that streams an exploit as its messages arrive, not the one streaming normal work; exit 1", async () => {
    const dir = tempDir("provflow-mqtt-detect-");
    const db = join(dir, "runs.db");
    const model = join(dir, "model.json");
    // the model: the FRAP normal runs, in windows of 500 relations (the stream is checked window by window)
    for (const n of ["mariadb-root-normal-99", "mysql-root-normal-100", "percona-root-normal-36"]) {
      const r = runCli(["ingest", "--db", db, "-q", "--name", n, join(FRAP, `${n}.log`)]);
      expect(r.status, r.stderr).toBe(0);
    }
    const t = runCli([
      "detect",
      "train",
      "--db",
      db,
      "--window",
      "500",
      "-o",
      model,
      "mariadb-root-normal-99",
      "mysql-root-normal-100",
      "percona-root-normal-36",
    ]);
    expect(t.status, t.stderr).toBe(0);

    const port = await freePort();
    const child: ChildProcess = spawn(
      process.execPath,
      [
        CLI,
        "mqtt",
        "--listen",
        `127.0.0.1:${port}`,
        "--db",
        join(dir, "stream.db"),
        "--detect",
        model,
        "--json",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
        if (err.includes("subscribed to")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`provflow mqtt exited ${code}: ${err}`)));
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    await ready;
    const broker = `mqtt://127.0.0.1:${port}`;
    for (const [file, machine] of [
      ["mariadb-root-exploit-0", "attacked"],
      ["mariadb-root-normal-99", "normal"],
    ]) {
      const p = runCli([
        "publish",
        join(FRAP, `${file}.log`),
        "--machine",
        machine as string,
        "--broker",
        broker,
        "-q",
      ]);
      expect(p.status, p.stderr).toBe(0);
    }
    // every message stored (the registry counts them), then stop
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = runCli(["machines", "--db", join(dir, "stream.db"), "--json"]);
      const ms = m.status === 0 ? (JSON.parse(m.stdout) as { machineId: string; packets: number }[]) : [];
      if (ms.reduce((s, x) => s + x.packets, 0) >= 289 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill("SIGINT");
    expect(await exited).toBe(1);
    const findings = out
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            machine: string;
            detector: string;
            evidence: { edges: string[]; gids: string[] };
            time: string;
          },
      );
    expect(findings.filter((f) => f.machine === "normal")).toEqual([]);
    const attacked = findings.filter((f) => f.machine === "attacked");
    expect(attacked.some((f) => f.detector === "behaviour")).toBe(true);
    expect(attacked.some((f) => f.detector === "sketch")).toBe(true);
    for (const f of attacked) {
      expect(f.evidence.edges.length).toBeGreaterThan(0);
      expect(f.evidence.gids.every((g) => g.startsWith("camflow://"))).toBe(true);
      expect(f.time).toMatch(/Z$/);
    }
    expect(err).toMatch(/detection: \d+ relations checked, [1-9]\d* findings/);
  }, 120_000);
});
