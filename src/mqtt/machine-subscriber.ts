import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import type { GraphStore, MachinePart } from "../store/store-types.js";
import { decodeCamflowPayload } from "./camflow-payload.js";
import { type MachineMessage, MachineMessageReader, type MessageProblem } from "./machine-messages.js";
import { announcedMachine, classifyTopic, provenanceTopic, subscriptions } from "./mqtt-topics.js";

/**
 * Subscribes to machines' CamFlow provenance and writes it into a store, losing nothing:
 *
 * - a persistent session (fixed client id, clean: false; MQTT 5: a session expiry), QoS 1, so the
 *   broker keeps what is published while the subscriber is down and sends it on reconnect;
 * - a message is acknowledged (PUBACK) only once the transaction holding its rows is committed.
 *   mqtt.js 5 has no manual acknowledgement: `customHandleAcks` (MQTT 5 only) reads the next packet
 *   only after the acknowledgement is sent, which would write one message per transaction, and
 *   with MQTT 3.1.1 it acknowledges at once. So the PUBACK mqtt.js sends right after the `message`
 *   event is held back here (its internal `_sendPacket`) and sent after the commit, while mqtt.js
 *   reads on. A connection lost in between drops the held acknowledgements: the broker sends those
 *   messages again, and the store adds nothing for them (keyed, idempotent writes);
 * - messages are written in batches (all those received while the previous batch was written, up
 *   to `maxBatch`), one transaction per batch; how many are unacknowledged at once is bounded by the
 *   broker's in-flight window (MQTT 5: our receive maximum; Mosquitto's max_inflight_messages for
 *   MQTT 3.1.1).
 *
 * Several subscribers with one `group` share the subscription (`$share/GROUP/PREFIX/provenance/+`,
 * MQTT 5 / Mosquitto): any of them may get any message of any machine; the store joins relations and
 * nodes across them (see postgres-machines.ts).
 */

export interface SubscriberOptions {
  /** mqtt://host:port, mqtts://…, ws://… */
  url: string;
  /** the URL for messages and run commands (no credentials) */
  display: string;
  prefix: string;
  group?: string;
  clientId: string;
  username?: string;
  password?: string;
  ca?: Buffer;
  /** 4 (MQTT 3.1.1: aedes, camflowd) or 5 (shared subscriptions, session expiry) */
  protocolVersion: 4 | 5;
  /** MQTT 5 session expiry, seconds (default one week) */
  sessionExpiry?: number;
  /** MQTT 5 receive maximum: unacknowledged messages the broker may send at once (default 1000) */
  receiveMaximum?: number;
  /** messages per transaction at most (default 1000) */
  maxBatch?: number;
  store: GraphStore;
  /** a message that could not be decoded or read (also stored as a problem of the machine's run) */
  onProblem?: (p: MessageProblem) => void;
  onLog?: (line: string) => void;
  /** every batch's rows as they were read, before they are written (provflow mqtt --detect) */
  onParts?: (parts: readonly MachinePart[]) => void;
  /** the mqtt module (imported lazily by the caller) */
  mqtt: typeof import("mqtt");
}

export interface SubscriberStats {
  messages: number;
  empty: number;
  errors: number;
  nodes: number;
  edges: number;
  batches: number;
  machines: number;
  announcements: number;
}

interface Held {
  msg: MachineMessage;
  messageId: number | undefined;
  epoch: number;
}

/** Internals of mqtt.js used to hold PUBACKs back (mqtt 5.16: `_sendPacket(packet, cb, cbStorePut, noStore)`). */
interface ClientInternals {
  _sendPacket(
    packet: { cmd: string; messageId?: number },
    cb?: (err?: Error) => void,
    ...rest: unknown[]
  ): void;
}

const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];

export class MachineSubscriber {
  readonly stats: SubscriberStats = {
    messages: 0,
    empty: 0,
    errors: 0,
    nodes: 0,
    edges: 0,
    batches: 0,
    machines: 0,
    announcements: 0,
  };
  private client: MqttClient | null = null;
  private readonly reader = new MachineMessageReader();
  private readonly runs = new Map<string, number>();
  private readonly counters = new Map<string, number>();
  private queue: Held[] = [];
  private wake: (() => void) | null = null;
  private epoch = 0;
  /** PUBACKs mqtt.js is about to send that we send ourselves after the commit */
  private readonly deferred = new Set<number>();
  private sendPacket: ClientInternals["_sendPacket"] | null = null;
  private stopping = false;
  private wroteSinceIdle = false;
  private loop: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly maxBatch: number;

  constructor(private readonly opts: SubscriberOptions) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 1000);
  }

  /** Connects, subscribes and starts writing; resolves once subscribed. */
  async start(): Promise<void> {
    const o = this.opts;
    const subs = subscriptions(o.prefix, o.group);
    const options: IClientOptions = {
      clientId: o.clientId,
      clean: false,
      protocolVersion: o.protocolVersion,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      username: o.username,
      password: o.password,
      ca: o.ca,
    };
    if (o.protocolVersion === 5) {
      options.properties = {
        sessionExpiryInterval: o.sessionExpiry ?? 7 * 24 * 3600,
        receiveMaximum: o.receiveMaximum ?? 1000,
      };
    }
    const client = o.mqtt.connect(o.url, options);
    this.client = client;
    const internals = client as unknown as ClientInternals;
    const send = internals._sendPacket.bind(client);
    this.sendPacket = send;
    internals._sendPacket = (packet, cb, ...rest) => {
      if (
        packet.cmd === "puback" &&
        packet.messageId !== undefined &&
        this.deferred.delete(packet.messageId)
      ) {
        cb?.();
        return;
      }
      send(packet, cb, ...rest);
    };
    // emitted just before mqtt.js sends the PUBACK, which is held back (see above)
    client.on("message", (topic, payload, packet) => this.onPublish(topic, payload, packet));
    client.on("close", () => {
      this.epoch++;
      this.deferred.clear();
    });
    client.on("error", (err) => o.onLog?.(`mqtt: ${err.message}`));
    client.on("reconnect", () => o.onLog?.(`mqtt: reconnecting to ${o.display}`));
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        client.removeListener("connect", ok);
        client.end(true);
        reject(err);
      };
      const ok = () => {
        client.removeListener("error", fail);
        resolve();
      };
      client.once("connect", ok);
      client.once("error", fail);
    });
    const granted = await client.subscribeAsync(
      Object.fromEntries([subs.provenance, ...subs.machines].map((t) => [t, { qos: 1 as const }])),
    );
    const refused = granted.filter((g) => g.qos === 128 || g.qos > 2);
    if (refused.length > 0) {
      client.end(true);
      throw new Error(`the broker refused the subscription to ${refused.map((g) => g.topic).join(", ")}`);
    }
    o.onLog?.(
      `subscribed to ${subs.provenance} on ${o.display} as ${o.clientId} (MQTT ${o.protocolVersion === 5 ? "5" : "3.1.1"}, QoS 1, persistent session)`,
    );
    this.loop = this.writeLoop().catch((err: unknown) => {
      this.failure = err;
    });
  }

  /** A message from the broker: queued; its PUBACK waits for its commit. */
  private onPublish(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const messageId = packet.qos === 1 ? packet.messageId : undefined;
    if (messageId !== undefined) this.deferred.add(messageId);
    // when stopping: not acknowledged, the broker sends it again to the next session
    if (this.stopping) return;
    const t = classifyTopic(this.opts.prefix, topic);
    const now = Date.now() * 1000;
    if (t.kind === "provenance") {
      const index = (this.counters.get(topic) ?? 0) + 1;
      this.counters.set(topic, index);
      this.queue.push({
        msg: { topic, machineId: t.machineId, payload, index, received: now },
        messageId,
        epoch: this.epoch,
      });
      this.wake?.();
    } else if (t.kind === "machines") {
      const epoch = this.epoch;
      const decoded = decodeCamflowPayload(payload);
      const id = t.machineId ?? (decoded.ok && decoded.json !== null ? announcedMachine(decoded.json) : null);
      if (id !== null) {
        this.stats.announcements++;
        this.opts.store.noteMachine(id, now, true).then(
          () => this.ack(messageId, epoch),
          (err: unknown) => this.opts.onLog?.(`cannot register machine ${id}: ${(err as Error).message}`),
        );
      } else this.ack(messageId, epoch);
    } else this.ack(messageId, this.epoch);
  }

  private ack(messageId: number | undefined, epoch: number): void {
    if (messageId === undefined || epoch !== this.epoch || this.sendPacket === null) return;
    if (this.client?.connected !== true) return;
    this.sendPacket({ cmd: "puback", messageId });
  }

  private async runOf(machineId: string): Promise<number> {
    let id = this.runs.get(machineId);
    if (id === undefined) {
      const o = this.opts;
      id = await o.store.openMachineRun({
        machineId,
        command: [`${o.display.replace(/\/+$/, "")}/${provenanceTopic(o.prefix, machineId)}`],
        start: Date.now() * 1000,
      });
      this.runs.set(machineId, id);
      this.stats.machines = this.runs.size;
    }
    return id;
  }

  private async write(parts: MachinePart[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.opts.store.appendMachineBatch(parts);
        for (const r of res) {
          this.stats.nodes += r.nodes;
          this.stats.edges += r.edges;
        }
        if (parts.length > 0) this.stats.batches++;
        return;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined) throw err;
        this.opts.onLog?.(`${(err as Error).message}; trying again in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async writeLoop(): Promise<void> {
    let pending: { write: Promise<void>; held: Held[] } | null = null;
    for (;;) {
      if (this.queue.length === 0) {
        if (pending !== null) {
          await pending.write;
          for (const h of pending.held) this.ack(h.messageId, h.epoch);
          pending = null;
          continue;
        }
        if (this.stopping) return;
        const woken = await new Promise<boolean>((r) => {
          this.wake = () => r(true);
          setTimeout(() => r(false), 1000).unref();
        });
        this.wake = null;
        if (!woken && this.wroteSinceIdle) {
          // idle: let the store settle what other writers of the same machines may have left waiting
          this.wroteSinceIdle = false;
          await this.write([]);
        }
        continue;
      }
      const held = this.queue.splice(0, this.maxBatch);
      const read = this.reader.read(held.map((h) => h.msg));
      this.stats.messages += held.length;
      this.stats.empty += read.empty;
      for (const p of read.problems) {
        this.stats.errors++;
        this.opts.onProblem?.(p);
      }
      const parts: MachinePart[] = [];
      for (const p of read.parts.values()) parts.push({ ...p, runId: await this.runOf(p.machineId) });
      if (parts.length > 0) this.opts.onParts?.(parts);
      // the next batch is read while this one is written
      if (pending !== null) {
        await pending.write;
        for (const h of pending.held) this.ack(h.messageId, h.epoch);
      }
      pending = { write: parts.length > 0 ? this.write(parts) : Promise.resolve(), held };
      this.wroteSinceIdle = true;
      // a failed write ends the loop (the messages stay unacknowledged)
      pending.write.catch(() => undefined);
    }
  }

  /** Resolves when the subscriber stopped by itself (a write failed for good): rejects with why. */
  async done(): Promise<void> {
    await this.loop;
    if (this.failure !== null) throw this.failure;
  }

  get failed(): unknown {
    return this.failure;
  }

  /**
   * Stops taking messages, writes and acknowledges those received, disconnects (the session stays
   * on the broker) and marks the machines' runs complete for this writer.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    const client = this.client;
    if (client !== null) await client.endAsync().catch(() => undefined);
    const end = Date.now() * 1000;
    for (const runId of this.runs.values()) {
      await this.opts.store.closeMachineRun(runId, end).catch(() => undefined);
    }
    if (this.failure !== null) throw this.failure;
  }

  /** Drop the connection at once (tests: a subscriber that dies). */
  kill(): void {
    this.stopping = true;
    this.client?.end(true);
  }
}
