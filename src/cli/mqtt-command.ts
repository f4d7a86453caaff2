import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { isoMicros } from "../graph/time-format.js";
import { isLoopback, parseListen } from "../mqtt/embedded-broker.js";
import { MqttError } from "../mqtt/mqtt-error.js";
import { DEFAULT_TOPIC_PREFIX, normalizePrefix, provenanceTopic } from "../mqtt/mqtt-topics.js";
import { isPostgresUrl, redactPostgresUrl, resolveDbPath } from "../store/db-path.js";
import type { GraphStore, MachineRecord } from "../store/store-types.js";
import { ExitCode, InputError, UsageError } from "../util/errors.js";
import { streamDetection } from "./detect-command.js";
import { logErr, writeOut } from "./output.js";

/**
 * `provflow mqtt` (machines streaming CamFlow provenance through a broker into the store),
 * `provflow machines` (the registry) and `provflow publish` (replay a CamFlow log like camflowd).
 * mqtt.js and aedes are imported only when these commands run.
 */

/** What these commands borrow from main.ts, so that the store is opened one way everywhere. */
export interface MqttCommandDeps {
  withStore<T>(db: string | undefined, fn: (store: GraphStore) => Promise<T>, writer?: boolean): Promise<T>;
  dbOption(): Option;
}

/** A broker URL without credentials, for messages and run commands. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//");
  }
}

function checkBrokerUrl(url: string): string {
  if (!/^(mqtts?|wss?|tcp|ssl):\/\//i.test(url)) {
    throw new UsageError(`--broker needs a URL like mqtt://HOST:1883 or mqtts://HOST:8883, not ${url}`);
  }
  return url;
}

function readCa(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new InputError(`cannot read --ca ${file}: ${(err as Error).message}`);
  }
}

function positive(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${what} needs a number >= 0, not ${text}`);
  return n;
}

/**
 * The default client id of `provflow mqtt`: fixed for one store and one topic prefix on one host, so
 * that the same command run again resumes its persistent session, and two subscribers writing to
 * other stores (two users of one broker) do not take each other's session over:
 * `provflow-HOST-XXXXXXXX`, a hash of the store (a SQLite file's absolute path, a PostgreSQL URL
 * without its password) and the prefix.
 */
export function defaultClientId(db: string | undefined, prefix: string): string {
  const spec = resolveDbPath(db);
  const store = isPostgresUrl(spec) ? redactPostgresUrl(spec) : resolve(spec);
  const hash = createHash("sha256").update(`${store}\n${prefix}`).digest("hex").slice(0, 8);
  return `provflow-${hostname()}-${hash}`;
}

export async function loadMqtt(): Promise<typeof import("mqtt")> {
  const m = (await import("mqtt")) as typeof import("mqtt") & { default?: typeof import("mqtt") };
  return typeof m.connect === "function" ? m : (m.default as typeof import("mqtt"));
}

/** The registry as a table (times UTC, µs). */
export function formatMachinesTable(machines: readonly MachineRecord[]): string {
  const head = [
    "MACHINE",
    "RUN",
    "FIRST SEEN",
    "LAST SEEN",
    "PACKETS",
    "NODES",
    "EDGES",
    "WAITING",
    "ERRORS",
  ];
  const rows = machines.map((m) => [
    m.machineId + (m.announced ? "*" : ""),
    m.runId === null ? "-" : String(m.runId),
    isoMicros(m.firstSeen),
    isoMicros(m.lastSeen),
    String(m.packets),
    String(m.nodes),
    String(m.edges),
    String(m.waiting),
    String(m.errors),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 4 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  const out = [line(head), ...rows.map(line)];
  if (machines.some((m) => m.announced)) out.push("* announced itself on the machines topic");
  return `${out.join("\n")}\n`;
}

export function registerMqttCommands(program: Command, deps: MqttCommandDeps): void {
  program
    .command("mqtt")
    .description(
      "subscribe to machines' CamFlow provenance (PREFIX/provenance/+) on a broker, or on one inside provflow, and store it",
    )
    .addOption(deps.dbOption())
    .option(
      "--broker <url>",
      "an existing broker: mqtt://HOST:1883, mqtts://HOST:8883 (default: the embedded one)",
    )
    .option("--embedded", "run the broker inside provflow (the default without --broker)")
    .option(
      "--listen <addr>",
      "address of the embedded broker (needs --token or a password beyond loopback)",
      "127.0.0.1:1883",
    )
    .option("--token <token>", "embedded broker: clients give this as their password")
    .option("--topic <prefix>", "topic prefix", DEFAULT_TOPIC_PREFIX)
    .option("--username <name>", "user name at the broker (default with a password: provflow)")
    .option("--password <password>", "password at the broker (default: $PROVFLOW_MQTT_PASSWORD)")
    .option("--ca <file>", "CA certificate of an mqtts:// broker")
    .option(
      "--group <name>",
      "share the subscription with the other workers of this group ($share/NAME/…, MQTT 5)",
    )
    .option(
      "--client-id <id>",
      "the session's client id: fixed, one per worker (default provflow-HOST-HASH of the store and prefix)",
    )
    .addOption(
      new Option("--mqtt-version <v>", "MQTT version with --broker").choices(["4", "5"]).default("5"),
    )
    .option(
      "--session-expiry <seconds>",
      "MQTT 5: how long the broker keeps the session while we are away",
      "604800",
    )
    .option("--max-batch <n>", "messages per transaction at most", "1000")
    .option("-q, --quiet", "no progress lines")
    .option(
      "--detect <model>",
      "flag what departs from a detection model as the stream arrives (exit 1 if anything was)",
    )
    .option(
      "--detect-learn <relations>",
      "with --detect: learn each machine's first N relations as normal first",
      "0",
    )
    .option("--json", "with --detect: findings as JSON lines")
    .action(async (o) => {
      const detector = o.detect !== undefined ? await streamDetection(o) : null;
      const prefix = (() => {
        try {
          return normalizePrefix(o.topic);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
      })();
      if (o.broker !== undefined && o.embedded === true)
        throw new UsageError("give --broker or --embedded, not both");
      if (o.group !== undefined && o.broker === undefined) {
        throw new UsageError("--group needs --broker (the embedded broker has no shared subscriptions)");
      }
      if (o.group !== undefined && !/^[^/#+$]+$/.test(o.group))
        throw new UsageError(`bad group name ${o.group}`);
      if (o.group !== undefined && o.clientId === undefined) {
        throw new UsageError(
          "--group needs --client-id: each worker its own fixed id, so its session survives it",
        );
      }
      const password: string | undefined = o.password ?? process.env.PROVFLOW_MQTT_PASSWORD ?? undefined;
      const ca = readCa(o.ca);
      const maxBatch = positive(o.maxBatch, "--max-batch", 1000);
      const sessionExpiry = positive(o.sessionExpiry, "--session-expiry", 604_800);
      const mqtt = await loadMqtt();
      const { MachineSubscriber } = await import("../mqtt/machine-subscriber.js");
      let broker: { url: string; close(): Promise<void> } | null = null;
      let url: string;
      let version: 4 | 5;
      if (o.broker === undefined) {
        let listen: { host: string; port: number };
        try {
          listen = parseListen(o.listen);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        if (!isLoopback(listen.host) && o.token === undefined && password === undefined) {
          throw new UsageError(
            `the embedded broker listens on ${listen.host} only with --token, or --username and --password`,
          );
        }
        const { startEmbeddedBroker } = await import("../mqtt/embedded-broker.js");
        try {
          broker = await startEmbeddedBroker({ ...listen, token: o.token, username: o.username, password });
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          const hint =
            e.code === "EADDRINUSE"
              ? ` (a broker already listens there? use it with --broker mqtt://${o.listen}, or choose another --listen)`
              : "";
          throw new MqttError(`cannot start the embedded broker on ${o.listen}: ${e.message}${hint}`, {
            cause: err,
          });
        }
        url = broker.url;
        version = 4;
        if (!o.quiet) logErr(`embedded MQTT 3.1.1 broker listening on ${listen.host}:${new URL(url).port}`);
      } else {
        url = checkBrokerUrl(o.broker);
        version = o.mqttVersion === "4" ? 4 : 5;
      }
      const display = displayUrl(url);
      const clientId: string = o.clientId ?? defaultClientId(o.db, prefix);
      await deps.withStore(
        o.db,
        async (store) => {
          const sub = new MachineSubscriber({
            url,
            display,
            prefix,
            group: o.group,
            clientId,
            // MQTT 3.1.1 sends a password only with a user name
            username: o.username ?? ((o.token ?? password) ? "provflow" : undefined),
            password: o.token ?? password,
            ca,
            protocolVersion: version,
            sessionExpiry,
            maxBatch,
            store,
            mqtt,
            onLog: (line) => {
              if (!o.quiet) logErr(line);
            },
            onProblem: reportProblems(),
            ...(detector ? { onParts: (parts) => detector.push(parts) } : {}),
          });
          try {
            await sub.start();
          } catch (err) {
            await broker?.close();
            throw new MqttError(`cannot subscribe at ${display}: ${(err as Error).message}`, { cause: err });
          }
          const t0 = Date.now();
          let lastElements = 0;
          let lastAt = t0;
          const timer = setInterval(() => {
            if (o.quiet) return;
            const s = sub.stats;
            const now = Date.now();
            const elements = s.nodes + s.edges;
            const rate = ((elements - lastElements) * 1000) / Math.max(1, now - lastAt);
            lastElements = elements;
            lastAt = now;
            logErr(
              `${s.messages} messages from ${s.machines} machines: ${s.nodes} nodes, ${s.edges} edges (${Math.round(rate)} elements/s), ${s.errors} bad messages`,
            );
          }, 10_000);
          timer.unref();
          const signalled = new Promise<string>((resolve) => {
            const on = (sig: string) => () => resolve(sig);
            process.once("SIGINT", on("SIGINT"));
            process.once("SIGTERM", on("SIGTERM"));
          });
          const failed = sub.done().then(
            () => null,
            (err: unknown) => err,
          );
          const why = await Promise.race([signalled, failed]);
          clearInterval(timer);
          try {
            await sub.stop();
          } finally {
            await broker?.close();
          }
          if (why !== null && typeof why !== "string") throw why;
          if (detector) {
            const d = detector.stats;
            if (!o.quiet)
              logErr(
                `detection: ${d.relations} relations checked, ${d.findings} findings, ${d.learnt} behaviours learnt`,
              );
            if (d.findings > 0) process.exitCode = ExitCode.different;
          }
          const s = sub.stats;
          if (!o.quiet) {
            logErr(
              `stopped: ${s.messages} messages from ${s.machines} machines, ${s.nodes} new nodes, ${s.edges} new edges, ${s.errors} bad messages, ${s.empty} empty`,
            );
          }
        },
        true,
      );
    });

  program
    .command("machines")
    .description(
      "the machines that streamed provenance in (provflow mqtt): first and last seen, packets, nodes, edges, errors",
    )
    .addOption(deps.dbOption())
    .option("--json", "JSON array")
    .action(async (o) => {
      await deps.withStore(o.db, async (store) => {
        const machines = await store.listMachines();
        if (o.json) {
          const out = machines.map((m) => ({
            ...m,
            firstSeen: isoMicros(m.firstSeen),
            lastSeen: isoMicros(m.lastSeen),
          }));
          await writeOut(`${JSON.stringify(out, null, 2)}\n`);
        } else await writeOut(formatMachinesTable(machines));
      });
    });

  program
    .command("publish")
    .description(
      "publish a CamFlow log (one document a line) to a broker as camflowd does (zlib+base64, QoS 1)",
    )
    .argument("<file>", "CamFlow W3C PROV-JSON log, one document per line")
    .requiredOption("--machine <id>", "machine id: the topic is PREFIX/provenance/ID")
    .option("--broker <url>", "broker URL", "mqtt://127.0.0.1:1883")
    .option("--topic <prefix>", "topic prefix", DEFAULT_TOPIC_PREFIX)
    .option("--rate <n>", "messages per second at most (default: as fast as the broker takes them)")
    .option("--username <name>", "user name at the broker (default with a password: provflow)")
    .option("--password <password>", "password at the broker (default: $PROVFLOW_MQTT_PASSWORD)")
    .option("--ca <file>", "CA certificate of an mqtts:// broker")
    .option("--no-announce", "skip the retained announcement on PREFIX/machines/ID")
    .option("--json", "print what was published as JSON")
    .option("-q, --quiet", "print nothing")
    .action(async (file: string, o) => {
      let prefix: string;
      try {
        prefix = normalizePrefix(o.topic);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (!/^[^/#+]+$/.test(o.machine)) throw new UsageError(`bad machine id ${o.machine}`);
      try {
        readFileSync(file, { flag: "r" }).subarray(0, 0);
      } catch (err) {
        throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const url = checkBrokerUrl(o.broker);
      const pw: string | undefined = o.password ?? process.env.PROVFLOW_MQTT_PASSWORD ?? undefined;
      const mqtt = await loadMqtt();
      const { publishCamflowLog } = await import("../mqtt/camflow-publisher.js");
      let res: Awaited<ReturnType<typeof publishCamflowLog>>;
      try {
        res = await publishCamflowLog({
          url,
          file,
          machineId: o.machine,
          prefix,
          rate: positive(o.rate, "--rate", 0),
          username: o.username ?? (pw !== undefined ? "provflow" : undefined),
          password: pw,
          ca: readCa(o.ca),
          announce: o.announce !== false,
          mqtt,
        });
      } catch (err) {
        throw new MqttError(`cannot publish to ${displayUrl(url)}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const topic = provenanceTopic(prefix, o.machine);
      if (o.json) await writeOut(`${JSON.stringify({ topic, ...res })}\n`);
      else if (!o.quiet) {
        logErr(
          `published ${res.messages} documents (${(res.bytes / 1e6).toFixed(1)} MB of JSON, ${(res.payloadBytes / 1e6).toFixed(1)} MB sent) to ${topic} in ${res.seconds.toFixed(2)} s`,
        );
      }
    });
}

/** Bad messages on stderr with their topic and number: the first 20, then one line in 1000. */
function reportProblems(): (p: { topic: string; index: number; message: string }) => void {
  let n = 0;
  return (p) => {
    n++;
    if (n <= 20 || n % 1000 === 0) {
      logErr(
        `${p.topic} message ${p.index}: ${p.message}${n === 20 ? " (further bad messages: one line in 1000)" : ""}`,
      );
    }
  };
}
