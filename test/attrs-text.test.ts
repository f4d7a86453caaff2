import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  attrsJsonKept,
  attrsValue,
  compactAttrs,
  dropAttrsJson,
  keepAttrsJson,
  materializeAttrs,
  setAttr,
  takeAttrsJson,
} from "../src/events/attrs-text.js";
import type { ProvEvent } from "../src/events/event-types.js";
import { GraphBuilder } from "../src/graph/graph-builder.js";
import { camflowFormat } from "../src/sources/camflow/camflow-source.js";
import { packBatch } from "../src/store/packed-batch.js";
import { attrsColumns } from "../src/store/postgres-store.js";
import { CORPUS } from "./helpers/cli.js";

/**
 * The attributes' kept JSON text (events/attrs-text.ts), and its lazy form (compactAttrs): an
 * empty object holding only the text, which the graph builder gives the relations it keeps until
 * they are written (GraphBuilderOptions.textAttrs). Whatever reads them must get what the object
 * of members would give.
 */

/** A record as the CamFlow reader gives it: parsed, its text kept, provflow's additions set. */
function record(): Record<string, unknown> {
  const text =
    '{"cf:id":"30","prov:type":"receive","cf:date":"2017:09:12T18:48:19","cf:allowed":true,"cf:n":7}';
  const a = JSON.parse(text) as Record<string, unknown>;
  keepAttrsJson(a, text);
  setAttr(a, "sourceId", "AAAAEAAAEIAe");
  setAttr(a, "sourceType", "receive");
  return a;
}

const FULL = {
  "cf:id": "30",
  "prov:type": "receive",
  "cf:date": "2017:09:12T18:48:19",
  "cf:allowed": true,
  "cf:n": 7,
  sourceId: "AAAAEAAAEIAe",
  sourceType: "receive",
};

describe("lazy attributes (compactAttrs)", () => {
  it("hold the text alone, and the store takes the same text once", () => {
    const text = takeAttrsJson(record());
    const lazy = compactAttrs(record());
    expect(Object.keys(lazy)).toEqual([]);
    expect(attrsJsonKept(lazy)).toBe(true);
    expect(JSON.stringify(lazy)).toBe("{}");
    expect(takeAttrsJson(lazy)).toBe(text);
    expect(JSON.parse(text)).toEqual(FULL);
    // taken once: the object is left empty, without text
    expect(attrsJsonKept(lazy)).toBe(false);
  });

  it("give their members back in the order of the text", () => {
    const lazy = compactAttrs(record());
    const value = attrsValue(lazy);
    expect(Object.entries(value)).toEqual(Object.entries(FULL));
    expect(Object.keys(lazy)).toEqual([]); // attrsValue leaves the object as it is
    expect(materializeAttrs(lazy)).toBe(lazy);
    expect(Object.entries(lazy)).toEqual(Object.entries(FULL));
    // still kept: the text holds for the object
    expect(attrsJsonKept(lazy)).toBe(true);
    expect(JSON.parse(takeAttrsJson(lazy))).toEqual(FULL);
  });

  it("are made whole before a change: setAttr, dropAttrsJson", () => {
    const a = compactAttrs(record());
    setAttr(a, "pid", 757);
    expect(Object.entries(a)).toEqual(Object.entries({ ...FULL, pid: 757 }));
    expect(JSON.parse(takeAttrsJson(a))).toEqual({ ...FULL, pid: 757 });

    // a key the text holds: the object gets the new value, the text is dropped
    const b = compactAttrs(record());
    setAttr(b, "cf:id", "31");
    expect(b).toEqual({ ...FULL, "cf:id": "31" });
    expect(attrsJsonKept(b)).toBe(false);
    expect(JSON.parse(takeAttrsJson(b))).toEqual({ ...FULL, "cf:id": "31" });

    const c = compactAttrs(record());
    dropAttrsJson(c);
    expect(c).toEqual(FULL);
    expect(attrsJsonKept(c)).toBe(false);
  });

  it("leave an object without text as it is", () => {
    const plain = { ...FULL };
    expect(compactAttrs(plain)).toBe(plain);
    expect(attrsValue(plain)).toBe(plain);
    expect(materializeAttrs(plain)).toBe(plain);
  });

  it("give PostgreSQL the same columns as the object of members", () => {
    // keys out of jsonb's order (shorter first, then bytewise): the exact text goes along
    expect(attrsColumns(compactAttrs(record()))).toEqual(attrsColumns(record()));
    expect(attrsColumns(record())[1]).not.toBeNull();
    const inOrder = '{"a:b":1,"a:bc":"x"}';
    const o = JSON.parse(inOrder) as Record<string, unknown>;
    keepAttrsJson(o, inOrder);
    expect(attrsColumns(compactAttrs(o))).toEqual([inOrder, null]);
  });
});

describe("GraphBuilder textAttrs", () => {
  const LOG = join(CORPUS, "camflow/frap-dataset/mariadb-root-exploit-0.log");

  function events(): ProvEvent[] {
    const parser = camflowFormat.createParser({ file: LOG, ctx: { host: "testhost" } });
    const lines = readFileSync(LOG, "utf8").split("\n");
    const out: ProvEvent[] = [];
    for (let i = 0; i < lines.length; i += 50) out.push(...parser.push(lines.slice(i, i + 50), i + 1));
    out.push(...parser.end());
    return out;
  }

  /** what the store gets: every batch packed, drained every 2000 events as the pipeline does */
  function packed(textAttrs: boolean) {
    const b = new GraphBuilder({ ctx: { host: "testhost" }, machineAgent: false, textAttrs });
    const evs = events();
    const out = [];
    let lazyEdges = 0;
    for (let i = 0; i < evs.length; i += 2000) {
      b.add(evs.slice(i, i + 2000));
      const batch = b.drain();
      for (const e of batch.edges)
        if (Object.keys(e.attrs).length === 0 && attrsJsonKept(e.attrs)) lazyEdges++;
      out.push(packBatch(batch));
    }
    out.push(packBatch(b.finish()));
    return { out, lazyEdges, stats: b.stats };
  }

  it("writes the same rows, the relations kept as their text until drained", () => {
    const plain = packed(false);
    const text = packed(true);
    expect(plain.lazyEdges).toBe(0);
    // every relation written at once (not one that waited for a node) was lazy
    expect(text.lazyEdges).toBeGreaterThan(1000);
    expect(text.lazyEdges).toBe(
      (text.stats.provRelations ?? 0) -
        (text.stats.provRelationsDeferred ?? 0) +
        (text.stats.danglingRelations ?? 0),
    );
    expect(text.out).toEqual(plain.out);
    expect(text.stats).toEqual(plain.stats);
  });
});
