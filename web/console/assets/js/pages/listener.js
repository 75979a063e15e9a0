// One listener: its status, its committed position and properties, and
// the position's change history. The position can be set or reset only
// while the listener is paused (the API refuses otherwise).

import { del, enc, get, post, put } from '../api.js';
import { badge, dl, empty, field, h, replace, table } from '../dom.js';
import { num, when } from '../format.js';
import { busy, errorBox, pageHead, poll, timeEl, toast } from '../ui.js';

export async function render(main, [name]) {
  document.title = `${name} · Listeners · Atom`;
  const base = `/api/listeners/${enc(name)}`;
  const toggle = h('button', { type: 'button', class: 'primary' });
  const status = h('div');
  const offset = h('section', { 'aria-labelledby': 'offset-h' });
  const history = h('section', { 'aria-labelledby': 'history-h' });
  let st = null;

  const refreshStatus = async () => {
    try {
      st = await get(base);
    } catch (err) {
      replace(status, errorBox(err, 'Cannot read the listener'));
      return;
    }
    const paused = st.state === 'paused';
    toggle.textContent = paused ? 'Resume' : 'Pause';
    toggle.dataset.action = paused ? 'resume' : 'pause';
    setOffsetEnabled(paused);
    replace(status, dl([
      ['State', badge(st.state)],
      ['Position', h('span', { class: 'mono' }, st.position || 'none committed yet')],
      ['Connection', st.connection],
      ['Channel or path', st.key],
      ['Processes', (st.processes || []).flatMap((p, i) => [i ? ', ' : '', h('a', { href: '#/processes/' + enc(p) }, p)])],
      ['Concurrency', String(st.concurrency ?? '')],
      ['Received', num(st.received)],
      ['Processed', num(st.processed)],
      ['Failed', num(st.failed)],
      ['Dead-lettered', num(st.deadLettered)],
      ['In flight', num(st.inFlight)],
      ['Lag', st.lagSeconds ? `${st.lagSeconds.toFixed(1)} s (the oldest event in flight has waited this long)` : 'none'],
      ['Last event', timeEl(st.lastEventAt)],
      ['Last error', st.lastError ? h('span', { class: 'mono' }, st.lastError) : null],
      ...Object.entries(st.counters || {}).map(([k, v]) => [k.replace(/_/g, ' '), num(v)]),
    ], 'panel'));
  };

  toggle.addEventListener('click', () => busy(toggle, async () => {
    const verb = toggle.dataset.action;
    await post(`${base}/${verb}`);
    toast(`Listener ${name} ${verb === 'pause' ? 'paused' : 'resumed'}`);
    await refreshStatus();
  }));

  // Offset: read, set, reset.
  const position = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off', spellcheck: 'false' });
  const setBtn = h('button', { type: 'submit', class: 'primary' }, 'Set position');
  const resetBtn = h('button', { type: 'button', class: 'danger' }, 'Reset to the configured start');
  const offsetNote = h('p', { class: 'hint' });
  const props = h('div');
  const form = h('form', { class: 'inline-form' },
    field('New position (replay ID)', position, 'The listener continues with the events after this position when it resumes.'),
    h('div', { class: 'actions' }, setBtn, resetBtn));

  function setOffsetEnabled(paused) {
    for (const c of [position, setBtn, resetBtn]) c.disabled = !paused;
    offsetNote.textContent = paused
      ? 'The listener is paused: its position may be changed. Every change is recorded below.'
      : 'Pause the listener first: its position can only change while it is paused.';
  }

  const refreshOffset = async () => {
    try {
      const o = await get(`${base}/offset`);
      const rows = Object.entries(o.properties || {}).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { class: 'mono' }, v)));
      replace(props,
        dl([['Committed position', h('span', { class: 'mono' }, o.position || 'none (starts from the configured start)')]]),
        rows.length ? table('Connector properties', ['Property', 'Value'], rows) : null);
    } catch (err) {
      replace(props, errorBox(err, 'Cannot read the position'));
    }
  };

  const refreshHistory = async () => {
    try {
      const list = await get(`${base}/offset/history`);
      const rows = (Array.isArray(list) ? list : []).map((c) => h('tr', {},
        h('td', {}, h('time', { datetime: c.at, title: c.at }, when(c.at))),
        h('td', {}, c.who || '–'),
        h('td', { class: 'mono' }, (c.prev && c.prev.position) || '–'),
        h('td', { class: 'mono' }, (c.next && c.next.position) || 'reset')));
      replace(history, h('h2', { id: 'history-h' }, 'Position changes'),
        rows.length ? table('Position changes', ['When', 'Who', 'Before', 'After'], rows)
          : empty('No changes yet', 'Positions set or reset by an operator are listed here with who and when.'));
    } catch (err) {
      replace(history, h('h2', { id: 'history-h' }, 'Position changes'), errorBox(err));
    }
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = position.value.trim();
    if (!v) { position.setAttribute('aria-invalid', 'true'); position.focus(); return; }
    position.removeAttribute('aria-invalid');
    busy(setBtn, async () => {
      await put(`${base}/offset`, { position: v });
      toast(`Position of ${name} set to ${v}`);
      position.value = '';
      await Promise.all([refreshOffset(), refreshHistory(), refreshStatus()]);
    });
  });
  resetBtn.addEventListener('click', () => {
    if (!confirm(`Reset the position of ${name}? When it resumes it starts from its operation's configured start, which may replay or skip events.`)) return;
    busy(resetBtn, async () => {
      await del(`${base}/offset`);
      toast(`Position of ${name} reset`);
      await Promise.all([refreshOffset(), refreshHistory(), refreshStatus()]);
    });
  });

  replace(offset, h('h2', { id: 'offset-h' }, 'Position'), offsetNote, props, form);
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Listeners'), ' / '),
    pageHead(name, toggle),
    status, offset, history);
  await Promise.all([refreshOffset(), refreshHistory()]);
  return poll(refreshStatus, 2000);
}
