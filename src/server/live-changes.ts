/**
 * Server-Sent Events of a run's changes (GET /api/runs/:run/events), for a run another provflow
 * process (trace, ingest, mqtt) is writing into the same database. One timer for all clients polls
 * the database's change sequence (one row in SQLite, the sequence in PostgreSQL); when it moved, each
 * client gets what changed in its run since its own cursor, as `changes` events carrying the cursor
 * as their id (a reconnecting EventSource sends it back as Last-Event-ID), and a `run` event when the
 * run's status or end changed. Clients that disconnect are dropped at once; a client that does not
 * read is skipped until its socket drains; a comment line every 15 s keeps proxies from closing.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { GraphStore, RunRecord } from "../store/store-types.js";
import { changesJson, runJson } from "./api-routes.js";
import { HttpError } from "./http-error.js";

export interface LiveOptions {
  /** how often the change sequence is looked at (default 250 ms) */
  pollMs?: number;
  heartbeatMs?: number;
  /** clients at once at most (default 64) */
  maxClients?: number;
  /** elements per event at most (default 2000) */
  pageSize?: number;
}

interface Client {
  run: RunRecord;
  cursor: number;
  res: ServerResponse;
  /** waiting for the socket to drain */
  blocked: boolean;
  busy: boolean;
}

export class LiveChanges {
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastSeq = -1;
  /** looks left after the sequence moved (PostgreSQL hands stamps out one look later) */
  private dirty = 0;
  private polling = false;
  private readonly pollMs: number;
  private readonly heartbeatMs: number;
  private readonly maxClients: number;
  private readonly pageSize: number;

  constructor(
    private readonly store: GraphStore,
    opts: LiveOptions = {},
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.pollMs = opts.pollMs ?? 250;
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
    this.maxClients = opts.maxClients ?? 64;
    this.pageSize = opts.pageSize ?? 2000;
  }

  get size(): number {
    return this.clients.size;
  }

  subscribe(run: RunRecord, since: number, req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= this.maxClients)
      throw new HttpError(503, `too many live clients (${this.maxClients}): try again later`);
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(`retry: 2000\nevent: run\ndata: ${JSON.stringify(runJson(run))}\n\n`);
    const client: Client = { run, cursor: since, res, blocked: false, busy: false };
    this.clients.add(client);
    const drop = (): void => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.stop();
    };
    req.on("close", drop);
    res.on("close", drop);
    res.on("drain", () => {
      client.blocked = false;
      this.dirty = Math.max(this.dirty, 1);
    });
    this.start();
    // catch up at once (everything since the client's cursor)
    void this.flush(client);
  }

  private start(): void {
    if (this.timer === null) {
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
    if (this.heartbeat === null) {
      this.heartbeat = setInterval(() => {
        for (const c of this.clients) if (!c.blocked) c.res.write(": ping\n\n");
      }, this.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.timer = null;
    this.heartbeat = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const seq = await this.store.currentSeq();
      if (seq !== this.lastSeq) {
        this.lastSeq = seq;
        this.dirty = 3;
      }
      if (this.dirty > 0) {
        this.dirty--;
        await Promise.all([...this.clients].map((c) => this.flush(c)));
      }
    } catch (err) {
      this.onError(err);
    } finally {
      this.polling = false;
    }
  }

  /** Send the client what changed in its run since its cursor, and the run when it changed. */
  private async flush(c: Client): Promise<void> {
    if (c.busy || c.blocked || !this.clients.has(c)) return;
    c.busy = true;
    try {
      for (;;) {
        const set = await this.store.getChanges(c.run.id, { since: c.cursor, limit: this.pageSize });
        if (!this.clients.has(c)) return;
        if (set.nodes.length + set.edges.length > 0) {
          const ok = c.res.write(
            `id: ${set.cursor}\nevent: changes\ndata: ${JSON.stringify(changesJson(set))}\n\n`,
          );
          if (!ok) c.blocked = true;
        }
        c.cursor = set.cursor;
        if (!set.more || c.blocked) break;
      }
      const now = await this.store.findRun(c.run.id);
      if (now !== null && (now.status !== c.run.status || now.end !== c.run.end)) {
        c.run = now;
        if (this.clients.has(c)) c.res.write(`event: run\ndata: ${JSON.stringify(runJson(now))}\n\n`);
      }
    } catch (err) {
      this.onError(err);
    } finally {
      c.busy = false;
    }
  }

  /** End every stream (server shutting down). */
  close(): void {
    this.stop();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
