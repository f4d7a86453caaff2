import { type FileHandle, open, stat } from "node:fs/promises";
import { syscallName } from "../sources/audit/audit-syscall-names.js";
import { type LineBatch, LineSplitter } from "../sources/line-batches.js";

/**
 * Picks one capture's events out of an audit log that holds the whole machine's. Records of one
 * event share `msg=audit(TS:SERIAL)`; an event is ours when its SYSCALL record carries our rule key
 * or our audit session (`ses=`): then all its records are kept, in log order. Records logged during
 * the call (AVC, LOGIN…) come before their SYSCALL and wait in a small buffer until it decides. The
 * LOGIN event of the wrapper giving the command its session is provflow's own doing and is dropped.
 * auditd writes no EOE records to disk, so decisions are forgotten oldest first past a bound.
 */

export interface AuditFilterOptions {
  /** the rule key (`-k`) of this capture */
  key: string;
  /** the audit session id of the command's process tree */
  session: number;
  /** text of the user message (`auditctl -m`) that says every earlier record has been written */
  marker?: string;
  /** pid of the command's first process: its exit_group is noted */
  rootPid?: number;
}

export interface AuditFilterStats {
  /** audit records read (lines with msg=audit(…)) */
  records: number;
  /** records kept */
  kept: number;
  /** SYSCALL records kept */
  syscalls: number;
}

const MAX_DECISIONS = 8192;
const MAX_PENDING_LINES = 4096;

/** `type=X` of a record line (after an optional `node=NAME `), or "" */
function recordType(line: string): string {
  let i = 0;
  if (line.startsWith("node=")) {
    i = line.indexOf(" ") + 1;
    if (i <= 0) return "";
  }
  if (!line.startsWith("type=", i)) return "";
  const sp = line.indexOf(" ", i + 5);
  return sp < 0 ? "" : line.slice(i + 5, sp);
}

/** whether `name=value` appears as a whole field (followed by a space, ENRICHED's \x1d or the end) */
function hasField(line: string, name: string, value: string, from = 0): boolean {
  const needle = ` ${name}=${value}`;
  for (;;) {
    const at = line.indexOf(needle, from);
    if (at < 0) return false;
    const next = line.charCodeAt(at + needle.length);
    if (Number.isNaN(next) || next === 32 || next === 0x1d) return true;
    from = at + 1;
  }
}

function fieldValue(line: string, name: string): string | undefined {
  const at = line.indexOf(` ${name}=`);
  if (at < 0) return undefined;
  const start = at + name.length + 2;
  let end = start;
  while (end < line.length && line.charCodeAt(end) !== 32 && line.charCodeAt(end) !== 0x1d) end++;
  return line.slice(start, end);
}

export class AuditCaptureFilter {
  readonly stats: AuditFilterStats = { records: 0, kept: 0, syscalls: 0 };
  markerSeen = false;
  rootExitSeen = false;
  /** time of the newest record read (ms since the epoch, from its msg=audit(…) stamp) */
  newestMs = 0;
  private readonly keyField: string;
  private readonly session: string;
  private readonly rootField: string | null;
  /** event id → keep (true) or drop (false), oldest first */
  private readonly decided = new Map<string, boolean>();
  /** records of events whose SYSCALL has not come yet */
  private readonly pending = new Map<string, string[]>();
  private pendingLines = 0;

  constructor(private readonly opts: AuditFilterOptions) {
    this.keyField = ` key="${opts.key}"`;
    this.session = String(opts.session);
    this.rootField = opts.rootPid !== undefined ? ` pid=${opts.rootPid} ` : null;
  }

  /** the kept lines of a batch, in order */
  push(lines: readonly string[], out: string[] = []): string[] {
    let lastId = "";
    for (const line of lines) {
      const m = line.indexOf("msg=audit(");
      if (m < 0) continue;
      const close = line.indexOf(")", m + 10);
      if (close < 0) continue;
      this.stats.records++;
      const id = line.slice(m + 10, close);
      lastId = id;
      const type = recordType(line);
      const known = this.decided.get(id);
      if (type === "SYSCALL") {
        const keep =
          known ?? (line.includes(this.keyField, close) || hasField(line, "ses", this.session, close));
        this.decide(id, keep);
        const waiting = this.pending.get(id);
        if (waiting !== undefined) {
          this.pending.delete(id);
          this.pendingLines -= waiting.length;
          if (keep) for (const w of waiting) this.keep(w, out);
        }
        if (keep) {
          this.stats.syscalls++;
          this.keep(line, out);
          if (this.rootField !== null && !this.rootExitSeen && line.includes(this.rootField, close)) {
            const arch = fieldValue(line, "arch");
            const nr = Number(fieldValue(line, "syscall"));
            if (arch !== undefined && syscallName(arch, nr) === "exit_group") this.rootExitSeen = true;
          }
        }
        continue;
      }
      if (known !== undefined) {
        if (known) this.keep(line, out);
        continue;
      }
      if (type === "USER" && this.opts.marker !== undefined && line.includes(this.opts.marker, close)) {
        this.markerSeen = true;
        continue;
      }
      if (type === "LOGIN" && hasField(line, "ses", this.session, close)) {
        // the wrapper writing its loginuid: how the session began, not something the command did
        this.decide(id, false);
        this.dropPending(id);
        continue;
      }
      this.hold(id, line);
    }
    if (lastId !== "") {
      const ms = Number(lastId.slice(0, lastId.indexOf(":"))) * 1000;
      if (ms > this.newestMs) this.newestMs = ms;
    }
    return out;
  }

  private keep(line: string, out: string[]): void {
    this.stats.kept++;
    out.push(line);
  }

  private decide(id: string, keep: boolean): void {
    if (this.decided.has(id)) return;
    this.decided.set(id, keep);
    if (this.decided.size > MAX_DECISIONS) {
      const oldest = this.decided.keys().next().value as string;
      this.decided.delete(oldest);
    }
  }

  private dropPending(id: string): void {
    const waiting = this.pending.get(id);
    if (waiting === undefined) return;
    this.pending.delete(id);
    this.pendingLines -= waiting.length;
  }

  private hold(id: string, line: string): void {
    const waiting = this.pending.get(id);
    if (waiting !== undefined) waiting.push(line);
    else this.pending.set(id, [line]);
    this.pendingLines++;
    // events that never get a SYSCALL (user messages, daemon records) end up here: forget the oldest
    while (this.pendingLines > MAX_PENDING_LINES) {
      const [oldest, lines] = this.pending.entries().next().value as [string, string[]];
      this.pending.delete(oldest);
      this.pendingLines -= lines.length;
    }
  }
}

export interface AuditLogTailOptions {
  /** the log auditd writes */
  path: string;
  /** where to start reading: byte offset in the file with this inode (another inode: from 0) */
  start: { ino: number; size: number } | null;
  filter: AuditCaptureFilter;
  /** the kept records are written here (the raw log of the capture) */
  out: string;
  pollMs?: number;
  chunkSize?: number;
}

/**
 * Follows auditd's log while a capture runs: reads what is appended (and the new file after a
 * rotation), keeps the capture's records, writes them to the capture's own log and yields them
 * as line batches numbered in that log. Ends after `finish()` once everything written is read.
 */
export class AuditLogTail {
  private finishing = false;
  private wake: (() => void) | null = null;
  /** bytes read from auditd's log(s) */
  bytesRead = 0;

  constructor(private readonly opts: AuditLogTailOptions) {}

  /** read what is there, then end */
  finish(): void {
    this.finishing = true;
    this.wake?.();
  }

  async *batches(): AsyncGenerator<LineBatch> {
    const { path, filter } = this.opts;
    const size = this.opts.chunkSize ?? 1 << 20;
    const poll = this.opts.pollMs ?? 25;
    const out = await open(this.opts.out, "w");
    let nextLine = 1;
    const emit = async (lines: string[]): Promise<LineBatch | null> => {
      const kept = filter.push(lines);
      if (kept.length === 0) return null;
      const text = `${kept.join("\n")}\n`;
      await out.write(text);
      const batch = { lines: kept, firstLine: nextLine, bytes: Buffer.byteLength(text) };
      nextLine += kept.length;
      return batch;
    };
    let fh: FileHandle | null = null;
    try {
      fh = await this.openLog(path);
      let pos = 0;
      if (fh !== null && this.opts.start !== null) {
        const st = await fh.stat();
        if (st.ino === this.opts.start.ino && st.size >= this.opts.start.size) pos = this.opts.start.size;
      }
      let splitter = new LineSplitter();
      const buf = Buffer.allocUnsafe(size);
      let rotationSeen = false;
      for (;;) {
        const wasFinishing = this.finishing;
        if (fh === null) {
          fh = await this.openLog(path);
          pos = 0;
          if (fh === null) {
            if (wasFinishing) break;
            await this.pause(poll);
            continue;
          }
        }
        const { bytesRead } = await fh.read(buf, 0, size, pos);
        if (bytesRead > 0) {
          pos += bytesRead;
          this.bytesRead += bytesRead;
          const lines = splitter.push(Buffer.from(buf.subarray(0, bytesRead)));
          if (lines) {
            const batch = await emit(lines.lines);
            if (batch) yield batch;
          }
          continue;
        }
        // at the end of the file: rotated (another inode at the path) or truncated?
        const [now, mine] = await Promise.all([stat(path).catch(() => null), fh.stat()]);
        if (now !== null && (now.ino !== mine.ino || now.dev !== mine.dev)) {
          // auditd writes its last records, then renames: they can land between the read that
          // found the end and this stat. Read the old file once more after seeing the rotation.
          if (!rotationSeen) {
            rotationSeen = true;
            continue;
          }
          rotationSeen = false;
          const tail = splitter.end();
          if (tail) {
            const batch = await emit(tail.lines);
            if (batch) yield batch;
          }
          const old = fh;
          fh = null;
          await old.close();
          splitter = new LineSplitter();
          continue;
        }
        if (mine.size < pos) {
          pos = 0;
          splitter = new LineSplitter();
          continue;
        }
        if (wasFinishing) break;
        await this.pause(poll);
      }
      const tail = splitter.end();
      if (tail) {
        const batch = await emit(tail.lines);
        if (batch) yield batch;
      }
    } finally {
      await fh?.close();
      await out.close();
    }
  }

  private async openLog(path: string) {
    try {
      return await open(path, "r");
    } catch {
      return null;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((res) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        res();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}
