import type { DotToken } from "./dot-tokens.js";

/**
 * DOT's grammar over tokens: `[strict] (graph|digraph) [ID] { stmt_list }`, statements `ID = ID`,
 * `graph|node|edge [attrs]` (defaults, scoped by subgraph), node statements, edge statements whose
 * ends are nodes (ports ignored) or subgraphs (every node of it), and subgraphs. A statement that does
 * not parse is reported with its line and skipped up to the next `;`, `}` or line of another statement.
 */

export type DotAttrs = Record<string, string>;

export interface DotNode {
  id: string;
  attrs: DotAttrs;
  line: number;
}

export interface DotEdge {
  tail: string;
  head: string;
  attrs: DotAttrs;
  line: number;
}

export interface DotGraph {
  name: string | undefined;
  directed: boolean;
  attrs: DotAttrs;
  nodes: Map<string, DotNode>;
  edges: DotEdge[];
}

export interface DotProblem {
  line: number;
  message: string;
}

interface Scope {
  node: DotAttrs;
  edge: DotAttrs;
}

class Stop extends Error {}

const kw = (t: DotToken | undefined, word: string) =>
  t !== undefined && t.type === "id" && !t.quoted && t.text.toLowerCase() === word;

export function parseDot(tokens: DotToken[], problems: DotProblem[]): DotGraph[] {
  const graphs: DotGraph[] = [];
  let i = 0;
  const peek = (k = 0) => tokens[i + k];
  const lineOf = () => peek()?.line ?? tokens[tokens.length - 1]?.line ?? 1;
  const fail = (message: string): never => {
    problems.push({ line: lineOf(), message });
    throw new Stop();
  };
  const expect = (text: string) => {
    const t = peek();
    if (!t || t.type === "id" || t.text !== text)
      fail(`expected '${text}'${t ? ` at ${JSON.stringify(t.text)}` : " before the end"}`);
    i++;
  };
  const id = (): string => {
    const t = peek();
    if (t?.type !== "id")
      return fail(`expected an identifier${t ? ` at ${JSON.stringify(t.text)}` : " before the end"}`);
    i++;
    return t.text;
  };

  let g: DotGraph;

  const attrList = (): DotAttrs => {
    const a: DotAttrs = {};
    while (peek()?.text === "[" && peek()?.type === "punct") {
      i++;
      while (!(peek()?.type === "punct" && peek()?.text === "]")) {
        const k = id();
        if (peek()?.type === "punct" && peek()?.text === "=") {
          i++;
          a[k] = id();
        } else a[k] = "true";
        if (peek()?.type === "punct" && (peek()?.text === "," || peek()?.text === ";")) i++;
      }
      i++;
    }
    return a;
  };

  const touch = (nid: string, scope: Scope, line: number, attrs?: DotAttrs): void => {
    const n = g.nodes.get(nid);
    if (n) {
      if (attrs) Object.assign(n.attrs, attrs);
    } else g.nodes.set(nid, { id: nid, attrs: { ...scope.node, ...attrs }, line });
  };

  /** a node id with its port; the port is dropped */
  const nodeId = (): string => {
    const n = id();
    for (let k = 0; k < 2 && peek()?.type === "punct" && peek()?.text === ":"; k++) {
      i++;
      id();
    }
    return n;
  };

  const subgraph = (scope: Scope): Set<string> => {
    if (kw(peek(), "subgraph")) {
      i++;
      if (peek()?.type === "id") i++;
    }
    expect("{");
    const inner: Scope = { node: { ...scope.node }, edge: { ...scope.edge } };
    const members = new Set<string>();
    stmtList(inner, members);
    expect("}");
    return members;
  };

  /** one end of an edge: a node, or the nodes of a subgraph */
  const operand = (scope: Scope, members: Set<string>): string[] => {
    const t = peek();
    if (kw(t, "subgraph") || (t?.type === "punct" && t.text === "{")) {
      const inner = subgraph(scope);
      for (const m of inner) members.add(m);
      return [...inner];
    }
    const line = t?.line ?? lineOf();
    const n = nodeId();
    touch(n, scope, line);
    members.add(n);
    return [n];
  };

  const stmt = (scope: Scope, members: Set<string>): void => {
    const t = peek()!;
    if (kw(t, "graph") || kw(t, "node") || kw(t, "edge")) {
      i++;
      const a = attrList();
      const which = t.text.toLowerCase();
      if (which === "graph") Object.assign(g.attrs, a);
      else Object.assign(which === "node" ? scope.node : scope.edge, a);
      return;
    }
    if (t.type === "id" && peek(1)?.type === "punct" && peek(1)?.text === "=") {
      i += 2;
      g.attrs[t.text] = id();
      return;
    }
    const line = t.line;
    const isNode = t.type === "id" && !kw(t, "subgraph");
    let tails = operand(scope, members);
    const chain: string[][] = [tails];
    while (peek()?.type === "edgeop") {
      const op = peek()!.text;
      if ((op === "->") !== g.directed)
        problems.push({
          line: peek()!.line,
          message: `'${op}' in ${g.directed ? "a digraph" : "an undirected graph"}`,
        });
      i++;
      chain.push(operand(scope, members));
    }
    if (chain.length === 1) {
      // a node statement (or a lone subgraph)
      if (isNode) touch(tails[0]!, scope, line, attrList());
      return;
    }
    const a = { ...scope.edge, ...attrList() };
    for (let k = 1; k < chain.length; k++) {
      const heads = chain[k]!;
      for (const tail of tails) for (const head of heads) g.edges.push({ tail, head, attrs: { ...a }, line });
      tails = heads;
    }
  };

  const stmtList = (scope: Scope, members: Set<string>): void => {
    for (;;) {
      const t = peek();
      if (!t || (t.type === "punct" && t.text === "}")) return;
      if (t.type === "punct" && t.text === ";") {
        i++;
        continue;
      }
      const start = i;
      try {
        stmt(scope, members);
      } catch (e) {
        if (!(e instanceof Stop)) throw e;
        // skip to the end of the statement: a ';', a '}' of this level, or the next line
        const line = tokens[start]!.line;
        if (i === start) i++;
        let depth = 0;
        while (i < tokens.length) {
          const x = tokens[i]!;
          if (depth === 0 && x.type === "punct" && (x.text === ";" || x.text === "}")) break;
          if (depth === 0 && x.line > line && x.type === "id") break;
          if (x.type === "punct" && (x.text === "[" || x.text === "{")) depth++;
          if (x.type === "punct" && (x.text === "]" || x.text === "}")) depth--;
          i++;
        }
      }
    }
  };

  while (i < tokens.length) {
    try {
      if (kw(peek(), "strict")) i++;
      const t = peek();
      if (!kw(t, "graph") && !kw(t, "digraph"))
        fail(`expected 'graph' or 'digraph'${t ? ` at ${JSON.stringify(t.text)}` : ""}`);
      i++;
      g = {
        name: undefined,
        directed: t!.text.toLowerCase() === "digraph",
        attrs: {},
        nodes: new Map(),
        edges: [],
      };
      if (peek()?.type === "id") g.name = id();
      expect("{");
      graphs.push(g);
      stmtList({ node: {}, edge: {} }, new Set());
      expect("}");
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      // skip to the next graph
      while (i < tokens.length && !kw(peek(), "digraph") && !kw(peek(), "graph") && !kw(peek(), "strict"))
        i++;
    }
  }
  return graphs;
}
