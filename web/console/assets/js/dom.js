// Small DOM helpers. Text is always set as text, never as HTML, so that
// nothing an event or an error carries can run in the page.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected' || k === 'open') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h('a', {href: '#/'}, 'text', child...) makes an HTML element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** s('rect', {x: 1}) makes an SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** replace empties el and appends children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form field: <div class="field"><label>…</label>control hint</div>. */
export function field(label, control, hint) {
  if (!control.id) control.id = 'f-' + Math.random().toString(36).slice(2, 9);
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hid = control.id + '-hint';
    control.setAttribute('aria-describedby', hid);
    parts.push(h('p', { class: 'hint', id: hid }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

/** A status badge; its text is the state itself so colour is never the only cue. */
export function badge(state, extra) {
  const st = String(state || 'unknown');
  return h('span', { class: ['badge', 'badge-' + st.replace(/[^a-z_-]/gi, ''), extra], dataset: { state: st } }, st.replace(/_/g, ' '));
}

/** An empty state: a short explanation of why there is nothing and what to do. */
export function empty(title, ...body) {
  return h('div', { class: 'empty', role: 'note' }, h('p', { class: 'empty-title' }, title), body.length ? h('p', {}, body) : null);
}

/** code('atom deploy') is inline code. */
export const code = (text) => h('code', {}, text);

/** A definition list from [term, value] pairs, skipping empty values. */
export function dl(pairs, cls) {
  const el = h('dl', { class: ['meta', cls] });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    el.append(h('div', {}, h('dt', {}, k), h('dd', {}, v)));
  }
  return el;
}

/** A table that scrolls sideways on a narrow screen instead of the page. */
export function table(caption, headers, rows, attrs) {
  const t = h('table', attrs || {},
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows));
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || 'table' }, t);
}

/** JSON for people, in a <pre>. */
export function pre(value, label) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return h('pre', { class: 'json', tabindex: '0', 'aria-label': label || null }, text === undefined ? 'null' : text);
}
