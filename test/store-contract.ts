import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import type {
  Batch,
  GraphStore,
  KeyedEdge,
  KeyedNode,
  MachinePart,
  NewRun,
  Step,
} from "../src/store/store-types.js";

/** Shared fixtures for the store contract and exporter tests. */
export function newRun(name: string, extra: Partial<NewRun> = {}): NewRun {
  return {
    name,
    source: "strace-ff",
    command: ["sh", "-c", "echo hi > out.txt"],
    tracerCommand: ["strace", "-f", "-ttt", "-T", "-o", "trace", "sh", "-c", "echo hi > out.txt"],
    host: "builder-01",
    machineId: "0123456789abcdef0123456789abcdef",
    bootId: "b0b0b0b0-1111-2222-3333-444455556666",
    cwd: "/home/ci/project",
    user: "ci",
    start: 1_700_000_000_123_456,
    ...extra,
  };
}

export function fileNode(id: number, path: string, version = 0, attrs: GraphNode["attrs"] = {}): GraphNode {
  return {
    id,
    kind: "entity",
    type: "file",
    gid: `file://builder-01${path}`,
    version,
    label: path,
    start: null,
    end: null,
    attrs: { path, ...attrs },
  };
}

export function processNode(
  id: number,
  pid: number,
  argv: string[],
  start: number,
  end: number | null,
): GraphNode {
  return {
    id,
    kind: "activity",
    type: "process",
    gid: `proc://builder-01/boot/${pid}@${start}`,
    version: 0,
    label: argv.join(" "),
    start,
    end,
    attrs: { pid, exe: argv[0] ?? "", argv, generation: 0 },
  };
}

export function userNode(id: number): GraphNode {
  return {
    id,
    kind: "agent",
    type: "user",
    gid: "user://builder-01/1000",
    version: 0,
    label: "ci",
    start: null,
    end: null,
    attrs: { uid: 1000 },
  };
}

export function edge(
  id: number,
  type: GraphEdge["type"],
  op: GraphEdge["op"],
  from: number,
  to: number,
  ts: number | null = null,
): GraphEdge {
  return { id, type, op, from, to, ts, tsEnd: ts, count: 1, bytes: 0, attrs: {} };
}

function batch(part: Partial<Batch>): Batch {
  return { nodes: [], edges: [], steps: [], problems: [], ...part };
}

function step(seq: number, start: number, pid = 100): Step {
  return {
    seq,
    pid,
    call: "read",
    resource: `/data/f${seq % 7}`,
    count: 1 + (seq % 3),
    bytes: seq * 10,
    errors: seq % 5 === 0 ? 1 : 0,
    start,
    end: start + 5,
    dur: 4,
    ret: seq % 11 === 0 ? null : String(seq),
  };
}

async function collectSteps(store: GraphStore, runId: number, batchSize?: number): Promise<Step[][]> {
  const batches: Step[][] = [];
  for await (const b of store.iterateSteps(runId, batchSize)) batches.push(b);
  return batches;
}

/**
 * The tests every GraphStore implementation must pass. `open` gives a fresh, empty store for each
 * test; `cleanup` runs after it was closed.
 */
/** The time of the keyed (machine) rows below, in µs. */
export const KEYED_T0 = 1_700_000_000_000_000;

/** A CamFlow-style file node of a machine, keyed by `key` (its source id). */
export function keyedNode(key: string, attrs: Record<string, unknown> = {}): KeyedNode {
  return {
    key,
    kind: "entity",
    type: "file",
    gid: `camflow://7/1/${key}`,
    version: 0,
    label: `[file] ${key}`,
    start: null,
    end: null,
    attrs: { sourceId: key, ...attrs },
  };
}

/** A `used` relation of a machine between two keyed nodes (attributes: its source id unless given). */
export function keyedEdge(
  key: string,
  from: string,
  to: string,
  attrs: Record<string, unknown> = { sourceId: key },
): KeyedEdge {
  return {
    key,
    type: "used",
    op: "read",
    from,
    to,
    ts: KEYED_T0,
    tsEnd: KEYED_T0,
    count: 1,
    bytes: 0,
    attrs,
  };
}

export function defineStoreContract(
  name: string,
  open: () => Promise<GraphStore>,
  cleanup?: () => Promise<void>,
): void {
  describe(`GraphStore contract: ${name}`, () => {
    let store: GraphStore;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await store.close();
      if (cleanup !== undefined) await cleanup();
    });

    it("creates runs and finds them by id, numeric string, name and as latest", async () => {
      expect(await store.latestRun()).toBeNull();
      expect(await store.listRuns()).toEqual([]);
      const a = await store.createRun(newRun("build"));
      const b = await store.createRun(newRun("test", { tracerCommand: null, start: null }));
      const c = await store.createRun(newRun("build", { command: ["make", "-j8"] }));
      expect(new Set([a, b, c]).size).toBe(3);

      const byId = await store.findRun(a);
      expect(byId).toMatchObject({
        id: a,
        name: "build",
        source: "strace-ff",
        command: ["sh", "-c", "echo hi > out.txt"],
        tracerCommand: ["strace", "-f", "-ttt", "-T", "-o", "trace", "sh", "-c", "echo hi > out.txt"],
        host: "builder-01",
        machineId: "0123456789abcdef0123456789abcdef",
        bootId: "b0b0b0b0-1111-2222-3333-444455556666",
        cwd: "/home/ci/project",
        user: "ci",
        start: 1_700_000_000_123_456,
        end: null,
        exitCode: null,
        exitSignal: null,
        status: "running",
        nodeCount: 0,
        edgeCount: 0,
      });
      expect((await store.findRun(String(b)))?.name).toBe("test");
      const testRun = await store.findRun("test");
      expect(testRun?.tracerCommand).toBeNull();
      expect(testRun?.start).toBeNull();
      // by name: the newest run of that name
      expect((await store.findRun("build"))?.id).toBe(c);
      expect((await store.findRun("build"))?.command).toEqual(["make", "-j8"]);
      expect(await store.findRun("nope")).toBeNull();
      expect(await store.findRun(999_999)).toBeNull();
      expect((await store.latestRun())?.id).toBe(c);
      expect((await store.listRuns()).map((r) => r.id)).toEqual([a, b, c]);
    });

    it("updates a run: status, times, exit, stats, cwd, command", async () => {
      const id = await store.createRun(newRun("u", { cwd: null }));
      await store.updateRun(id, {
        end: 1_700_000_009_000_001,
        exitCode: 2,
        exitSignal: "SIGKILL",
        status: "complete",
        stats: { lines: 10, bytes: 1234, events: 7, calls: 9, problems: 1, unfinished: 3 },
        cwd: "/tmp/w",
        command: ["make", "-j2", "ünïcode arg"],
      });
      const r = await store.findRun(id);
      expect(r).toMatchObject({
        start: 1_700_000_000_123_456,
        end: 1_700_000_009_000_001,
        exitCode: 2,
        exitSignal: "SIGKILL",
        status: "complete",
        stats: { lines: 10, bytes: 1234, events: 7, calls: 9, problems: 1, unfinished: 3 },
        cwd: "/tmp/w",
        command: ["make", "-j2", "ünïcode arg"],
      });
      // a partial patch leaves the rest alone; null clears
      await store.updateRun(id, { status: "incomplete", exitSignal: null });
      expect(await store.findRun(id)).toMatchObject({ status: "incomplete", exitCode: 2, exitSignal: null });
      await expect(store.updateRun(424_242, { status: "complete" })).rejects.toThrow(/424242/);
    });

    it("upserts nodes and edges by id, keeping the latest write", async () => {
      const id = await store.createRun(newRun("up"));
      const p = processNode(1, 4242, ["/bin/cat", "in.txt"], 1_700_000_000_000_000, null);
      await store.appendBatch(
        id,
        batch({ nodes: [p, fileNode(2, "/w/in.txt")], edges: [edge(1, "used", "read", 1, 2)] }),
      );
      const ended = { ...p, end: 1_700_000_001_000_000, attrs: { ...p.attrs, exitCode: 0 } };
      const grown = { ...edge(1, "used", "read", 1, 2), count: 5, bytes: 4096, tsEnd: 1_700_000_000_500_000 };
      await store.appendBatch(id, batch({ nodes: [ended], edges: [grown] }));
      const nodes = await store.getNodes(id);
      expect(nodes).toHaveLength(2);
      expect(nodes[0]).toEqual(ended);
      expect(nodes[0]?.attrs.exitCode).toBe(0);
      const edges = await store.getEdges(id);
      expect(edges).toEqual([grown]);
      const run = await store.findRun(id);
      expect(run?.nodeCount).toBe(2);
      expect(run?.edgeCount).toBe(1);
    });

    it("filters nodes by type and ids, edges by type and touching nodes, with limit/offset", async () => {
      const id = await store.createRun(newRun("f"));
      const nodes: GraphNode[] = [
        processNode(1, 10, ["sh"], 1, 100),
        processNode(2, 11, ["cat"], 2, 90),
        fileNode(3, "/a"),
        fileNode(4, "/b"),
        fileNode(5, "/b", 1),
        { ...fileNode(6, "pipe:[77]"), type: "pipe", gid: "pipe://builder-01/boot/77" },
        userNode(7),
      ];
      const edges: GraphEdge[] = [
        edge(1, "wasInformedBy", "fork", 2, 1, 5),
        edge(2, "used", "read", 2, 3, 6),
        edge(3, "wasGeneratedBy", "write", 5, 2, 7),
        edge(4, "wasDerivedFrom", "version", 5, 4, 7),
        edge(5, "wasGeneratedBy", "write", 6, 1, 8),
        edge(6, "wasAssociatedWith", "associated", 1, 7),
      ];
      // out of order on purpose: reads come back ordered by id
      await store.appendBatch(id, batch({ nodes: [...nodes].reverse(), edges: [...edges].reverse() }));

      expect((await store.getNodes(id)).map((n) => n.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect((await store.getNodes(id, { types: ["process"] })).map((n) => n.id)).toEqual([1, 2]);
      expect((await store.getNodes(id, { types: ["file", "pipe"] })).map((n) => n.id)).toEqual([3, 4, 5, 6]);
      expect((await store.getNodes(id, { ids: [7, 3, 99] })).map((n) => n.id)).toEqual([3, 7]);
      expect((await store.getNodes(id, { types: ["file"], ids: [1, 4, 5] })).map((n) => n.id)).toEqual([
        4, 5,
      ]);
      expect((await store.getNodes(id, { limit: 3 })).map((n) => n.id)).toEqual([1, 2, 3]);
      expect((await store.getNodes(id, { limit: 3, offset: 3 })).map((n) => n.id)).toEqual([4, 5, 6]);
      expect((await store.getNodes(id, { offset: 5 })).map((n) => n.id)).toEqual([6, 7]);
      expect(await store.getNodes(id, { types: ["socket"] })).toEqual([]);
      expect(await store.getNodes(id, { ids: [] })).toEqual([]);
      expect((await store.getNodes(id, { types: ["user"] }))[0]).toEqual(nodes[6]);

      expect((await store.getEdges(id)).map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await store.getEdges(id, { types: ["wasGeneratedBy"] })).map((e) => e.id)).toEqual([3, 5]);
      expect((await store.getEdges(id, { nodeIds: [2] })).map((e) => e.id)).toEqual([1, 2, 3]);
      expect((await store.getEdges(id, { nodeIds: [4, 6] })).map((e) => e.id)).toEqual([4, 5]);
      expect((await store.getEdges(id, { nodeIds: [1], types: ["wasInformedBy"] })).map((e) => e.id)).toEqual(
        [1],
      );
      expect((await store.getEdges(id, { limit: 2, offset: 2 })).map((e) => e.id)).toEqual([3, 4]);
      expect(await store.getEdges(id, { nodeIds: [] })).toEqual([]);
      expect((await store.getEdges(id, { types: ["wasInformedBy"] }))[0]).toEqual(edges[0]);
    });

    it("filters nodes by category, time window and text, edges by time window, and pages by keyset", async () => {
      const id = await store.createRun(newRun("browse"));
      const nodes: GraphNode[] = [
        processNode(1, 10, ["/bin/sh", "-c", "make all"], 100, 900),
        { ...processNode(2, 11, ["cc", "-O2", "x.c"], 200, 300), attrs: { pid: 11, exe: "/usr/bin/gcc-12" } },
        fileNode(3, "/usr/lib/libc.so.6", 0, { category: "shared-library" }),
        fileNode(4, "/home/ci/x.c", 0, { category: "user-data" }),
        fileNode(5, "/tmp/50%_done", 0, { category: "temporary" }),
        { ...fileNode(6, "/home/ci/x.o", 0, { category: "user-data" }), start: 250, end: 260 },
      ];
      const edges: GraphEdge[] = [
        edge(1, "wasInformedBy", "fork", 2, 1, 200),
        edge(2, "used", "read", 2, 4, 210),
        { ...edge(3, "wasGeneratedBy", "write", 6, 2, 250), tsEnd: 290 },
        edge(4, "used", "map", 1, 3, null),
      ];
      await store.appendBatch(id, batch({ nodes, edges }));
      const ids = (ns: GraphNode[]) => ns.map((n) => n.id);
      expect(ids(await store.getNodes(id, { categories: ["user-data"] }))).toEqual([4, 6]);
      expect(ids(await store.getNodes(id, { categories: ["user-data", "temporary"], afterId: 4 }))).toEqual([
        5, 6,
      ]);
      // processes alive in [310, 400]: only the shell; in [240, 255]: both, and the file written then
      expect(ids(await store.getNodes(id, { from: 310, to: 400 }))).toEqual([1]);
      expect(ids(await store.getNodes(id, { from: 240, to: 255 }))).toEqual([1, 2, 6]);
      expect(ids(await store.getNodes(id, { to: 150 }))).toEqual([1]);
      // text: label or executable, any case, % and _ taken literally
      expect(ids(await store.getNodes(id, { match: "GCC" }))).toEqual([2]);
      expect(ids(await store.getNodes(id, { match: "x." }))).toEqual([2, 4, 6]);
      expect(ids(await store.getNodes(id, { match: "50%_" }))).toEqual([5]);
      expect(ids(await store.getNodes(id, { match: "%" }))).toEqual([5]);
      expect(ids(await store.getNodes(id, { match: "make", types: ["file"] }))).toEqual([]);
      expect(ids(await store.getNodes(id, { afterId: 2, limit: 2 }))).toEqual([3, 4]);
      const eids = (es: GraphEdge[]) => es.map((e) => e.id);
      expect(eids(await store.getEdges(id, { from: 205, to: 260 }))).toEqual([2, 3]);
      expect(eids(await store.getEdges(id, { from: 280 }))).toEqual([3]);
      expect(eids(await store.getEdges(id, { afterId: 1, nodeIds: [2] }))).toEqual([2, 3]);
    });

    it("gives a run's graph as columns for drawing, by keyset pages, the same as its nodes and edges", async () => {
      const id = await store.createRun(newRun("columns"));
      const other = await store.createRun(newRun("other"));
      const big = 2 ** 40;
      const nodes: GraphNode[] = [
        processNode(1, 10, ["/bin/sh", "-c", "make ‘all’"], 100, null),
        fileNode(3, "/usr/lib/libc.so.6", 0, { category: "shared-library" }),
        fileNode(big, '/tmp/"quoted"\n', 0),
        userNode(big + 1),
      ];
      const edges: GraphEdge[] = [
        edge(1, "wasInformedBy", "fork", 1, 1, 200),
        edge(2, "used", "map", 1, 3, null),
        edge(big, "wasGeneratedBy", "write", big, 1, 250),
        edge(big + 5, "wasAssociatedWith", "associated", 1, big + 1),
      ];
      await store.appendBatch(id, batch({ nodes, edges }));
      await store.appendBatch(
        other,
        batch({ nodes: [fileNode(2, "/elsewhere")], edges: [edge(3, "used", "read", 2, 2)] }),
      );
      const rows = await store.getNodes(id);
      const all = await store.getNodeColumns(id, 0, 100);
      expect(all).toEqual({
        id: rows.map((n) => n.id),
        type: rows.map((n) => n.type),
        label: rows.map((n) => n.label),
        category: rows.map((n) => (typeof n.attrs.category === "string" ? n.attrs.category : null)),
        start: rows.map((n) => n.start),
        end: rows.map((n) => n.end),
      });
      expect(all.id).toEqual([1, 3, big, big + 1]);
      expect(all.category).toEqual([null, "shared-library", null, null]);
      expect((await store.getNodeColumns(id, 1, 2)).id).toEqual([3, big]);
      expect((await store.getNodeColumns(id, big + 1, 10)).id).toEqual([]);
      const erows = await store.getEdges(id);
      expect(await store.getEdgeEnds(id, 0, 100)).toEqual({
        id: erows.map((e) => e.id),
        type: erows.map((e) => e.type),
        op: erows.map((e) => e.op),
        from: erows.map((e) => e.from),
        to: erows.map((e) => e.to),
      });
      expect((await store.getEdgeEnds(id, 1, 2)).id).toEqual([2, big]);
      expect((await store.getEdgeEnds(id, 2, 10)).to).toEqual([1, big + 1]);
      expect((await store.getEdgeEnds(other, 0, 10)).id).toEqual([3]);
    });

    it("hands out what changed since a cursor: new and rewritten nodes and edges, in pages, run by run", async () => {
      const id = await store.createRun(newRun("live"));
      const other = await store.createRun(newRun("other"));
      const seq0 = await store.currentSeq();
      expect(await store.getChanges(id)).toEqual({ nodes: [], edges: [], cursor: 0, more: false });
      const sh = processNode(1, 10, ["sh"], 100, null);
      await store.appendBatch(
        id,
        batch({ nodes: [sh, fileNode(2, "/a")], edges: [edge(1, "wasGeneratedBy", "write", 2, 1, 120)] }),
      );
      await store.appendBatch(other, batch({ nodes: [fileNode(1, "/elsewhere")] }));
      expect(await store.currentSeq()).toBeGreaterThan(seq0);
      const all = await store.getChanges(id);
      expect(all.nodes.map((n) => n.id)).toEqual([1, 2]);
      expect(all.edges.map((e) => e.id)).toEqual([1]);
      expect(all.nodes[0]).toEqual(sh);
      expect(all.more).toBe(false);
      expect(all.cursor).toBeGreaterThan(seq0);
      // nothing new: same cursor, nothing handed out
      expect(await store.getChanges(id, { since: all.cursor })).toMatchObject({
        nodes: [],
        edges: [],
        more: false,
      });
      // the shell ends, a file is deleted, a new process appears
      const ended = { ...sh, end: 500, attrs: { ...sh.attrs, exitCode: 0 } };
      const gone = fileNode(2, "/a", 0, { deleted: true });
      await store.appendBatch(
        id,
        batch({
          nodes: [ended, processNode(3, 11, ["rm", "/a"], 300, 400), gone],
          edges: [
            edge(2, "wasInformedBy", "fork", 3, 1, 300),
            edge(3, "wasInvalidatedBy", "delete", 2, 3, 350),
          ],
        }),
      );
      const next = await store.getChanges(id, { since: all.cursor });
      expect(next.nodes.map((n) => n.id).sort()).toEqual([1, 2, 3]);
      expect(next.nodes.find((n) => n.id === 1)).toEqual(ended);
      expect(next.nodes.find((n) => n.id === 2)?.attrs.deleted).toBe(true);
      expect(next.edges.map((e) => e.id)).toEqual([2, 3]);
      expect(next.cursor).toBeGreaterThan(all.cursor);
      // paging by 2 walks the same 7 elements once each, the last page says no more
      const seen: string[] = [];
      let cursor = 0;
      for (let pages = 0; ; pages++) {
        expect(pages).toBeLessThan(10);
        const page = await store.getChanges(id, { since: cursor, limit: 2 });
        expect(page.nodes.length + page.edges.length).toBeLessThanOrEqual(2);
        seen.push(...page.nodes.map((n) => `n${n.id}`), ...page.edges.map((e) => `e${e.id}`));
        expect(page.cursor).toBeGreaterThanOrEqual(cursor);
        cursor = page.cursor;
        if (!page.more) break;
      }
      expect(seen.sort()).toEqual(["e1", "e2", "e3", "n1", "n2", "n3"]);
      expect((await store.getChanges(other)).nodes.map((n) => n.label)).toEqual(["/elsewhere"]);
      // limit 0: the cursor of now, nothing else; what is written after it comes, nothing before
      const now = await store.getChanges(id, { limit: 0 });
      expect(now).toMatchObject({ nodes: [], edges: [], more: false });
      expect(now.cursor).toBeGreaterThanOrEqual(next.cursor);
      await store.appendBatch(id, batch({ nodes: [fileNode(9, "/later")] }));
      expect((await store.getChanges(id, { since: now.cursor })).nodes.map((n) => n.id)).toEqual([9]);
    });

    it("hands steps over in (start, seq) order, in batches across the batch-size boundary", async () => {
      const id = await store.createRun(newRun("s"));
      const steps: Step[] = [];
      // 2 * 5000 + 3 steps, several sharing a start time, written in two batches and out of order
      for (let i = 1; i <= 10_003; i++) steps.push(step(i, 1_700_000_000_000_000 + Math.floor(i / 4)));
      await store.appendBatch(id, batch({ steps: steps.slice(6000).reverse() }));
      await store.appendBatch(id, batch({ steps: steps.slice(0, 6000) }));
      const batches = await collectSteps(store, id);
      expect(batches.map((b) => b.length)).toEqual([5000, 5000, 3]);
      const flat = batches.flat();
      expect(flat.map((s) => s.seq)).toEqual(steps.map((s) => s.seq));
      expect(flat[10]).toEqual(steps[10]);
      expect(flat[10]?.ret).toBeNull();
      const small = await collectSteps(store, id, 4);
      expect(small).toHaveLength(2501);
      expect(small.every((b, i) => b.length === (i < 2500 ? 4 : 3))).toBe(true);
      expect(small.flat().map((s) => s.seq)).toEqual(steps.map((s) => s.seq));
      // exactly one full batch: no empty trailing batch is handed over
      const other = await store.createRun(newRun("s2"));
      await store.appendBatch(other, batch({ steps: steps.slice(0, 10) }));
      expect((await collectSteps(store, other, 10)).map((b) => b.length)).toEqual([10]);
      expect(await collectSteps(store, await store.createRun(newRun("empty")))).toEqual([]);
    });

    it("keeps the database queries of steps, in the order and chunk they were written", async () => {
      const id = await store.createRun(newRun("q"));
      const steps: Step[] = [];
      for (let i = 1; i <= 5000; i++) steps.push(step(i, 1_700_000_000_000_000 + i));
      (steps[0] as Step).queries = ["postgresql: select 1", "postgresql: select 'é\"'"];
      (steps[4500] as Step).queries = ["redis: SET k v"];
      await store.appendBatch(id, batch({ steps }));
      const flat = (await collectSteps(store, id)).flat();
      expect(flat[0]?.queries).toEqual(["postgresql: select 1", "postgresql: select 'é\"'"]);
      expect(flat[4500]?.queries).toEqual(["redis: SET k v"]);
      expect(flat[1]?.queries).toBeUndefined();
      expect(flat.filter((s) => s.queries !== undefined)).toHaveLength(2);
    });

    it("stores problems with file and line", async () => {
      const id = await store.createRun(newRun("p"));
      await store.appendBatch(
        id,
        batch({
          problems: [
            { file: "trace.1234", line: 17, message: "unparsable line", text: 'read(3, "abc' },
            { file: "trace.1234", line: 90, message: "truncated log", text: null },
          ],
        }),
      );
      await store.appendBatch(
        id,
        batch({ problems: [{ file: "trace.99", line: 1, message: "x", text: "" }] }),
      );
      const all = await store.getProblems(id);
      expect(all).toEqual([
        { file: "trace.1234", line: 17, message: "unparsable line", text: 'read(3, "abc' },
        { file: "trace.1234", line: 90, message: "truncated log", text: null },
        { file: "trace.99", line: 1, message: "x", text: "" },
      ]);
      expect(await store.getProblems(id, 2)).toEqual(all.slice(0, 2));
    });

    it("deletes one run and everything of it, and nothing of the others", async () => {
      const keep = await store.createRun(newRun("keep"));
      const drop = await store.createRun(newRun("drop"));
      for (const id of [keep, drop]) {
        await store.appendBatch(id, {
          nodes: [processNode(1, 1, ["sh"], 1, 2), fileNode(2, "/x")],
          edges: [edge(1, "used", "read", 1, 2)],
          steps: [step(1, 10), step(2, 11)],
          problems: [{ file: "f", line: 1, message: "m", text: null }],
        });
      }
      await store.deleteRun(drop);
      expect(await store.findRun(drop)).toBeNull();
      expect(await store.findRun("drop")).toBeNull();
      expect(await store.getNodes(drop)).toEqual([]);
      expect(await store.getEdges(drop)).toEqual([]);
      expect(await collectSteps(store, drop)).toEqual([]);
      expect(await store.getProblems(drop)).toEqual([]);
      expect((await store.listRuns()).map((r) => r.id)).toEqual([keep]);
      expect(await store.getNodes(keep)).toHaveLength(2);
      expect(await store.getEdges(keep)).toHaveLength(1);
      expect((await collectSteps(store, keep)).flat()).toHaveLength(2);
      expect(await store.getProblems(keep)).toHaveLength(1);
    });

    it("round-trips unicode, big attributes, large integers and null times", async () => {
      const id = await store.createRun(newRun("données ✓ 日本", { command: ["echo", "héllo\u0000\n\t🙂"] }));
      const env = Array.from({ length: 2000 }, (_, i) => `VAR_${i}=${"é".repeat(i % 50)}🙂`);
      const big: GraphNode = {
        ...processNode(1, 2_147_483_647, ["/usr/bin/printf", "%s", 'naïve — “quotes” \\ "q"'], 0, null),
        attrs: {
          pid: 2_147_483_647,
          env,
          argv: ["a\nb", "tab\t", "nul\u0000"],
          nested: { deep: [1, { x: "ÿ" }] },
        },
      };
      const weird = fileNode(2, "/tmp/spaces and 'quotes'/ファイル.txt", 3);
      const huge: GraphEdge = {
        ...edge(1, "wasGeneratedBy", "write", 2, 1, Number.MAX_SAFE_INTEGER - 1),
        tsEnd: null,
        count: 4_000_000_000,
        bytes: Number.MAX_SAFE_INTEGER,
        attrs: { offset: 2 ** 40, neg: -123_456_789_012, ratio: 0.125 },
      };
      const nullTimes = { ...edge(2, "used", "read", 1, 2), ts: null, tsEnd: null };
      await store.appendBatch(id, batch({ nodes: [big, weird], edges: [huge, nullTimes] }));
      const run = await store.findRun("données ✓ 日本");
      expect(run?.command).toEqual(["echo", "héllo\u0000\n\t🙂"]);
      const nodes = await store.getNodes(id);
      expect(nodes).toEqual([big, weird]);
      expect(JSON.stringify(nodes[0]?.attrs).length).toBeGreaterThan(60_000);
      expect(nodes[0]?.start).toBe(0);
      expect(nodes[0]?.end).toBeNull();
      expect(nodes[1]?.start).toBeNull();
      const edges = await store.getEdges(id);
      expect(edges).toEqual([huge, nullTimes]);
      expect(edges[0]?.bytes).toBe(9_007_199_254_740_991);
    });

    it("rejects a batch for a run that does not exist", async () => {
      await expect(store.appendBatch(31_337, batch({ nodes: [fileNode(1, "/x")] }))).rejects.toThrow(/31337/);
    });

    describe("lineage and chains", () => {
      // sh (1) forks cat (2) and cp (3) and waits for cat; cat reads a (4) and writes b (5 → 6); cp
      // reads b (twice: read and open) and writes c (7), a copy of b; everyone maps libc (9) and is
      // associated with the user (8); cp deletes a (an invalidation, not followed by default)
      const lineageGraph = (): Batch => {
        const user = userNode(8);
        return batch({
          nodes: [
            processNode(1, 10, ["sh", "-c", "cat a > b; cp b c"], 1000, 9000),
            processNode(2, 11, ["cat", "a"], 2000, 3000),
            processNode(3, 12, ["cp", "b", "c"], 4000, 5000),
            fileNode(4, "/w/a"),
            fileNode(5, "/w/b"),
            fileNode(6, "/w/b", 1),
            fileNode(7, "/w/c"),
            user,
            fileNode(9, "/lib/libc.so.6"),
          ],
          edges: [
            edge(1, "wasInformedBy", "fork", 2, 1),
            edge(2, "wasInformedBy", "fork", 3, 1),
            edge(3, "wasInformedBy", "wait", 1, 2),
            edge(4, "used", "read", 2, 4),
            edge(5, "wasGeneratedBy", "write", 6, 2),
            edge(6, "wasDerivedFrom", "version", 6, 5),
            edge(7, "used", "read", 3, 6),
            edge(8, "used", "open", 3, 6),
            edge(9, "wasGeneratedBy", "write", 7, 3),
            edge(10, "wasDerivedFrom", "copy", 7, 6),
            edge(11, "wasAssociatedWith", "associated", 1, 8),
            edge(12, "wasAssociatedWith", "associated", 2, 8),
            edge(13, "wasAssociatedWith", "associated", 3, 8),
            edge(14, "used", "map", 2, 9),
            edge(15, "used", "map", 3, 9),
            edge(16, "wasInvalidatedBy", "delete", 4, 3),
          ],
        });
      };
      const depthsOf = (nodes: { id: number; depth: number }[]) =>
        Object.fromEntries(nodes.map((n) => [n.id, n.depth]));

      it("walks ancestors in PROV's direction, nearest first, with depths, through cycles", async () => {
        const run = await store.createRun(newRun("lineage"));
        await store.appendBatch(run, lineageGraph());
        const all = await store.lineage({ runId: run, start: [7], direction: "ancestors", depth: 10 });
        // c came from cp and b v1 (1), sh, libc, cat and b v0 (2), a (3); never the user agent
        expect(depthsOf(all.nodes)).toEqual({ 7: 0, 3: 1, 6: 1, 1: 2, 2: 2, 5: 2, 9: 2, 4: 3 });
        expect(all.nodes.map((n) => n.id)).toEqual([7, 3, 6, 1, 2, 5, 9, 4]);
        expect(all.truncated).toBe(false);
        expect(all.nodes.find((n) => n.id === 6)).toMatchObject({ gid: "file://builder-01/w/b", version: 1 });
        // every followed relation between them, the fork/wait cycle of sh and cat included
        expect(all.edges.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15]);
        expect(all.edges.find((e) => e.id === 10)).toMatchObject({
          type: "wasDerivedFrom",
          op: "copy",
          from: 7,
          to: 6,
        });

        const one = await store.lineage({ runId: run, start: [7], direction: "ancestors", depth: 1 });
        expect(depthsOf(one.nodes)).toEqual({ 7: 0, 3: 1, 6: 1 });
        expect(one.edges.map((e) => e.id)).toEqual([9, 10]);
        expect(one.truncated).toBe(false);

        const zero = await store.lineage({ runId: run, start: [7], direction: "ancestors", depth: 0 });
        expect(zero.nodes.map((n) => n.id)).toEqual([7]);
        expect(zero.edges).toEqual([]);
      });

      it("walks descendants the other way; relations to follow can be chosen", async () => {
        const run = await store.createRun(newRun("lineage"));
        await store.appendBatch(run, lineageGraph());
        const d = await store.lineage({ runId: run, start: [4], direction: "descendants", depth: 10 });
        // a went into cat, then b v1 and (through the wait) sh, then cp and c
        expect(depthsOf(d.nodes)).toEqual({ 4: 0, 2: 1, 1: 2, 6: 2, 3: 3, 7: 3 });
        expect(d.edges.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 7, 8, 9, 10]);
        // invalidations are not followed unless asked
        const up = await store.lineage({ runId: run, start: [4], direction: "ancestors", depth: 3 });
        expect(up.nodes.map((n) => n.id)).toEqual([4]);
        const withDeletes = await store.lineage({
          runId: run,
          start: [4],
          direction: "ancestors",
          depth: 1,
          relations: ["wasInvalidatedBy"],
        });
        expect(depthsOf(withDeletes.nodes)).toEqual({ 4: 0, 3: 1 });
        expect(withDeletes.edges.map((e) => e.id)).toEqual([16]);
        // several start nodes; a node id of no node of the run is ignored
        const two = await store.lineage({
          runId: run,
          start: [5, 9, 999],
          direction: "descendants",
          depth: 1,
        });
        expect(depthsOf(two.nodes)).toEqual({ 5: 0, 9: 0, 6: 1, 2: 1, 3: 1 });
        const none = await store.lineage({ runId: run, start: [999], direction: "descendants", depth: 3 });
        expect(none).toEqual({ nodes: [], edges: [], truncated: false });
      });

      it("stops at the limit, nearest nodes kept, and says so; keeps runs apart", async () => {
        const run = await store.createRun(newRun("lineage"));
        await store.appendBatch(run, lineageGraph());
        const cut = await store.lineage({
          runId: run,
          start: [7],
          direction: "ancestors",
          depth: 10,
          limit: 3,
        });
        expect(cut.truncated).toBe(true);
        expect(cut.nodes.map((n) => n.id)).toEqual([7, 3, 6]);
        // the relations among the nodes kept (cp read b v1 twice)
        expect(cut.edges.map((e) => e.id)).toEqual([7, 8, 9, 10]);
        const exact = await store.lineage({
          runId: run,
          start: [7],
          direction: "ancestors",
          depth: 10,
          limit: 8,
        });
        expect(exact.truncated).toBe(false);
        expect(exact.nodes).toHaveLength(8);
        // the same ids in another run, without relations: nothing of the first run leaks in
        const other = await store.createRun(newRun("other"));
        await store.appendBatch(other, batch({ nodes: lineageGraph().nodes }));
        const alone = await store.lineage({ runId: other, start: [7], direction: "ancestors", depth: 10 });
        expect(alone.nodes.map((n) => n.id)).toEqual([7]);
        await expect(
          store.lineage({ runId: run, start: [7], direction: "ancestors", depth: -1 }),
        ).rejects.toThrow(/depth/);
        await expect(
          store.lineage({ runId: run, start: [7], direction: "ancestors", depth: 2, limit: 0 }),
        ).rejects.toThrow(/limit/);
      });

      it("finds the chains from one node to another, shortest first, each hop's relations with it", async () => {
        const run = await store.createRun(newRun("lineage"));
        await store.appendBatch(run, lineageGraph());
        const p = await store.paths({ runId: run, from: [4], to: [7], depth: 10 });
        expect(p.truncated).toBe(false);
        expect(p.paths).toEqual([
          { nodes: [4, 2, 6, 7], edges: [4, 5, 10] },
          { nodes: [4, 2, 1, 3, 7], edges: [4, 3, 2, 9] },
          { nodes: [4, 2, 6, 3, 7], edges: [4, 5, 7, 8, 9] },
        ]);
        expect(p.nodes.map((n) => n.id)).toEqual([1, 2, 3, 4, 6, 7]);
        expect(p.edges.map((e) => e.id)).toEqual([2, 3, 4, 5, 7, 8, 9, 10]);
        const short = await store.paths({ runId: run, from: [4], to: [7], depth: 3 });
        expect(short.paths.map((c) => c.nodes)).toEqual([[4, 2, 6, 7]]);
        const two = await store.paths({ runId: run, from: [4], to: [7], depth: 10, maxPaths: 2 });
        expect(two.truncated).toBe(true);
        expect(two.paths).toHaveLength(2);
        // nothing flows from c back to a
        const back = await store.paths({ runId: run, from: [7], to: [4], depth: 10 });
        expect(back).toEqual({ paths: [], nodes: [], edges: [], truncated: false });
      });

      // one process P (1) reads A (2) at 10, writes B (3) at 20, reads C (4) at 30, writes D (5) at 40,
      // and reads E (6) from 5 to 35 (two reads, one aggregated relation); it forks Q (7) at 12 and
      // waits for it at 25; Q reads F (8) at 15 and G (9) at 24, and writes H (10) at 22, which P
      // reads at 45; T (11) has no time: a relation of a timeless source, always followed
      const causalGraph = (): Batch =>
        batch({
          nodes: [
            processNode(1, 20, ["p"], 1, 100),
            fileNode(2, "/c/a"),
            fileNode(3, "/c/b"),
            fileNode(4, "/c/c"),
            fileNode(5, "/c/d"),
            fileNode(6, "/c/e"),
            processNode(7, 21, ["q"], 12, 25),
            fileNode(8, "/c/f"),
            fileNode(9, "/c/g"),
            fileNode(10, "/c/h"),
            fileNode(11, "/c/t"),
          ],
          edges: [
            edge(1, "used", "read", 1, 2, 10),
            edge(2, "wasGeneratedBy", "write", 3, 1, 20),
            edge(3, "used", "read", 1, 4, 30),
            edge(4, "wasGeneratedBy", "write", 5, 1, 40),
            { ...edge(5, "used", "read", 1, 6, 5), tsEnd: 35, count: 2 },
            edge(6, "wasInformedBy", "fork", 7, 1, 12),
            edge(7, "wasInformedBy", "wait", 1, 7, 25),
            edge(8, "used", "read", 7, 8, 15),
            edge(9, "used", "read", 7, 9, 24),
            edge(10, "wasGeneratedBy", "write", 10, 7, 22),
            edge(11, "used", "read", 1, 10, 45),
            edge(12, "used", "read", 1, 11, null),
          ],
        });
      const sorted = (nodes: { id: number }[]) => nodes.map((n) => n.id).sort((a, b) => a - b);

      it("--causal: ancestors only through relations that happened before what they lead to", async () => {
        const run = await store.createRun(newRun("causal"));
        await store.appendBatch(run, causalGraph());
        const q = { runId: run, direction: "ancestors" as const, depth: 10 };
        // the plain walk: B came from everything P ever read, Q's reads through the fork/wait cycle
        expect(sorted((await store.lineage({ ...q, start: [3] })).nodes)).toEqual([
          1, 2, 3, 4, 6, 7, 8, 9, 10, 11,
        ]);
        // in time order: P before 20 read A (10) and E (5..35, from 5); it had forked Q at 12, but
        // the wait at 25 comes after B, so nothing of Q; T has no time
        const b = await store.lineage({ ...q, start: [3], causal: true });
        expect(sorted(b.nodes)).toEqual([1, 2, 3, 6, 11]);
        expect(b.edges.map((e) => e.id)).toEqual([1, 2, 5, 12]);
        expect(b.truncated).toBe(false);
        expect(Object.fromEntries(b.nodes.map((n) => [n.id, n.depth]))).toEqual({
          3: 0,
          1: 1,
          2: 2,
          6: 2,
          11: 2,
        });
        // D at 40: all P read before 40 and, through the wait at 25, what Q read before it ended;
        // not H, which P read at 45
        const d = await store.lineage({ ...q, start: [5], causal: true });
        expect(sorted(d.nodes)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 11]);
        expect(d.edges.map((e) => e.id)).toEqual([1, 3, 4, 5, 6, 7, 8, 9, 12]);
        // a depth bound still holds
        const near = await store.lineage({ ...q, start: [5], depth: 1, causal: true });
        expect(sorted(near.nodes)).toEqual([1, 5]);
      });

      it("--causal: descendants only through relations that happened after the content got there", async () => {
        const run = await store.createRun(newRun("causal"));
        await store.appendBatch(run, causalGraph());
        const q = { runId: run, direction: "descendants" as const, depth: 10 };
        // C, read at 30, reaches D (40) only: B was written at 20, Q had ended at 25
        const c = await store.lineage({ ...q, start: [4], causal: true });
        expect(sorted(c.nodes)).toEqual([1, 4, 5]);
        expect(c.edges.map((e) => e.id)).toEqual([3, 4]);
        // F, read by Q at 15, flows to H (22) and, through the wait (25), to P and D (40), not B (20)
        const f = await store.lineage({ ...q, start: [8], causal: true });
        expect(sorted(f.nodes)).toEqual([1, 5, 7, 8, 10]);
        // the plain walk goes everywhere from P
        expect(sorted((await store.lineage({ ...q, start: [8] })).nodes)).toEqual([1, 3, 5, 7, 8, 10]);
        // A is read at 10, before the fork at 12: everything P and Q did after is downstream of it
        const a = await store.lineage({ ...q, start: [2], causal: true });
        expect(sorted(a.nodes)).toEqual([1, 2, 3, 5, 7, 10]);
      });

      it("--causal: walks a node again when it is reached later with a looser time bound", async () => {
        // R (2) reads X (1) at 50, writes W (6) at 40 and Y (3) at 60; S (4) reads X at 10 and writes
        // Z (5) at 20, which R reads at 30. Going down from X, R is reached first directly (depth 1,
        // from 50: Y only), then through S and Z (depth 3, from 30): walked again, it reaches W
        const run = await store.createRun(newRun("causal"));
        await store.appendBatch(
          run,
          batch({
            nodes: [
              fileNode(1, "/x"),
              processNode(2, 30, ["r"], 1, 100),
              fileNode(3, "/y"),
              processNode(4, 31, ["s"], 1, 100),
              fileNode(5, "/z"),
              fileNode(6, "/w"),
            ],
            edges: [
              edge(1, "used", "read", 2, 1, 50),
              edge(2, "wasGeneratedBy", "write", 3, 2, 60),
              edge(3, "used", "read", 4, 1, 10),
              edge(4, "wasGeneratedBy", "write", 5, 4, 20),
              edge(5, "used", "read", 2, 5, 30),
              edge(6, "wasGeneratedBy", "write", 6, 2, 40),
            ],
          }),
        );
        const q = { runId: run, depth: 10, causal: true };
        const x = await store.lineage({ ...q, start: [1], direction: "descendants" });
        expect(Object.fromEntries(x.nodes.map((n) => [n.id, n.depth]))).toEqual({
          1: 0,
          2: 1,
          4: 1,
          3: 2,
          5: 2,
          6: 4,
        });
        expect(x.edges.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
        // three relations deep, R is only reached from 50: no W
        const x3 = await store.lineage({ ...q, start: [1], direction: "descendants", depth: 3 });
        expect(sorted(x3.nodes)).toEqual([1, 2, 3, 4, 5]);
        // ancestors of W (40): R before 40 read Z (30), not X (50); X comes in through S (10)
        const w = await store.lineage({ ...q, start: [6], direction: "ancestors" });
        expect(sorted(w.nodes)).toEqual([1, 2, 4, 5, 6]);
        expect(w.edges.map((e) => e.id)).toEqual([3, 4, 5, 6]);
        // ancestors of Y (60): both of R's reads
        const y = await store.lineage({ ...q, start: [3], direction: "ancestors" });
        expect(sorted(y.nodes)).toEqual([1, 2, 3, 4, 5]);
        // more nodes than the limit: the nearest kept, flagged
        const cut = await store.lineage({
          runId: run,
          start: [3],
          direction: "ancestors",
          depth: 10,
          limit: 3,
          causal: true,
        });
        expect(cut.nodes.map((n) => n.id)).toEqual([3, 2, 1]);
        expect(cut.truncated).toBe(true);
        expect(cut.edges.map((e) => e.id)).toEqual([1, 2]);
      });

      it("--causal chains: each hop after the content got there", async () => {
        const run = await store.createRun(newRun("causal"));
        await store.appendBatch(run, causalGraph());
        const q = { runId: run, depth: 10 };
        const chains = (r: { paths: { nodes: number[] }[] }) => r.paths.map((x) => x.nodes);
        // C (read at 30) never reached B (written at 20); the plain search finds C → P → B
        expect(chains(await store.paths({ ...q, from: [4], to: [3] }))).toEqual([[4, 1, 3]]);
        expect(await store.paths({ ...q, from: [4], to: [3], causal: true })).toEqual({
          paths: [],
          nodes: [],
          edges: [],
          truncated: false,
        });
        const cd = await store.paths({ ...q, from: [4], to: [5], causal: true });
        expect(cd.paths).toEqual([{ nodes: [4, 1, 5], edges: [3, 4] }]);
        expect(cd.nodes.map((n) => n.id)).toEqual([1, 4, 5]);
        expect(cd.edges.map((e) => e.id)).toEqual([3, 4]);
        // F → Q → P (the wait, 25) → D (40); not through H, which P read at 45, after D
        expect(chains(await store.paths({ ...q, from: [8], to: [5] }))).toEqual([
          [8, 7, 1, 5],
          [8, 7, 10, 1, 5],
        ]);
        const fd = await store.paths({ ...q, from: [8], to: [5], causal: true });
        expect(fd.paths).toEqual([{ nodes: [8, 7, 1, 5], edges: [8, 7, 4] }]);
        expect(fd.truncated).toBe(false);
        // B was written (20) before the wait (25): nothing of F is in it
        expect(chains(await store.paths({ ...q, from: [8], to: [3] }))).toEqual([
          [8, 7, 1, 3],
          [8, 7, 10, 1, 3],
        ]);
        expect((await store.paths({ ...q, from: [8], to: [3], causal: true })).paths).toEqual([]);
        // A (read at 10) reaches B (20) and D (40) through P; the way back to P through Q would pass
        // P twice. Two targets, at most one chain: the first by node ids, and the answer says it is cut
        const ab = await store.paths({ ...q, from: [2], to: [3, 5], causal: true });
        expect(chains(ab)).toEqual([
          [2, 1, 3],
          [2, 1, 5],
        ]);
        expect(ab.truncated).toBe(false);
        const one = await store.paths({ ...q, from: [2], to: [3, 5], causal: true, maxPaths: 1 });
        expect(chains(one)).toEqual([[2, 1, 3]]);
        expect(one.truncated).toBe(true);
        // a depth too short for any chain
        expect((await store.paths({ ...q, depth: 2, from: [8], to: [5], causal: true })).paths).toEqual([]);
      });

      it("finds nodes by global id, path and pid", async () => {
        const run = await store.createRun(newRun("lineage"));
        await store.appendBatch(run, lineageGraph());
        const ids = (ns: GraphNode[]) => ns.map((n) => n.id);
        expect(ids(await store.getNodes(run, { gids: ["file://builder-01/w/b"] }))).toEqual([5, 6]);
        expect(ids(await store.getNodes(run, { paths: ["/w/b", "/w/c"] }))).toEqual([5, 6, 7]);
        expect(ids(await store.getNodes(run, { pids: [12, 11] }))).toEqual([2, 3]);
        expect(ids(await store.getNodes(run, { paths: ["/nowhere"] }))).toEqual([]);
      });
    });

    describe("machines streaming in", () => {
      const T0 = KEYED_T0;
      const kn = keyedNode;
      const ke = (key: string, from: string, to: string): KeyedEdge => keyedEdge(key, from, to);
      const part = (runId: number, machineId: string, extra: Partial<MachinePart>): MachinePart => ({
        runId,
        machineId,
        nodes: [],
        edges: [],
        problems: [],
        packets: 1,
        errors: 0,
        seen: T0,
        ...extra,
      });

      it("gives each machine one run, the same when opened again, and registers it", async () => {
        const a = await store.openMachineRun({
          machineId: "111",
          command: ["mqtt://b/camflow/provenance/111"],
        });
        const b = await store.openMachineRun({ machineId: "222", start: T0 });
        expect(b).not.toBe(a);
        expect(await store.openMachineRun({ machineId: "111" })).toBe(a);
        const run = await store.findRun(a);
        expect(run?.source).toBe("mqtt");
        expect(run?.machineId).toBe("111");
        expect(run?.status).toBe("running");
        expect(run?.command).toEqual(["mqtt://b/camflow/provenance/111"]);
        expect((await store.findRun(b))?.start).toBe(T0);
        const machines = await store.listMachines();
        expect(machines.map((m) => [m.machineId, m.runId, m.packets, m.nodes, m.edges, m.errors])).toEqual([
          ["111", a, 0, 0, 0, 0],
          ["222", b, 0, 0, 0, 0],
        ]);
        await store.closeMachineRun(a, T0 + 5);
        const closed = await store.findRun(a);
        expect(closed?.status).toBe("complete");
        expect(closed?.end).toBe(T0 + 5);
        // streaming again resumes the same run
        expect(await store.openMachineRun({ machineId: "111" })).toBe(a);
        expect((await store.findRun(a))?.status).toBe("running");
      });

      it("keeps relations waiting for nodes of later batches, and redelivery adds nothing", async () => {
        const run = await store.openMachineRun({ machineId: "7", start: T0 });
        const first = part(run, "7", {
          nodes: [kn("A"), kn("B")],
          // A→B now; A→C and C→D wait for C and D
          edges: [ke("r1", "A", "B"), ke("r2", "A", "C"), ke("r3", "C", "D")],
          packets: 2,
          problems: [{ file: "camflow/provenance/7", line: 2, message: "bad record", text: "{" }],
          errors: 1,
        });
        const r1 = await store.appendMachineBatch([first]);
        expect(r1).toEqual([{ runId: run, machineId: "7", nodes: 2, edges: 1 }]);
        let m = (await store.listMachines())[0];
        expect([m?.packets, m?.nodes, m?.edges, m?.waiting, m?.errors]).toEqual([2, 2, 1, 2, 1]);
        const second = part(run, "7", { nodes: [kn("C")], seen: T0 + 10 });
        expect(await store.appendMachineBatch([second])).toEqual([
          { runId: run, machineId: "7", nodes: 1, edges: 1 },
        ]);
        const third = part(run, "7", { nodes: [kn("D")], seen: T0 + 20 });
        expect(await store.appendMachineBatch([third])).toEqual([
          { runId: run, machineId: "7", nodes: 1, edges: 1 },
        ]);
        // everything again (a subscriber restarted before acknowledging): no new row
        const again = await store.appendMachineBatch([first, second, third]);
        expect(again).toEqual([{ runId: run, machineId: "7", nodes: 0, edges: 0 }]);
        const nodes = await store.getNodes(run);
        expect(nodes.map((n) => n.label).sort()).toEqual(["[file] A", "[file] B", "[file] C", "[file] D"]);
        const byId = new Map(nodes.map((n) => [n.id, n.attrs.sourceId]));
        const edges = await store.getEdges(run);
        expect(edges.map((e) => [e.attrs.sourceId, byId.get(e.from), byId.get(e.to)]).sort()).toEqual([
          ["r1", "A", "B"],
          ["r2", "A", "C"],
          ["r3", "C", "D"],
        ]);
        m = (await store.listMachines())[0];
        expect([m?.packets, m?.nodes, m?.edges, m?.waiting, m?.errors]).toEqual([8, 4, 3, 0, 2]);
        expect(m?.firstSeen).toBe(T0);
        expect(m?.lastSeen).toBe(T0 + 20);
        const problems = await store.getProblems(run);
        expect(problems[0]).toEqual({
          file: "camflow/provenance/7",
          line: 2,
          message: "bad record",
          text: "{",
        });
        const rec = await store.findRun(run);
        expect([rec?.nodeCount, rec?.edgeCount]).toEqual([4, 3]);
      });

      it("merges a second description of a node, and keeps machines apart", async () => {
        const r7 = await store.openMachineRun({ machineId: "7" });
        const r8 = await store.openMachineRun({ machineId: "8" });
        await store.appendMachineBatch([
          part(r7, "7", { nodes: [kn("A", { mode: "r" }), kn("A", { size: 5 })] }),
          part(r8, "8", { nodes: [kn("A")], edges: [ke("r1", "A", "A")] }),
        ]);
        await store.appendMachineBatch([part(r7, "7", { nodes: [kn("A", { mode: "w" })] })]);
        const [a] = await store.getNodes(r7);
        expect(a?.attrs).toEqual({ sourceId: "A", mode: ["r", "w"], size: 5 });
        expect((await store.getNodes(r8)).length).toBe(1);
        expect((await store.getEdges(r8)).length).toBe(1);
        expect((await store.getEdges(r7)).length).toBe(0);
        const ms = await store.listMachines();
        expect(ms.map((m) => [m.machineId, m.nodes, m.edges, m.packets])).toEqual([
          ["7", 1, 0, 2],
          ["8", 1, 1, 1],
        ]);
      });

      it("registers announced machines, and forgets a deleted run", async () => {
        await store.noteMachine("900", T0, true);
        await store.noteMachine("900", T0 + 3);
        const [m] = await store.listMachines();
        expect(m).toMatchObject({
          machineId: "900",
          runId: null,
          firstSeen: T0,
          lastSeen: T0 + 3,
          announced: true,
        });
        const run = await store.openMachineRun({ machineId: "900" });
        await store.appendMachineBatch([part(run, "900", { edges: [ke("r", "X", "Y")] })]);
        expect((await store.listMachines())[0]?.waiting).toBe(1);
        await store.deleteRun(run);
        expect((await store.listMachines())[0]).toMatchObject({ runId: null, waiting: 0 });
        await expect(store.appendMachineBatch([part(run, "900", {})])).rejects.toThrow(
          new RegExp(String(run)),
        );
      });
    });
  });
}
