import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeExportInput } from "../src/export/export-input.js";
import { stringSink } from "../src/export/export-sink.js";
import { getExporter } from "../src/export/exporter-registry.js";
import type { GraphEdge, GraphNode } from "../src/graph/prov-types.js";
import { type RunningServer, startServer } from "../src/server/http-server.js";
import { openPostgresStore } from "../src/store/postgres-store.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { GraphStore } from "../src/store/store-types.js";
import { dropSchemas, postgresAvailable, schemaUrl, uniqueSchema } from "./helpers/postgres.js";
import { edge, fileNode, newRun, processNode } from "./store-contract.js";

const T = 1_700_000_000_000_000;
const dir = mkdtempSync(join(tmpdir(), "provflow-server-"));
const pgUp = await postgresAvailable("the server's changes endpoint on PostgreSQL (test/server-api.test.ts)");
const pgBase = uniqueSchema("server");

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pgUp) await dropSchemas(pgBase);
});

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
type Json = any;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Json;
}

/** A raw GET (the path is sent exactly as given: no normalisation of `..`). */
function get(
  server: RunningServer,
  path: string,
  opts: { headers?: Record<string, string>; method?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: server.port, path, method: opts.method ?? "GET", headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A small build: sh forks cc (which execs) and rm; cc reads x.c and writes x.o; rm deletes a temp file. */
function buildGraph(variant: "a" | "b"): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const sh = {
    ...processNode(1, 100, ["/bin/sh", "-c", "make"], T, T + 900),
    attrs: { pid: 100, exe: "/bin/sh", argv: ["sh"], exitCode: 0 },
  };
  const cc0 = processNode(2, 101, ["sh"], T + 100, T + 150);
  const cc = {
    ...processNode(3, 101, ["/usr/bin/gcc-12", "-c", "x.c"], T + 150, T + 600),
    attrs: {
      pid: 101,
      exe: "/usr/bin/gcc-12",
      argv: ["gcc", "-c", "x.c"],
      exitCode: variant === "a" ? 0 : 1,
      generation: 1,
    },
  };
  const rm = processNode(4, 102, ["/bin/rm", "/tmp/t"], T + 700, T + 800);
  const nodes: GraphNode[] = [
    sh,
    cc0,
    cc,
    rm,
    fileNode(5, "/src/x.c", 0, { category: "user-data" }),
    { ...fileNode(6, "/src/x.o", 1, { category: "user-data" }), start: T + 500 },
    fileNode(7, "/usr/lib/libc.so.6", 0, { category: "shared-library" }),
    { ...fileNode(8, "/tmp/t", 0, { category: "temporary", deleted: true }), start: T + 750 },
  ];
  if (variant === "b") nodes.push(fileNode(9, "/src/extra.h", 0, { category: "user-data" }));
  const edges: GraphEdge[] = [
    edge(1, "wasInformedBy", "fork", 2, 1, T + 100),
    edge(2, "wasInformedBy", "exec", 3, 2, T + 150),
    edge(3, "used", "read", 3, 5, T + 200),
    edge(4, "wasGeneratedBy", "write", 6, 3, T + 500),
    edge(5, "used", "map", 3, 7, T + 160),
    edge(6, "wasInformedBy", "fork", 4, 1, T + 700),
    edge(7, "wasInvalidatedBy", "delete", 8, 4, T + 750),
    edge(8, "wasInformedBy", "wait", 1, 3, T + 610),
  ];
  if (variant === "b") edges.push(edge(9, "used", "read", 3, 9, T + 210));
  return { nodes, edges };
}

async function seed(store: GraphStore, name: string, variant: "a" | "b"): Promise<number> {
  const id = await store.createRun(newRun(name, { command: ["make"], cwd: "/src", start: T }));
  await store.appendBatch(id, { ...buildGraph(variant), steps: [], problems: [] });
  await store.updateRun(id, { status: "complete", end: T + 900, exitCode: variant === "a" ? 0 : 2 });
  return id;
}

describe("provflow serve: the JSON API", () => {
  const dbPath = join(dir, "api.db");
  let store: GraphStore;
  let server: RunningServer;
  let a = 0;
  let b = 0;

  beforeAll(async () => {
    store = openSqliteStore(dbPath);
    a = await seed(store, "build-a", "a");
    b = await seed(store, "build-b", "b");
    server = await startServer({ store, port: 0, live: { pollMs: 50 } });
  });

  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it("lists runs newest first, and gives one run and its summary", async () => {
    const runs = (await get(server, "/api/runs")).json().runs;
    expect(runs.map((r: { name: string }) => r.name)).toEqual(["build-b", "build-a"]);
    expect(runs[1]).toMatchObject({
      id: a,
      command: ["make"],
      host: "builder-01",
      exitCode: 0,
      nodeCount: 8,
      edgeCount: 8,
      duration: 0.0009,
    });
    expect(runs[1].startIso).toBe("2023-11-14T22:13:20.000000Z");
    const one = await get(server, `/api/runs/build-a`);
    expect(one.json().id).toBe(a);
    const summary = (await get(server, `/api/runs/${a}/summary`)).json();
    expect(summary.processes.map((p: { pid: number }) => p.pid).sort()).toEqual([100, 101, 101, 102]);
    expect(summary.files.map((f: { path: string }) => f.path)).toContain("/src/x.o");
    const missing = await get(server, "/api/runs/nope");
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({ error: "no run nope in the database", status: 404 });
  });

  it("pages nodes by keyset and filters them by type, category, process, time window and text", async () => {
    const ids = (r: Reply) => r.json().nodes.map((n: { id: number }) => n.id);
    const p1 = await get(server, `/api/runs/${a}/nodes?limit=3`);
    expect(ids(p1)).toEqual([1, 2, 3]);
    expect(p1.json().next).toBe("3");
    const p3 = await get(server, `/api/runs/${a}/nodes?limit=3&after=6`);
    expect(ids(p3)).toEqual([7, 8]);
    expect(p3.json().next).toBeNull();
    expect(ids(await get(server, `/api/runs/${a}/nodes?type=process`))).toEqual([1, 2, 3, 4]);
    expect(ids(await get(server, `/api/runs/${a}/nodes?type=file&category=user-data,temporary`))).toEqual([
      5, 6, 8,
    ]);
    // what gcc (node 3) touched: its files and the processes it relates to
    expect(ids(await get(server, `/api/runs/${a}/nodes?process=3`))).toEqual([1, 2, 5, 6, 7]);
    expect(ids(await get(server, `/api/runs/${a}/nodes?process=3&type=file`))).toEqual([5, 6, 7]);
    expect(ids(await get(server, `/api/runs/${a}/nodes?type=process&from=${T + 650}&to=${T + 720}`))).toEqual(
      [1, 4],
    );
    expect(
      ids(await get(server, `/api/runs/${a}/nodes?type=process&from=2023-11-14T22:13:20.000650Z`)),
    ).toEqual([1, 4]);
    expect(ids(await get(server, `/api/runs/${a}/nodes?q=GCC`))).toEqual([3]);
    const bad = await get(server, `/api/runs/${a}/nodes?type=spaceship`);
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/type: unknown value "spaceship"/);
    expect((await get(server, `/api/runs/${a}/nodes?limit=1000000`)).status).toBe(400);
  });

  it("pages edges and filters them by type, process and time window", async () => {
    const ids = (r: Reply) => r.json().edges.map((e: { id: number }) => e.id);
    expect(ids(await get(server, `/api/runs/${a}/edges?type=used`))).toEqual([3, 5]);
    expect(ids(await get(server, `/api/runs/${a}/edges?process=4`))).toEqual([6, 7]);
    expect(ids(await get(server, `/api/runs/${a}/edges?from=${T + 450}&to=${T + 650}`))).toEqual([4, 8]);
    const page = await get(server, `/api/runs/${a}/edges?limit=5`);
    expect(page.json().next).toBe("5");
    expect(ids(await get(server, `/api/runs/${a}/edges?after=5`))).toEqual([6, 7, 8]);
  });

  it("gives a node with its relations and neighbours, marked when ended or deleted", async () => {
    const r = (await get(server, `/api/runs/${a}/nodes/3`)).json();
    expect(r.node).toMatchObject({ id: 3, label: "/usr/bin/gcc-12 -c x.c", ended: true });
    expect(r.edges.map((e: { id: number }) => e.id)).toEqual([2, 3, 4, 5, 8]);
    expect(r.neighbours.map((n: { id: number }) => n.id)).toEqual([1, 2, 5, 6, 7]);
    expect((await get(server, `/api/runs/${a}/nodes/8`)).json().node.deleted).toBe(true);
    expect((await get(server, `/api/runs/${a}/nodes/99`)).status).toBe(404);
    expect((await get(server, `/api/runs/${a}/nodes/x1`)).status).toBe(400);
  });

  it("gives the batchflow's processes and the compact graph", async () => {
    const p = (await get(server, `/api/runs/${a}/processes`)).json();
    expect(p.processes.map((x: { id: number; pid: number }) => [x.id, x.pid])).toEqual([
      [1, 100],
      [2, 101],
      [3, 101],
      [4, 102],
    ]);
    expect(p.processes[2]).toMatchObject({ exe: "/usr/bin/gcc-12", exitCode: 0, generation: 1 });
    expect(p.links.map((l: { op: string }) => l.op).sort()).toEqual(["exec", "fork", "fork", "wait"]);
    expect(Number(p.cursor)).toBeGreaterThan(0);
    const g = (await get(server, `/api/runs/${a}/graph`)).json();
    expect(g.nodes).toHaveLength(8);
    expect(g.nodes[4]).toEqual([5, "file", "/src/x.c", "user-data", null, null]);
    expect(g.edges).toHaveLength(8);
    expect(g.edges[0]).toEqual([1, 2, 1, "wasInformedBy", "fork"]);
    expect(g.truncated).toBe(false);
    const cut = (await get(server, `/api/runs/${a}/graph?limit=4`)).json();
    expect(cut.truncated).toBe(true);
    // only the relations among the nodes sent
    expect(cut.edges.map((e: number[]) => e[0])).toEqual([1, 2, 6, 8]);
    // the graph view's columns: the same nodes and relations, one array per field
    const c = (await get(server, `/api/runs/${a}/graph?format=columns`)).json();
    const col = <T>(blocks: Record<string, T[]>[], k: string): T[] => blocks.flatMap((b) => b[k] as T[]);
    expect(col(c.nodes, "id")).toEqual(g.nodes.map((n: unknown[]) => n[0]));
    expect(
      col<number>(c.nodes, "id").map((id, i) => [
        id,
        col(c.nodes, "type")[i],
        col(c.nodes, "label")[i],
        col(c.nodes, "category")[i],
        col(c.nodes, "start")[i],
        col(c.nodes, "end")[i],
      ]),
    ).toEqual(g.nodes);
    expect(col(c.edges, "from")).toEqual(g.edges.map((e: unknown[]) => e[1]));
    expect(col(c.edges, "to")).toEqual(g.edges.map((e: unknown[]) => e[2]));
    expect(col(c.edges, "links")).toEqual(
      g.edges.filter((e: unknown[]) => e[3] === "wasInformedBy").map((e: unknown[]) => [e[1], e[2], e[4]]),
    );
    expect(c.cursor).toBe(g.cursor);
    const ccut = (await get(server, `/api/runs/${a}/graph?format=columns&limit=4`)).json();
    expect(ccut.truncated).toBe(true);
    expect(col(ccut.nodes, "id")).toEqual([1, 2, 3, 4]);
    expect(col(ccut.edges, "from").length).toBe(4);
    expect((await get(server, `/api/runs/${a}/graph?format=xml`)).status).toBe(400);
  });

  it("searches by path, executable or command line", async () => {
    const s = (q: string) => get(server, `/api/runs/${a}/search?q=${encodeURIComponent(q)}`);
    expect((await s("x.o")).json().nodes.map((n: { id: number }) => n.id)).toEqual([6]);
    expect((await s("gcc-12")).json().nodes.map((n: { id: number }) => n.id)).toEqual([3]);
    expect((await s("rm /tmp")).json().nodes.map((n: { id: number }) => n.id)).toEqual([4]);
    expect((await get(server, `/api/runs/${a}/search`)).status).toBe(400);
  });

  it("walks lineage and paths in the database", async () => {
    const up = (await get(server, `/api/runs/${a}/lineage/6?direction=ancestors&depth=2`)).json();
    // x.o was generated by gcc, which used x.c and libc and was informed by its first generation
    expect(up.nodes.map((n: { id: number }) => n.id).sort()).toEqual([2, 3, 5, 6, 7]);
    const both = (await get(server, `/api/runs/${a}/lineage/%2Fsrc%2Fx.c?direction=both&depth=3`)).json();
    // x.c → gcc (used it) → x.o (it wrote) and sh (waited for gcc) → what sh forked (gcc's first generation, rm)
    expect(both.descendants.sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(both.ancestors).toEqual([5]);
    // in time order: sh forked gcc's first generation (T+100) before gcc read x.c (T+200)
    const causal = (
      await get(server, `/api/runs/${a}/lineage/%2Fsrc%2Fx.c?direction=both&depth=3&causal=1`)
    ).json();
    expect(causal.causal).toBe(true);
    expect(causal.descendants.sort()).toEqual([1, 3, 4, 5, 6]);
    expect((await get(server, `/api/runs/${a}/lineage/6?causal=maybe`)).status).toBe(400);
    const p = (await get(server, `/api/runs/${a}/path?from=/src/x.c&to=/src/x.o`)).json();
    expect(p.paths[0].nodes).toEqual([5, 3, 6]);
    // in time order: x.c reaches rm (forked after the wait) but not gcc's first generation (forked before)
    const toRm = (await get(server, `/api/runs/${a}/path?from=/src/x.c&to=4&causal=1`)).json();
    expect(toRm.causal).toBe(true);
    expect(toRm.paths.map((x: { nodes: number[] }) => x.nodes)).toEqual([[5, 3, 1, 4]]);
    const plain = (await get(server, `/api/runs/${a}/path?from=/src/x.c&to=2`)).json();
    expect(plain.paths.map((x: { nodes: number[] }) => x.nodes)).toEqual([[5, 3, 1, 2]]);
    expect((await get(server, `/api/runs/${a}/path?from=/src/x.c&to=2&causal=1`)).json().paths).toEqual([]);
    expect((await get(server, `/api/runs/${a}/lineage/6?direction=sideways`)).status).toBe(400);
    expect((await get(server, `/api/runs/${a}/path?from=/nowhere&to=6`)).status).toBe(404);
  });

  it("compares two runs", async () => {
    const d = (await get(server, `/api/diff?a=${a}&b=build-b`)).json();
    expect(d.same).toBe(false);
    expect(d.files.added.map((e: { key: string }) => e.key)).toContain("./extra.h");
    expect(d.a).toEqual({ id: a, name: "build-a" });
    expect(d.b).toEqual({ id: b, name: "build-b" });
    expect((await get(server, `/api/diff?a=${a}`)).status).toBe(400);
  });

  it("streams exports as downloads, the same bytes as the exporter writes", async () => {
    const formats = (await get(server, "/api/formats"))
      .json()
      .formats.map((f: { format: string }) => f.format);
    expect(formats).toContain("prov-json");
    expect(formats).toContain("dockerfile");
    const r = await get(server, `/api/runs/${a}/export/prov-n`);
    expect(r.status).toBe(200);
    expect(r.headers["content-disposition"]).toBe(`attachment; filename="build-a-${a}.provn"`);
    const run = await store.findRun(a);
    const want = stringSink();
    await getExporter("prov-n")!.write(storeExportInput(store, run!, { redact: true }), want.sink);
    expect(r.body).toBe(want.text());
    expect((await get(server, `/api/runs/${a}/export/nope`)).status).toBe(404);
  });

  it("sends a folder export (the dockerfile's build context) as a tar that tar(1) reads back", async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/runs/${a}/export/dockerfile`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-tar");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="build-a-${a}.dockerfile.tar"`);
    const tarFile = join(dir, "context.tar");
    writeFileSync(tarFile, Buffer.from(await res.arrayBuffer()));
    const listed = execFileSync("tar", ["-tf", tarFile], { encoding: "utf8" }).split("\n").filter(Boolean);
    expect(listed).toContain("Dockerfile");
    expect(listed).toContain("provflow-context.json");
    // the same folder as the exporter writes for the CLI
    const want = join(dir, "want-context");
    const run = await store.findRun(a);
    await getExporter("dockerfile")!.write(
      storeExportInput(store, run!, { redact: true, outputDir: want }),
      () => undefined,
    );
    const got = join(dir, "got-context");
    mkdirSync(got);
    execFileSync("tar", ["-xf", tarFile, "-C", got]);
    expect(readFileSync(join(got, "Dockerfile"), "utf8")).toBe(
      readFileSync(join(want, "Dockerfile"), "utf8"),
    );
    expect(listed.filter((f) => !f.endsWith("/")).sort()).toEqual(
      execFileSync("find", [".", "-type", "f", "-printf", "%P\\n"], { cwd: want, encoding: "utf8" })
        .split("\n")
        .filter(Boolean)
        .sort(),
    );
  });

  it("streams changes as Server-Sent Events while another writer appends, and drops clients that leave", async () => {
    const live = await store.createRun(newRun("live"));
    const { cursor } = (await get(server, `/api/runs/${live}/changes?limit=1`)).json();
    const events: { event: string; data: Json; id?: string }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: server.port, path: `/api/runs/${live}/events?since=${cursor}` },
        (res) => {
          expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
          let buf = "";
          res.on("data", (c: Buffer) => {
            buf += c.toString("utf8");
            let i = buf.indexOf("\n\n");
            while (i >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const ev: { event: string; data: Json; id?: string } = { event: "message", data: null };
              for (const line of block.split("\n")) {
                if (line.startsWith("event: ")) ev.event = line.slice(7);
                else if (line.startsWith("data: ")) ev.data = JSON.parse(line.slice(6));
                else if (line.startsWith("id: ")) ev.id = line.slice(4);
              }
              if (ev.data !== null) events.push(ev);
              if (events.some((e) => e.event === "changes" && e.data.ended.length > 0)) {
                req.destroy();
                resolve();
              }
              i = buf.indexOf("\n\n");
            }
          });
        },
      );
      req.on("error", (e) => ((e as NodeJS.ErrnoException).code === "ECONNRESET" ? resolve() : reject(e)));
      req.end();
    });
    // another connection to the same database: as a trace writing from another process
    const writer = openSqliteStore(dbPath);
    await new Promise((r) => setTimeout(r, 120));
    await writer.appendBatch(live, {
      nodes: [processNode(1, 7, ["sleep", "1"], T, null)],
      edges: [],
      steps: [],
      problems: [],
    });
    await new Promise((r) => setTimeout(r, 120));
    await writer.appendBatch(live, {
      nodes: [
        { ...processNode(1, 7, ["sleep", "1"], T, T + 5), attrs: { pid: 7, exitCode: 0 } },
        fileNode(2, "/tmp/gone", 0, { deleted: true }),
      ],
      edges: [],
      steps: [],
      problems: [],
    });
    await done;
    await writer.close();
    expect(events[0]?.event).toBe("run");
    const changes = events.filter((e) => e.event === "changes");
    expect(changes[0]?.data.nodes.map((n: { id: number }) => n.id)).toEqual([1]);
    expect(changes[0]?.data.ended).toEqual([]);
    const last = changes[changes.length - 1]!;
    expect(last.data.ended).toEqual([1]);
    expect(last.data.deleted).toEqual([2]);
    expect(last.id).toBe(last.data.cursor);
    // the client left: it is cleaned up
    for (let i = 0; i < 50 && server.live.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(server.live.size).toBe(0);
  });

  it("answers errors as JSON, refuses writes, long URLs, big headers and announced bodies", async () => {
    const nf = await get(server, "/api/nothing");
    expect(nf.status).toBe(404);
    expect(nf.headers["content-type"]).toMatch(/application\/json/);
    expect(nf.json().error).toMatch(/no such endpoint/);
    const post = await get(server, "/api/runs", { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.json().error).toMatch(/read-only/);
    expect((await get(server, `/api/runs?x=${"a".repeat(9000)}`)).status).toBe(414);
    expect((await get(server, "/api/runs", { headers: { "x-big": "b".repeat(20_000) } })).status).toBe(431);
    expect((await get(server, "/api/runs", { headers: { "content-length": "1000000" } })).status).toBe(413);
    expect((await get(server, `/api/runs/${a}/search?q=${"q".repeat(2000)}`)).status).toBe(400);
  });

  it("serves the web UI and nothing outside it", async () => {
    const index = await get(server, "/");
    expect(index.status).toBe(200);
    expect(index.body).toContain('<main id="app">');
    expect((await get(server, "/app.js")).headers["content-type"]).toMatch(/javascript/);
    for (const evil of [
      "/../package.json",
      "/../../../../etc/passwd",
      "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2fpackage.json",
      "/%2e%2e%5c%2e%2e%5cpackage.json",
      "/app.js%00.html",
      "//etc/passwd",
    ]) {
      const r = await get(server, evil);
      expect([400, 404], evil).toContain(r.status);
      expect(r.body, evil).not.toMatch(/root:|"name": "provflow"/);
      expect(r.json().error, evil).toBeTruthy();
    }
  });
});

describe("provflow serve: the token rule", () => {
  let store: GraphStore;
  const root = join(dir, "web");

  beforeAll(async () => {
    store = openSqliteStore(join(dir, "token.db"));
    await seed(store, "t", "a");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "index.html"), "<p>ui</p>");
    writeFileSync(join(dir, "secret.txt"), "secret");
    symlinkSync(join(dir, "secret.txt"), join(root, "leak.txt"));
  });

  afterAll(async () => {
    await store.close();
  });

  it("needs no token on loopback, but the Host header must be loopback (DNS rebinding)", async () => {
    const s = await startServer({ store, port: 0, webRoot: root });
    try {
      expect(s.token).toBeNull();
      expect((await get(s, "/api/runs")).status).toBe(200);
      const rebound = await get(s, "/api/runs", { headers: { host: "attacker.example:8080" } });
      expect(rebound.status).toBe(401);
      // a symlink out of the web root is not followed
      expect((await get(s, "/leak.txt")).status).toBe(404);
    } finally {
      await s.close();
    }
  });

  it("beyond loopback generates a token and takes it as Bearer, as cookie, or once in the query", async () => {
    const s = await startServer({ store, host: "0.0.0.0", port: 0, webRoot: root });
    try {
      expect(s.token).toMatch(/^[\w-]{32}$/);
      const none = await get(s, "/api/runs");
      expect(none.status).toBe(401);
      expect(none.json().error).toMatch(/token is needed/);
      expect((await get(s, "/")).status).toBe(401);
      expect(
        (await get(s, "/api/runs", { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status,
      ).toBe(401);
      expect((await get(s, "/api/runs", { headers: { authorization: `Bearer ${s.token}` } })).status).toBe(
        200,
      );
      const q = await get(s, `/?token=${s.token}`);
      expect(q.status).toBe(303);
      expect(q.headers.location).toBe("/");
      const cookie = String(q.headers["set-cookie"]).split(";")[0]!;
      expect(cookie).toBe(`provflow_token=${s.token}`);
      expect(String(q.headers["set-cookie"])).toMatch(/HttpOnly; SameSite=Strict/);
      const page = await get(s, "/", { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(page.body).toBe("<p>ui</p>");
      expect((await get(s, "/api/runs", { headers: { cookie: "provflow_token=nope" } })).status).toBe(401);
      expect((await get(s, `/api/runs?token=${s.token}`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it("takes a given token", async () => {
    const s = await startServer({
      store,
      host: "0.0.0.0",
      port: 0,
      token: "given-token-0123456789",
      webRoot: root,
    });
    try {
      expect(s.token).toBe("given-token-0123456789");
      expect(
        (await get(s, "/api/runs", { headers: { authorization: "Bearer given-token-0123456789" } })).status,
      ).toBe(200);
    } finally {
      await s.close();
    }
  });
});

/** The changes endpoint over both stores: the same answers from SQLite and PostgreSQL. */
const stores: [string, () => GraphStore][] = [
  ["SQLite", () => openSqliteStore(join(dir, `changes-${Date.now()}.db`))],
];
if (pgUp) stores.push(["PostgreSQL", () => openPostgresStore(schemaUrl(`${pgBase}_changes`))]);

describe.each(stores)("provflow serve: changes since a cursor (%s)", (_name, open) => {
  it("gives everything without a cursor (paged), then only what was created, updated or ended since", async () => {
    const store = open();
    const server = await startServer({ store, port: 0 });
    try {
      const id = await store.createRun(newRun("ch"));
      await store.appendBatch(id, { ...buildGraph("a"), steps: [], problems: [] });
      const all = (await get(server, `/api/runs/${id}/changes`)).json();
      expect(all.nodes).toHaveLength(8);
      expect(all.edges).toHaveLength(8);
      expect(all.more).toBe(false);
      expect(all.ended.sort()).toEqual([1, 2, 3, 4]);
      expect(all.deleted).toEqual([8]);
      // paged: 5 at a time, each element once
      const seen = new Set<string>();
      let cursor = "0";
      for (let i = 0; i < 10; i++) {
        const p = (await get(server, `/api/runs/${id}/changes?since=${cursor}&limit=5`)).json();
        for (const n of p.nodes) seen.add(`n${n.id}`);
        for (const e of p.edges) seen.add(`e${e.id}`);
        cursor = p.cursor;
        if (!p.more) break;
      }
      expect(seen.size).toBe(16);
      expect(cursor).toBe(all.cursor);
      // a running process, a new file, a grown relation
      await store.appendBatch(id, {
        nodes: [
          processNode(10, 200, ["make", "install"], T + 1000, null),
          fileNode(11, "/usr/local/bin/x", 0, { category: "executable" }),
        ],
        edges: [{ ...edge(3, "used", "read", 3, 5, T + 200), count: 7 }],
        steps: [],
        problems: [],
      });
      const next = (await get(server, `/api/runs/${id}/changes?since=${all.cursor}`)).json();
      expect(next.nodes.map((n: { id: number }) => n.id)).toEqual([10, 11]);
      expect(next.nodes[0].ended).toBeUndefined();
      expect(next.edges).toEqual([expect.objectContaining({ id: 3, count: 7 })]);
      expect(next.ended).toEqual([]);
      const none = (await get(server, `/api/runs/${id}/changes?since=${next.cursor}`)).json();
      expect(none.nodes).toEqual([]);
      expect(none.cursor).toBe(next.cursor);
      expect((await get(server, `/api/runs/${id}/changes?since=-1`)).status).toBe(400);
      expect((await get(server, "/api/runs/424242/changes")).status).toBe(404);
      expect((await get(server, "/api/runs/ch/changes?limit=0")).json().cursor).toBe(none.cursor);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
