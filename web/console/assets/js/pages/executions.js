// Executions: search by process, status and tracked property; newest first,
// with an "older" button that pages on.

import { enc, get, items, qs } from '../api.js';
import { badge, empty, field, h, replace } from '../dom.js';
import { runDuration } from '../format.js';
import { errorBox, pageHead, timeEl } from '../ui.js';

const STATUSES = ['ok', 'failed', 'filtered', 'stopped', 'test'];

export async function render(main, _params, query) {
  document.title = 'Executions · Atom';
  let procs = [];
  try { procs = items(await get('/api/processes')); } catch { /* the search still works by name */ }
  const q = Object.fromEntries(['process', 'status', 'prop', 'value'].map((k) => [k, query.get(k) || '']));

  const process = h('select', { name: 'process' }, h('option', { value: '' }, 'Any process'),
    procs.map((p) => h('option', { value: p.name, selected: p.name === q.process }, p.name)));
  if (q.process && !procs.some((p) => p.name === q.process)) process.append(h('option', { value: q.process, selected: true }, q.process));
  const status = h('select', { name: 'status' }, h('option', { value: '' }, 'Any status'),
    STATUSES.map((x) => h('option', { value: x, selected: x === q.status }, x)));
  const keys = [...new Set(procs.flatMap((p) => p.track || []).concat(['replayId', 'eventUuid']))];
  const prop = h('input', { name: 'prop', type: 'text', list: 'ex-keys', value: q.prop, autocomplete: 'off', spellcheck: 'false', placeholder: 'replayId' });
  const value = h('input', { name: 'value', type: 'text', value: q.value, autocomplete: 'off', spellcheck: 'false' });
  const form = h('form', { class: 'search', role: 'search', 'aria-label': 'Search executions' },
    field('Process', process), field('Status', status),
    field('Tracked property', prop), field('Value', value),
    h('datalist', { id: 'ex-keys' }, keys.map((k) => h('option', { value: k }))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Search'),
      h('a', { href: '#/executions', class: 'button' }, 'Clear')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = '#/executions' + qs({ process: process.value, status: status.value, prop: prop.value.trim(), value: value.value.trim() });
  });

  const results = h('div', { id: 'ex-results' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Older executions');
  let next = '';

  const load = async (before) => {
    let page;
    try {
      page = await get('/api/executions' + qs({ ...q, limit: 50, before }));
    } catch (err) {
      replace(results, errorBox(err, 'Cannot search the executions'));
      return;
    }
    const list = items(page);
    next = (page && page.next) || '';
    more.hidden = !next;
    if (!before && !list.length) {
      const filtered = Object.values(q).some(Boolean);
      replace(results, empty(filtered ? 'No executions match' : 'No executions yet',
        filtered ? 'Try fewer filters, or another value of the tracked property.'
          : 'Runs are recorded here as listeners process events, and when you test-run a process.'));
      return;
    }
    if (!before) {
      tbody.replaceChildren();
      replace(results, h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Executions' },
        h('table', { class: 'stack' }, h('caption', { class: 'sr-only' }, 'Executions, newest first'),
          h('thead', {}, h('tr', {}, ['Started', 'Process', 'Status', 'Duration', 'Tracked', 'Error'].map((x) => h('th', { scope: 'col' }, x)))),
          tbody)), more);
    }
    for (const x of list) tbody.append(row(x));
  };
  more.addEventListener('click', () => load(next));

  replace(main, pageHead('Executions'), form, results);
  await load('');
}

function row(x) {
  return h('tr', { dataset: { execution: x.id, status: x.status } },
    h('td', { 'data-label': 'Started' }, h('a', { href: '#/executions/' + enc(x.id), 'aria-label': `Execution ${x.id} of ${x.process}` }, timeEl(x.started))),
    h('td', { 'data-label': 'Process' }, x.process),
    h('td', { 'data-label': 'Status' }, badge(x.status)),
    h('td', { class: 'num', 'data-label': 'Duration' }, runDuration(x)),
    h('td', { 'data-label': 'Tracked' }, Object.entries(x.tracked || {}).map(([k, v]) => h('code', { class: 'chip' }, `${k}=${v}`))),
    h('td', { class: 'clip', title: x.error || null, 'data-label': 'Error' }, x.error || null));
}

