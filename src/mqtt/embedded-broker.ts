import { createServer, type Server, type Socket } from "node:net";

/**
 * A broker inside provflow (aedes, MQTT 3.1.1), so that one machine needs nothing else: CamFlow's
 * camflowd publishes to it like to any broker. It binds 127.0.0.1 unless told otherwise; another
 * address needs credentials (a token, or a user name and password), checked on every connection.
 * Its sessions live in memory: what is published while provflow is down is not kept (camflowd
 * retries a publish ten times, then drops it); use an external broker (Mosquitto) for that.
 */

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** required credentials: any user name with this password */
  token?: string;
  username?: string;
  password?: string;
}

export interface EmbeddedBroker {
  /** mqtt://HOST:PORT to connect to (loopback when bound to every address) */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Is this address only reachable from this machine? */
export function isLoopback(host: string): boolean {
  return host === "localhost" || /^127\./.test(host) || host === "::1" || host === "[::1]";
}

/** `HOST:PORT`, `HOST`, `:PORT` or `PORT` (default 127.0.0.1:1883); IPv6 in brackets. */
export function parseListen(spec: string | undefined): { host: string; port: number } {
  const s = (spec ?? "").trim();
  if (s === "") return { host: "127.0.0.1", port: 1883 };
  let host = "127.0.0.1";
  let port = "1883";
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1] as string;
    port = v6[2] ?? port;
  } else if (/^\d+$/.test(s)) port = s;
  else {
    const i = s.lastIndexOf(":");
    if (i >= 0) {
      host = s.slice(0, i) || host;
      port = s.slice(i + 1);
    } else host = s;
  }
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`bad port in --listen ${JSON.stringify(spec)}`);
  return { host, port: n };
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const needAuth = opts.token !== undefined || opts.password !== undefined;
  if (!isLoopback(opts.host) && !needAuth) {
    throw new Error(
      `the embedded broker listens on ${opts.host} only with credentials (--token, or --username and --password)`,
    );
  }
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker({
    authenticate(_client, username, password, done) {
      if (!needAuth) {
        done(null, true);
        return;
      }
      const pw = password?.toString("utf8");
      const ok =
        (opts.token !== undefined && pw === opts.token) ||
        (opts.password !== undefined && pw === opts.password && (opts.username ?? "") === (username ?? ""));
      if (ok) done(null, true);
      else {
        const err = Object.assign(new Error("bad user name or password"), { returnCode: 4 as const });
        done(err, null);
      }
    },
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : opts.port;
  const connectHost = opts.host === "0.0.0.0" || opts.host === "::" ? "127.0.0.1" : opts.host;
  const hostPart = connectHost.includes(":") ? `[${connectHost}]` : connectHost;
  return {
    url: `mqtt://${hostPart}:${port}`,
    host: opts.host,
    port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}
