import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { GraphNode } from "../src/graph/prov-types.js";
import { type MergeSource, RunLinker, splitEndpoint } from "../src/graph/run-merge.js";
import { mergeRuns } from "../src/ingest/run-merge-writer.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { parseMountTable, sharedPath } from "../src/util/mount-table.js";

function source(index: number, host: string, mounts: MergeSource["mounts"] = []): MergeSource {
  return { index, runId: index + 1, name: `run${index + 1}`, host, machineId: `${host}-id`, mounts };
}

function socket(id: number, local: string | undefined, remote: string | undefined, start: number): GraphNode {
  const attrs: GraphNode["attrs"] = {
    family: "inet",
    protocol: "TCP",
    role: remote ? "connected" : "listening",
  };
  if (local) attrs.local = local;
  if (remote) attrs.remote = remote;
  return {
    id,
    kind: "entity",
    type: "socket",
    gid: `tcp://h/${id}`,
    version: 0,
    label: "",
    start,
    end: null,
    attrs,
  };
}

describe("mount tables", () => {
  it("reads NFS and CIFS mounts from mountinfo and /proc/mounts lines, and names paths by server and export", () => {
    const { mounts, bad } = parseMountTable(
      [
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        "40 22 0:40 / /mnt/with\\040space rw shared:20 - nfs4 files.example:/srv/a\\040b rw,vers=4.2,addr=192.0.2.7",
        "41 22 0:41 / /mnt/v6 rw - nfs [2001:db8::1]:/export rw,vers=3",
        "//smb.example/share/sub /mnt/smb cifs rw,vers=3.0,addr=192.0.2.9 0 0",
        "tmpfs /tmp tmpfs rw 0 0",
        "not a mount line",
      ].join("\n"),
    );
    expect(bad).toEqual([{ line: 6, text: "not a mount line" }]);
    expect(mounts).toEqual([
      {
        mountPoint: "/mnt/with space",
        fstype: "nfs4",
        source: "files.example:/srv/a b",
        server: "192.0.2.7",
        export: "/srv/a b",
      },
      {
        mountPoint: "/mnt/v6",
        fstype: "nfs",
        source: "[2001:db8::1]:/export",
        server: "2001:db8::1",
        export: "/export",
      },
      {
        mountPoint: "/mnt/smb",
        fstype: "cifs",
        source: "//smb.example/share/sub",
        server: "192.0.2.9",
        export: "/share/sub",
      },
    ]);
    expect(sharedPath("/mnt/with space/x/y.txt", mounts)?.id).toBe("nfs://192.0.2.7/srv/a b/x/y.txt");
    expect(sharedPath("/mnt/v6/f", mounts)?.id).toBe("nfs://[2001:db8::1]/export/f");
    expect(sharedPath("/mnt/smb/doc.odt", mounts)?.id).toBe("cifs://192.0.2.9/share/sub/doc.odt");
    // a sibling with the same prefix is not under the mount
    expect(sharedPath("/mnt/smbx/doc.odt", mounts)).toBeNull();
    expect(sharedPath("/etc/passwd", mounts)).toBeNull();
  });

  it("splits endpoints, v4-mapped v6 as v4", () => {
    expect(splitEndpoint("[::ffff:10.0.0.1]:80")).toEqual({ ip: "10.0.0.1", port: "80" });
    expect(splitEndpoint("[2001:db8::2]:443")).toEqual({ ip: "2001:db8::2", port: "443" });
    expect(splitEndpoint("/run/x.sock")).toBeNull();
  });
});

describe("RunLinker", () => {
  it("links a 4-tuple across machines, not across loopbacks of two machines, not without overlap", () => {
    const l = new RunLinker({ skewUs: 1000 });
    l.addSource(source(0, "client"));
    l.addSource(source(1, "server"));
    l.addSource(source(2, "other"));
    // real addresses: client 10.0.0.1 → server 10.0.0.2:80
    l.addNode(0, socket(1, "10.0.0.1:40000", "10.0.0.2:80", 1_000_000));
    l.addNode(1, socket(11, "10.0.0.2:80", "10.0.0.1:40000", 990_000));
    // loopback on "client" and a loopback socket on "other" that looks like its peer
    l.addNode(0, socket(2, "127.0.0.1:50000", "127.0.0.1:5432", 1_000_000));
    l.addNode(2, socket(21, "127.0.0.1:5432", "127.0.0.1:50000", 1_000_000));
    // same 4-tuple as the first pair, an hour later on the server: port reused, no overlap
    l.addNode(1, socket(12, "10.0.0.2:80", "10.0.0.1:40000", 3_600_000_000));
    l.addEdge({
      id: 1,
      type: "used",
      op: "connect",
      from: 100,
      to: 1,
      ts: 1_000_000,
      tsEnd: 1_000_050,
      count: 1,
      bytes: 0,
      attrs: {},
    });
    l.addEdge({
      id: 2,
      type: "used",
      op: "accept",
      from: 111,
      to: 11,
      ts: 990_000,
      tsEnd: 1_000_060,
      count: 1,
      bytes: 0,
      attrs: {},
    });
    l.addEdge({
      id: 3,
      type: "used",
      op: "recv",
      from: 111,
      to: 11,
      ts: 1_000_100,
      tsEnd: null,
      count: 1,
      bytes: 4,
      attrs: {},
    });
    const links = l.finish();
    const tcp = links.filter((x) => x.rule === "tcp-4-tuple");
    expect(tcp).toHaveLength(1);
    expect(tcp[0]).toMatchObject({ from: 1, to: 11 });
    expect(tcp[0]!.evidence).toMatchObject({ clientSide: "connect", serverSide: "accept", overlapUs: 50 });
    expect(l.stats.tcpNoOverlap).toBe(1);
    // loopback 5432 on two machines is not one server either
    expect(links.filter((x) => x.rule === "same-server")).toHaveLength(0);
  });

  it("links one node per run for a shared gid, and packets by their gid; never a run to itself", () => {
    const l = new RunLinker();
    l.addSource(source(0, "a"));
    l.addSource(source(1, "b"));
    const file = (id: number, version: number): GraphNode => ({
      id,
      kind: "entity",
      type: "file",
      gid: "file://a/etc/hosts",
      version,
      label: "/etc/hosts",
      start: null,
      end: null,
      attrs: { path: "/etc/hosts" },
    });
    const packet = (id: number): GraphNode => ({
      id,
      kind: "entity",
      type: "packet",
      gid: "packet://10.0.2.2:43732->10.0.2.15:22/37974/12",
      version: 0,
      label: "",
      start: null,
      end: null,
      attrs: {},
    });
    l.addNode(0, file(1, 0));
    l.addNode(0, file(2, 1));
    l.addNode(0, packet(3));
    l.addNode(1, file(11, 0));
    l.addNode(1, file(12, 1));
    l.addNode(1, packet(13));
    const links = l.finish();
    expect(links.map((x) => [x.rule, x.from, x.to])).toEqual([
      ["same-gid", 11, 1],
      ["camflow-packet", 13, 3],
    ]);
    expect(links[1]!.evidence).toMatchObject({
      sender: "10.0.2.2:43732",
      receiver: "10.0.2.15:22",
      packetId: "37974",
      seq: "12",
    });
  });
});

describe("mergeRuns (SQLite store)", () => {
  it("reads the network mounts recorded on each run's machine agent and links the shared file", async () => {
    const store = openSqliteStore(join(mkdtempSync(join(tmpdir(), "pf-merge-")), "m.db"));
    try {
      const runs = [];
      for (const [host, mountPoint, fstype] of [
        ["a", "/home", "nfs4"],
        ["b", "/mnt/homes", "nfs"],
      ] as const) {
        const id = await store.createRun({
          name: host,
          source: "strace",
          command: ["x"],
          host,
          machineId: `${host}-id`,
        });
        const mounts = [
          { mountPoint, fstype, source: "nas:/vol/home", server: "192.0.2.1", export: "/vol/home" },
        ];
        await store.appendBatch(id, {
          nodes: [
            {
              id: 1,
              kind: "agent",
              type: "machine",
              gid: `machine://${host}`,
              version: 0,
              label: host,
              start: null,
              end: null,
              attrs: { networkMounts: mounts },
            },
            {
              id: 2,
              kind: "entity",
              type: "file",
              gid: `file://${host}${mountPoint}/ann/notes.txt`,
              version: 0,
              label: "",
              start: null,
              end: null,
              attrs: { path: `${mountPoint}/ann/notes.txt` },
            },
          ],
          edges: [],
          steps: [],
          problems: [],
        });
        await store.updateRun(id, { status: "complete" });
        runs.push((await store.findRun(id))!);
      }
      const result = await mergeRuns(store, runs, { name: "m" });
      expect(result.links.byRule["shared-storage"]).toBe(1);
      const edges = await store.getEdges(result.runId);
      expect(edges).toHaveLength(1);
      expect(edges[0]).toMatchObject({ type: "alternateOf", op: "same-as", from: 4, to: 2 });
      expect(edges[0]!.attrs).toMatchObject({
        link: "shared-storage",
        shared: "nfs://192.0.2.1/vol/home/ann/notes.txt",
      });
      const merged = await store.findRun(result.runId);
      expect(merged).toMatchObject({
        source: "merge",
        status: "complete",
        nodeCount: 4,
        edgeCount: 1,
        host: "a,b",
      });
      expect(merged!.stats["links:shared-storage"]).toBe(1);
    } finally {
      await store.close();
    }
  });
});
