import { describe, expect, it } from "vitest";
import { formatSteps, stepText } from "../src/export/calls-format.js";
import { isoMicros } from "../src/graph/time-format.js";
import type { Step } from "../src/store/store-types.js";

// pipeline.strace-like steps: 25898 reading /etc/passwd, a step with a comma and quote in its resource
const T0 = Date.parse("2026-11-23T02:27:14.898Z") * 1000 + 525;
const steps: Step[] = [
  {
    seq: 1,
    pid: 25898,
    call: "read",
    resource: "/etc/passwd",
    count: 120,
    bytes: 491520,
    errors: 0,
    start: T0,
    end: T0 + 12000,
    dur: 12000,
    ret: "0",
  },
  {
    seq: 2,
    pid: 25899,
    call: "openat",
    resource: '/tmp/a,"b".txt',
    count: 1,
    bytes: 0,
    errors: 1,
    start: T0 + 20,
    end: T0 + 30,
    dur: 10,
    ret: "-1",
  },
];

async function* batches(...b: Step[][]): AsyncIterable<Step[]> {
  for (const x of b) yield x;
}

async function collect(s: AsyncIterable<Step[]>, format: "txt" | "csv" | "json"): Promise<string> {
  let out = "";
  await formatSteps(s, format, (c) => {
    out += c;
  });
  return out;
}

describe("isoMicros", () => {
  it("keeps microseconds in UTC", () => {
    expect(isoMicros(Date.parse("2026-11-23T02:27:14.897Z") * 1000 + 700)).toBe(
      "2026-11-23T02:27:14.897700Z",
    );
    expect(isoMicros(0)).toBe("1970-01-01T00:00:00.000000Z");
  });
});

describe("formatSteps", () => {
  it("txt: one readable line per step", async () => {
    const out = await collect(batches([steps[0]!], [steps[1]!]), "txt");
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^2026-11-23T02:27:14\.898525Z\s+25898\s+read ×120\s+\/etc\/passwd\s+491520 B\s+0\.012 s$/,
    );
    expect(stepText(steps[1]!)).toContain("1 error (-1)");
  });

  it("csv: header and RFC 4180 quoting", async () => {
    const out = await collect(batches(steps), "csv");
    const rows = out.split("\r\n");
    expect(rows[0]).toBe("seq,start,end,pid,call,count,resource,bytes,errors,dur_us,ret");
    expect(rows[1]).toBe(
      "1,2026-11-23T02:27:14.898525Z,2026-11-23T02:27:14.910525Z,25898,read,120,/etc/passwd,491520,0,12000,0",
    );
    expect(rows[2]).toContain(',"/tmp/a,""b"".txt",');
    expect(rows[3]).toBe("");
  });

  it("json: a valid array, also when empty", async () => {
    const out = await collect(batches([steps[0]!], [], [steps[1]!]), "json");
    const arr = JSON.parse(out) as Array<Record<string, unknown>>;
    expect(arr.map((s) => s.seq)).toEqual([1, 2]);
    expect(arr[0]!.start).toBe("2026-11-23T02:27:14.898525Z");
    expect(JSON.parse(await collect(batches(), "json"))).toEqual([]);
    expect(await collect(batches(), "csv")).toBe(
      "seq,start,end,pid,call,count,resource,bytes,errors,dur_us,ret\r\n",
    );
  });
});
