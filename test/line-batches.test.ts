import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { followFileLines, LineSplitter, readLineBatches } from "../src/sources/line-batches.js";
import { tempDir } from "./helpers/cli.js";

async function collect(it: AsyncIterable<{ lines: string[]; firstLine: number; bytes: number }>) {
  const lines: string[] = [];
  const starts: number[] = [];
  let bytes = 0;
  for await (const b of it) {
    starts.push(b.firstLine);
    lines.push(...b.lines);
    bytes += b.bytes;
  }
  return { lines, starts, bytes };
}

describe("line batches", () => {
  it("keeps multi-byte characters cut by a chunk boundary whole, and numbers lines", async () => {
    const text = 'première ligne\ncafé "quoted"\nlast line without newline';
    const buf = Buffer.from(text);
    // cut between the two bytes of "é" in "café"
    const cut = buf.indexOf(Buffer.from("café")) + 4;
    expect(buf[cut - 1]).toBe(0xc3);
    const chunks = [buf.subarray(0, 5), buf.subarray(5, cut), buf.subarray(cut)];
    const { lines, starts, bytes } = await collect(readLineBatches(Readable.from(chunks)));
    expect(lines).toEqual(["première ligne", 'café "quoted"', "last line without newline"]);
    expect(starts[0]).toBe(1);
    expect(bytes).toBe(buf.length);
  });

  it("strips CR of CRLF lines and counts line numbers across batches", () => {
    const s = new LineSplitter();
    const a = s.push(Buffer.from("a\r\nb\r\nc"));
    const b = s.push(Buffer.from("d\r\ne\n"));
    expect(a?.lines).toEqual(["a", "b"]);
    expect(b?.lines).toEqual(["cd", "e"]);
    expect(b?.firstLine).toBe(3);
    expect(s.end()).toBeNull();
  });

  it("holds a chunk without any newline until the line completes", () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from("abc"))).toBeNull();
    expect(s.pending).toBe(3);
    expect(s.push(Buffer.from("def\n"))?.lines).toEqual(["abcdef"]);
  });

  it("keeps a copy of what it carries over: the caller may reuse the chunk's memory", () => {
    const s = new LineSplitter();
    const buf = Buffer.alloc(8);
    const feed = (text: string) => {
      const n = buf.write(text);
      const batch = s.push(buf.subarray(0, n));
      buf.fill(0x58); // the next read overwrites the buffer
      return batch?.lines ?? null;
    };
    expect(feed("a\nbcd")).toEqual(["a"]);
    expect(feed("efgh")).toBeNull();
    expect(feed("ij\nk\n")).toEqual(["bcdefghij", "k"]);
    expect(feed("tail")).toBeNull();
    expect(s.end()?.lines).toEqual(["tail"]);
  });

  it("follows a file while it grows, until the writer is done", async () => {
    const dir = tempDir();
    const file = join(dir, "growing.log");
    writeFileSync(file, "1 first\n2 sec");
    let finish!: () => void;
    const done = new Promise<void>((r) => {
      finish = r;
    });
    const got = collect(followFileLines(file, { done, pollMs: 5 }));
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(file, "ond\n3 third\n");
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(file, "4 fourth, no newline");
    finish();
    const { lines } = await got;
    expect(lines).toEqual(["1 first", "2 second", "3 third", "4 fourth, no newline"]);
  });
});

describe("followFileLines while the writer is quiet", () => {
  it("yields empty batches every idleMs, and none while lines keep coming", async () => {
    const file = join(tempDir(), "growing.log");
    writeFileSync(file, "1 first\n");
    let finish!: () => void;
    const done = new Promise<void>((r) => {
      finish = r;
    });
    const seen: { lines: number; at: number }[] = [];
    const t0 = Date.now();
    const got = (async () => {
      for await (const b of followFileLines(file, { done, pollMs: 5, idleMs: 40 }))
        seen.push({ lines: b.lines.length, at: Date.now() - t0 });
    })();
    await new Promise((r) => setTimeout(r, 150));
    appendFileSync(file, "2 second\n");
    await new Promise((r) => setTimeout(r, 20));
    finish();
    await got;
    const empty = seen.filter((s) => s.lines === 0);
    expect(seen.filter((s) => s.lines > 0).map((s) => s.lines)).toEqual([1, 1]);
    // about 150 / 40 quiet marks, never two within idleMs of each other
    expect(empty.length).toBeGreaterThanOrEqual(2);
    expect(empty.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < empty.length; i++) expect(empty[i]!.at - empty[i - 1]!.at).toBeGreaterThanOrEqual(38);
  });
});

describe("LineSplitter on a line longer than many chunks", () => {
  it("joins a 4 MB line cut into 1000 pieces, with the lines around it, and the pending count", () => {
    const long = "x".repeat(4 << 20);
    const input = Buffer.from(`first\n${long}\nlast`);
    const s = new LineSplitter();
    const got: string[] = [];
    const step = Math.ceil(input.length / 1000);
    let maxPending = 0;
    for (let i = 0; i < input.length; i += step) {
      const b = s.push(input.subarray(i, i + step));
      if (b) got.push(...b.lines);
      maxPending = Math.max(maxPending, s.pending);
    }
    const tail = s.end();
    if (tail) got.push(...tail.lines);
    expect(got.length).toBe(3);
    expect(got[0]).toBe("first");
    expect(got[1]!.length).toBe(long.length);
    expect(got[1] === long).toBe(true);
    expect(got[2]).toBe("last");
    expect(maxPending).toBeGreaterThan(long.length - step);
    expect(s.pending).toBe(0);
  });
});
