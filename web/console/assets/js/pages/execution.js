// One execution with its trace (kept for failed and test runs).

import { enc, get } from '../api.js';
import { badge, dl, empty, h, replace } from '../dom.js';
import { runDuration, when } from '../format.js';
import { renderTrace, stepLabels } from '../trace.js';
import { pageHead } from '../ui.js';

export async function render(main, [id]) {
  document.title = `Execution ${id} · Atom`;
  const x = await get('/api/executions/' + enc(id));
  const labels = x.trace ? await stepLabels(x.process) : new Map();
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/executions' }, 'Executions'), ' / '),
    pageHead(`Execution ${x.id}`),
    dl([
      ['Process', h('a', { href: '#/processes/' + enc(x.process) }, x.process)],
      ['Status', badge(x.status)],
      ['Listener', x.listener ? h('a', { href: '#/listeners/' + enc(x.listener) }, x.listener) : null],
      ['Started', when(x.started)],
      ['Duration', runDuration(x)],
      ['Tracked', Object.keys(x.tracked || {}).length
        ? Object.entries(x.tracked).map(([k, v]) => h('a', { class: 'chip', href: '#/executions?' + new URLSearchParams({ prop: k, value: v }) }, `${k}=${v}`))
        : null],
    ]),
    x.error ? h('div', { class: 'error' }, h('p', {}, h('strong', {}, 'The run failed: '), x.error)) : null,
    h('section', { 'aria-labelledby': 'trace-h' },
      h('h2', { id: 'trace-h' }, 'Trace'),
      x.trace ? renderTrace(x.trace, { labels }) : empty('No trace kept', 'The atom keeps the trace of failed runs and test runs only.')));
}
