import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openLineSink, parseSize } from "../src/export/line-sink.js";
import { RotatingFileSink } from "../src/export/rotating-file-sink.js";
import { UnixSocketSink } from "../src/export/unix-socket-sink.js";
import { CORPUS, runCli, tempDir } from "./helpers/cli.js";

const ROTATE_REF = join(import.meta.dirname, "fixtures/laurel-enrich/rotate");
/** what laurel 0.5.1 wrote for this log (config A); its rotated files are in ROTATE_REF */
const LAUREL_LINES = join(CORPUS, "audit-laurel-out/deterministic/spade/unit_tests-pipe-2.bin.log.jsonl");

function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = readFileSync(join(dir, f), "utf8");
  return out;
}

/** chunks of whole lines: one big chunk, line by line, and uneven groups */
function chunkings(text: string): Array<[string, string[]]> {
  const lines = text.split(/(?<=\n)/);
  const groups: string[] = [];
  for (let i = 0, n = 1; i < lines.length; i += n, n = (n % 7) + 1)
    groups.push(lines.slice(i, i + n).join(""));
  return [
    ["one chunk", [text]],
    ["line by line", lines],
    ["groups of 1-7 lines", groups],
  ];
}

describe("RotatingFileSink", () => {
  const text = readFileSync(LAUREL_LINES, "utf8");
  for (const [how, chunks] of chunkings(text)) {
    it(`rotates at the same lines as laurel's own rotation (4000 bytes, 3 generations; ${how})`, () => {
      const dir = tempDir();
      const sink = new RotatingFileSink(join(dir, "audit.log"), { rotateSize: 4000, rotateCount: 3 });
      for (const c of chunks) sink.write(c);
      expect(filesOf(dir)).toEqual(filesOf(ROTATE_REF));
      expect(sink.rotations).toBeGreaterThan(3);
    });
  }

  it("counts what an existing file already holds, and never rotates without a size", async () => {
    const dir = tempDir();
    const path = join(dir, "out.jsonl");
    writeFileSync(path, `${"x".repeat(3994)}\n`);
    const sink = new RotatingFileSink(path, { rotateSize: 4000, rotateCount: 2 });
    sink.write('{"a":1}\n{"b":2}\n');
    await sink.close();
    // the first line takes the file past 4000 bytes: it ends audit.log.1, the second starts a new file
    expect(readFileSync(`${path}.1`, "utf8").endsWith('{"a":1}\n')).toBe(true);
    expect(readFileSync(path, "utf8")).toBe('{"b":2}\n');
    const plain = new RotatingFileSink(join(dir, "plain"));
    for (let i = 0; i < 1000; i++) plain.write(`${"y".repeat(100)}\n`);
    expect(readdirSync(dir).sort()).toEqual(["out.jsonl", "out.jsonl.1", "plain"]);
  });

  it("opens the file again after an external rotation (reopen)", async () => {
    const dir = tempDir();
    const path = join(dir, "audit.jsonl");
    const sink = openLineSink(path);
    await sink.write("1\n");
    renameSync(path, `${path}.old`);
    await sink.write("2\n"); // still the renamed file
    sink.reopen();
    await sink.write("3\n");
    await sink.close();
    expect(readFileSync(`${path}.old`, "utf8")).toBe("1\n2\n");
    expect(readFileSync(path, "utf8")).toBe("3\n");
  });

  it("parses sizes", () => {
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("512k")).toBe(512 * 1024);
    expect(parseSize("10M")).toBe(10 * 1024 * 1024);
    expect(parseSize("1GiB")).toBe(1024 ** 3);
    expect(() => parseSize("ten")).toThrow();
  });

  it("provflow audit ingest --output FILE --rotate-size writes laurel's rotated files", () => {
    const dir = tempDir();
    const r = runCli([
      "audit",
      "ingest",
      "--format",
      "laurel",
      "--output",
      join(dir, "audit.log"),
      "--rotate-size",
      "4000",
      "--rotate-count",
      "3",
      join(CORPUS, "audit/spade/unit_tests-pipe-2.bin.log"),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(filesOf(dir)).toEqual(filesOf(ROTATE_REF));
  });
});

describe("UnixSocketSink", () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  /** a listening unix socket collecting what it receives */
  function listen(path: string) {
    const got: string[] = [];
    const conns: Socket[] = [];
    const server = createServer((c) => {
      conns.push(c);
      c.setEncoding("utf8");
      c.on("data", (d: string) => got.push(d));
    });
    servers.push(server);
    const ready = new Promise<void>((r) => server.listen(path, () => r()));
    return { got, conns, server, ready, text: () => got.join("") };
  }

  async function until(cond: () => boolean, what: string) {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(cond(), what).toBe(true);
  }

  it("sends lines to a listening socket", async () => {
    const path = join(tempDir(), "s.sock");
    const srv = listen(path);
    await srv.ready;
    const sink = new UnixSocketSink(path);
    const lines = readFileSync(LAUREL_LINES, "utf8");
    for (const c of chunkings(lines)[2]![1]) await sink.write(c);
    await sink.close();
    await until(() => srv.text() === lines, "every line arrived, in order");
  });

  it("queues while the peer is not there yet and after it went away, and reconnects", async () => {
    const path = join(tempDir(), "s.sock");
    const logs: string[] = [];
    const sink = new UnixSocketSink(path, { log: (m) => logs.push(m) });
    await sink.write("early 1\n");
    await sink.write("early 2\n");
    const first = listen(path);
    await first.ready;
    await until(() => first.text() === "early 1\nearly 2\n", "the queue arrives once the peer listens");
    // the peer goes away: its socket file is removed and a new one listens on the same path
    for (const c of first.conns) c.destroy();
    first.server.close();
    rmSync(path, { force: true });
    // (what is written before the sink sees the peer gone is lost with the connection)
    await until(() => logs.some((l) => l.startsWith("lost")), "the sink sees the peer gone");
    await sink.write("while away\n");
    const second = listen(path);
    await second.ready;
    await sink.write("after\n");
    await sink.close();
    await until(() => second.text().endsWith("after\n"), "lines reach the new peer");
    expect(second.text()).toContain("while away\n");
    expect(sink.stats.connects).toBeGreaterThanOrEqual(2);
    expect(logs.some((l) => l.startsWith("reconnected"))).toBe(true);
  });

  it("drops the oldest lines beyond its queue and says how many", async () => {
    const path = join(tempDir(), "nobody.sock");
    const logs: string[] = [];
    const sink = new UnixSocketSink(path, { queueBytes: 1000, closeWaitMs: 100, log: (m) => logs.push(m) });
    for (let i = 0; i < 100; i++) await sink.write(`${String(i).padStart(3, "0")} ${"z".repeat(95)}\n`);
    await sink.close();
    expect(existsSync(path)).toBe(false);
    expect(sink.stats.droppedLines).toBe(100);
    expect(logs.some((l) => /dropped 100 lines/.test(l))).toBe(true);
  });
});
