// The console's entry point: hash routing, the token prompt and the header.

import { get, onTokenNeeded, setToken, token } from './api.js';
import { h, replace } from './dom.js';
import { dropStaleToast, errorBox } from './ui.js';
import * as listeners from './pages/listeners.js';
import * as listener from './pages/listener.js';
import * as processList from './pages/processes.js';
import * as processPage from './pages/process.js';
import * as testRun from './pages/testrun.js';
import * as executions from './pages/executions.js';
import * as execution from './pages/execution.js';
import * as deadLetters from './pages/deadletters.js';
import * as deadLetter from './pages/deadletter.js';
import * as deployments from './pages/deployments.js';
import * as deployment from './pages/deployment.js';

// Each route: a path pattern, the nav entry it belongs to, and its page.
// A page's render(main, params, query) returns an optional cleanup.
const routes = [
  [/^\/$/, 'listeners', listeners],
  [/^\/listeners\/(.+)$/, 'listeners', listener],
  [/^\/processes$/, 'processes', processList],
  [/^\/processes\/(.+)$/, 'processes', processPage],
  [/^\/test$/, 'test', testRun],
  [/^\/executions$/, 'executions', executions],
  [/^\/executions\/(.+)$/, 'executions', execution],
  [/^\/dead-letters$/, 'dead-letters', deadLetters],
  [/^\/dead-letters\/(.+)$/, 'dead-letters', deadLetter],
  [/^\/deployments$/, 'deployments', deployments],
  [/^\/deployments\/(\d+)$/, 'deployments', deployment],
];

const main = document.getElementById('main');
let cleanup = null;
let firstRender = true;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  const query = new URLSearchParams(i < 0 ? '' : raw.slice(i + 1));
  return { path: path || '/', query };
}

async function render() {
  if (location.hash && !location.hash.startsWith('#/')) return; // an in-page anchor such as #main
  const { path, query } = parseHash();
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  dropStaleToast();
  let match = null;
  for (const [re, nav, page] of routes) {
    const m = path.match(re);
    if (m) { match = { nav, page, params: m.slice(1).map(decodeURIComponent) }; break; }
  }
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    if (match && a.dataset.nav === match.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!match) {
    document.title = 'Not found · Atom';
    replace(main, h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, 'No console page lives at ', h('code', {}, path), '. ', h('a', { href: '#/' }, 'Go to the listeners.')));
    return;
  }
  main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  if (!firstRender) loadInfo(); // the active deployment may have changed
  try {
    cleanup = (await match.page.render(main, match.params, query)) || null;
  } catch (err) {
    replace(main, h('h1', { tabindex: '-1' }, 'Something went wrong'), errorBox(err));
  }
  if (!firstRender) {
    const h1 = main.querySelector('h1');
    if (h1) h1.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  firstRender = false;
}

// The token prompt: a modal dialog that resolves with the token, or null
// when the operator cancels.
function promptToken(reason) {
  const dialog = document.getElementById('token-dialog');
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  // The API's reason matters when a token was given and refused.
  document.getElementById('token-reason').textContent = token() ? `The token in use was refused: ${reason}.` : '';
  input.value = '';
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const ok = e.submitter && e.submitter.value === 'ok';
      if (ok && !input.value.trim()) { input.focus(); return; }
      done(ok ? input.value.trim() : null);
    };
    const onCancel = (e) => { e.preventDefault(); done(null); };
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    input.focus();
  });
}

function showTokenState() {
  document.getElementById('forget-token').hidden = !token();
}

async function loadInfo() {
  const el = document.getElementById('atom-info');
  try {
    const info = await get('/api/info');
    const parts = [];
    if (info.version) parts.push(info.version);
    parts.push(info.deployment ? `deployment v${info.deployment}` : 'nothing deployed');
    el.textContent = parts.join(' · ');
  } catch {
    el.textContent = '';
  }
}

onTokenNeeded(promptToken);
document.getElementById('forget-token').addEventListener('click', () => {
  setToken('');
  location.reload();
});
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
document.addEventListener('atom:token', () => { showTokenState(); loadInfo(); });
document.addEventListener('atom:deployed', loadInfo);
window.addEventListener('hashchange', render);
showTokenState();
render();
loadInfo();
