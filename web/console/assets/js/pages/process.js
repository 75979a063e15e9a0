// One process: its flow drawn from the API's graph, each mapping as a
// source → target table, and its YAML (secrets already redacted by the API).

import { enc, get } from '../api.js';
import { dl, empty, h, pre, replace, table } from '../dom.js';
import { renderFlow } from '../flow.js';
import { pageHead } from '../ui.js';

export async function render(main, [name]) {
  document.title = `${name} · Processes · Atom`;
  const p = await get('/api/processes/' + enc(name));
  const mappings = p.mappings || [];
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/processes' }, 'Processes'), ' / '),
    pageHead(p.name,
      h('a', { href: '#/test?process=' + enc(p.name), class: 'button primary' }, 'Test run'),
      h('a', { href: '#/executions?process=' + enc(p.name), class: 'button' }, 'Executions')),
    dl([
      ['Starts on', p.listen || 'a call from another process'],
      ['Listener', p.listener ? h('a', { href: '#/listeners/' + enc(p.listener) }, p.listener) : null],
      ['Concurrency', p.listen ? String(p.concurrency ?? 1) : null],
      ['Tracked properties', (p.track || []).length ? (p.track || []).map((t) => h('code', { class: 'chip' }, t)) : null],
      ['File', p.file],
    ]),
    h('section', { 'aria-labelledby': 'flow-h' },
      h('h2', { id: 'flow-h' }, 'Flow'),
      p.graph && (p.graph.nodes || []).length ? renderFlow(p.graph, p.name) : empty('No flow to draw', 'The API gave no graph for this process.')),
    h('section', { 'aria-labelledby': 'map-h', id: 'mappings' },
      h('h2', { id: 'map-h' }, 'Mappings'),
      mappings.length ? mappings.map(mappingView) : empty('No mappings', 'This process has no map step.')),
    h('section', { 'aria-labelledby': 'yaml-h' },
      h('h2', { id: 'yaml-h' }, 'YAML'),
      h('p', { class: 'hint' }, 'As deployed, with literal secrets redacted.'),
      h('pre', { class: 'yaml', tabindex: '0', 'aria-label': `YAML of process ${p.name}` }, p.yaml || '')));
}

function mappingView(m) {
  const pairs = m.pairs || [];
  const title = m.name || 'inline mapping';
  return h('article', { class: 'mapping', dataset: { mapping: title } },
    h('h3', {}, title, ' ', h('span', { class: 'tag' }, m.kind || '')),
    pairs.length
      ? table(`Mapping ${title}: source to target`, ['Source', 'Target'], pairs.map((x) => h('tr', {},
        h('td', { class: 'mono src' }, x.source),
        h('td', { class: 'mono' }, x.target))), { class: 'pairs' })
      : h('p', { class: 'hint' }, 'No field pairs can be read from this program; here it is as written.'),
    m.source ? h('details', { open: !pairs.length }, h('summary', {}, `The ${m.kind || ''} program`), pre(m.source)) : null);
}
