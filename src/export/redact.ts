import type { GraphNode } from "../graph/prov-types.js";

/** What replaces a secret. */
export const REDACTED = "***";

const SECRET_NAME = /(pass|secret|token|key|credential|auth)/i;
/** `scheme://user:password@` → keep the user, hide the password */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;
/** `--db-password=x`, `-token=x`, `--api_key x` inside a command-line string */
const OPTION_IN_TEXT =
  /(^|\s)(--?[\w.-]*(?:pass|secret|token|key|credential|auth)[\w.-]*)([=\s])('[^']*'|"[^"]*"|\S+)/gi;
/** tools whose `-pSECRET` (attached value) is a password */
const DASH_P_TOOLS = new Set([
  "mysql",
  "mysqldump",
  "mysqladmin",
  "mariadb",
  "mariadb-dump",
  "mariadb-admin",
  "sshpass",
]);

function basename(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? path : path.slice(i + 1);
}

/** Hide the password of any `scheme://user:pass@host` in a string. */
export function redactUrls(text: string): string {
  if (!text.includes("://")) return text;
  return text.replace(URL_CREDENTIALS, `$1:${REDACTED}@`);
}

/** Redact secrets in free text such as a command line label. */
export function redactText(text: string): string {
  return redactUrls(text).replace(OPTION_IN_TEXT, (_m, pre: string, opt: string, sep: string) => {
    return `${pre}${opt}${sep}${REDACTED}`;
  });
}

/** Redact secrets in an argv: secret-named options (`--password=x`, `--password x`), `-px`, URLs. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  const dashP = argv.length > 0 && DASH_P_TOOLS.has(basename(argv[0] ?? ""));
  let hideNext = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (hideNext) {
      out.push(REDACTED);
      hideNext = false;
      continue;
    }
    if (i > 0 && arg.startsWith("-")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg : arg.slice(0, eq);
      if (SECRET_NAME.test(name.replace(/^-+/, ""))) {
        if (eq >= 0) out.push(`${name}=${REDACTED}`);
        else {
          out.push(arg);
          // a long option naming a secret with its value in the next argument
          const next = argv[i + 1];
          hideNext = arg.startsWith("--") && next !== undefined && !next.startsWith("-");
        }
        continue;
      }
      if (dashP && arg.length > 2 && arg.startsWith("-p") && !arg.startsWith("--")) {
        out.push(`-p${REDACTED}`);
        continue;
      }
    }
    out.push(redactUrls(arg));
  }
  return out;
}

/** Redact `NAME=value` entries whose name looks secret, and credentials in URLs of the others. */
export function redactEnv(env: readonly string[]): string[] {
  return env.map((entry) => {
    const eq = entry.indexOf("=");
    if (eq < 0) return entry;
    const name = entry.slice(0, eq);
    return SECRET_NAME.test(name) ? `${name}=${REDACTED}` : `${name}=${redactUrls(entry.slice(eq + 1))}`;
  });
}

/** The node with its argv, env and label redacted (a copy; the node is left alone). */
export function redactNode(node: GraphNode): GraphNode {
  const attrs = node.attrs;
  if (node.kind !== "activity" && attrs.argv === undefined && attrs.env === undefined) {
    const label = redactUrls(node.label);
    return label === node.label ? node : { ...node, label };
  }
  const copy = { ...attrs };
  if (Array.isArray(attrs.argv)) copy.argv = redactArgv(attrs.argv);
  if (Array.isArray(attrs.env)) copy.env = redactEnv(attrs.env);
  const label =
    Array.isArray(attrs.argv) && node.label === attrs.argv.join(" ") && copy.argv !== undefined
      ? copy.argv.join(" ")
      : redactText(node.label);
  return { ...node, label, attrs: copy };
}
