// Shared pieces of the pages: error boxes, the toast, times, busy buttons.

import { allowTokenPrompt } from './api.js';
import { h } from './dom.js';
import { ago, when } from './format.js';

/** errorBox shows an API error with its code and every detail. */
export function errorBox(err, what) {
  const box = h('div', { class: 'error', role: 'alert' });
  const code = err && err.code ? h('code', { class: 'code' }, err.code) : null;
  box.append(h('p', {}, what ? h('strong', {}, what + ': ') : null, (err && err.message) || String(err), ' ', code));
  if (err && err.status === 401) {
    box.append(h('p', {}, h('button', {
      type: 'button', class: 'small',
      onclick: () => { allowTokenPrompt(); window.dispatchEvent(new HashChangeEvent('hashchange')); },
    }, 'Enter the API token')));
  }
  const details = (err && err.details) || [];
  if (details.length) {
    box.append(h('ul', { class: 'details' }, details.map((d) => h('li', {}, detailText(d)))));
  }
  return box;
}

// detailText reads a processes.Diagnostic ({pos, path, msg, hint}) or
// anything else the API put in details.
function detailText(d) {
  if (typeof d === 'string') return d;
  if (d && (d.msg || d.message)) {
    const p = d.pos || {};
    const where = [p.file, p.line, p.col].filter((x) => x !== undefined && x !== '' && x !== 0).join(':');
    return [where, d.path, d.msg || d.message].filter(Boolean).join(': ') + (d.hint ? ` (${d.hint})` : '');
  }
  return JSON.stringify(d);
}

let toastTimer;
let toastAt = 0;
/** toast says briefly, and to screen readers, what an action did. */
export function toast(message, kind = 'ok') {
  const el = document.getElementById('toast');
  toastAt = Date.now();
  el.className = `toast show toast-${kind}`;
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; el.textContent = ''; }, kind === 'error' ? 9000 : 4000);
}

/**
 * dropStaleToast hides a toast left by an earlier page; one raised by the
 * action that led here (a moment ago) stays.
 */
export function dropStaleToast() {
  if (Date.now() - toastAt < 1500) return;
  const el = document.getElementById('toast');
  el.className = 'toast';
  el.textContent = '';
}

/** timeEl is "5 s ago" with the exact time on hover and for machines. */
export function timeEl(iso) {
  const text = ago(iso);
  if (!text) return h('span', { class: 'muted' }, '–');
  return h('time', { datetime: iso, title: when(iso) }, text);
}

/**
 * busy runs fn with button disabled and marked busy, and shows an error
 * toast with the API's message and code if fn throws.
 */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } catch (err) {
    toast(`${err.message}${err.code ? ` (${err.code})` : ''}`, 'error');
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** pageHead is the page's title row: an h1 and optional actions. */
export function pageHead(title, ...actions) {
  return h('div', { class: 'page-head' },
    h('h1', { tabindex: '-1' }, title),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** poll calls fn now and every ms while the tab is visible; returns a stop function. */
export function poll(fn, ms) {
  let stopped = false;
  let timer;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await fn(); } catch { /* fn shows its own errors */ }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
