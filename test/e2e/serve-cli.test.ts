import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ServeProcess, startServe } from "../helpers/browser.js";
import { CORPUS, runCli, tempDir } from "../helpers/cli.js";
import { expectedCounts, freePort } from "../helpers/mqtt.js";

describe("provflow serve (the CLI)", () => {
  const dir = tempDir("provflow-serve-");
  const running: ServeProcess[] = [];
  afterAll(async () => {
    for (const s of running) await s.stop();
  });

  it("beyond loopback generates a token, prints it on stderr, and refuses requests without it", async () => {
    const s = await startServe(join(dir, "t.db"), ["--host", "0.0.0.0"]);
    running.push(s);
    const port = new URL(s.url).port;
    const printed = /\?token=([\w-]+)/.exec(s.banner)?.[1];
    expect(printed).toMatch(/^[\w-]{32}$/);
    expect((await fetch(`http://127.0.0.1:${port}/api/runs`)).status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${port}/api/runs`, {
      headers: { authorization: `Bearer ${printed}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ runs: [] });
  });

  it("refuses a short --token and a bad --port with exit 2", () => {
    expect(runCli(["serve", "--db", join(dir, "u.db"), "--token", "short"]).status).toBe(2);
    expect(runCli(["serve", "--db", join(dir, "u.db"), "--port", "99999"]).status).toBe(2);
  });

  it("with --mqtt stores what a machine streams to the embedded broker, and shows it", async () => {
    const mqttPort = await freePort();
    const s = await startServe(join(dir, "m.db"), ["--mqtt", "--mqtt-listen", `127.0.0.1:${mqttPort}`]);
    running.push(s);
    const log = join(CORPUS, "camflow/frap-dataset/mariadb-root-exploit-0.log");
    // the broker starts with the child process: publish once it listens
    const publish = () =>
      runCli(["publish", log, "--machine", "m7", "--broker", `mqtt://127.0.0.1:${mqttPort}`, "-q"]);
    let published = publish();
    for (let i = 0; i < 20 && published.status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      published = publish();
    }
    expect(published.status, published.stderr).toBe(0);
    // every node the log's documents describe, counted from the raw JSON
    const want = expectedCounts(
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== ""),
    ).nodes;
    await expect
      .poll(
        async () => {
          const { runs } = (await (await fetch(`${s.url}api/runs`)).json()) as {
            runs: { name: string; nodeCount: number }[];
          };
          return runs.find((r) => r.name === "mqtt-m7")?.nodeCount;
        },
        { timeout: 20_000 },
      )
      .toBe(want);
    await s.stop();
    // the ingest child stopped with the server: the run is closed
    const after = runCli(["runs", "--db", join(dir, "m.db"), "--json"]);
    expect(JSON.parse(after.stdout)[0]).toMatchObject({ name: "mqtt-m7", status: "complete" });
  });
});
