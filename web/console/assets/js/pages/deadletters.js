// Dead letters: documents that failed for good, with their error. Retry
// one or all (through their process again) or discard one for good.

import { del, enc, get, items, post, qs } from '../api.js';
import { empty, h, replace } from '../dom.js';
import { num } from '../format.js';
import { busy, errorBox, pageHead, timeEl, toast } from '../ui.js';

export async function render(main, _params, query) {
  document.title = 'Dead letters · Atom';
  const wanted = query.get('process') || '';
  let procs = [];
  try { procs = items(await get('/api/processes')); } catch { /* filter by name only */ }
  const process = h('select', { id: 'dl-process' }, h('option', { value: '' }, 'Every process'),
    procs.map((p) => h('option', { value: p.name, selected: p.name === wanted }, p.name)));
  process.addEventListener('change', () => { location.hash = '#/dead-letters' + qs({ process: process.value }); });
  const retryAll = h('button', { type: 'button', id: 'retry-all', class: 'primary' }, 'Retry all');
  const results = h('div', { id: 'dl-results' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Older dead letters');
  let next = '';
  let shown = 0;

  const load = async (before) => {
    let page;
    try {
      page = await get('/api/dead-letters' + qs({ process: wanted, limit: 50, before }));
    } catch (err) {
      replace(results, errorBox(err, 'Cannot read the dead letters'));
      return;
    }
    const list = items(page);
    next = (page && page.next) || '';
    more.hidden = !next;
    if (!before) {
      shown = 0;
      tbody.replaceChildren();
      replace(results, h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Dead letters' },
        h('table', { class: 'stack' }, h('caption', { class: 'sr-only' }, 'Dead letters, newest first'),
          h('thead', {}, h('tr', {}, ['Kept', 'Process', 'Step', 'Error', 'Attempts', ''].map((x) => h('th', { scope: 'col' }, x)))),
          tbody)), more);
    }
    for (const d of list) tbody.append(row(d));
    shown += list.length;
    showEmpty();
  };

  function showEmpty() {
    retryAll.disabled = shown === 0;
    if (shown > 0) return;
    replace(results, empty('No dead letters',
      'Documents that fail for good are kept here with their error, to retry once the cause is fixed.'));
  }

  function row(d) {
    const tr = h('tr', { dataset: { deadLetter: d.id } });
    const attempts = h('td', { class: 'num', 'data-label': 'Attempts' }, num(d.attempts));
    const errorCell = h('td', { class: 'clip', title: d.error || null, 'data-label': 'Error' }, d.error || null);
    const retry = h('button', { type: 'button', class: 'small primary', 'aria-label': `Retry dead letter ${d.id}` }, 'Retry');
    const discard = h('button', { type: 'button', class: 'small danger', 'aria-label': `Discard dead letter ${d.id}` }, 'Discard');
    retry.addEventListener('click', () => busy(retry, async () => {
      const res = await post(`/api/dead-letters/${enc(d.id)}/retry`);
      if (res && res.status === 'ok') {
        toast(`Dead letter ${d.id} retried: processed, and removed from the list`);
        tr.remove();
        shown--;
        showEmpty();
        return;
      }
      const again = (res && res.deadLetter) || {};
      attempts.textContent = num(again.attempts ?? d.attempts + 1);
      errorCell.textContent = (res && res.error) || again.error || 'failed again';
      toast(`Dead letter ${d.id} failed again: ${(res && res.error) || 'no error given'}`, 'error');
    }));
    discard.addEventListener('click', () => {
      if (!confirm(`Discard dead letter ${d.id} of ${d.process} for good? Its document will be lost.`)) return;
      busy(discard, async () => {
        await del(`/api/dead-letters/${enc(d.id)}`);
        toast(`Dead letter ${d.id} discarded`);
        tr.remove();
        shown--;
        showEmpty();
      });
    });
    tr.append(
      h('td', { 'data-label': 'Kept' }, h('a', { href: '#/dead-letters/' + enc(d.id), 'aria-label': `Dead letter ${d.id}` }, timeEl(d.at))),
      h('td', { 'data-label': 'Process' }, d.process),
      h('td', { class: 'mono', 'data-label': 'Step' }, d.step || '–'),
      errorCell, attempts,
      h('td', { class: 'row-actions' }, retry, discard));
    return tr;
  }

  retryAll.addEventListener('click', () => {
    const what = wanted ? `every dead letter of ${wanted}` : 'every dead letter';
    if (!confirm(`Retry ${what}? Each document runs through its process again; sends are real.`)) return;
    busy(retryAll, async () => {
      const res = await post('/api/dead-letters/retry' + qs({ process: wanted }));
      toast(`Retried: ${res.ok} processed, ${res.failed} failed again`, res.failed ? 'error' : 'ok');
      await load('');
    });
  });
  more.addEventListener('click', () => load(next));

  replace(main,
    pageHead('Dead letters', retryAll),
    h('div', { class: 'search' }, h('div', { class: 'field' }, h('label', { for: 'dl-process' }, 'Process'), process)),
    results);
  await load('');
}
