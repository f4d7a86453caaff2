import type { ProvEvent, SourceLocation } from "../../events/event-types.js";
import { splitWindowsCommandLine } from "../../graph/windows-path.js";

/**
 * One Sysmon event in the shape every export reduces to: its event id, its time, the machine, and
 * the EventData fields by name (`ProcessGuid`, `Image`, `TargetFilename`…).
 */
export interface SysmonRecord {
  eventId: number;
  /** µs since the epoch (UtcTime of the EventData, else the record's TimeCreated) */
  ts: number;
  fields: Record<string, string>;
  host?: string;
  recordId?: string;
  at: SourceLocation;
}

/** `2019-06-20 08:07:42.316`, `2020-10-23T02:36:43.128Z`, `2019-06-20T08:07:50.3786850Z` → µs. */
export function parseSysmonTime(s: string | undefined): number | null {
  if (!s) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/.exec(s.trim());
  if (!m) return null;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  const frac = m[7] ? Math.floor(Number(m[7].padEnd(6, "0").slice(0, 6))) : 0;
  return ms * 1000 + frac;
}

/** A field value, with Sysmon's `-` placeholder as absent. */
function val(f: Record<string, string>, k: string): string | undefined {
  const v = f[k];
  return v === undefined || v === "" || v === "-" ? undefined : v;
}

const MAPPED_IDS = new Set([1, 3, 5, 7, 11, 12, 13, 14, 22, 23, 26]);

/**
 * Sysmon events → provflow events. Processes are keyed by ProcessGuid: event 1 starts one (child
 * of ParentProcessGuid) with its image, command line, directory, user and integrity; event 5 ends
 * it. A GUID first seen on another event is a process already running (made from its Image), and a
 * PID reused by another GUID ends the earlier process first. Event 3 is a TCP/UDP flow (connect when
 * Initiated, else accept), 7 an image load, 11 a file created, 23/26 a file deleted, 12/13/14
 * registry key creation/deletion, value set and rename, 22 a DNS query (a `DNS` socket to the name).
 * Other ids (and other channels' events mixed into an export) are counted and left out.
 */
export class SysmonMapper {
  private readonly live = new Map<number, string>();
  private readonly guidPid = new Map<string, number>();
  private readonly ended = new Set<string>();
  private readonly lateReported = new Set<string>();
  skipped = 0;
  mapped = 0;

  map(r: SysmonRecord, out: ProvEvent[]): void {
    if (!MAPPED_IDS.has(r.eventId)) {
      this.skipped++;
      return;
    }
    const f = r.fields;
    const guid = val(f, "ProcessGuid");
    const pid = Number(val(f, "ProcessId"));
    if (!guid || !Number.isInteger(pid)) {
      out.push({
        kind: "problem",
        at: r.at,
        message: `Sysmon event ${r.eventId} without ProcessGuid or ProcessId`,
      });
      return;
    }
    this.mapped++;
    const ts = r.ts;
    const at = r.at;
    if (r.eventId === 1) {
      this.processCreate(r, guid, pid, out);
      return;
    }
    if (!this.ensure(guid, pid, val(f, "Image"), undefined, ts, at, out)) return;
    switch (r.eventId) {
      case 5:
        out.push({ kind: "process.exit", ts, pid, at });
        this.live.delete(pid);
        this.ended.add(guid);
        return;
      case 3: {
        const proto = (val(f, "Protocol") ?? "tcp").toUpperCase();
        const initiated = (val(f, "Initiated") ?? "true").toLowerCase() === "true";
        const v6 = (val(f, "SourceIsIpv6") ?? "false").toLowerCase() === "true";
        const ep = (ip: string | undefined, port: string | undefined) =>
          ip === undefined ? undefined : v6 ? `[${ip}]:${port ?? "?"}` : `${ip}:${port ?? "?"}`;
        const src = ep(val(f, "SourceIp"), val(f, "SourcePort"));
        const dst = ep(val(f, "DestinationIp"), val(f, "DestinationPort"));
        // Source is this machine's end in both directions (powercat sample: inbound to port 4444,
        // SourceHostname the machine itself); Initiated tells connect from accept
        const [local, remote] = [src, dst];
        out.push({
          kind: "socket",
          op: initiated ? "connect" : "accept",
          res: {
            type: "socket",
            family: v6 ? "inet6" : "inet",
            protocol: proto,
            ...(local ? { local } : {}),
            ...(remote ? { remote } : {}),
          },
          call: "NetworkConnect",
          ...(remote && initiated ? { address: remote } : {}),
          ts,
          pid,
          at,
          ok: true,
        });
        return;
      }
      case 7: {
        const img = val(f, "ImageLoaded");
        if (img)
          out.push({
            kind: "access",
            op: "map",
            res: { type: "file", path: img },
            call: "ImageLoad",
            ts,
            pid,
            at,
            ok: true,
          });
        return;
      }
      case 11: {
        const file = val(f, "TargetFilename");
        if (file)
          out.push({
            kind: "access",
            op: "create",
            res: { type: "file", path: file },
            call: "FileCreate",
            ts,
            pid,
            at,
            ok: true,
            create: true,
            write: true,
          });
        return;
      }
      case 23:
      case 26: {
        const file = val(f, "TargetFilename");
        if (file)
          out.push({
            kind: "access",
            op: "delete",
            res: { type: "file", path: file },
            call: r.eventId === 23 ? "FileDelete" : "FileDeleteDetected",
            ts,
            pid,
            at,
            ok: true,
          });
        return;
      }
      case 12:
      case 13:
      case 14: {
        const key = val(f, "TargetObject");
        if (!key) return;
        const type = val(f, "EventType") ?? "";
        const res = { type: "registry" as const, key };
        const base = {
          kind: "access" as const,
          res,
          call: type || `RegistryEvent${r.eventId}`,
          ts,
          pid,
          at,
          ok: true,
        };
        if (r.eventId === 13) out.push({ ...base, op: "write" });
        else if (r.eventId === 14) {
          out.push({ ...base, op: "delete" });
          const to = val(f, "NewName");
          if (to) out.push({ ...base, res: { type: "registry", key: to }, op: "create" });
        } else out.push({ ...base, op: /Delete/i.test(type) ? "delete" : "create" });
        return;
      }
      case 22: {
        const name = val(f, "QueryName");
        if (!name) return;
        out.push({
          kind: "socket",
          op: "connect",
          res: { type: "socket", family: "other", protocol: "DNS", remote: name },
          call: "DNSQuery",
          address: name,
          ts,
          pid,
          at,
          ok: (val(f, "QueryStatus") ?? "0") === "0",
        });
        return;
      }
    }
  }

  private processCreate(r: SysmonRecord, guid: string, pid: number, out: ProvEvent[]): void {
    const f = r.fields;
    const ts = r.ts;
    const pguid = val(f, "ParentProcessGuid");
    const ppid = Number(val(f, "ParentProcessId"));
    const parentKnown =
      pguid !== undefined &&
      Number.isInteger(ppid) &&
      this.ensure(pguid, ppid, val(f, "ParentImage"), val(f, "ParentCommandLine"), ts, r.at, out, true);
    if (this.live.has(pid) && this.live.get(pid) !== guid) {
      out.push({ kind: "process.exit", ts, pid, at: r.at });
      this.live.delete(pid);
    }
    if (this.live.get(pid) !== guid) {
      out.push({
        kind: "process.start",
        ts,
        pid,
        ppid: parentKnown ? ppid : Number.isInteger(ppid) ? ppid : null,
        via: "create",
        at: r.at,
      });
      this.live.set(pid, guid);
      this.guidPid.set(guid, pid);
    }
    const cmd = val(f, "CommandLine") ?? "";
    const exe = val(f, "Image") ?? splitWindowsCommandLine(cmd)[0] ?? "";
    const attrs: Record<string, unknown> = { processGuid: guid };
    for (const [k, a] of [
      ["User", "user"],
      ["IntegrityLevel", "integrity"],
      ["ParentProcessGuid", "parentProcessGuid"],
      ["Hashes", "hashes"],
      ["LogonId", "logonId"],
    ] as const) {
      const v = val(f, k);
      if (v !== undefined) attrs[a] = v;
    }
    out.push({
      kind: "process.exec",
      ts,
      pid,
      exe,
      argv: cmd ? splitWindowsCommandLine(cmd) : [exe],
      ...(val(f, "CurrentDirectory") ? { cwd: val(f, "CurrentDirectory")! } : {}),
      ok: true,
      at: r.at,
      attrs,
    });
  }

  /**
   * The process of a GUID is live under its PID: made (as running before the log began) when not
   * seen yet. False for an event of a GUID after its termination.
   */
  private ensure(
    guid: string,
    pid: number,
    image: string | undefined,
    cmd: string | undefined,
    ts: number,
    at: SourceLocation,
    out: ProvEvent[],
    asParent = false,
  ): boolean {
    if (this.live.get(pid) === guid) return true;
    if (this.ended.has(guid)) {
      if (asParent) return false;
      if (!this.lateReported.has(guid)) {
        this.lateReported.add(guid);
        out.push({
          kind: "problem",
          at,
          message: `an event of process ${guid} after its termination (event 5): left out`,
        });
      }
      return false;
    }
    if (this.live.has(pid)) {
      // the PID names another process now: the earlier one ended unseen
      out.push({ kind: "process.exit", ts, pid, at });
    }
    const oldPid = this.guidPid.get(guid);
    if (oldPid !== undefined && oldPid !== pid && this.live.get(oldPid) === guid) this.live.delete(oldPid);
    out.push({ kind: "process.start", ts, pid, ppid: null, via: "attach", at, attrs: { processGuid: guid } });
    this.live.set(pid, guid);
    this.guidPid.set(guid, pid);
    if (image || cmd) {
      out.push({
        kind: "process.exec",
        ts,
        pid,
        exe: image ?? splitWindowsCommandLine(cmd!)[0] ?? "",
        argv: cmd ? splitWindowsCommandLine(cmd) : [image!],
        ok: true,
        at,
        attrs: { processGuid: guid, startedBeforeLog: true },
      });
    }
    return true;
  }
}
