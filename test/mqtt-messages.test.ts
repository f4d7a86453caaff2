import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeCamflowPayload, encodeCamflowPayload } from "../src/mqtt/camflow-payload.js";
import { type MachineMessage, MachineMessageReader } from "../src/mqtt/machine-messages.js";
import { announcedMachine, classifyTopic, normalizePrefix, subscriptions } from "../src/mqtt/mqtt-topics.js";
import { CORPUS } from "./helpers/cli.js";
import { expectedCounts } from "./helpers/mqtt.js";

const LOG = join(CORPUS, "camflow/frap-dataset/mariadb-root-exploit-0.log");
const docs = readFileSync(LOG, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "");

/** camflowd's compress64encode, done by Python's zlib and base64 (an encoder we did not write). */
function pythonPayload(json: string): Buffer {
  const out = execFileSync(
    "/usr/bin/python3",
    [
      "-c",
      "import sys,zlib,base64; sys.stdout.write(base64.b64encode(zlib.compress(sys.stdin.buffer.read())).decode())",
    ],
    { input: json },
  );
  return Buffer.from(out);
}

function message(machineId: string, payload: Buffer | string, index: number): MachineMessage {
  return {
    topic: `camflow/provenance/${machineId}`,
    machineId,
    payload: Buffer.from(payload),
    index,
    received: 1_700_000_000_000_000 + index,
  };
}

describe("CamFlow MQTT payloads", () => {
  it("decodes camflowd's base64(zlib(json)) as made by Python, and encodes what Python decodes", () => {
    const doc = docs[1] as string;
    expect(decodeCamflowPayload(pythonPayload(doc))).toEqual({ ok: true, json: doc });
    const ours = encodeCamflowPayload(doc);
    expect(ours).not.toMatch(/\s/);
    const back = execFileSync(
      "/usr/bin/python3",
      [
        "-c",
        "import sys,zlib,base64; sys.stdout.buffer.write(zlib.decompress(base64.b64decode(sys.stdin.read())))",
      ],
      { input: ours },
    ).toString("utf8");
    expect(back).toBe(doc);
  });

  it("takes an empty message as a keep-alive, plain JSON as it is, and says why a payload is bad", () => {
    expect(decodeCamflowPayload(Buffer.alloc(0))).toEqual({ ok: true, json: null });
    expect(decodeCamflowPayload(Buffer.from("  \n"))).toEqual({ ok: true, json: null });
    expect(decodeCamflowPayload(Buffer.from('{"entity":{}}'))).toEqual({ ok: true, json: '{"entity":{}}' });
    const notB64 = decodeCamflowPayload(Buffer.from("hello world!"));
    expect(notB64).toMatchObject({ ok: false, error: expect.stringMatching(/not base64/) });
    const notZlib = decodeCamflowPayload(Buffer.from(Buffer.from("plain text").toString("base64")));
    expect(notZlib).toMatchObject({ ok: false, error: expect.stringMatching(/not a zlib stream/) });
  });
});

describe("CamFlow MQTT topics", () => {
  it("subscribes to PREFIX/provenance/+ (shared in a group) and the announcements", () => {
    expect(subscriptions("camflow")).toEqual({
      provenance: "camflow/provenance/+",
      machines: ["camflow/machines", "camflow/machines/+"],
    });
    expect(subscriptions("site/a", "g1").provenance).toBe("$share/g1/site/a/provenance/+");
    expect(normalizePrefix("/camflow/")).toBe("camflow");
    expect(() => normalizePrefix("camflow/#")).toThrow(/wildcards/);
  });

  it("tells provenance from announcements and finds the announced machine", () => {
    expect(classifyTopic("camflow", "camflow/provenance/1234")).toEqual({
      kind: "provenance",
      machineId: "1234",
    });
    expect(classifyTopic("camflow", "camflow/machines/77")).toEqual({ kind: "machines", machineId: "77" });
    expect(classifyTopic("camflow", "camflow/machines")).toEqual({ kind: "machines", machineId: null });
    expect(classifyTopic("camflow", "camflow/provenance/1/x")).toEqual({ kind: "other" });
    expect(classifyTopic("camflow", "keepalive")).toEqual({ kind: "other" });
    expect(announcedMachine("989720310")).toBe("989720310");
    expect(announcedMachine('{"machine_id":"42"}')).toBe("42");
    expect(announcedMachine(docs[0] as string)).toBe("717566593");
  });
});

describe("messages → keyed rows", () => {
  it("reads a whole real log into the nodes and relations its JSON holds", () => {
    const reader = new MachineMessageReader();
    const read = reader.read(docs.map((d, i) => message("42", encodeCamflowPayload(d), i + 1)));
    const part = read.parts.get("42");
    const want = expectedCounts(docs);
    expect(new Set(part?.nodes.map((n) => n.key)).size).toBe(want.nodes);
    expect(part?.edges.length).toBe(want.edges + want.waiting);
    expect(new Set(part?.edges.map((e) => e.key)).size).toBe(part?.edges.length);
    expect(part?.packets).toBe(docs.length);
    expect(part?.errors).toBe(0);
    expect(read.problems).toEqual([]);
  });

  it("gives a redelivered message the same keys, and reports bad messages with topic and number", () => {
    const a = new MachineMessageReader().read([message("7", encodeCamflowPayload(docs[3] as string), 1)]);
    const b = new MachineMessageReader().read([message("7", encodeCamflowPayload(docs[3] as string), 9)]);
    expect(b.parts.get("7")?.edges.map((e) => e.key)).toEqual(a.parts.get("7")?.edges.map((e) => e.key));
    expect(b.parts.get("7")?.nodes.map((n) => n.key)).toEqual(a.parts.get("7")?.nodes.map((n) => n.key));
    const bad = new MachineMessageReader().read([
      message("8", "", 1),
      message("8", "%%% not base64 %%%", 2),
      message("8", encodeCamflowPayload('{"entity": {"x": '), 3),
      message("8", encodeCamflowPayload(docs[0] as string), 4),
    ]);
    expect(bad.empty).toBe(1);
    const part = bad.parts.get("8");
    expect([part?.packets, part?.errors, part?.nodes.length]).toEqual([3, 2, 1]);
    expect(bad.problems.map((p) => [p.topic, p.index])).toEqual([
      ["camflow/provenance/8", 2],
      ["camflow/provenance/8", 3],
    ]);
    expect(part?.problems.map((p) => [p.file, p.line])).toEqual([
      ["camflow/provenance/8", 2],
      ["camflow/provenance/8", 3],
    ]);
  });
});

describe("provflow mqtt's default client id", () => {
  it("is the same for one store and prefix, and differs for another store, prefix or PostgreSQL password-free URL", async () => {
    const { defaultClientId } = await import("../src/cli/mqtt-command.js");
    const host = (await import("node:os")).hostname();
    const a = defaultClientId("/tmp/a.db", "camflow");
    expect(a).toMatch(new RegExp(`^provflow-${host}-[0-9a-f]{8}$`));
    expect(defaultClientId("/tmp/./a.db", "camflow")).toBe(a);
    expect(defaultClientId("/tmp/b.db", "camflow")).not.toBe(a);
    expect(defaultClientId("/tmp/a.db", "lab/camflow")).not.toBe(a);
    // the password is not part of what identifies the store
    expect(defaultClientId("postgres://u:secret@h/db", "camflow")).toBe(
      defaultClientId("postgres://u:other@h/db", "camflow"),
    );
  });
});
