import { type ChildProcess, spawn } from "node:child_process";
import type { Command, Option } from "commander";
import { isLoopback } from "../mqtt/embedded-broker.js";
import { resolveDbPath } from "../store/db-path.js";
import type { GraphStore } from "../store/store-types.js";
import { UsageError } from "../util/errors.js";
import { logErr } from "./output.js";

/** What `provflow serve` borrows from main.ts, so that the store is opened one way everywhere. */
export interface ServeCommandDeps {
  withStore<T>(db: string | undefined, fn: (store: GraphStore) => Promise<T>): Promise<T>;
  dbOption(): Option;
}

/**
 * `provflow serve`: the HTTP API and the web UI over a database; with --mqtt, also the embedded MQTT
 * broker and its ingest (`provflow mqtt --embedded` as a child process writing the same database), so
 * machines streaming in show up live.
 */
export function serveCommand(serve: Command, deps: ServeCommandDeps): Command {
  return serve
    .description("serve the JSON API and the web UI (runs, batchflow, graph, live changes, compare, exports)")
    .addOption(deps.dbOption())
    .option("--host <addr>", "address to bind (beyond loopback a token is required)", "127.0.0.1")
    .option("--port <n>", "TCP port (0: any free one)", "8080")
    .option(
      "--token <token>",
      "the token clients must give (default: $PROVFLOW_TOKEN, else generated beyond loopback)",
    )
    .option(
      "--mqtt",
      "also run the embedded MQTT broker and store what machines stream (provflow mqtt --embedded)",
    )
    .option("--mqtt-listen <addr>", "address of the embedded broker with --mqtt", "127.0.0.1:1883")
    .option("-q, --quiet", "no log lines")
    .action(async (o) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`bad --port ${o.port}`);
      const token: string | undefined = o.token ?? process.env.PROVFLOW_TOKEN ?? undefined;
      if (token !== undefined && !/^[\x21-\x7e]{16,256}$/.test(token)) {
        throw new UsageError("the token must be 16 to 256 printable ASCII characters without spaces");
      }
      const { startServer } = await import("../server/http-server.js");
      await deps.withStore(o.db, async (store) => {
        const server = await startServer({
          store,
          host: o.host,
          port,
          token: token ?? null,
          log: (line) => {
            if (!o.quiet) logErr(line);
          },
        }).catch((err: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot listen on ${o.host}:${port}: ${err.message}`);
        });
        const open =
          server.token === null ? server.url : `${server.url}?token=${encodeURIComponent(server.token)}`;
        logErr(`serving ${open}${isLoopback(o.host) || o.host === "localhost" ? "" : " (token required)"}`);
        let mqtt: ChildProcess | null = null;
        if (o.mqtt === true) {
          const args = [
            process.argv[1] ?? "",
            "mqtt",
            "--embedded",
            "--listen",
            o.mqttListen,
            "--db",
            resolveDbPath(o.db),
          ];
          if (o.quiet) args.push("--quiet");
          if (!isLoopback(o.mqttListen.replace(/:\d+$/, "")) && token !== undefined)
            args.push("--token", token);
          // the young generation bin/provflow gives provflow mqtt (its own, not serve's)
          const flags = [
            ...process.execArgv.filter((f) => !f.startsWith("--max-semi-space-size")),
            "--max-semi-space-size=32",
          ];
          mqtt = spawn(process.execPath, [...flags, ...args], {
            stdio: ["ignore", "inherit", "inherit"],
          });
          mqtt.on("exit", (code) => {
            if (!o.quiet) logErr(`the MQTT ingest stopped (exit ${code})`);
          });
        }
        await new Promise<void>((resolve) => {
          process.once("SIGINT", () => resolve());
          process.once("SIGTERM", () => resolve());
        });
        mqtt?.kill("SIGTERM");
        await server.close();
      });
    });
}
