// The dashboard: every listener with its live state and counts, and
// pause and resume buttons. It polls /api/listeners every second and
// updates the cards in place, so focus and reading position stay put.

import { enc, get, post } from '../api.js';
import { badge, code, empty, h, replace } from '../dom.js';
import { num } from '../format.js';
import { busy, errorBox, pageHead, poll, timeEl, toast } from '../ui.js';

const COUNTS = [
  ['received', 'Received'],
  ['processed', 'Processed'],
  ['failed', 'Failed'],
  ['deadLettered', 'Dead-lettered'],
  ['inFlight', 'In flight'],
];

export async function render(main) {
  document.title = 'Listeners · Atom';
  const pauseAll = h('button', { type: 'button', id: 'pause-all' }, 'Pause all');
  const resumeAll = h('button', { type: 'button', id: 'resume-all' }, 'Resume all');
  const updated = h('span', { class: 'muted live', 'aria-live': 'off' });
  const problem = h('div');
  const grid = h('div', { class: 'cards', id: 'listeners' });
  const cards = new Map();

  let shown = ''; // the error on show, kept as it is while it lasts
  const refresh = async () => {
    try {
      const list = await get('/api/listeners');
      shown = '';
      replace(problem);
      draw(Array.isArray(list) ? list : []);
      updated.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      const key = `${err.code} ${err.message}`;
      if (key !== shown) replace(problem, errorBox(err, 'Cannot read the listeners'));
      shown = key;
      updated.textContent = '';
    }
  };

  const act = async (button, path, message) => {
    await busy(button, async () => {
      await post(path);
      toast(message);
      await refresh();
    });
  };

  pauseAll.addEventListener('click', () => act(pauseAll, '/api/listeners/pause-all', 'Every listener paused'));
  resumeAll.addEventListener('click', () => act(resumeAll, '/api/listeners/resume-all', 'Every listener resumed'));

  function draw(list) {
    pauseAll.disabled = !list.length;
    resumeAll.disabled = !list.length;
    if (!list.length) {
      cards.clear();
      replace(grid, empty('No listeners yet',
        'Deploy processes with ', code('atom deploy FILE --atom URL'), ' or ', code('POST /api/deployments'),
        '; each process that listens on an operation gets a listener here.'));
      return;
    }
    const seen = new Set();
    grid.querySelector('.empty')?.remove();
    list.forEach((st, i) => {
      seen.add(st.name);
      let card = cards.get(st.name);
      if (!card) {
        card = makeCard(st.name, act);
        cards.set(st.name, card);
      }
      if (grid.children[i] !== card.el) grid.insertBefore(card.el, grid.children[i] || null);
      card.update(st);
    });
    for (const [name, card] of cards) {
      if (!seen.has(name)) { card.el.remove(); cards.delete(name); }
    }
  }

  replace(main,
    pageHead('Listeners', pauseAll, resumeAll),
    h('p', { class: 'lede' }, 'One listener per connection and channel; it hands each event to every process that listens there. ',
      'Pausing keeps its position: resuming continues from it, losing nothing.'),
    h('p', {}, updated),
    problem,
    grid);
  return poll(refresh, 1000);
}

// makeCard builds one listener's card once; update fills it in.
function makeCard(name, act) {
  const id = 'l-' + Math.random().toString(36).slice(2, 9);
  const title = h('h2', { id }, h('a', { href: '#/listeners/' + enc(name) }, name));
  const state = h('span');
  const counts = {};
  const countList = h('dl', { class: 'counts' }, COUNTS.map(([key, label]) => {
    counts[key] = h('dd', { dataset: { count: key } }, '–');
    return h('div', { class: 'count count-' + key }, h('dt', {}, label), counts[key]);
  }));
  const position = h('dd', { class: 'mono', dataset: { field: 'position' } });
  const connection = h('dd');
  const procs = h('dd');
  const lastEvent = h('dd');
  const lastError = h('div', { class: 'last-error' }); // not live: it is redrawn every second
  const toggle = h('button', { type: 'button', class: 'primary' });
  const el = h('article', { class: 'card listener', 'aria-labelledby': id, dataset: { listener: name } },
    h('header', {}, title, state),
    h('dl', { class: 'meta' },
      h('div', {}, h('dt', {}, 'Position'), position),
      h('div', {}, h('dt', {}, 'Connection'), connection),
      h('div', {}, h('dt', {}, 'Processes'), procs),
      h('div', {}, h('dt', {}, 'Last event'), lastEvent)),
    countList,
    lastError,
    h('div', { class: 'actions' }, toggle));

  let paused = false;
  toggle.addEventListener('click', () => {
    const verb = paused ? 'resume' : 'pause';
    act(toggle, `/api/listeners/${enc(name)}/${verb}`, `Listener ${name} ${paused ? 'resumed' : 'paused'}`);
  });

  const update = (st) => {
    paused = st.state === 'paused';
    el.dataset.state = st.state;
    replace(state, badge(st.state));
    position.textContent = st.position || 'none committed yet';
    position.classList.toggle('muted', !st.position);
    connection.textContent = st.connection || '–';
    replace(procs, (st.processes || []).flatMap((p, i) => [i ? ', ' : '', h('a', { href: '#/processes/' + enc(p) }, p)]));
    replace(lastEvent, timeEl(st.lastEventAt));
    for (const [key] of COUNTS) counts[key].textContent = num(st[key] ?? 0);
    counts.failed.parentElement.classList.toggle('warn', (st.failed || 0) > 0);
    counts.deadLettered.parentElement.classList.toggle('warn', (st.deadLettered || 0) > 0);
    if (st.lastError) {
      replace(lastError, h('strong', {}, 'Last error '), timeEl(st.lastErrorAt), h('p', { class: 'mono' }, st.lastError));
      lastError.hidden = false;
    } else {
      replace(lastError);
      lastError.hidden = true;
    }
    toggle.textContent = paused ? 'Resume' : 'Pause';
    toggle.setAttribute('aria-label', `${paused ? 'Resume' : 'Pause'} listener ${name}`);
    toggle.dataset.action = paused ? 'resume' : 'pause';
  };
  return { el, update };
}
