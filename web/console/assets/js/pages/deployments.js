// Deployments: every saved version, newest first, with rollback.

import { get, items, post } from '../api.js';
import { badge, code, empty, h, replace, table } from '../dom.js';
import { when } from '../format.js';
import { busy, pageHead, toast } from '../ui.js';

export async function render(main) {
  document.title = 'Deployments · Atom';
  const list = items(await get('/api/deployments'));
  const rows = list.map((d) => {
    const rollback = d.active ? null : h('button', { type: 'button', class: 'small', 'aria-label': `Roll back to version ${d.version}` }, 'Roll back to this');
    rollback?.addEventListener('click', () => {
      if (!confirm(`Roll back to version ${d.version}? It replaces the running deployment as a whole; listeners continue from their committed positions.`)) return;
      busy(rollback, async () => {
        await post(`/api/deployments/${d.version}/rollback`);
        toast(`Version ${d.version} is active`);
        document.dispatchEvent(new CustomEvent('atom:deployed'));
        await render(main);
      });
    });
    return h('tr', { dataset: { version: d.version } },
      h('th', { scope: 'row' }, h('a', { href: '#/deployments/' + d.version }, `v${d.version}`)),
      h('td', {}, h('time', { datetime: d.at }, when(d.at))),
      h('td', {}, d.who || '–'),
      h('td', {}, d.note || ''),
      h('td', {}, d.active ? badge('active') : ''),
      h('td', { class: 'row-actions' }, rollback));
  });
  replace(main, pageHead('Deployments'),
    list.length ? table('Deployments, newest first', ['Version', 'When', 'Who', 'Note', 'Active', ''], rows)
      : empty('Nothing deployed yet', 'Deploy with ', code('atom deploy FILE --atom URL'), ' or ', code('POST /api/deployments'), '.'));
}
