// One deployment version with its files (literal secrets redacted by the API).

import { get } from '../api.js';
import { badge, dl, h, replace } from '../dom.js';
import { when } from '../format.js';
import { pageHead } from '../ui.js';

export async function render(main, [version]) {
  document.title = `Deployment v${version} · Atom`;
  const d = await get('/api/deployments/' + encodeURIComponent(version));
  const files = Object.entries(d.files || {}).sort(([a], [b]) => a.localeCompare(b));
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/deployments' }, 'Deployments'), ' / '),
    pageHead(`Deployment v${d.version}`),
    dl([['When', when(d.at)], ['Who', d.who], ['Note', d.note], ['Active', d.active ? badge('active') : 'no']]),
    h('h2', {}, 'Files'),
    d.filesHidden ? h('p', { class: 'hint' }, d.filesHidden) : null,
    files.map(([name, text], i) => h('details', { open: i === 0 }, h('summary', {}, name),
      h('pre', { class: 'yaml', tabindex: '0', 'aria-label': name }, String(text)))));
}
