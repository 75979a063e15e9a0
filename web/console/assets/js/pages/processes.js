// Every deployed process: what starts it, how many steps, and links to
// its page, a test run and its executions.

import { enc, get, items } from '../api.js';
import { code, empty, h, replace, table } from '../dom.js';
import { pageHead } from '../ui.js';

export async function render(main) {
  document.title = 'Processes · Atom';
  const list = items(await get('/api/processes'));
  const body = list.length
    ? table('Processes', ['Process', 'Starts on', 'Listener', 'Steps', 'Concurrency', ''], list.map((p) => h('tr', { dataset: { process: p.name } },
      h('th', { scope: 'row' }, h('a', { href: '#/processes/' + enc(p.name) }, p.name)),
      h('td', {}, p.listen ? p.listen : h('span', { class: 'tag' }, p.called ? 'sub-process (call)' : 'not started by a listener')),
      h('td', {}, p.listener ? h('a', { href: '#/listeners/' + enc(p.listener) }, p.listener) : '–'),
      h('td', { class: 'num' }, String(p.steps ?? '')),
      h('td', { class: 'num' }, p.listen ? String(p.concurrency ?? 1) : '–'),
      h('td', { class: 'row-actions' },
        h('a', { href: '#/test?process=' + enc(p.name), class: 'button small' }, 'Test run'),
        h('a', { href: '#/executions?process=' + enc(p.name), class: 'button small' }, 'Executions')))))
    : empty('No processes deployed',
      'Deploy components with ', code('atom deploy FILE --atom URL'), ' or ', code('POST /api/deployments'), '.');
  replace(main, pageHead('Processes'), body);
}
