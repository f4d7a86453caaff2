/**
 * `provflow serve`: the JSON API (api-routes.ts), the live changes (live-changes.ts) and the web UI
 * (static-files.ts) on node:http.
 *
 * Security: loopback by default; any other address needs a token (given, or generated and printed at
 * start). A token is accepted as `Authorization: Bearer T`, as the `provflow_token` cookie, or once as
 * `?token=T` (which sets the cookie, so the browser's EventSource and downloads carry it). Without a
 * token the Host header must name a loopback address, so that a web page elsewhere cannot reach the API
 * through DNS rebinding. Only GET and HEAD; URLs, headers and bodies are bounded; answers are paged,
 * capped or streamed; every error is JSON `{error, status}`.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isLoopback } from "../mqtt/embedded-broker.js";
import { StoreError } from "../store/store-error.js";
import type { GraphStore } from "../store/store-types.js";
import { NotFoundError } from "../util/errors.js";
import { routes, sendJson } from "./api-routes.js";
import { HttpError } from "./http-error.js";
import { LiveChanges, type LiveOptions } from "./live-changes.js";
import { defaultWebRoot, resolveStatic, sendStatic } from "./static-files.js";

export const MAX_URL_LENGTH = 8192;
export const MAX_HEADER_BYTES = 16 * 1024;
/** The API reads no bodies: a request announcing more than this is refused. */
export const MAX_BODY_BYTES = 64 * 1024;
const COOKIE = "provflow_token";

export interface ServerOptions {
  store: GraphStore;
  host?: string;
  port?: number;
  /** required beyond loopback; null/undefined on loopback: no token asked */
  token?: string | null;
  webRoot?: string;
  live?: LiveOptions;
  /** one line per failed request (5xx) */
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  token: string | null;
  live: LiveChanges;
  close(): Promise<void>;
}

export function generateToken(): string {
  return randomBytes(24).toString("base64url");
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (header === undefined) return null;
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === COOKIE) return decodeURIComponent(v.join("="));
  }
  return null;
}

function hostIsLoopback(req: IncomingMessage): boolean {
  const host = req.headers.host;
  if (host === undefined) return false;
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : (host.split(":")[0] ?? "");
  return name === "localhost" || isLoopback(name);
}

export function sendError(res: ServerResponse, err: unknown, log?: (line: string) => void): void {
  const status =
    err instanceof HttpError
      ? err.status
      : err instanceof NotFoundError || (err instanceof StoreError && /no such run/.test(err.message))
        ? 404
        : 500;
  const message = err instanceof Error ? err.message : String(err);
  if (status >= 500) log?.(`error: ${message}`);
  if (res.headersSent) {
    // a stream already under way (export, graph): cut it, the client sees a truncated download
    res.destroy(err instanceof Error ? err : new Error(message));
    return;
  }
  sendJson(res, status, { error: message, status });
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const loopback = host === "localhost" || isLoopback(host);
  const token = opts.token ?? (loopback ? null : generateToken());
  if (!loopback && token === null) throw new HttpError(400, "a token is required beyond loopback");
  const webRoot = opts.webRoot ?? defaultWebRoot();
  const live = new LiveChanges(opts.store, opts.live, (err) => opts.log?.(`live: ${(err as Error).message}`));

  const authorized = (req: IncomingMessage, url: URL): "ok" | "cookie" | false => {
    if (token === null) return hostIsLoopback(req) ? "ok" : false;
    const auth = req.headers.authorization;
    if (auth?.startsWith("Bearer ") && sameSecret(auth.slice(7).trim(), token)) return "ok";
    const c = cookieToken(req);
    if (c !== null && sameSecret(c, token)) return "ok";
    const q = url.searchParams.get("token");
    if (q !== null && sameSecret(q, token)) return "cookie";
    return false;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if ((req.url ?? "").length > MAX_URL_LENGTH)
      throw new HttpError(414, `URL longer than ${MAX_URL_LENGTH} bytes`);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      throw new HttpError(405, `${req.method} is not allowed: the API is read-only`);
    }
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > MAX_BODY_BYTES || req.headers["transfer-encoding"] !== undefined) {
      // the body is not read: the connection cannot carry another request after it
      res.setHeader("connection", "close");
      throw new HttpError(413, `request bodies are not read (at most ${MAX_BODY_BYTES} bytes announced)`);
    }
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://provflow.invalid");
    } catch {
      throw new HttpError(400, "bad URL");
    }
    const auth = authorized(req, url);
    if (auth === false) {
      res.setHeader("www-authenticate", 'Bearer realm="provflow"');
      throw new HttpError(
        401,
        token === null
          ? "the Host header must name a loopback address"
          : "a token is needed: Authorization: Bearer TOKEN, or open the URL with ?token=TOKEN printed by provflow serve",
      );
    }
    if (auth === "cookie") {
      res.setHeader(
        "set-cookie",
        `${COOKIE}=${encodeURIComponent(token ?? "")}; HttpOnly; SameSite=Strict; Path=/`,
      );
      if (!url.pathname.startsWith("/api/")) {
        // the page again without the token in its address (history, referrers)
        url.searchParams.delete("token");
        res.writeHead(303, { location: url.pathname + url.search });
        res.end();
        return;
      }
    }
    if (url.pathname.startsWith("/api/")) {
      for (const r of routes) {
        const m = r.pattern.exec(url.pathname);
        if (m !== null) {
          await r.handle({ req, res, url, params: m.slice(1), store: opts.store, live });
          return;
        }
      }
      throw new HttpError(404, `no such endpoint ${url.pathname} (docs/server-api.md)`);
    }
    sendStatic(res, resolveStatic(webRoot, url.pathname));
  };

  const server: Server = createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 60_000 },
    (req, res) => {
      res.setHeader("x-frame-options", "DENY");
      res.setHeader("referrer-policy", "no-referrer");
      handle(req, res).catch((err: unknown) => sendError(res, err, opts.log));
    },
  );
  server.headersTimeout = 20_000;
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    const [status, message] =
      err.code === "HPE_HEADER_OVERFLOW"
        ? [431, `headers larger than ${MAX_HEADER_BYTES} bytes`]
        : [400, "bad request"];
    if (socket.writable) {
      const body = JSON.stringify({ error: message, status });
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8080, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/`,
    port: addr.port,
    host,
    token,
    live,
    close: () =>
      new Promise<void>((resolve) => {
        live.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
