// Renders a processes.Trace: one row per step, nested steps indented, each
// with its input, output, properties, duration, note and error.

import { enc, get } from './api.js';
import { badge, h, pre } from './dom.js';
import { duration } from './format.js';

/**
 * stepLabels reads what each step of a process does ("map orders",
 * "send fulfil") from its graph, by node ID, so that a trace can name its
 * steps; an empty map when the process cannot be read.
 */
export async function stepLabels(process) {
  try {
    const p = await get('/api/processes/' + enc(process));
    return new Map(((p.graph && p.graph.nodes) || []).map((n) => [n.id, n.label]));
  } catch {
    return new Map();
  }
}

/**
 * renderTrace returns the trace as a nested list. opts.open shows every
 * step's data; opts.labels (from stepLabels) names the steps.
 */
export function renderTrace(trace, opts = {}) {
  const steps = (trace && trace.steps) || [];
  if (!steps.length) return h('p', { class: 'hint' }, 'The trace has no steps.');
  return h('ol', { class: 'trace', 'aria-label': `Trace of process ${trace.process || ''}` }, steps.map((st) => stepView(st, opts, '')));
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// stepView renders one step; ns is the graph's ID prefix of the process
// the step belongs to ("call:NAME/" inside a called sub-process).
function stepView(st, opts, ns) {
  const failed = st.status === 'failed';
  const parts = [];
  if (st.error) parts.push(h('p', { class: 'step-error', role: failed ? 'alert' : null }, h('strong', {}, 'Error: '), st.error));
  const data = [];
  if (st.input !== undefined) data.push(['Input', st.input]);
  if (st.output !== undefined && !(st.input !== undefined && same(st.input, st.output))) data.push(['Output', st.output]);
  else if (st.output !== undefined) data.push(['Output', 'same as the input']);
  if (st.sent !== undefined) data.push(['Would send (dry run)', st.sent]);
  if (st.reply !== undefined) data.push(['Reply', st.reply]);
  if (st.props && Object.keys(st.props).length) data.push(['Properties after', st.props]);
  if (data.length) {
    parts.push(h('div', { class: 'step-data' }, data.map(([k, v]) => h('div', {}, h('h4', {}, k),
      typeof v === 'string' && k === 'Output' ? h('p', { class: 'muted' }, v) : pre(v, `${k} of ${st.path}`)))));
  }
  if (st.stack) parts.push(h('details', {}, h('summary', {}, 'Stack'), pre(st.stack)));
  const nested = (st.steps || []).length ? h('ol', { class: 'trace nested' }, st.steps.map((x) => stepView(x, opts, st.kind === 'process' ? `call:${st.label}/` : ns))) : null;
  const label = st.label || (opts.labels && opts.labels.get(ns + st.path)) || '';
  const summary = h('summary', {},
    badge(st.status),
    h('span', { class: 'step-kind' }, st.kind),
    h('span', { class: 'step-label' }, label || st.path),
    label ? h('span', { class: 'step-path muted mono' }, st.path) : null,
    h('span', { class: 'step-dur muted' }, duration(st.duration)),
    st.note ? h('span', { class: 'step-note' }, st.note) : null);
  return h('li', { class: ['step', 'step-' + st.status], dataset: { path: st.path, kind: st.kind, status: st.status } },
    parts.length ? h('details', { open: failed || opts.open }, summary, parts) : h('div', { class: 'summary-like' }, Array.from(summary.childNodes)),
    nested);
}
