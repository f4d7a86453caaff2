/**
 * C string literals as strace prints them: `"abc\n"`, octal `\303\251`, hex `\xc3\xa9` (-x / -xx),
 * the truncation marker `"abc"...`, and string arrays (execve argv / envp, `-v`).
 */

const BACKSLASH = 92;
const QUOTE = 34;

/**
 * Index just past the closing quote of the C string whose opening quote is at `start`
 * (`text[start] === '"'`), or -1 when the string is not terminated. Uses native indexOf so that
 * long read/write buffers are skipped without a per-character loop.
 */
export function skipCString(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return -1;
    // an escaped quote has an odd number of backslashes right before it
    let b = q - 1;
    while (b > start && text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    i = q + 1;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const SIMPLE_ESCAPES: Record<string, number> = {
  n: 10,
  t: 9,
  r: 13,
  v: 11,
  f: 12,
  b: 8,
  a: 7,
  e: 27,
  '"': 34,
  "\\": 92,
  "'": 39,
  "?": 63,
};

/** Decode the body of a C string literal (no surrounding quotes) into bytes then UTF-8 text. */
export function decodeCStringBody(body: string): string {
  if (body.indexOf("\\") < 0) return body;
  const bytes = Buffer.allocUnsafe(body.length * 3);
  let n = 0;
  const len = body.length;
  let i = 0;
  while (i < len) {
    const c = body.charCodeAt(i);
    if (c === BACKSLASH && i + 1 < len) {
      const d = body.charCodeAt(i + 1);
      if (d === 120 /* x */) {
        let v = 0;
        let k = i + 2;
        let digits = 0;
        while (digits < 2 && k < len) {
          const h = hexValue(body.charCodeAt(k));
          if (h < 0) break;
          v = v * 16 + h;
          k++;
          digits++;
        }
        if (digits === 0) {
          bytes[n++] = 120;
          i += 2;
          continue;
        }
        bytes[n++] = v;
        i = k;
        continue;
      }
      if (d >= 48 && d <= 55) {
        let v = 0;
        let k = i + 1;
        let digits = 0;
        while (digits < 3 && k < len) {
          const o = body.charCodeAt(k);
          if (o < 48 || o > 55) break;
          v = v * 8 + (o - 48);
          k++;
          digits++;
        }
        bytes[n++] = v & 0xff;
        i = k;
        continue;
      }
      const simple = SIMPLE_ESCAPES[body[i + 1] as string];
      if (simple !== undefined) {
        bytes[n++] = simple;
        i += 2;
        continue;
      }
      // unknown escape: keep the character itself
      i += 1;
      continue;
    }
    if (c < 0x80) {
      bytes[n++] = c;
      i++;
      continue;
    }
    // non-ASCII text already decoded from the log: re-encode it as UTF-8
    let end = i + 1;
    while (end < len && body.charCodeAt(end) >= 0x80) end++;
    n += bytes.write(body.slice(i, end), n, "utf8");
    i = end;
  }
  return bytes.toString("utf8", 0, n);
}

export interface DecodedCString {
  value: string;
  /** strace cut the string at -s SIZE (`"abc"...`) */
  truncated: boolean;
}

/**
 * Decode one argument holding a C string: `"abc\n"`, `"abc"...`. Text that is not a quoted string
 * (NULL, a pointer such as 0x7ffc…) gives null.
 */
export function decodeCStringArg(text: string): DecodedCString | null {
  let s = 0;
  let e = text.length;
  while (s < e && text.charCodeAt(s) === 32) s++;
  while (e > s && text.charCodeAt(e - 1) === 32) e--;
  if (text.charCodeAt(s) !== QUOTE) return null;
  const end = skipCString(text, s);
  if (end < 0) return { value: decodeCStringBody(text.slice(s + 1, e)), truncated: true };
  const truncated = text.startsWith("...", end);
  return { value: decodeCStringBody(text.slice(s + 1, end - 1)), truncated };
}

/**
 * Decode a C string argument into text (`"a\tb"` → "a<TAB>b"); handles \xNN, \NNN octal, the -xx
 * all-hex form and a trailing `...`. Text that is not quoted is returned as it is.
 */
export function decodeCString(text: string): string {
  const d = decodeCStringArg(text);
  return d === null ? text : d.value;
}

export interface StringArray {
  values: string[];
  /** strace left elements out (`...` element, `-a`/-s cut) or cut a string (`"abc"...`) */
  truncated: boolean;
  /** the count from `/* 35 vars *\/` when strace printed only a count */
  count?: number;
}

/**
 * Parse an execve argv/envp argument: `["sh", "-c", "ls"]`, `["dot", "-K"..., ...]`,
 * `[/* 34 vars *\/]` (old strace), `0x7ffc… /* 35 vars *\/` (address + count). Returns null for
 * NULL or anything else that is not an array.
 */
export function parseStringArray(text: string): StringArray | null {
  let s = 0;
  let e = text.length;
  while (s < e && text.charCodeAt(s) === 32) s++;
  while (e > s && text.charCodeAt(e - 1) === 32) e--;
  const countOf = (from: number): number | undefined => {
    const c = text.indexOf("/*", from);
    if (c < 0 || c >= e) return undefined;
    let k = c + 2;
    while (k < e && text.charCodeAt(k) === 32) k++;
    let v = 0;
    let digits = 0;
    while (k < e) {
      const ch = text.charCodeAt(k);
      if (ch < 48 || ch > 57) break;
      v = v * 10 + (ch - 48);
      k++;
      digits++;
    }
    return digits > 0 ? v : undefined;
  };
  if (text.charCodeAt(s) !== 91 /* [ */) {
    const count = countOf(s);
    if (count === undefined) return null;
    return { values: [], truncated: count > 0, count };
  }
  const values: string[] = [];
  let truncated = false;
  let i = s + 1;
  while (i < e) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = skipCString(text, i);
      if (end < 0) {
        values.push(decodeCStringBody(text.slice(i + 1, e)));
        return { values, truncated: true };
      }
      values.push(decodeCStringBody(text.slice(i + 1, end - 1)));
      i = end;
      if (text.startsWith("...", i)) {
        truncated = true;
        i += 3;
      }
      continue;
    }
    if (c === 46 /* . */ && text.startsWith("...", i)) {
      truncated = true;
      i += 3;
      continue;
    }
    if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42) {
      const count = countOf(i);
      const close = text.indexOf("*/", i + 2);
      if (count !== undefined && values.length === 0) {
        return { values, truncated: count > 0, count };
      }
      i = close < 0 ? e : close + 2;
      continue;
    }
    if (c === 93 /* ] */) break;
    i++;
  }
  return { values, truncated };
}
