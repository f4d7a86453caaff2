/**
 * One completed system (or library) call as a tracer printed it, after the line parser has joined
 * `<unfinished ...>` with its `<... resumed>` half. Shared by the strace and ltrace sources; the
 * syscall interpreter turns these into provenance events.
 */
export interface SyscallRecord {
  /** process or thread id as printed (strace -f prints the tid) */
  tid: number;
  /** microseconds since the epoch, or the clock stand-in (see RunContext.clock) */
  ts: number;
  /** the call's name without decorations: openat, clone3, SYS_openat → openat */
  name: string;
  /** top-level arguments as raw text, split on commas outside quotes/brackets/braces/angles */
  args: string[];
  /** the return text after " = ", without the errno part: "3</etc/passwd>", "-1", "?", "0x7f…" */
  ret: string;
  /** numeric value of the return when it is a number (decimal or hex), else undefined */
  retval?: number;
  /** ENOENT, ERESTARTSYS… when the call failed or was restarted */
  errno?: string;
  /** -T duration in microseconds */
  dur?: number;
  /** true when the call never returned (`= ?`, or unfinished at end of log / process death) */
  incomplete?: boolean;
  /** for ltrace: "sys" for system calls, "lib" for library calls */
  layer?: "sys" | "lib";
  /** for open calls: whether it created the file, when the tracer knows (eBPF reads FMODE_CREATED) */
  created?: boolean;
  /** file and line of the (first half of the) call */
  line: number;
}

/** Non-call lines strace prints about a process. */
export type StraceNotice =
  | { type: "signal"; tid: number; ts: number; signal: string; info: string; line: number }
  | { type: "exited"; tid: number; ts: number; code: number; line: number }
  | { type: "killed"; tid: number; ts: number; signal: string; coreDumped: boolean; line: number }
  | { type: "attached"; tid: number; ts: number; line: number }
  | { type: "detached"; tid: number; ts: number; line: number };
