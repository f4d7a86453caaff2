import type { CallEvent } from "../events/event-types.js";
import type { Step } from "../store/store-types.js";

/** A copy of a string that does not keep alive a big string it was sliced from (see ownString). */
function own(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

/** Database queries kept on one step at most (a step folds many calls). */
export const MAX_STEP_QUERIES = 16;

function addStepQueries(step: Step, queries: readonly string[]): void {
  const list = step.queries ?? [];
  for (const q of queries) if (list.length < MAX_STEP_QUERIES) list.push(own(q));
  step.queries = list;
}

/**
 * Folds `call` events into steps: consecutive calls of one process with the same name on the same
 * resource are one step. Runs are per process (other processes interleaving do not break them);
 * only the open step of each process is kept. Steps get their `seq` when they close (so seq follows
 * closing order); `start` is kept so readers can order by start.
 */
export class StepFolder {
  private readonly open = new Map<number, Step>();
  private closed: Step[] = [];
  private seq = 0;
  private total = 0;

  add(ev: CallEvent, pid: number): void {
    const cur = this.open.get(pid);
    const bytes = ev.bytes ?? 0;
    const dur = ev.dur ?? 0;
    const end = ev.ts + dur;
    if (cur && cur.call === ev.name && cur.resource === ev.resource) {
      cur.count++;
      cur.bytes += bytes;
      if (!ev.ok) cur.errors++;
      if (end > cur.end) cur.end = end;
      cur.dur += dur;
      cur.ret = ev.ret ?? cur.ret;
      if (ev.queries !== undefined) addStepQueries(cur, ev.queries);
      return;
    }
    if (cur) this.close(cur);
    this.open.set(pid, {
      seq: 0,
      pid,
      call: ev.name,
      resource: ev.resource,
      count: 1,
      bytes,
      errors: ev.ok ? 0 : 1,
      start: ev.ts,
      end,
      dur,
      ret: ev.ret ?? null,
      ...(ev.queries !== undefined ? { queries: ev.queries.slice(0, MAX_STEP_QUERIES) } : {}),
    });
  }

  /** Close the open step of a process (it exited or exec'd). */
  closePid(pid: number): void {
    const cur = this.open.get(pid);
    if (cur) {
      this.open.delete(pid);
      this.close(cur);
    }
  }

  private close(step: Step): void {
    step.seq = ++this.seq;
    this.total++;
    this.closed.push(step);
  }

  /**
   * Steps closed since the last call. The open steps stay: their strings are copied so they no
   * longer keep alive the input chunks they were cut from.
   */
  take(): Step[] {
    for (const s of this.open.values()) {
      s.resource = own(s.resource);
      if (s.ret !== null) s.ret = own(s.ret);
    }
    const out = this.closed;
    this.closed = [];
    return out;
  }

  /** Close every open step, in order of start. */
  finish(): Step[] {
    const rest = [...this.open.values()].sort((a, b) => a.start - b.start);
    this.open.clear();
    for (const s of rest) this.close(s);
    return this.take();
  }

  /** steps still open (one per process with calls) */
  get openCount(): number {
    return this.open.size;
  }

  get count(): number {
    return this.total;
  }
}
