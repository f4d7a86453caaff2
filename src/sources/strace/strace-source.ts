import type { ProvEvent } from "../../events/event-types.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { SyscallInterpreter } from "../syscalls/syscall-interpreter.js";
import type { StraceNotice, SyscallRecord } from "../syscalls/syscall-record.js";
import { type JoinerItem, StraceCallJoiner } from "./strace-call-joiner.js";
import { detectStraceStyle } from "./strace-detect.js";

/**
 * The strace source: the line parser and call joiner turn lines into completed calls, the syscall
 * interpreter turns calls into provenance events. The interpreter is created on the first batch,
 * once the log's style (fd decorations or not) is known.
 */
export class StraceLogParser implements LineParser {
  private readonly joiner: StraceCallJoiner;
  private interp: SyscallInterpreter | null = null;
  private readonly calls: Array<SyscallRecord | StraceNotice> = [];

  constructor(private readonly opts: ParserOptions) {
    this.joiner = new StraceCallJoiner({
      date: opts.ctx.date,
      tz: opts.ctx.tz,
      topPid: opts.topPid,
      ffPid: opts.pid,
      file: opts.file,
      argLimit: (name) => (this.interp === null ? 0x7fffffff : this.interp.argsNeeded(name)),
    });
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    if (!this.interp) {
      const style = detectStraceStyle(lines.length > 200 ? lines.slice(0, 200) : lines);
      this.interp = new SyscallInterpreter({
        file: this.opts.file,
        ctx: this.opts.ctx,
        decorations: style?.decorations ?? false,
        attach: this.opts.attach,
      });
    }
    return this.interpret(this.joiner.push(lines, firstLine));
  }

  end(): ProvEvent[] {
    if (!this.interp) return [];
    const out = this.interpret(this.joiner.end());
    for (const e of this.interp.end()) out.push(e);
    return out;
  }

  private interpret(items: JoinerItem[]): ProvEvent[] {
    const problems: ProvEvent[] = [];
    const calls = this.calls;
    calls.length = 0;
    for (const it of items) {
      if ("type" in it && it.type === "problem") {
        problems.push({
          kind: "problem",
          at: { file: it.file ?? this.opts.file, line: it.line },
          message: it.message,
          text: it.text,
        });
      } else calls.push(it as SyscallRecord | StraceNotice);
    }
    const events = this.interp!.feed(calls);
    if (problems.length === 0) return events;
    for (const e of events) problems.push(e);
    return problems;
  }
}

export const straceFormat: SourceFormat = {
  kind: "strace",
  detect(head: string[]): number {
    return detectStraceStyle(head)?.confidence ?? 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new StraceLogParser(opts);
  },
};
