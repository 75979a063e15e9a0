// Draws a process's flow graph (from GET /api/processes/{name}) as SVG with
// a simple layered layout: each node sits one row below the furthest of its
// predecessors, and within a row nodes sit under the middle of their
// predecessors, pushed apart so that none overlap. An edge that skips rows
// passes through a reserved slot in each row it crosses, so it never runs
// through a node. layout is pure (no DOM) so that it can be tested alone.

import { h, s } from './dom.js';

export const NODE_H = 50;
const RANK_GAP = 64;
const COL_GAP = 28;
const PAD = 24;
const MIN_W = 116;
const MAX_W = 224;
const CHAR_W = 7.4; // an estimate for 13px text; exact sizes are not needed
const LABEL_CHAR_W = 6.4; // the same for 11px edge labels
const LABEL_CHARS = Math.floor((MAX_W - 30) / CHAR_W);
const LANE_W = 16; // the slot of an edge crossing a row

const clip = (text, n) => (text.length > n ? text.slice(0, Math.max(1, n - 1)) + '…' : text);
const ROUND = new Set(['start', 'end']);
const labelWidth = (text) => Math.round(text.length * LABEL_CHAR_W + 12);

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
    .map((e, i) => ({ ...e, i, label: e.label ? String(e.label) : '', back: false, lanes: [] }));
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
  const forward = edges.filter((e) => !e.back);
  const into = new Map(nodes.map((n) => [n.id, []]));
  for (const e of forward) into.get(e.to).push(e);
  for (const id of post.slice().reverse()) {
    const n = byId.get(id);
    for (const e of into.get(id)) n.rank = Math.max(n.rank, byId.get(e.from).rank + 1);
  }
  const rankCount = nodes.length ? Math.max(...nodes.map((n) => n.rank)) + 1 : 0;
  const rows = Array.from({ length: rankCount }, () => []);
  for (const n of nodes) rows[n.rank].push(n);

  // An edge that skips rows gets a lane in each row between its ends; the
  // first lane of a labelled edge is as wide as its label, which sits there.
  // Each node and lane remembers what it hangs from (pred).
  const siblings = (e) => out.get(e.from).filter((x) => !x.back).length;
  for (const e of forward) {
    const a = byId.get(e.from);
    const b = byId.get(e.to);
    let prev = a;
    for (let r = a.rank + 1; r < b.rank; r++) {
      const w = r === a.rank + 1 && e.label ? labelWidth(clip(e.label, 34)) : LANE_W;
      const lane = { lane: true, rank: r, w, h: NODE_H, x: 0, y: 0, preds: [prev], order: pre.get(e.to) - 0.5 };
      rows[r].push(lane);
      e.lanes.push(lane);
      prev = lane;
    }
    e.last = prev;
  }
  for (const n of nodes) {
    n.preds = into.get(n.id).map((e) => e.last);
    n.order = pre.get(n.id);
  }

  // Place rows top-down: each node wants the middle of what it hangs from;
  // nodes are pushed right to avoid overlaps, then the row is shifted back
  // so that, on average, nodes sit where they wanted.
  rows.forEach((row, r) => {
    let free = 0;
    for (const n of row) {
      if (n.preds.length) n.want = n.preds.reduce((sum, p) => sum + p.x + p.w / 2, 0) / n.preds.length;
      else { n.want = free + n.w / 2; free += n.w + COL_GAP; }
    }
    row.sort((a, b) => a.want - b.want || a.order - b.order);
    let right = -Infinity;
    let drift = 0;
    for (const n of row) {
      n.x = Math.max(n.want - n.w / 2, right + COL_GAP);
      right = n.x + n.w;
      drift += n.x + n.w / 2 - n.want;
    }
    const shift = row.length ? drift / row.length : 0;
    for (const n of row) {
      n.x -= shift;
      n.y = PAD + r * (NODE_H + RANK_GAP);
    }
  });
  const placed = rows.flat();
  const minX = Math.min(PAD, ...placed.map((n) => n.x));
  for (const n of placed) n.x = Math.round(n.x - minX + PAD);
  const loops = edges.some((e) => e.back) ? 60 : 0;
  const width = Math.round(Math.max(MIN_W + 2 * PAD, ...placed.map((n) => n.x + n.w + PAD + loops)));
  const height = rankCount ? PAD * 2 + rankCount * NODE_H + (rankCount - 1) * RANK_GAP : NODE_H + 2 * PAD;

  for (const e of edges) route(e, byId.get(e.from), byId.get(e.to), e.back ? 0 : siblings(e));
  return { nodes, edges, width, height, ranks: rankCount };
}

// route sets an edge's SVG path (e.d) and where its label goes (e.lx, e.ly,
// e.text): down from the bottom of a to the top of b through its lanes,
// or, for a loop back up, out of a's right side and into b's.
function route(e, a, b, siblings) {
  const curve = (x1, y1, x2, y2) => {
    const dy = Math.max(24, (y2 - y1) / 2);
    return [[x1, y1], [x1, y1 + dy], [x2, y2 - dy], [x2, y2]];
  };
  const at = (p, t) => {
    const u = 1 - t;
    const k = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
    return [0, 1].map((i) => Math.round(k.reduce((sum, c, j) => sum + c * p[j][i], 0)));
  };
  const d = (p) => `C${p[1][0]},${p[1][1]} ${p[2][0]},${p[2][1]} ${p[3][0]},${p[3][1]}`;
  let max = 34;
  if (e.back || b.rank <= a.rank) {
    const x1 = a.x + a.w;
    const y1 = a.y + a.h / 2;
    const x2 = b.x + b.w;
    const y2 = b.y + b.h / 2;
    const bulge = Math.max(x1, x2) + 48;
    const p = [[x1, y1], [bulge, y1], [bulge, y2], [x2, y2]];
    e.d = `M${x1},${y1} ${d(p)}`;
    [e.lx, e.ly] = at(p, 0.5);
  } else {
    let x = a.x + a.w / 2;
    let y = a.y + a.h;
    const parts = [`M${x},${y}`];
    let first = null;
    for (const lane of e.lanes) {
      const cx = lane.x + lane.w / 2;
      const p = curve(x, y, cx, lane.y);
      parts.push(d(p), `L${cx},${lane.y + lane.h}`);
      first = first || lane;
      x = cx;
      y = lane.y + lane.h;
    }
    const p = curve(x, y, b.x + b.w / 2, b.y);
    parts.push(d(p));
    e.d = parts.join(' ');
    if (first) {
      // The label sits in the lane reserved for it in the first row crossed.
      [e.lx, e.ly] = [first.x + first.w / 2, first.y + first.h / 2];
    } else {
      // Near the target, where the edges of a route or branch have spread
      // apart; short enough not to reach its neighbours' labels.
      [e.lx, e.ly] = at(p, 0.72);
      if (siblings > 1) max = Math.floor((0.7 * (b.w + COL_GAP) - 12) / LABEL_CHAR_W);
    }
  }
  e.text = e.label ? clip(e.label, max) : '';
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
    if (e.text) {
      const text = e.text;
      const w = labelWidth(text);
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
