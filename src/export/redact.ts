import type { GraphNode } from "../graph/prov-types.js";

/** What replaces a secret. */
export const REDACTED = "***";

const SECRET_NAME = /(pass|secret|token|key|credential|auth|_pwd$|^pwd_|cookie)/i;
/** Names that look secret but are not: the working directories, keyboard and locale settings. */
const NOT_SECRET_NAME =
  /^(?:PWD|OLDPWD|XKB_\w+|KEYMAP|KEYTABLE|GPG_AGENT_INFO|SSH_AUTH_SOCK|DBUS_SESSION_BUS_ADDRESS|XDG_SESSION_\w+|SESSION_MANAGER|DESKTOP_SESSION)$/;
/**
 * Secrets recognised by their shape wherever they are (an argument, an environment value, a label):
 * private key blocks, `Authorization: Bearer|Basic …` headers, JSON web tokens, and well-known token
 * formats (AWS access key ids, GitHub, GitLab, Slack, Stripe, Google API keys, npm tokens).
 */
const SECRET_SHAPES: readonly RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\b(Authorization|Proxy-Authorization)(:\s*)(?:Bearer|Basic|Token|Digest)?\s*[^\s"']+/gi,
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{30,}\b/g,
  /\bglpat-[A-Za-z0-9_-]{20,}\b/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g,
  /\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b/g,
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  /\bnpm_[A-Za-z0-9]{36}\b/g,
];
/** `password=x` / `pwd: x` inside a value (libpq conninfo, JDBC parameters, INI-style strings). */
const PASSWORD_PARAM =
  /\b(password|passwd|pwd|secret|token|api_?key)(\s*[=:]\s*)('[^']*'|"[^"]*"|[^\s;&,'"]+)/gi;
/** Tools whose option (the next argument, or attached) is a secret: redis-cli -a, sshpass -p, curl -u user:pass. */
const SECRET_OPTION_TOOLS: Record<string, { next: string[]; userPass?: string[] }> = {
  "redis-cli": { next: ["-a", "--pass"] },
  sshpass: { next: ["-p"] },
  curl: { next: [], userPass: ["-u", "--user", "--proxy-user", "-U"] },
};

/** Secrets recognised by their shape (see SECRET_SHAPES) and `password=` parameters, hidden. */
export function redactShapes(text: string): string {
  let t = text;
  for (const re of SECRET_SHAPES)
    t = t.replace(re, (_m: string, name?: string, sep?: string) =>
      typeof name === "string" && typeof sep === "string" && /authorization/i.test(name)
        ? `${name}${sep}${REDACTED}`
        : REDACTED,
    );
  return t.replace(PASSWORD_PARAM, (_m, k: string, sep: string) => `${k}${sep}${REDACTED}`);
}
/** `scheme://user:password@` → keep the user, hide the password */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;
/** `--db-password=x`, `-token=x`, `--api_key x` inside a command-line string */
const OPTION_IN_TEXT =
  /(^|\s)(--?[\w.-]*(?:pass|secret|token|key|credential|auth)[\w.-]*)([=\s])('[^']*'|"[^"]*"|(?!-)\S+)/gi;
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

/** In a command text: a secret-option tool's option and its value (`redis-cli … -a PW`, `curl -u u:PW`). */
const TOOL_OPTION_IN_TEXT: readonly { re: RegExp; userPass: boolean }[] = Object.entries(
  SECRET_OPTION_TOOLS,
).flatMap(([tool, o]) => {
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  const build = (opts: string[], userPass: boolean) =>
    opts.length === 0
      ? []
      : [
          {
            re: new RegExp(
              `(\\b${esc(tool)}\\b[^;&|\\n]*?\\s(?:${opts.map(esc).join("|")})\\s+)('[^']*'|"[^"]*"|[^\\s;&|]+)`,
              "g",
            ),
            userPass,
          },
        ];
  return [...build(o.next, false), ...build(o.userPass ?? [], true)];
});

const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"]);

/** Redact secrets in free text such as a command line label. */
export function redactText(text: string): string {
  let t = redactShapes(redactUrls(text));
  for (const { re, userPass } of TOOL_OPTION_IN_TEXT)
    t = t.replace(re, (_m, pre: string, value: string) => {
      const c = value.indexOf(":");
      // user:password keeps the user
      return userPass ? `${pre}${c < 0 ? value : `${value.slice(0, c)}:${REDACTED}`}` : `${pre}${REDACTED}`;
    });
  return t.replace(
    OPTION_IN_TEXT,
    (_m, pre: string, opt: string, sep: string) => `${pre}${opt}${sep}${REDACTED}`,
  );
}

/** Redact secrets in an argv: secret-named options (`--password=x`, `--password x`), `-px`, URLs. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  const tool = basename(argv[0] ?? "");
  const dashP = argv.length > 0 && DASH_P_TOOLS.has(tool);
  const special = SECRET_OPTION_TOOLS[tool];
  let hideNext = false;
  let userPassNext = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (hideNext) {
      out.push(REDACTED);
      hideNext = false;
      continue;
    }
    if (userPassNext) {
      const c = arg.indexOf(":");
      out.push(c < 0 ? arg : `${arg.slice(0, c)}:${REDACTED}`);
      userPassNext = false;
      continue;
    }
    if (i > 0 && special !== undefined) {
      if (special.next.includes(arg)) {
        out.push(arg);
        hideNext = true;
        continue;
      }
      if (special.userPass?.includes(arg)) {
        out.push(arg);
        userPassNext = true;
        continue;
      }
      const attached = special.next.find((o) => o.length === 2 && arg.startsWith(o) && arg.length > 2);
      if (attached !== undefined) {
        out.push(`${attached}${REDACTED}`);
        continue;
      }
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
    // a shell's command text: every tool in it
    if (i > 0 && SHELLS.has(tool) && argv[i - 1] === "-c") out.push(redactText(arg));
    else out.push(redactShapes(redactUrls(arg)));
  }
  return out;
}

/** Redact `NAME=value` entries whose name looks secret, and credentials in URLs of the others. */
export function redactEnv(env: readonly string[]): string[] {
  return env.map((entry) => {
    const eq = entry.indexOf("=");
    if (eq < 0) return entry;
    const name = entry.slice(0, eq);
    return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name)
      ? `${name}=${REDACTED}`
      : `${name}=${redactShapes(redactUrls(entry.slice(eq + 1)))}`;
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
