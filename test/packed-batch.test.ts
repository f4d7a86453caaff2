import { describe, expect, it } from "vitest";
import { packBatch, packedBuffers, STEP_NUMS, unpackSteps } from "../src/store/packed-batch.js";
import type { Step } from "../src/store/store-types.js";

const step = (seq: number, over: Partial<Step> = {}): Step => ({
  seq,
  pid: 100 + seq,
  call: seq % 2 === 0 ? "read" : "openat",
  resource: `/tmp/f${seq}`,
  count: seq,
  bytes: seq * 1000,
  errors: seq % 3,
  start: 1_700_000_000_000_000 + seq,
  end: 1_700_000_000_000_100 + seq,
  dur: seq / 4,
  ret: seq % 5 === 0 ? null : String(seq),
  ...over,
});

describe("packBatch steps", () => {
  const steps = [
    step(1),
    step(2, { queries: ["postgresql: select 1"] }),
    step(5),
    step(7, { ret: "-1 ENOENT" }),
  ];

  it("keeps step objects as they are unless asked to pack them", () => {
    const b = packBatch({ nodes: [], edges: [], steps, problems: [] });
    expect(b.steps).toBe(steps);
    expect(b.stepNums.length).toBe(0);
    expect(unpackSteps(b)).toBe(steps);
  });

  it("packs steps into numbers and their resources, and unpacks the same steps", () => {
    const b = packBatch({ nodes: [], edges: [], steps, problems: [] }, { packSteps: true });
    expect(b.steps).toEqual([]);
    expect(b.stepNums.length).toBe(steps.length * STEP_NUMS);
    expect(b.stepStrs).toEqual(["/tmp/f1", "/tmp/f2", "/tmp/f5", "/tmp/f7"]);
    // the call and return strings go in the batch's words, once each
    expect(b.words.filter((w) => w === "read")).toHaveLength(1);
    const back = structuredClone(b);
    expect(unpackSteps(back)).toEqual(steps);
    expect(unpackSteps(back)[0]).not.toHaveProperty("queries");
  });

  it("sends each resource once, however many steps name it", () => {
    const again = [step(1), step(2), step(3, { resource: "/tmp/f1" }), step(4, { resource: "/tmp/f2" })];
    const b = packBatch({ nodes: [], edges: [], steps: again, problems: [] }, { packSteps: true });
    expect(b.stepStrs).toEqual(["/tmp/f1", "/tmp/f2"]);
    expect(unpackSteps(structuredClone(b))).toEqual(again);
  });

  it("names the typed arrays' memory to transfer, never the shared empty one", () => {
    const none = packBatch({ nodes: [], edges: [], steps: [], problems: [] }, { packSteps: true });
    expect(packedBuffers(none)).toEqual([]);
    const b = packBatch({ nodes: [], edges: [], steps, problems: [] }, { packSteps: true });
    const moved = packedBuffers(b);
    expect(moved).toEqual([b.stepNums.buffer]);
    const back = structuredClone(b, { transfer: moved });
    expect(b.stepNums.length).toBe(0);
    expect(unpackSteps(back)).toEqual(steps);
    // the next batch without steps still has its (empty) array
    expect(
      packBatch({ nodes: [], edges: [], steps: [], problems: [] }, { packSteps: true }).stepNums.length,
    ).toBe(0);
  });
});
