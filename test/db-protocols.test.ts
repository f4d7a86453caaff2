import { describe, expect, it } from "vitest";
import {
  iovBytes,
  mysqlMessages,
  postgresMessages,
  protocolHint,
  recognizeDbMessages,
  redisMessages,
  straceBytes,
} from "../src/sources/syscalls/db-protocols.js";

/** How strace prints a buffer (default: printable ASCII as is, the rest as octal escapes). */
function straceQuote(bytes: Buffer): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += "\\\\";
    else if (b === 0x0a) s += "\\n";
    else if (b === 0x0d) s += "\\r";
    else if (b === 0x09) s += "\\t";
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\${b.toString(8)}`;
  }
  return `${s}"`;
}

function pgQuery(q: string): Buffer {
  const body = Buffer.from(`${q}\0`, "utf8");
  const head = Buffer.alloc(5);
  head.write("Q", 0, "latin1");
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function mysqlPacket(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

describe("strace buffers", () => {
  it("decode octal, hex and named escapes to bytes, and see strace's cut", () => {
    expect(straceBytes('"Q\\0\\0\\0\\22select 1\\0"')).toEqual({
      bytes: "Q\0\0\0\x12select 1\0",
      truncated: false,
    });
    expect(straceBytes('"\\x2a1\\r\\n"...')).toEqual({ bytes: "*1\r\n", truncated: true });
    expect(straceBytes("0x7ffd1234")).toBeNull();
    expect(iovBytes('[{iov_base="ab", iov_len=2}, {iov_base="c\\0", iov_len=2}]')).toEqual({
      bytes: "abc\0",
      truncated: false,
    });
  });
});

describe("database protocols", () => {
  it("PostgreSQL: simple queries (several in one write), extended Parse, startup; passwords hidden", () => {
    const two = Buffer.concat([pgQuery("select 1"), pgQuery("ALTER ROLE x PASSWORD 'hunter2'")]);
    const b = straceBytes(straceQuote(two));
    expect(b && postgresMessages(b.bytes, false)).toEqual([
      { protocol: "postgresql", text: "select 1" },
      { protocol: "postgresql", text: "ALTER ROLE x PASSWORD '***'" },
    ]);
    const parse = Buffer.concat([
      Buffer.from("P"),
      Buffer.alloc(4),
      Buffer.from("s1\0select $1::int\0\0\0", "latin1"),
    ]);
    parse.writeUInt32BE(parse.length - 1, 1);
    expect(postgresMessages(parse.toString("latin1"), false)).toEqual([
      { protocol: "postgresql", text: "select $1::int" },
    ]);
    const startup = Buffer.concat([
      Buffer.alloc(8),
      Buffer.from("user\0alice\0database\0shop\0\0", "latin1"),
    ]);
    startup.writeUInt32BE(startup.length, 0);
    startup.writeUInt32BE(196608, 4);
    expect(postgresMessages(startup.toString("latin1"), false)).toEqual([
      { protocol: "postgresql", text: "startup user=alice database=shop" },
    ]);
    // an HTTP request is not PostgreSQL
    expect(postgresMessages("GET / HTTP/1.1\r\n\r\n", false)).toBeNull();
  });

  it("MySQL: COM_QUERY, COM_INIT_DB, COM_QUIT; a query cut by strace -s is marked", () => {
    const q = mysqlPacket(0, Buffer.from("\x03SELECT * FROM t WHERE a = 'é'", "utf8"));
    expect(mysqlMessages(q.toString("latin1"), false)).toEqual([
      { protocol: "mysql", text: "SELECT * FROM t WHERE a = 'é'" },
    ]);
    expect(mysqlMessages(mysqlPacket(0, Buffer.from("\x02shop")).toString("latin1"), false)).toEqual([
      { protocol: "mysql", text: "USE shop" },
    ]);
    const cut = q.subarray(0, 13).toString("latin1");
    expect(mysqlMessages(cut, true)).toEqual([{ protocol: "mysql", text: "SELECT *", truncated: true }]);
    expect(mysqlMessages(cut, false)).toBeNull();
    expect(mysqlMessages("SET PASSWORD = 'x'", false)).toBeNull();
  });

  it("Redis: RESP arrays (pipelined), inline commands with a hint, AUTH hidden", () => {
    const resp = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n";
    expect(redisMessages(resp, false, false)).toEqual([
      { protocol: "redis", text: "SET k hello" },
      { protocol: "redis", text: "AUTH ***" },
    ]);
    expect(redisMessages("PING\r\n", false, true)).toEqual([{ protocol: "redis", text: "PING" }]);
    expect(redisMessages("PING\r\n", false, false)).toBeNull();
  });

  it("pick the protocol from the server's address, else strictly by content", () => {
    expect(protocolHint("127.0.0.1:5432")).toBe("postgresql");
    expect(protocolHint("/var/run/postgresql/.s.PGSQL.5432")).toBe("postgresql");
    expect(protocolHint("/run/mysqld/mysqld.sock")).toBe("mysql");
    expect(protocolHint("[::1]:6379")).toBe("redis");
    expect(protocolHint("10.0.0.1:443")).toBeNull();
    expect(recognizeDbMessages(pgQuery("select now()").toString("latin1"), false, null)).toEqual([
      { protocol: "postgresql", text: "select now()" },
    ]);
    expect(recognizeDbMessages("hello world\n", false, null)).toEqual([]);
  });
});
