// Draws a process's flow graph (from GET /api/processes/{name}) as SVG with
// a simple layered layout: each node sits one row below the furthest of its
// predecessors, and within a row nodes sit under the middle of their
// predecessors, pushed apart so that none overlap. layout is pure (no DOM)
// so that it can be tested on its own.

import { h, s } from './dom.js';

export const NODE_H = 50;
const RANK_GAP = 64;
const COL_GAP = 28;
const PAD = 24;
const MIN_W = 116;
const MAX_W = 224;
const CHAR_W = 7.4; // an estimate for 13px text; exact sizes are not needed
const LABEL_CHARS = Math.floor((MAX_W - 30) / CHAR_W);

const clip = (text, n) => (text.length > n ? text.slice(0, n - 1) + '…' : text);
const ROUND = new Set(['start', 'end']);

/** layout places graph's nodes and routes its edges; it returns sizes in px. */
export function layout(graph) {
  const nodes = ((graph && graph.nodes) || []).map((n, index) => {
    const label = String(n.label || (ROUND.has(n.kind) ? n.kind : n.id) || '');
    const kind = String(n.kind || 'step');
    const text = clip(label, LABEL_CHARS);
    const w = Math.round(Math.min(MAX_W, Math.max(MIN_W, Math.max(text.length, kind.length) * CHAR_W + 30)));
    return { ...n, kind, label, text, index, w, h: NODE_H, rank: 0, x: 0, y: 0 };
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const edges = ((graph && graph.edges) || [])
    .filter((e) => byId.has(e.from) && byId.has(e.to))
    .map((e, i) => ({ ...e, i, label: e.label ? String(e.label) : '', back: false }));
  const out = new Map(nodes.map((n) => [n.id, []]));
  for (const e of edges) out.get(e.from).push(e);

  // Depth-first from the start (then anything unreached), marking the
  // edges that close a cycle as back edges, and keeping the finish order.
  const seen = new Map(); // id -> 1 on the stack, 2 done
  const post = [];
  const pre = new Map();
  const roots = [
    ...nodes.filter((n) => n.kind === 'start'),
    ...nodes.filter((n) => !edges.some((e) => e.to === n.id)),
    ...nodes,
  ];
  for (const root of roots) {
    if (seen.has(root.id)) continue;
    const stack = [[root.id, 0]];
    seen.set(root.id, 1);
    pre.set(root.id, pre.size);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const list = out.get(top[0]);
      if (top[1] < list.length) {
        const e = list[top[1]++];
        const st = seen.get(e.to);
        if (st === 1) e.back = true;
        else if (!st) {
          seen.set(e.to, 1);
          pre.set(e.to, pre.size);
          stack.push([e.to, 0]);
        }
      } else {
        seen.set(top[0], 2);
        post.push(top[0]);
        stack.pop();
      }
    }
  }

  // Rank: the longest path from a root, over forward edges only.
  const preds = new Map(nodes.map((n) => [n.id, []]));
  for (const e of edges) if (!e.back) preds.get(e.to).push(e.from);
  for (const id of post.slice().reverse()) {
    const n = byId.get(id);
    for (const p of preds.get(id)) n.rank = Math.max(n.rank, byId.get(p).rank + 1);
  }
  const ranks = [];
  for (const n of nodes) (ranks[n.rank] = ranks[n.rank] || []).push(n);
  for (let r = 0; r < ranks.length; r++) ranks[r] = ranks[r] || [];

  // Place rows top-down: each node wants the middle of its predecessors;
  // nodes are pushed right to avoid overlaps, then the row is shifted back
  // so that, on average, nodes sit where they wanted.
  ranks.forEach((row, r) => {
    for (const n of row) {
      const ps = preds.get(n.id).map((p) => byId.get(p));
      n.want = ps.length ? ps.reduce((a, p) => a + p.x + p.w / 2, 0) / ps.length : null;
    }
    let free = 0;
    row.forEach((n) => { if (n.want === null) { n.want = free + n.w / 2; free += n.w + COL_GAP; } });
    row.sort((a, b) => a.want - b.want || pre.get(a.id) - pre.get(b.id));
    let right = -Infinity;
    let drift = 0;
    for (const n of row) {
      n.x = Math.max(n.want - n.w / 2, right + COL_GAP);
      right = n.x + n.w;
      drift += n.x + n.w / 2 - n.want;
    }
    if (row.length) {
      const shift = drift / row.length;
      for (const n of row) n.x -= shift;
    }
    for (const n of row) n.y = PAD + r * (NODE_H + RANK_GAP);
  });
  const minX = Math.min(PAD, ...nodes.map((n) => n.x));
  for (const n of nodes) n.x = Math.round(n.x - minX + PAD);
  const width = Math.round(Math.max(MIN_W + 2 * PAD, ...nodes.map((n) => n.x + n.w + PAD + 60 * edges.some((e) => e.back))));
  const height = ranks.length ? PAD * 2 + ranks.length * NODE_H + (ranks.length - 1) * RANK_GAP : NODE_H + 2 * PAD;

  for (const e of edges) {
    const a = byId.get(e.from);
    const b = byId.get(e.to);
    let p;
    if (e.back || b.rank <= a.rank) {
      // A loop back up: out of the right side and into the right side.
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x + b.w;
      const y2 = b.y + b.h / 2;
      const bulge = Math.max(x1, x2) + 48;
      p = [[x1, y1], [bulge, y1], [bulge, y2], [x2, y2]];
    } else {
      const x1 = a.x + a.w / 2;
      const y1 = a.y + a.h;
      const x2 = b.x + b.w / 2;
      const y2 = b.y;
      const dy = Math.max(24, (y2 - y1) / 2);
      p = [[x1, y1], [x1, y1 + dy], [x2, y2 - dy], [x2, y2]];
    }
    e.d = `M${p[0][0]},${p[0][1]} C${p[1][0]},${p[1][1]} ${p[2][0]},${p[2][1]} ${p[3][0]},${p[3][1]}`;
    // The label sits on the curve's middle (a cubic Bézier at t = 1/2).
    e.lx = Math.round((p[0][0] + 3 * p[1][0] + 3 * p[2][0] + p[3][0]) / 8);
    e.ly = Math.round((p[0][1] + 3 * p[1][1] + 3 * p[2][1] + p[3][1]) / 8);
  }
  return { nodes, edges, width, height, ranks: ranks.length };
}

let flowCount = 0;

/** renderFlow returns the SVG drawing of graph and a text version of it. */
export function renderFlow(graph, name) {
  const L = layout(graph);
  const uid = 'flow' + ++flowCount;
  const titleId = uid + '-t';
  const descId = uid + '-d';
  const svg = s('svg', {
    class: 'flow', viewBox: `0 0 ${L.width} ${L.height}`, width: L.width, height: L.height,
    role: 'img', 'aria-labelledby': titleId, 'aria-describedby': descId, dataset: { nodes: L.nodes.length },
  },
  s('title', { id: titleId }, `Flow of process ${name}`),
  s('desc', { id: descId }, `${L.nodes.length} steps in ${L.ranks} rows; the list below the drawing gives the same flow as text.`),
  s('defs', {}, s('marker', {
    id: uid + '-arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse',
  }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));

  const edgeLayer = s('g', { class: 'edges' });
  const labelLayer = s('g', { class: 'edge-labels' });
  for (const e of L.edges) {
    edgeLayer.append(s('path', { d: e.d, class: ['edge', e.back && 'edge-back'], 'marker-end': `url(#${uid}-arrow)`, dataset: { from: e.from, to: e.to } }));
    if (e.label) {
      const text = clip(e.label, 34);
      const w = Math.round(text.length * 6.4 + 12);
      labelLayer.append(s('g', { class: 'edge-label', transform: `translate(${e.lx - w / 2},${e.ly - 10})` },
        s('title', {}, e.label),
        s('rect', { width: w, height: 20, rx: 4 }),
        s('text', { x: w / 2, y: 14, 'text-anchor': 'middle' }, text)));
    }
  }
  const nodeLayer = s('g', { class: 'nodes' });
  for (const n of L.nodes) {
    const round = ROUND.has(n.kind);
    const pos = n.pos ? ` (${n.pos})` : '';
    const g = s('g', { class: ['node', 'kind-' + n.kind.replace(/[^a-z-]/g, '')], transform: `translate(${n.x},${n.y})`, dataset: { id: n.id, kind: n.kind } },
      s('title', {}, `${n.kind}: ${n.label}${pos}\n${n.id}`),
      s('rect', { class: 'box', width: n.w, height: n.h, rx: round ? n.h / 2 : 8 }));
    if (round) {
      g.append(s('text', { class: 'label', x: n.w / 2, y: n.h / 2 + 5, 'text-anchor': 'middle' }, n.text));
    } else {
      g.append(
        s('rect', { class: 'stripe', width: 6, height: n.h - 2, x: 1, y: 1, rx: 3 }),
        s('text', { class: 'kind', x: 16, y: 19 }, n.kind.toUpperCase()),
        s('text', { class: 'label', x: 16, y: 38 }, n.text));
    }
    nodeLayer.append(g);
  }
  svg.append(edgeLayer, labelLayer, nodeLayer);

  // The same flow as text, for screen readers and for copying.
  const byId = new Map(L.nodes.map((n) => [n.id, n]));
  const order = L.nodes.slice().sort((a, b) => a.rank - b.rank || a.x - b.x);
  const list = h('ol', { class: 'flow-text' }, order.map((n) => {
    const next = L.edges.filter((e) => e.from === n.id).map((e) => {
      const t = byId.get(e.to);
      return `${t.label}${e.label ? ` (${e.label})` : ''}`;
    });
    return h('li', {}, h('strong', {}, n.kind), ' ', n.label, n.pos ? h('span', { class: 'muted' }, ` — ${n.pos}`) : null,
      next.length ? h('span', {}, ' → ', next.join(', ')) : null);
  }));
  return h('figure', { class: 'flow-figure' },
    h('div', { class: 'flow-scroll', tabindex: '0', role: 'group', 'aria-label': `Flow of process ${name}, scrollable` }, svg),
    h('figcaption', {}, h('details', {}, h('summary', {}, 'The flow as text'), list)));
}
