import { describe, expect, it } from "vitest";
import { REDACTED, redactArgv, redactEnv, redactShapes, redactText } from "../src/export/redact.js";

describe("secrets redaction", () => {
  it("hides environment values by the variable's name, not the working directories", () => {
    expect(
      redactEnv([
        "PGPASSWORD=pw",
        "MYSQL_PWD=pw",
        "GITHUB_TOKEN=t",
        "AWS_SECRET_ACCESS_KEY=k",
        "PWD=/home/u",
        "OLDPWD=/tmp",
        "SSH_AUTH_SOCK=/run/x",
        "HOME=/root",
      ]),
    ).toEqual([
      `PGPASSWORD=${REDACTED}`,
      `MYSQL_PWD=${REDACTED}`,
      `GITHUB_TOKEN=${REDACTED}`,
      `AWS_SECRET_ACCESS_KEY=${REDACTED}`,
      "PWD=/home/u",
      "OLDPWD=/tmp",
      "SSH_AUTH_SOCK=/run/x",
      "HOME=/root",
    ]);
  });

  it("hides secrets by their shape under any name", () => {
    expect(
      redactEnv([
        "X=ghp_0123456789abcdefghijklmnopqrstuvwxyz",
        "Y=AKIAABCDEFGHIJKLMNOP",
        "DATABASE_URL=postgres://app:s3cret@db/x",
        "PGCONN=host=db password=s3cret dbname=x",
      ]),
    ).toEqual([
      `X=${REDACTED}`,
      `Y=${REDACTED}`,
      `DATABASE_URL=postgres://app:${REDACTED}@db/x`,
      `PGCONN=host=db password=${REDACTED} dbname=x`,
    ]);
    expect(redactShapes("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----")).toBe(
      REDACTED,
    );
    expect(
      redactShapes(
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
      ),
    ).toBe(REDACTED);
    expect(redactText("curl -H 'Authorization: Bearer abc.def' https://x")).toBe(
      `curl -H 'Authorization: ${REDACTED}' https://x`,
    );
  });

  it("knows the tools whose options carry a password in the next argument", () => {
    expect(redactArgv(["redis-cli", "-h", "db", "-a", "pw", "PING"])).toEqual([
      "redis-cli",
      "-h",
      "db",
      "-a",
      REDACTED,
      "PING",
    ]);
    expect(redactArgv(["sshpass", "-p", "pw", "ssh", "host"])).toEqual([
      "sshpass",
      "-p",
      REDACTED,
      "ssh",
      "host",
    ]);
    expect(redactArgv(["curl", "-u", "alice:pw", "https://x"])).toEqual([
      "curl",
      "-u",
      `alice:${REDACTED}`,
      "https://x",
    ]);
    expect(redactArgv(["mysql", "-uroot", "-ppw", "--password=pw"])).toEqual([
      "mysql",
      "-uroot",
      `-p${REDACTED}`,
      `--password=${REDACTED}`,
    ]);
    // nothing secret stays as it was
    expect(redactArgv(["tar", "czf", "backup.tgz", "data"])).toEqual(["tar", "czf", "backup.tgz", "data"]);
  });
});

describe("secrets in shell command texts", () => {
  it("hides the secret options of the tools a `sh -c` text runs", () => {
    expect(
      redactArgv([
        "sh",
        "-c",
        "redis-cli -h db -a 'pw 1' PING && curl -u bob:pw2 https://x | sshpass -p pw3 ssh h",
      ]),
    ).toEqual([
      "sh",
      "-c",
      `redis-cli -h db -a ${REDACTED} PING && curl -u bob:${REDACTED} https://x | sshpass -p ${REDACTED} ssh h`,
    ]);
  });
});
