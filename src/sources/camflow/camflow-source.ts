import type { ProvEvent } from "../../events/event-types.js";
import {
  CAMFLOW_MARKS,
  PROV_JSON_SECTIONS,
  ProvJsonParser,
  sniffJson,
} from "../prov-json/prov-json-source.js";
import type { LineParser, ParserOptions, SourceFormat } from "../source-types.js";
import { SpadeJsonParser, spadeLikelihood } from "../spade/spade-json-source.js";
import { CamflowW3cMapper } from "./camflow-mapper.js";

/**
 * CamFlow's output as a source (`--kind camflow`): its W3C PROV-JSON (a stream of complete
 * documents, one per line, as camflowd writes them to a log, a FIFO or MQTT; also a single
 * document, or CamFlow's documentation fragments) or its SPADE JSON flavour. The flavour is told
 * from the first record.
 */

type Flavour = "w3c" | "spade";

/** W3C or SPADE JSON, from the start of the text; null while it cannot tell yet. */
function flavourOf(text: string): Flavour | null {
  const h = sniffJson([text]);
  if (h.first === "") return null;
  if (h.first === "[") return "spade";
  if (h.first === "{") {
    if (h.firstKey === undefined) return /^\{\s*$/.test(h.text) ? null : "w3c";
    return PROV_JSON_SECTIONS.has(h.firstKey) || !/^(type|id|from|to|annotations)$/.test(h.firstKey)
      ? "w3c"
      : "spade";
  }
  return "w3c";
}

/**
 * A LineParser for CamFlow logs: holds the first lines until they tell the flavour (at most a few
 * lines, or 64 KiB), then reads on with that flavour's parser.
 */
class CamflowLogParser implements LineParser {
  private inner: ProvJsonParser | SpadeJsonParser | null = null;
  private held: string[] = [];
  private heldFirst = 1;
  private heldChars = 0;

  constructor(private readonly opts: ParserOptions) {}

  private open(flavour: Flavour): ProvJsonParser | SpadeJsonParser {
    this.inner =
      flavour === "spade"
        ? new SpadeJsonParser(this.opts.file, this.opts.ctx.host || "localhost")
        : new ProvJsonParser(this.opts.file, (emit) => new CamflowW3cMapper(emit));
    return this.inner;
  }

  push(lines: string[], firstLine: number): ProvEvent[] {
    if (this.inner) return this.inner.push(lines, firstLine);
    if (this.held.length === 0) this.heldFirst = firstLine;
    for (const l of lines) {
      this.held.push(l);
      this.heldChars += l.length;
    }
    const flavour = flavourOf(this.held.join("\n"));
    if (flavour === null && this.heldChars < 1 << 16) return [];
    const held = this.held;
    this.held = [];
    return this.open(flavour ?? "w3c").push(held, this.heldFirst);
  }

  end(): ProvEvent[] {
    if (!this.inner) {
      const held = this.held;
      this.held = [];
      const p = this.open(flavourOf(held.join("\n")) ?? "w3c");
      return [...p.push(held, this.heldFirst), ...p.end()];
    }
    return this.inner.end();
  }
}

/** What the first lines say about the machine a CamFlow log was recorded on. */
export interface CamflowHeadContext {
  /** the machine's node name (uname -n), when a machine record is in the first lines */
  host?: string;
  machineId?: string;
  bootId?: string;
}

export function camflowHeadContext(head: string[]): CamflowHeadContext {
  const text = head.join("\n");
  const out: CamflowHeadContext = {};
  const node = /"cf:(?:u_)?nodename"\s*:\s*"((?:[^"\\]|\\.)*)"|"u_nodename"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(
    text,
  );
  if (node) out.host = node[1] ?? node[2];
  const machine = /"cf:machine_id"\s*:\s*"?(?:cf:)?(\d+)/.exec(text) ?? /"\[machine\] (\d+)"/.exec(text);
  if (machine) out.machineId = machine[1];
  const boot = /"(?:cf:)?boot_id"\s*:\s*(\d+)/.exec(text);
  if (boot) out.bootId = boot[1];
  return out;
}

export const camflowFormat: SourceFormat = {
  kind: "camflow",
  detect(head: string[]): number {
    const h = sniffJson(head);
    if (!CAMFLOW_MARKS.test(h.text)) return 0;
    if (h.first === "{" && h.firstKey !== undefined && PROV_JSON_SECTIONS.has(h.firstKey)) return 0.95;
    if (spadeLikelihood(head) > 0) return 0.95;
    // documentation fragments: `"ID": {…}` members
    if (h.first === '"' && h.firstKey !== undefined) return 0.7;
    return 0;
  },
  createParser(opts: ParserOptions): LineParser {
    return new CamflowLogParser(opts);
  },
};

/** Where a message came from: the MQTT topic (`camflow/provenance/MACHINE_ID`) and its number. */
export interface CamflowMessageInfo {
  topic?: string;
  /** 1-based number of the message in the stream: problems are reported at this "line" */
  index: number;
}

export interface CamflowDocumentParser {
  /**
   * One decoded message (the inflated, base64-decoded payload): a complete W3C PROV-JSON document,
   * or a batch of SPADE JSON records. An empty message (camflowd's keep-alive) gives nothing.
   */
  parse(json: string, info: CamflowMessageInfo): ProvEvent[];
  /** End of the stream. */
  end(): ProvEvent[];
}

/**
 * For an MQTT adapter: a parser fed one decoded CamFlow message at a time. The events go to a
 * GraphBuilder like any source's (which keeps relations waiting for nodes of later messages).
 * Records that do not name their machine take it from the topic. `source` names the stream in
 * problem reports (e.g. `mqtt://broker:1883/camflow/provenance/#`).
 */
export function createCamflowDocumentParser(opts: { source: string; host?: string }): CamflowDocumentParser {
  let w3c: ProvJsonParser | null = null;
  let w3cMapper: CamflowW3cMapper | null = null;
  let spade: SpadeJsonParser | null = null;
  return {
    parse(json: string, info: CamflowMessageInfo): ProvEvent[] {
      if (json.trim() === "") return [];
      const machine = info.topic ? /(?:^|\/)(\d+)$/.exec(info.topic)?.[1] : undefined;
      if (flavourOf(json) === "spade") {
        spade ??= new SpadeJsonParser(opts.source, opts.host ?? "localhost");
        spade.reader.machineHint = machine;
        return spade.pushDocument(json, info.index);
      }
      if (!w3c) {
        w3c = new ProvJsonParser(opts.source, (emit) => {
          w3cMapper = new CamflowW3cMapper(emit);
          return w3cMapper;
        });
      }
      if (w3cMapper) (w3cMapper as CamflowW3cMapper).machineHint = machine;
      return w3c.pushDocument(json, info.index);
    },
    end(): ProvEvent[] {
      return [];
    },
  };
}
