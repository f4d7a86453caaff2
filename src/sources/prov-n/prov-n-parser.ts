import type { JsonScanSink, ScanPos } from "../prov-json/json-scanner.js";
import { ProvNTokenizer, type Token } from "./prov-n-tokens.js";

/**
 * PROV-N (https://www.w3.org/TR/prov-n/) read statement by statement, each turned into the
 * PROV-JSON record it stands for: `wasGeneratedBy(g1; ex:e, ex:a, 2012-01-01T00:00:00, [k="v"])`
 * becomes the record `g1` of section `wasGeneratedBy` with `prov:entity`, `prov:activity`,
 * `prov:time` and `k`. Records go to the same sink as PROV-JSON's scanner (the document reader),
 * so prefixes, bundles and the mapping to events are shared. Pure and incremental: fed whole lines,
 * a statement may span lines. Also read: the PROV-Dictionary statements (`prov:derivedByInsertionFrom`,
 * `prov:derivedByRemovalFrom`, `prov:hadDictionaryMember`) and the derivations of the drafts
 * (`wasRevisionOf`, `wasQuotedFrom`, `hadPrimarySource`: a derivation with its prov:type).
 */

/** The PROV-JSON keys of each statement's arguments, in order (after the optional identifier). */
const ARGUMENTS: Readonly<Record<string, readonly string[]>> = {
  entity: ["id"],
  agent: ["id"],
  activity: ["id", "prov:startTime", "prov:endTime"],
  wasGeneratedBy: ["prov:entity", "prov:activity", "prov:time"],
  used: ["prov:activity", "prov:entity", "prov:time"],
  wasInvalidatedBy: ["prov:entity", "prov:activity", "prov:time"],
  wasInformedBy: ["prov:informed", "prov:informant"],
  wasStartedBy: ["prov:activity", "prov:trigger", "prov:starter", "prov:time"],
  wasEndedBy: ["prov:activity", "prov:trigger", "prov:ender", "prov:time"],
  wasDerivedFrom: [
    "prov:generatedEntity",
    "prov:usedEntity",
    "prov:activity",
    "prov:generation",
    "prov:usage",
  ],
  wasAttributedTo: ["prov:entity", "prov:agent"],
  wasAssociatedWith: ["prov:activity", "prov:agent", "prov:plan"],
  actedOnBehalfOf: ["prov:delegate", "prov:responsible", "prov:activity"],
  wasInfluencedBy: ["prov:influencee", "prov:influencer"],
  alternateOf: ["prov:alternate1", "prov:alternate2"],
  specializationOf: ["prov:specificEntity", "prov:generalEntity"],
  mentionOf: ["prov:specificEntity", "prov:generalEntity", "prov:bundle"],
  hadMember: ["prov:collection", "prov:entity"],
  derivedByInsertionFrom: ["prov:after", "prov:before", "prov:key-entity-set"],
  derivedByRemovalFrom: ["prov:after", "prov:before", "prov:key-set"],
  hadDictionaryMember: ["prov:dictionary", "prov:entity", "prov:key"],
};

/** Derivations of the PROV-N drafts, and the prov:type they give. */
const DRAFT_DERIVATIONS: Readonly<Record<string, string>> = {
  wasRevisionOf: "prov:Revision",
  wasQuotedFrom: "prov:Quotation",
  hadPrimarySource: "prov:PrimarySource",
};

/** Statements of PROV-Dictionary, written as extensions (`prov:NAME(…)`) or bare. */
const DICTIONARY = new Set(["derivedByInsertionFrom", "derivedByRemovalFrom", "hadDictionaryMember"]);

const TIME_KEYS = new Set(["prov:time", "prov:startTime", "prov:endTime"]);
const DIRECTIVES = new Set(["document", "endDocument", "prefix", "default", "bundle", "endBundle"]);

/** Statement names that, at the start of a line inside an unclosed statement, begin a new one. */
const RESTART = new Set([...DIRECTIVES, ...Object.keys(ARGUMENTS), ...Object.keys(DRAFT_DERIVATIONS)]);

/** An upper bound on the tokens of one statement (a dictionary may be long; nothing is that long). */
const MAX_STATEMENT_TOKENS = 1_000_000;

/** A value of an argument or attribute, as parsed. */
type Arg =
  | { k: "name"; v: string; at: Token }
  | { k: "marker"; at: Token }
  | { k: "time"; v: string; at: Token }
  | { k: "literal"; v: unknown; at: Token }
  | { k: "set"; items: Arg[]; at: Token }
  | { k: "tuple"; items: Arg[]; at: Token };

class StatementError extends Error {
  constructor(
    message: string,
    readonly at: Token,
  ) {
    super(message);
  }
}

export class ProvNParser {
  private readonly tokenizer: ProvNTokenizer;
  /** the tokens of the directive or statement being read */
  private pending: Token[] = [];
  private depth = 0;
  private inDocument = false;
  /** an implicit document holds statements written outside `document … endDocument` */
  private implicit = false;
  private bundles: string[] = [];
  private blank = 0;
  private unknown = new Set<string>();
  private lastToken: Token | null = null;
  /** after an error between statements, the rest of its line is skipped */
  private skipLine = 0;
  /** documents begun */
  documents = 0;
  /** statements read */
  statements = 0;

  constructor(private readonly sink: JsonScanSink) {
    this.tokenizer = new ProvNTokenizer((t) => this.token(t));
  }

  /** One line of the input (without its end), `line` its 1-based number. */
  line(text: string, line: number): void {
    this.tokenizer.line(text, line);
  }

  end(line: number): void {
    const open = this.tokenizer.unclosed();
    if (open) this.problem(open.what, open.line > 0 ? { line: open.line, col: open.col } : { line, col: 1 });
    if (this.pending.length > 0) {
      const t = this.pending[0]!;
      this.problem(`${describeStatement(this.pending)} is not finished at the end of the input: skipped`, t);
      this.pending = [];
    }
    while (this.bundles.length > 0) {
      this.problem(`bundle ${this.bundles[this.bundles.length - 1]} has no endBundle`, { line, col: 1 });
      this.sink.bundleEnd(this.bundles.pop()!);
    }
    if (this.inDocument) {
      if (!this.implicit) this.problem("the document has no endDocument", { line, col: 1 });
      this.sink.documentEnd({ line, col: 1 }, this.implicit);
      this.inDocument = false;
    }
  }

  private problem(message: string, at: ScanPos, text?: string): void {
    this.sink.error(message, { line: at.line, col: at.col }, text);
  }

  // ------------------------------------------------------------------ token level

  private token(t: Token): void {
    const prev = this.lastToken;
    this.lastToken = t;
    if (t.type === "bad") {
      this.problem(t.value, t);
      return;
    }
    const p = this.pending;
    if (p.length === 0) {
      if (t.line === this.skipLine && !t.first) return;
      this.begin(t);
      return;
    }
    const head = p[0]!;
    if (
      head.type === "name" &&
      (head.value === "prefix" || head.value === "default" || head.value === "bundle")
    ) {
      p.push(t);
      this.directive();
      return;
    }
    // a statement: NAME ( … )
    if (
      t.first &&
      t.type === "name" &&
      RESTART.has(t.value) &&
      !(prev && prev.type === "punct" && "(,;[{=".includes(prev.value))
    ) {
      this.problem(`${describeStatement(p)} is not closed (no ')' before the next statement): skipped`, head);
      this.pending = [];
      this.depth = 0;
      this.begin(t);
      return;
    }
    p.push(t);
    if (p.length === 2) {
      if (t.type !== "punct" || t.value !== "(") {
        this.pending = [];
        this.problem(`expected '(' after ${head.value} (the rest of the line is skipped)`, t);
        this.skipLine = t.line;
        if (t.first) this.begin(t);
        return;
      }
    }
    if (t.type === "punct") {
      if (t.value === "(" || t.value === "[" || t.value === "{") this.depth++;
      else if (t.value === ")" || t.value === "]" || t.value === "}") this.depth--;
    }
    if (this.depth === 0) {
      this.pending = [];
      this.statement(p);
    } else if (p.length > MAX_STATEMENT_TOKENS) {
      this.problem(`${describeStatement(p)} is longer than ${MAX_STATEMENT_TOKENS} tokens: skipped`, head);
      this.pending = [];
      this.depth = 0;
    }
  }

  /** The first token of a directive or statement. */
  private begin(t: Token): void {
    if (t.type !== "name") {
      this.problem(
        `unexpected ${describeToken(t)}: a statement begins with its name (the rest of the line is skipped)`,
        t,
      );
      this.skipLine = t.line;
      return;
    }
    switch (t.value) {
      case "document":
        if (this.inDocument && !this.implicit) this.problem("document inside a document", t);
        else this.startDocument(t, false);
        return;
      case "endDocument":
        if (!this.inDocument) {
          this.problem("endDocument without document", t);
          return;
        }
        while (this.bundles.length > 0) {
          this.problem(`bundle ${this.bundles[this.bundles.length - 1]} has no endBundle`, t);
          this.sink.bundleEnd(this.bundles.pop()!);
        }
        this.sink.documentEnd(t, true);
        this.inDocument = false;
        this.implicit = false;
        return;
      case "endBundle":
        if (this.bundles.length === 0) this.problem("endBundle without bundle", t);
        else this.sink.bundleEnd(this.bundles.pop()!);
        return;
      default:
        this.pending.push(t);
        this.depth = 0;
    }
  }

  private startDocument(at: ScanPos, implicit: boolean): void {
    if (this.inDocument) this.sink.documentEnd(at, true);
    this.inDocument = true;
    this.implicit = implicit;
    this.documents++;
    this.blank = 0;
    this.unknown.clear();
    this.sink.documentStart(at);
  }

  /** Statements outside a document are read, as a document of their own, once said. */
  private ensureDocument(at: Token): void {
    if (this.inDocument) return;
    this.problem(`${at.value} outside document … endDocument: read all the same`, at);
    this.startDocument(at, true);
  }

  /** `prefix NAME <IRI>`, `default <IRI>`, `bundle NAME`, complete or waiting for tokens. */
  private directive(): void {
    const p = this.pending;
    const head = p[0]!;
    const need = head.value === "prefix" ? 3 : 2;
    if (p.length < need) return;
    this.pending = [];
    if (head.value === "bundle") {
      const name = p[1]!;
      if (name.type !== "name") {
        this.problem(`expected the name of the bundle, found ${describeToken(name)}`, name);
        return;
      }
      this.ensureDocument(head);
      if (this.bundles.length > 0) this.problem("a bundle inside a bundle", head);
      this.bundles.push(name.value);
      this.sink.bundleStart(name.value, head);
      return;
    }
    const prefix = head.value === "prefix" ? p[1]! : null;
    const iri = p[need - 1]!;
    if (prefix && (prefix.type !== "name" || prefix.value.includes(":"))) {
      this.problem(`expected a prefix after 'prefix', found ${describeToken(prefix)}`, prefix);
      return;
    }
    if (iri.type !== "iri") {
      this.problem(`expected an <IRI> in the ${head.value} declaration, found ${describeToken(iri)}`, iri);
      return;
    }
    this.ensureDocument(head);
    this.sink.member("prefix", { [prefix ? prefix.value : "default"]: iri.value }, head);
  }

  // ------------------------------------------------------------------ statement level

  private statement(tokens: Token[]): void {
    const head = tokens[0]!;
    this.ensureDocument(head);
    try {
      this.record(tokens);
    } catch (e) {
      if (!(e instanceof StatementError)) throw e;
      this.problem(`${head.value}: ${e.message}: the statement is skipped`, e.at);
    }
  }

  private record(tokens: Token[]): void {
    const head = tokens[0]!;
    let name = head.value;
    if (name.startsWith("prov:") && DICTIONARY.has(name.slice(5))) name = name.slice(5);
    const draftType = DRAFT_DERIVATIONS[name];
    const section = draftType ? "wasDerivedFrom" : name;
    const keys = ARGUMENTS[section];
    if (!keys) {
      if (!this.unknown.has(name)) {
        this.unknown.add(name);
        this.problem(
          `${name} is not a statement of PROV-N or PROV-Dictionary: its statements are skipped`,
          head,
        );
      }
      return;
    }
    const r = new Cursor(tokens, 2);
    // optional identifier: `id;` or `-;`
    let id: string | null = null;
    const a = r.peek();
    const b = r.peek(1);
    if (
      b?.type === "punct" &&
      b.value === ";" &&
      (a?.type === "name" || a?.type === "int" || (a?.type === "punct" && a.value === "-"))
    ) {
      if (a.type !== "punct") id = a.value;
      r.pos += 2;
    }
    const args: Arg[] = [];
    let attrs: Record<string, unknown> = {};
    if (isPunct(r.peek(), ")")) throw new StatementError("no arguments", r.peek()!);
    for (;;) {
      const u = r.peek();
      if (isPunct(u, "[")) {
        attrs = parseAttributes(r);
        const close = r.next();
        if (!isPunct(close, ")") || r.pos !== tokens.length)
          throw new StatementError("the attributes [ … ] must come last", close ?? u!);
        break;
      }
      args.push(parseArg(r));
      const sep = r.next();
      if (isPunct(sep, ")") && r.pos === tokens.length) break;
      if (!isPunct(sep, ","))
        throw new StatementError(
          `expected ',' or ')', found ${sep ? describeToken(sep) : "nothing"}`,
          sep ?? u!,
        );
    }
    if (args.length > keys.length)
      throw new StatementError(
        `too many arguments (${args.length}, at most ${keys.length})`,
        args[keys.length]!.at,
      );
    const rec: Record<string, unknown> = {};
    let recId = id;
    for (let k = 0; k < args.length; k++) {
      const key = keys[k]!;
      const arg = args[k]!;
      if (arg.k === "marker") continue;
      // a local name of digits alone (`entity(0001)` in the default namespace) reads as an integer
      const ident =
        arg.k === "name" ? arg.v : arg.k === "literal" && arg.at.type === "int" ? arg.at.value : null;
      if (key === "id") {
        if (ident === null)
          throw new StatementError(`expected an identifier, found ${describeArg(arg)}`, arg.at);
        recId = ident;
      } else if (TIME_KEYS.has(key)) {
        if (arg.k !== "time")
          throw new StatementError(`expected a time for ${key}, found ${describeArg(arg)}`, arg.at);
        rec[key] = arg.v;
      } else if (key === "prov:key-entity-set") {
        rec[key] = keyEntitySet(arg);
      } else if (key === "prov:key-set") {
        if (arg.k !== "set")
          throw new StatementError(`expected a set of keys {…}, found ${describeArg(arg)}`, arg.at);
        rec[key] = arg.items.map(literalOf);
      } else if (key === "prov:key") {
        rec[key] = literalOf(arg);
      } else {
        if (ident === null)
          throw new StatementError(`expected an identifier for ${key}, found ${describeArg(arg)}`, arg.at);
        rec[key] = ident;
      }
    }
    if (keys[0] === "id" && recId === null)
      throw new StatementError(`${section} without an identifier`, head);
    for (const k in attrs) rec[k] = attrs[k];
    if (draftType) {
      const t = { $: draftType, type: "prov:QUALIFIED_NAME" };
      const had = rec["prov:type"];
      rec["prov:type"] = had === undefined ? t : Array.isArray(had) ? [t, ...had] : [t, had];
    }
    this.statements++;
    this.sink.record(section, recId ?? `_:id${++this.blank}`, rec, head);
  }
}

/** Reads tokens of one statement. */
class Cursor {
  constructor(
    readonly tokens: Token[],
    public pos: number,
  ) {}

  peek(ahead = 0): Token | undefined {
    return this.tokens[this.pos + ahead];
  }

  next(): Token | undefined {
    return this.tokens[this.pos++];
  }
}

function isPunct(t: Token | undefined, v: string): boolean {
  return t !== undefined && t.type === "punct" && t.value === v;
}

function parseArg(r: Cursor): Arg {
  const t = r.next();
  if (!t) throw new StatementError("the statement ends too early", r.tokens[r.tokens.length - 1]!);
  switch (t.type) {
    case "name":
      return { k: "name", v: t.value, at: t };
    case "time":
      return { k: "time", v: t.value, at: t };
    case "punct":
      if (t.value === "-") return { k: "marker", at: t };
      if (t.value === "{" || t.value === "(") {
        const close = t.value === "{" ? "}" : ")";
        const items: Arg[] = [];
        while (!isPunct(r.peek(), close)) {
          if (items.length > 0) {
            const comma = r.next()!;
            if (!isPunct(comma, ","))
              throw new StatementError(`expected ',' or '${close}', found ${describeToken(comma)}`, comma);
          }
          items.push(parseArg(r));
        }
        r.pos++;
        return { k: t.value === "{" ? "set" : "tuple", items, at: t };
      }
      throw new StatementError(`unexpected ${describeToken(t)}`, t);
    default:
      r.pos--;
      return { k: "literal", v: parseLiteral(r), at: t };
  }
}

/** A literal: "s", "s"@lang, "s" %% type, 'p:n', an integer. As a PROV-JSON value. */
function parseLiteral(r: Cursor): unknown {
  const t = r.next()!;
  switch (t.type) {
    case "string": {
      let lang: string | undefined;
      if (r.peek()?.type === "lang") lang = r.next()!.value;
      if (r.peek()?.type === "%%") {
        r.pos++;
        const type = r.next();
        if (!type || (type.type !== "name" && type.type !== "iri"))
          throw new StatementError(
            `expected a datatype after %%, found ${type ? describeToken(type) : "nothing"}`,
            type ?? t,
          );
        if (lang !== undefined) return { $: t.value, lang };
        return { $: t.value, type: type.value };
      }
      return lang !== undefined ? { $: t.value, lang } : t.value;
    }
    case "qname-literal":
      return { $: t.value, type: "prov:QUALIFIED_NAME" };
    case "int": {
      const n = Number(t.value);
      return Number.isSafeInteger(n) ? n : { $: t.value, type: "xsd:integer" };
    }
    case "name":
      // not PROV-N (a literal is quoted), but unambiguous
      return { $: t.value, type: "prov:QUALIFIED_NAME" };
    case "time":
      return { $: t.value, type: "xsd:dateTime" };
    default:
      throw new StatementError(`expected a value, found ${describeToken(t)}`, t);
  }
}

/** `[k=v, …]`: repeated keys give a list of values. */
function parseAttributes(r: Cursor): Record<string, unknown> {
  r.pos++; // [
  const attrs: Record<string, unknown> = {};
  if (isPunct(r.peek(), "]")) {
    r.pos++;
    return attrs;
  }
  for (;;) {
    const key = r.next();
    if (key?.type !== "name")
      throw new StatementError(
        `expected an attribute name, found ${key ? describeToken(key) : "nothing"}`,
        key ?? r.tokens[r.tokens.length - 1]!,
      );
    const eq = r.next();
    if (!isPunct(eq, "=")) throw new StatementError(`expected '=' after ${key.value}`, eq ?? key);
    if (!r.peek()) throw new StatementError(`no value for ${key.value}`, key);
    const value = parseLiteral(r);
    const had = attrs[key.value];
    attrs[key.value] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    const sep = r.next();
    if (isPunct(sep, "]")) return attrs;
    if (!isPunct(sep, ","))
      throw new StatementError(
        `expected ',' or ']', found ${sep ? describeToken(sep) : "nothing"}`,
        sep ?? key,
      );
  }
}

function literalOf(a: Arg): unknown {
  switch (a.k) {
    case "literal":
      return a.v;
    case "name":
      return { $: a.v, type: "prov:QUALIFIED_NAME" };
    case "time":
      return { $: a.v, type: "xsd:dateTime" };
    default:
      throw new StatementError(`expected a key, found ${describeArg(a)}`, a.at);
  }
}

/** `{(key, entity), …}` → `[{"$": entity, "type": "prov:QUALIFIED_NAME", "key": key}, …]`. */
function keyEntitySet(a: Arg): unknown[] {
  if (a.k !== "set")
    throw new StatementError(`expected a set of (key, entity) pairs {…}, found ${describeArg(a)}`, a.at);
  return a.items.map((pair) => {
    if (pair.k !== "tuple" || pair.items.length !== 2 || pair.items[1]!.k !== "name")
      throw new StatementError("expected a (key, entity) pair", pair.at);
    const key = literalOf(pair.items[0]!);
    const keyText = typeof key === "object" && key !== null ? (key as { $: unknown }).$ : key;
    return { $: (pair.items[1] as { v: string }).v, type: "prov:QUALIFIED_NAME", key: String(keyText) };
  });
}

function describeToken(t: Token): string {
  switch (t.type) {
    case "punct":
    case "%%":
      return `'${t.value}'`;
    case "string":
      return "a string";
    case "iri":
      return `<${t.value}>`;
    case "lang":
      return `@${t.value}`;
    default:
      return `${t.type} ${t.value}`;
  }
}

function describeArg(a: Arg): string {
  if (a.k === "name") return `the name ${a.v}`;
  if (a.k === "time") return `the time ${a.v}`;
  if (a.k === "literal") return "a literal";
  return a.k === "set" ? "a set {…}" : a.k === "tuple" ? "a tuple (…)" : "-";
}

function describeStatement(tokens: Token[]): string {
  const t = tokens[0]!;
  return `${t.value} at line ${t.line}`;
}
