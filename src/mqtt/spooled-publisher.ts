import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { IClientOptions, MqttClient } from "mqtt";
import { encodeCamflowPayload } from "./camflow-payload.js";
import { machinesTopic } from "./mqtt-topics.js";

/**
 * Publishes documents as camflowd does (zlib + base64, QoS 1) to a broker that may be away: while
 * it is unreachable, or while older documents still wait, documents go to a spool directory (one
 * file each, in order) that is sent first once the broker is back. The spool is bounded: past
 * `spoolMax` bytes the oldest documents are dropped, and counted. Memory holds at most `window`
 * documents in flight.
 */

export interface SpooledPublisherOptions {
  url: string;
  topic: string;
  /** announce the machine (retained) on PREFIX/machines/MACHINE, as the two-topic protocol does */
  announce?: { prefix: string; machineId: string };
  /** without a spool directory, documents published while the broker is away are dropped (counted) */
  spoolDir?: string;
  /** bytes the spool may hold */
  spoolMax: number;
  /** QoS 1 messages not yet acknowledged, at most */
  window?: number;
  username?: string;
  password?: string;
  mqtt: typeof import("mqtt");
  onLog?: (msg: string) => void;
}

export interface PublisherStats {
  published: number;
  spooled: number;
  dropped: number;
  spoolBytes: number;
}

export class SpooledPublisher {
  private readonly client: MqttClient;
  private readonly window: number;
  private inFlight = 0;
  private seq = 0;
  private spoolFiles: string[] = [];
  private spoolBytes = 0;
  private pumping = false;
  private readonly idle: Array<() => void> = [];
  readonly stats: PublisherStats = { published: 0, spooled: 0, dropped: 0, spoolBytes: 0 };
  private warnedDown = false;

  constructor(private readonly opts: SpooledPublisherOptions) {
    this.window = Math.max(1, opts.window ?? 32);
    if (opts.spoolDir !== undefined) {
      mkdirSync(opts.spoolDir, { recursive: true });
      // documents a previous run left behind go first
      this.spoolFiles = readdirSync(opts.spoolDir)
        .filter((f) => /^\d{16}\.doc$/.test(f))
        .sort();
      for (const f of this.spoolFiles) this.spoolBytes += statSync(join(opts.spoolDir, f)).size;
      const last = this.spoolFiles[this.spoolFiles.length - 1];
      if (last !== undefined) this.seq = Number(last.slice(0, 16)) + 1;
      this.stats.spoolBytes = this.spoolBytes;
    }
    const options: IClientOptions = {
      clientId: `provflow-agent-${opts.announce?.machineId ?? "x"}-${process.pid}`,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      queueQoSZero: false,
      username: opts.username,
      password: opts.password,
    };
    this.client = opts.mqtt.connect(opts.url, options);
    this.client.on("connect", () => {
      if (this.warnedDown) opts.onLog?.(`connected to ${opts.url} again`);
      this.warnedDown = false;
      if (opts.announce) {
        const note = JSON.stringify({ machine_id: opts.announce.machineId, topic: opts.topic });
        this.client.publish(
          machinesTopic(opts.announce.prefix, opts.announce.machineId),
          encodeCamflowPayload(note),
          { qos: 1, retain: true },
        );
      }
      void this.pump();
    });
    this.client.on("offline", () => {
      if (!this.warnedDown) {
        opts.onLog?.(
          `the broker ${opts.url} is unreachable: ${opts.spoolDir ? `spooling to ${opts.spoolDir}` : "documents are dropped (no --spool)"}`,
        );
      }
      this.warnedDown = true;
    });
    this.client.on("error", () => {
      // reconnection is automatic; "offline" says it once
    });
  }

  /** Queue a document (JSON text). Never waits: it is sent, or spooled. */
  publish(json: string): void {
    const payload = encodeCamflowPayload(json);
    if (this.client.connected && this.spoolFiles.length === 0 && this.inFlight < this.window) {
      this.send(payload, null);
      return;
    }
    this.spool(payload);
    if (this.client.connected) void this.pump();
  }

  private spool(payload: string): void {
    const dir = this.opts.spoolDir;
    if (dir === undefined) {
      this.stats.dropped++;
      return;
    }
    const name = `${String(this.seq++).padStart(16, "0")}.doc`;
    writeFileSync(join(dir, name), payload);
    this.spoolFiles.push(name);
    this.spoolBytes += payload.length;
    this.stats.spooled++;
    while (this.spoolBytes > this.opts.spoolMax && this.spoolFiles.length > 1) {
      const old = this.spoolFiles.shift() as string;
      this.spoolBytes -= this.fileSize(old);
      this.unlink(old);
      this.stats.dropped++;
    }
    this.stats.spoolBytes = this.spoolBytes;
  }

  private fileSize(name: string): number {
    try {
      return statSync(join(this.opts.spoolDir as string, name)).size;
    } catch {
      return 0;
    }
  }

  private unlink(name: string): void {
    try {
      unlinkSync(join(this.opts.spoolDir as string, name));
    } catch {
      // gone already
    }
  }

  private send(payload: string, file: string | null): void {
    this.inFlight++;
    this.client.publish(this.opts.topic, payload, { qos: 1 }, (err) => {
      this.inFlight--;
      if (err) {
        // the connection went away before the broker took it: back to the spool (a spooled one stays)
        if (file === null) this.spool(payload);
        else this.spoolFiles.unshift(file);
      } else {
        this.stats.published++;
        if (file !== null) {
          this.spoolBytes -= payload.length;
          this.stats.spoolBytes = this.spoolBytes;
          this.unlink(file);
        }
      }
      if (this.client.connected) void this.pump();
      this.notifyIdle();
    });
  }

  /** sends the spool, oldest first, while the broker is there */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.client.connected && this.spoolFiles.length > 0 && this.inFlight < this.window) {
        const file = this.spoolFiles.shift() as string;
        let payload: string;
        try {
          payload = readFileSync(join(this.opts.spoolDir as string, file), "utf8");
        } catch {
          continue;
        }
        this.send(payload, file);
      }
    } finally {
      this.pumping = false;
    }
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.inFlight === 0 && (this.spoolFiles.length === 0 || !this.client.connected)) {
      for (const f of this.idle.splice(0)) f();
    }
  }

  /**
   * Waits (at most `timeoutMs`) for what is in flight and in the spool to reach the broker, then
   * disconnects. What is still not sent stays in the spool for the next start.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (
      Date.now() < until &&
      (this.inFlight > 0 || (this.client.connected && this.spoolFiles.length > 0))
    ) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.idle.push(() => {
          clearTimeout(t);
          r();
        });
      });
      if (this.client.connected) await this.pump();
    }
    await this.client.endAsync(true).catch(() => undefined);
  }
}
