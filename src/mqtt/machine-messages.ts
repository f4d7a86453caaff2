import { createHash } from "node:crypto";
import type { ProvEvent } from "../events/event-types.js";
import {
  type CamflowDocumentParser,
  createCamflowDocumentParser,
} from "../sources/camflow/camflow-source.js";
import type { KeyedEdge, KeyedNode, MachinePart, Problem } from "../store/store-types.js";
import { decodeCamflowPayload } from "./camflow-payload.js";

/**
 * Messages of machines → the store's keyed rows. Each machine has its own parser (the topic names
 * the machine); a message is one CamFlow document (W3C PROV-JSON, or SPADE JSON records). Nodes keep
 * their CamFlow key; relations keep their ends' keys and get a key of their own: their type and
 * CamFlow id (or, without an id, the message's digest and their position in it), so a redelivered
 * message yields the same keys and the store adds nothing.
 */

export interface MachineMessage {
  topic: string;
  machineId: string;
  payload: Buffer;
  /** 1-based number of the message among those of its topic this process received */
  index: number;
  /** when it was received, µs since the epoch */
  received: number;
}

/** A message that could not be decoded or read: reported with its topic and number, never fatal. */
export interface MessageProblem {
  topic: string;
  index: number;
  message: string;
}

export interface MessagesRead {
  parts: Map<string, Omit<MachinePart, "runId">>;
  problems: MessageProblem[];
  /** empty messages (keep-alives), skipped */
  empty: number;
  /** relations naming only one end (not edges) */
  withoutEnd: number;
}

export class MachineMessageReader {
  private readonly parsers = new Map<string, CamflowDocumentParser>();

  private parser(topic: string): CamflowDocumentParser {
    let p = this.parsers.get(topic);
    if (p === undefined) {
      p = createCamflowDocumentParser({ source: topic });
      this.parsers.set(topic, p);
    }
    return p;
  }

  /** Reads a batch of messages into one part per machine (no run ids yet). */
  read(messages: readonly MachineMessage[]): MessagesRead {
    const parts = new Map<string, Omit<MachinePart, "runId">>();
    const problems: MessageProblem[] = [];
    let empty = 0;
    let withoutEnd = 0;
    for (const msg of messages) {
      const decoded = decodeCamflowPayload(msg.payload);
      if (decoded.ok && decoded.json === null) {
        empty++;
        continue;
      }
      let part = parts.get(msg.machineId);
      if (part === undefined) {
        part = {
          machineId: msg.machineId,
          nodes: [],
          edges: [],
          problems: [],
          packets: 0,
          errors: 0,
          seen: 0,
        };
        parts.set(msg.machineId, part);
      }
      part.packets++;
      if (msg.received > part.seen) part.seen = msg.received;
      if (!decoded.ok) {
        part.errors++;
        problems.push({ topic: msg.topic, index: msg.index, message: decoded.error });
        part.problems.push({ file: msg.topic, line: msg.index, message: decoded.error, text: null });
        continue;
      }
      let events: ProvEvent[];
      try {
        events = this.parser(msg.topic).parse(decoded.json, { topic: msg.topic, index: msg.index });
      } catch (err) {
        const message = `cannot read the document: ${(err as Error).message}`;
        part.errors++;
        problems.push({ topic: msg.topic, index: msg.index, message });
        part.problems.push({ file: msg.topic, line: msg.index, message, text: decoded.json.slice(0, 200) });
        continue;
      }
      let digest: string | null = null;
      let bad = 0;
      for (let i = 0; i < events.length; i++) {
        const ev = events[i] as ProvEvent;
        if (ev.kind === "prov.node") {
          const n: KeyedNode = {
            key: ev.key,
            kind: ev.cls,
            type: ev.type,
            gid: ev.gid,
            version: ev.version,
            label: ev.label,
            start: ev.start,
            end: ev.end,
            attrs: ev.attrs,
          };
          part.nodes.push(n);
        } else if (ev.kind === "prov.relation") {
          if (ev.from === null || ev.to === null) {
            withoutEnd++;
            continue;
          }
          const id = ev.attrs.sourceId;
          let key: string;
          if (typeof id === "string" && id !== "") key = `${ev.type}:${id}`;
          else {
            digest ??= createHash("sha1").update(msg.payload).digest("hex").slice(0, 20);
            key = `${ev.type}@${digest}:${i}`;
          }
          const e: KeyedEdge = {
            key,
            type: ev.type,
            op: ev.op,
            from: ev.from,
            to: ev.to,
            ts: ev.ts,
            tsEnd: ev.ts,
            count: ev.count ?? 1,
            bytes: ev.bytes ?? 0,
            attrs: ev.attrs,
          };
          part.edges.push(e);
        } else if (ev.kind === "problem") {
          bad++;
          const p: Problem = {
            file: msg.topic,
            line: msg.index,
            message: ev.message,
            text: ev.text ?? null,
          };
          part.problems.push(p);
          if (bad === 1) problems.push({ topic: msg.topic, index: msg.index, message: ev.message });
        }
      }
      if (bad > 0) part.errors++;
    }
    return { parts, problems, empty, withoutEnd };
  }
}
