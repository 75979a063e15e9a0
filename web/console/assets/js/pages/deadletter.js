// One dead letter: its document, error and attempts; retry or discard.

import { del, enc, get, post, qs } from '../api.js';
import { dl, h, pre, replace, table } from '../dom.js';
import { num, when } from '../format.js';
import { busy, errorBox, pageHead, toast } from '../ui.js';

export async function render(main, [id]) {
  document.title = `Dead letter ${id} · Atom`;
  const d = await get('/api/dead-letters/' + enc(id));
  const retry = h('button', { type: 'button', class: 'primary' }, 'Retry');
  const discard = h('button', { type: 'button', class: 'danger' }, 'Discard');
  const state = h('div', { 'aria-live': 'polite' });
  retry.addEventListener('click', () => busy(retry, async () => {
    const res = await post(`/api/dead-letters/${enc(id)}/retry`);
    if (res && res.status === 'ok') {
      toast(`Dead letter ${id} retried and removed`);
      location.hash = '#/dead-letters';
      return;
    }
    replace(state, errorBox({ message: (res && res.error) || 'failed again' }, 'The retry failed'));
  }));
  discard.addEventListener('click', () => {
    if (!confirm(`Discard dead letter ${id} for good? Its document will be lost.`)) return;
    busy(discard, async () => {
      await del('/api/dead-letters/' + enc(id));
      toast(`Dead letter ${id} discarded`);
      location.hash = '#/dead-letters';
    });
  });
  const doc = d.doc || {};
  const props = Object.entries(doc.props || {});
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/dead-letters' }, 'Dead letters'), ' / '),
    pageHead(`Dead letter ${d.id}`, retry, discard),
    state,
    dl([
      ['Process', h('a', { href: '#/processes/' + enc(d.process) }, d.process)],
      ['Listener', d.listener ? h('a', { href: '#/listeners/' + enc(d.listener) }, d.listener) : null],
      ['Failed step', d.step ? h('span', { class: 'mono' }, d.step) : null],
      ['Attempts', num(d.attempts)],
      ['Kept since', when(d.at)],
      ['Last attempt', when(d.last_attempt || d.lastAttempt)],
      ['Execution', d.execution ? h('a', { href: '#/executions/' + enc(d.execution) }, d.execution) : null],
    ]),
    h('div', { class: 'error' }, h('p', {}, h('strong', {}, 'Error: '), d.error || 'none recorded')),
    h('h2', {}, 'Document body'),
    pre(doc.body, 'Document body'),
    h('h2', {}, 'Properties'),
    props.length ? table('Properties', ['Property', 'Value'], props.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { class: 'mono' }, v))))
      : h('p', { class: 'hint' }, 'None.'),
    h('p', {}, h('a', { class: 'button', href: '#/test' + qs({ process: d.process, deadLetter: d.id }) }, 'Try this document in a test run')));
}
