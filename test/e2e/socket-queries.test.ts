import { spawnSync } from "node:child_process";
import { createConnection } from "node:net";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cliJson, runCli, tempDir } from "../helpers/cli.js";

/**
 * The queries a client sends to the real servers of this machine (PostgreSQL 5432, MariaDB 3306,
 * Redis 6379 on 127.0.0.1), traced with `provflow trace` and read back from `summary` and `calls`.
 * With CI=true a server that does not answer is a failure, not a skip.
 */

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

const servers = { postgresql: [5432, "psql"], mysql: [3306, "mariadb"], redis: [6379, "redis-cli"] } as const;

interface SocketJson {
  remote: string | null;
  queries?: string[];
}

describe("database queries on the sockets of a traced client", () => {
  const db = join(tempDir("provflow-sockq-"), "q.db");
  const up: Record<string, boolean> = {};
  beforeAll(async () => {
    for (const [name, [port, client]] of Object.entries(servers)) {
      up[name] = (await reachable(port)) && have(client);
      if (!up[name] && process.env.CI)
        throw new Error(`${name} on 127.0.0.1:${port} or ${client} is missing (CI=true)`);
    }
  });

  const queriesOf = (run: string, port: number): string[] => {
    const s = cliJson<{ sockets: SocketJson[] }>(["summary", "--db", db, run, "--format", "json"]);
    return s.sockets.filter((k) => k.remote?.endsWith(`:${port}`)).flatMap((k) => k.queries ?? []);
  };

  it("PostgreSQL: psql's startup and its queries", (ctx) => {
    if (!up.postgresql) ctx.skip();
    const t = runCli([
      "trace",
      "--db",
      db,
      "-q",
      "--name",
      "pg",
      "--",
      "psql",
      "-X",
      "-q",
      "-h",
      "127.0.0.1",
      "-U",
      "postgres",
      "-d",
      "test",
      "-c",
      "select 6 * 7 as provflow_answer",
      "-c",
      "select count(*) from pg_class where relname = 'x''y'",
    ]);
    expect(t.status, t.stderr).toBe(0);
    expect(queriesOf("pg", 5432)).toEqual([
      "postgresql: startup user=postgres database=test application_name=psql",
      "postgresql: select 6 * 7 as provflow_answer",
      "postgresql: select count(*) from pg_class where relname = 'x''y'",
    ]);
    const calls = cliJson<{ call: string; queries?: string[] }[]>([
      "calls",
      "--db",
      db,
      "pg",
      "--format",
      "json",
    ]);
    expect(calls.flatMap((c) => c.queries ?? [])).toContain("postgresql: select 6 * 7 as provflow_answer");
  });

  it("MariaDB: the login user and the client's queries", (ctx) => {
    if (!up.mysql) ctx.skip();
    const t = runCli([
      "trace",
      "--db",
      db,
      "-q",
      "--name",
      "my",
      "--",
      "mariadb",
      "-h",
      "127.0.0.1",
      "-u",
      "root",
      "-e",
      "select 6*7; select 'a;b' as s",
    ]);
    expect(t.status, t.stderr).toBe(0);
    expect(queriesOf("my", 3306)).toEqual([
      "mysql: login user=root",
      "mysql: select 6*7",
      "mysql: select 'a;b' as s",
      "mysql: QUIT",
    ]);
    const txt = runCli(["calls", "--db", db, "my"]);
    expect(txt.stdout).toMatch(/sendto .*127\.0\.0\.1:3306.*\n\s+query mysql: select 6\*7/);
  });

  it("Redis: commands, and AUTH's password never stored", (ctx) => {
    if (!up.redis) ctx.skip();
    const key = `provflow-test-${process.pid}`;
    const t = runCli([
      "trace",
      "--db",
      db,
      "-q",
      "--name",
      "rd",
      "--",
      "sh",
      "-c",
      `redis-cli -h 127.0.0.1 SET ${key} 'hello world' >/dev/null && redis-cli -h 127.0.0.1 DEL ${key} >/dev/null && redis-cli -h 127.0.0.1 --no-auth-warning -a not-the-password PING || true`,
    ]);
    expect(t.status, t.stderr).toBe(0);
    const q = queriesOf("rd", 6379);
    expect(q).toEqual(
      expect.arrayContaining([`redis: SET ${key} "hello world"`, `redis: DEL ${key}`, "redis: AUTH ***"]),
    );
    expect(q.join("\n")).not.toContain("not-the-password");
    // the command line still has it (as run), until redacted on export
    const dump = runCli(["export", "--db", db, "rd", "--format", "jsonl", "--redact"]);
    expect(dump.status, dump.stderr).toBe(0);
    expect(dump.stdout).toContain("AUTH ***");
    expect(dump.stdout).not.toContain("not-the-password");
  });
});
