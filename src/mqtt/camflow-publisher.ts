import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { IClientOptions } from "mqtt";
import { encodeCamflowPayload } from "./camflow-payload.js";
import { machinesTopic, provenanceTopic } from "./mqtt-topics.js";

/**
 * Replays a CamFlow log into a broker the way camflowd publishes: one document (one line of the log)
 * per message, zlib then base64, QoS 1, on PREFIX/provenance/MACHINE, after the retained
 * announcement of the older two-topic protocol on PREFIX/machines/MACHINE. MQTT 3.1.1, as camflowd.
 */

export interface PublishOptions {
  url: string;
  file: string;
  machineId: string;
  prefix: string;
  /** messages per second at most (0: as fast as the broker takes them) */
  rate?: number;
  username?: string;
  password?: string;
  ca?: Buffer;
  /** publish the retained announcement first (default true) */
  announce?: boolean;
  /** QoS 1 messages not yet acknowledged by the broker, at most (default 64) */
  window?: number;
  mqtt: typeof import("mqtt");
}

export interface PublishResult {
  messages: number;
  /** bytes of JSON published (before compression) */
  bytes: number;
  /** bytes of payload sent */
  payloadBytes: number;
  seconds: number;
}

export async function publishCamflowLog(opts: PublishOptions): Promise<PublishResult> {
  const options: IClientOptions = {
    clientId: `provflow-publish-${opts.machineId}-${process.pid}`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    username: opts.username,
    password: opts.password,
    ca: opts.ca,
  };
  const client = await opts.mqtt.connectAsync(opts.url, options);
  const t0 = performance.now();
  const res: PublishResult = { messages: 0, bytes: 0, payloadBytes: 0, seconds: 0 };
  try {
    if (opts.announce !== false) {
      const note = JSON.stringify({
        machine_id: opts.machineId,
        topic: provenanceTopic(opts.prefix, opts.machineId),
      });
      await client.publishAsync(machinesTopic(opts.prefix, opts.machineId), encodeCamflowPayload(note), {
        qos: 1,
        retain: true,
      });
    }
    const topic = provenanceTopic(opts.prefix, opts.machineId);
    const window = Math.max(1, opts.window ?? 64);
    const inFlight: Promise<unknown>[] = [];
    let failure: unknown = null;
    const rate = opts.rate ?? 0;
    const lines = createInterface({
      input: createReadStream(opts.file, "utf8"),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const raw of lines) {
      const line = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      if (line.trim() === "") continue;
      if (rate > 0) {
        const due = t0 + (res.messages / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const payload = encodeCamflowPayload(line);
      res.messages++;
      res.bytes += Buffer.byteLength(line, "utf8");
      res.payloadBytes += payload.length;
      const p = client.publishAsync(topic, payload, { qos: 1 }).catch((err: unknown) => {
        failure ??= err;
      });
      inFlight.push(p);
      if (inFlight.length >= window) await inFlight.shift();
      if (failure !== null) throw failure;
    }
    await Promise.all(inFlight);
    if (failure !== null) throw failure;
  } finally {
    await client.endAsync().catch(() => undefined);
  }
  res.seconds = (performance.now() - t0) / 1000;
  return res;
}
