import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type ServeProcess, startServe } from "../helpers/browser.js";
import { CLI, ROOT, runCli, tempDir } from "../helpers/cli.js";

const SHOTS = join(ROOT, "test-results", "screenshots");

if (spawnSync("sh", ["-c", "command -v strace"]).status !== 0) {
  throw new Error("strace is not installed: apt-get install strace (the CI script does)");
}
const browser: Browser | null = await launchChromium(
  "the web UI tests in a real browser (test/e2e/web-ui.test.ts)",
);

interface RunJson {
  id: number;
  name: string;
  status: string;
}

describe.skipIf(browser === null)("the web UI in headless chromium", () => {
  let dir: string;
  let db: string;
  let serve: ServeProcess;
  let page: Page;

  const trace = (name: string, script: string) => {
    const r = runCli(["trace", "--db", db, "--name", name, "--", "sh", "-c", script], { cwd: dir });
    if (r.status !== 0) throw new Error(`trace ${name}: ${r.stderr}`);
  };
  const runs = async (): Promise<RunJson[]> =>
    ((await (await fetch(`${serve.url}api/runs`)).json()) as { runs: RunJson[] }).runs;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = tempDir("provflow-web-");
    db = join(dir, "runs.db");
    trace(
      "web-a",
      "mkdir -p out; printf 'b\\na\\n' > in.txt; sort in.txt > out/sorted.txt; cat out/sorted.txt | wc -l > out/count.txt",
    );
    trace(
      "web-b",
      "mkdir -p out; printf 'b\\na\\n' > in.txt; sort in.txt > out/sorted.txt; cat out/sorted.txt | wc -l > out/count.txt; grep a in.txt > out/a.txt",
    );
    serve = await startServe(db);
    page = await (browser as Browser).newPage({ viewport: { width: 1400, height: 860 } });
    page.on("pageerror", (e) => {
      throw e;
    });
  });

  afterAll(async () => {
    await page?.close();
    await browser?.close();
    await serve?.stop();
  });

  it("opens a run, shows its process tree, and the files of the process clicked", async () => {
    await page.goto(`${serve.url}#/`);
    await page.waitForSelector("tr.run-row");
    expect(await page.locator("tr.run-row").count()).toBe(2);
    await page.getByRole("link", { name: "web-a", exact: true }).click();
    await page.waitForSelector(".bf-row");
    const rows = await page.locator(".bf-row .bf-name").allTextContents();
    // sh, the subshells it forks, sort, cat, wc: one lane per process, in tree order
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(rows.some((r) => r.startsWith("sort"))).toBe(true);
    expect(rows.some((r) => r.startsWith("wc"))).toBe(true);
    expect(rows[0]).toMatch(/^sh -c mkdir/);
    // children are indented under the shell
    const indent = async (name: RegExp) =>
      page
        .locator(".bf-row", { has: page.locator(".bf-name", { hasText: name }) })
        .first()
        .locator(".bf-indent")
        .evaluate((e) => (e as HTMLElement).offsetWidth);
    expect(await indent(/^sort/)).toBeGreaterThan(await indent(/^sh -c mkdir/));
    await page
      .locator(".bf-row", { has: page.locator(".bf-name", { hasText: /^sort/ }) })
      .first()
      .click();
    await page.waitForSelector(".details .res");
    const files = await page.locator('.details .res[data-type="file"]').allTextContents();
    const read = files.find((f) => f.endsWith(`${dir}/in.txt`));
    const written = files.find((f) => f.endsWith(`${dir}/out/sorted.txt`));
    expect(read, files.join("\n")).toMatch(/read/);
    expect(written, files.join("\n")).toMatch(/write/);
    expect(await page.locator(".details h3").textContent()).toMatch(/exit 0/);
    await page.screenshot({ path: join(SHOTS, "batchflow.png") });
  });

  it("shows the graph in WebGL, finds a file and highlights its lineage from the database", async () => {
    const run = (await runs()).find((r) => r.name === "web-a") as RunJson;
    await page.goto(`${serve.url}#/run/${run.id}/graph`);
    await page.waitForSelector(".graph-stage canvas");
    // the process tree is drawn first, the other relations follow: the view then holds every node and
    // one line per ordered pair of nodes of the API's rows
    await page.waitForSelector(".graph-stage[data-complete]");
    const rows = (await (await fetch(`${serve.url}api/runs/${run.id}/graph`)).json()) as {
      nodes: unknown[];
      edges: [number, number, number][];
    };
    const pairs = new Set(rows.edges.filter((e) => e[1] !== e[2]).map((e) => `${e[1]}>${e[2]}`));
    expect(await page.locator(".graph-status").textContent()).toBe(
      `${rows.nodes.length} nodes, ${pairs.size} relations`,
    );
    const types = await page
      .locator(".graph-filters [data-filter]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-filter")));
    expect(types).toEqual(expect.arrayContaining(["process", "file", "user-data"]));
    await page.fill(".graph-search", "sorted.txt");
    await page.press(".graph-search", "Enter");
    await expect.poll(() => page.locator(".graph-status").textContent()).toMatch(/^[1-9]\d* found/);
    // files whose path ends with the text come first; picking one shows it and lights its lineage
    const first = page.locator(".graph-hits .hit").first();
    expect(await first.textContent()).toBe(`${dir}/out/sorted.txt`);
    await first.click();
    await page.waitForSelector(".details h4");
    const lineage = await page.locator(".details h4", { hasText: "lineage" }).textContent();
    expect(lineage).toMatch(/lineage: ([2-9]|\d{2,}) nodes.*from the database/);
    expect(await page.locator(".details .gen-label").textContent()).toMatch(/sorted\.txt$/);
    // in time order: asked again with causal=1, never more nodes (the API's answer is the oracle)
    const nodeId = Number((await page.locator(".details h3 .muted").textContent())?.replace("#", ""));
    await page.locator(".details .lineage-causal input").check();
    await page.waitForSelector(".details h4:has-text('in time order')");
    const causal = await page.locator(".details h4", { hasText: "lineage" }).textContent();
    const countOf = (t: string | null) =>
      Number(/lineage: ([\d,]+) nodes/.exec(t ?? "")?.[1]?.replace(/,/g, ""));
    const api = (await (
      await fetch(`${serve.url}api/runs/${run.id}/lineage/${nodeId}?direction=both&depth=5&causal=1`)
    ).json()) as { nodes: unknown[] };
    expect(countOf(causal)).toBe(api.nodes.length);
    expect(countOf(causal)).toBeGreaterThanOrEqual(2);
    expect(countOf(causal)).toBeLessThanOrEqual(countOf(lineage));
    expect(await page.locator(".details .lineage-causal input").isChecked()).toBe(true);
    await page.locator('[data-filter="file"]').uncheck();
    await page.screenshot({ path: join(SHOTS, "graph.png") });
  });

  it("shows the processes of a run being traced appear live", async () => {
    const before = new Set((await runs()).map((r) => r.id));
    const child: ChildProcess = spawn(
      process.execPath,
      [
        CLI,
        "trace",
        "--db",
        db,
        "--name",
        "web-live",
        "--",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6; do sleep 0.6; echo $i > live$i.txt; cat live$i.txt > /dev/null; done",
      ],
      { cwd: dir, stdio: "ignore" },
    );
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    let live: RunJson | undefined;
    await expect
      .poll(
        async () => {
          live = (await runs()).find((r) => !before.has(r.id));
          return live?.status;
        },
        { timeout: 15_000 },
      )
      .toBe("running");
    await page.goto(`${serve.url}#/run/${live!.id}`);
    await page.waitForSelector(".live-badge:not([hidden])");
    const cats = () => page.locator(".bf-row .bf-name", { hasText: /^cat live/ }).count();
    const first = await cats();
    // new cat processes appear while the trace still runs
    await expect.poll(cats, { timeout: 20_000 }).toBeGreaterThanOrEqual(first + 2);
    expect(child.exitCode).toBeNull();
    await page.screenshot({ path: join(SHOTS, "live.png") });
    expect(await exited).toBe(0);
    await expect.poll(cats, { timeout: 10_000 }).toBe(6);
    await expect.poll(() => page.locator("#run-status").textContent(), { timeout: 10_000 }).toBe("exit 0");
    expect(await page.locator(".live-badge").textContent()).toMatch(/live \+\d+/);
  });

  it("compares two runs side by side", async () => {
    await page.goto(`${serve.url}#/`);
    await page.waitForSelector("tr.run-row");
    const all = await runs();
    const a = all.find((r) => r.name === "web-a")!;
    const b = all.find((r) => r.name === "web-b")!;
    await page.check(`[data-pick="${a.id}"]`);
    await page.check(`[data-pick="${b.id}"]`);
    await page.click("#compare-btn");
    await page.waitForSelector(".verdict");
    expect(await page.locator(".verdict").textContent()).toMatch(/^\d+ differences$/);
    const added = await page.locator('[data-section="files"] .diff-row.added').allTextContents();
    expect(added.join("\n")).toMatch(/out\/a\.txt/);
    const procs = await page.locator('[data-section="processes"] .diff-row.added').allTextContents();
    expect(procs.join("\n")).toMatch(/grep/);
    expect(await page.locator(".run-card.a h3").textContent()).toMatch(/web-a/);
    await page.screenshot({ path: join(SHOTS, "compare.png"), fullPage: true });
  });
});
