// The test-run form: pick a process, give a sample document (body and
// properties), run it and see every step. Sends are dry runs unless the
// operator ticks "live"; nothing is committed and no position moves.

import { enc, get, items, post, qs } from '../api.js';
import { badge, code, dl, empty, field, h, pre, replace } from '../dom.js';
import { runDuration } from '../format.js';
import { renderTrace, stepLabels } from '../trace.js';
import { errorBox, pageHead, toast } from '../ui.js';

const SAMPLE_HINT = 'A JSON value: the document body the process starts with.';

export async function render(main, _params, query) {
  document.title = 'Test run · Atom';
  const list = items(await get('/api/processes'));
  if (!list.length) {
    replace(main, pageHead('Test run'), empty('No processes to run',
      'Deploy components with ', code('atom deploy FILE --atom URL'), ' or ', code('POST /api/deployments'), ' first.'));
    return;
  }
  const wanted = query.get('process');
  const select = h('select', { name: 'process', id: 'tr-process' }, list.map((p) => h('option', { value: p.name, selected: p.name === wanted }, p.name)));
  const body = h('textarea', { id: 'tr-body', name: 'body', rows: '10', spellcheck: 'false', class: 'mono' }, '{}');
  const props = h('textarea', { id: 'tr-props', name: 'props', rows: '4', spellcheck: 'false', class: 'mono' }, '{}');
  const live = h('input', { type: 'checkbox', id: 'tr-live', name: 'live' });
  const samples = h('select', { id: 'tr-sample' });
  const sampleBtn = h('button', { type: 'button' }, 'Load sample');
  const run = h('button', { type: 'submit', class: 'primary', id: 'tr-run' }, 'Run');
  const result = h('section', { id: 'tr-result', 'aria-labelledby': 'tr-result-h' });
  let sampleDocs = [];

  // Samples: an empty object, and the documents of this process's newest
  // dead letters, which are often exactly what needs trying again.
  const loadSamples = async () => {
    sampleDocs = [{ label: 'Empty document {}', doc: { body: {}, props: {} } }];
    try {
      const dls = items(await get('/api/dead-letters' + qs({ process: select.value, limit: 5 })));
      for (const d of dls) sampleDocs.push({ label: `Dead letter ${d.id}: ${(d.error || '').slice(0, 60)}`, doc: d.doc || {} });
    } catch { /* samples are a convenience */ }
    replace(samples, sampleDocs.map((x, i) => h('option', { value: String(i) }, x.label)));
  };
  select.addEventListener('change', () => {
    history.replaceState(null, '', '#/test' + qs({ process: select.value }));
    loadSamples();
  });
  sampleBtn.addEventListener('click', () => {
    const x = sampleDocs[Number(samples.value)];
    if (!x) return;
    body.value = JSON.stringify(x.doc.body ?? {}, null, 2);
    props.value = JSON.stringify(x.doc.props ?? {}, null, 2);
  });

  const form = h('form', { class: 'test-form', novalidate: true },
    field('Process', select),
    h('div', { class: 'field sample' }, h('label', { for: 'tr-sample' }, 'Sample'), h('div', { class: 'row' }, samples, sampleBtn)),
    field('Document body (JSON)', body, SAMPLE_HINT),
    field('Properties (JSON object of strings)', props, 'Such as {"replayId": "42", "eventUuid": "…"}; the process sees them as props.'),
    h('div', { class: 'field check' }, live,
      h('label', { for: 'tr-live' }, h('strong', {}, 'Live: really send. '),
        'Off (the default), send steps are dry runs and nothing leaves the atom. On, sends reach their real targets. Either way nothing is committed and no position moves.')),
    h('div', { class: 'actions' }, run));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const doc = {};
    for (const [ta, key, check] of [[body, 'body', () => true], [props, 'props', isStringMap]]) {
      ta.removeAttribute('aria-invalid');
      let v;
      try {
        v = JSON.parse(ta.value.trim() || (key === 'props' ? '{}' : 'null'));
      } catch (err) {
        return invalid(ta, `${key === 'body' ? 'The body' : 'The properties'} are not valid JSON: ${err.message}`);
      }
      if (!check(v)) return invalid(ta, 'The properties must be a JSON object whose values are strings.');
      doc[key] = v;
    }
    run.disabled = true;
    run.setAttribute('aria-busy', 'true');
    replace(result, h('p', { class: 'loading' }, `Running ${select.value}…`));
    try {
      const [res, labels] = await Promise.all([
        post(`/api/processes/${enc(select.value)}/test${live.checked ? '?live=true' : ''}`, doc),
        stepLabels(select.value)]);
      showResult(res, live.checked, labels);
      toast(`Test run of ${select.value}: ${res.status}`, res.status === 'failed' ? 'error' : 'ok');
    } catch (err) {
      replace(result, h('h2', { id: 'tr-result-h' }, 'Result'), errorBox(err, 'The test run could not start'));
    } finally {
      run.disabled = false;
      run.removeAttribute('aria-busy');
    }
  });

  function invalid(ta, message) {
    ta.setAttribute('aria-invalid', 'true');
    replace(result, h('h2', { id: 'tr-result-h' }, 'Result'), errorBox({ message, code: 'bad_json' }));
    ta.focus();
  }

  function showResult(res, wasLive, labels) {
    replace(result,
      h('h2', { id: 'tr-result-h' }, 'Result ', badge(res.status)),
      dl([
        ['Mode', wasLive ? 'live: sends were made' : 'dry run: nothing was sent'],
        ['Duration', runDuration(res)],
        ['Execution', res.execution ? h('a', { href: '#/executions/' + enc(res.execution) }, res.execution) : null],
      ]),
      res.error ? errorBox({ message: res.error }, 'The run failed') : null,
      res.reply !== undefined && res.reply !== null ? h('div', {}, h('h3', {}, 'Reply'), pre(res.reply)) : null,
      (res.outputs || []).length ? h('details', {}, h('summary', {}, `Outputs (${res.outputs.length})`), pre(res.outputs)) : null,
      h('h3', {}, 'Steps'),
      renderTrace(res.trace, { open: true, labels }));
  }

  // Linked from a dead letter: start from its document.
  const fromDeadLetter = query.get('deadLetter');
  if (fromDeadLetter) {
    try {
      const d = await get('/api/dead-letters/' + enc(fromDeadLetter));
      body.value = JSON.stringify((d.doc && d.doc.body) ?? {}, null, 2);
      props.value = JSON.stringify((d.doc && d.doc.props) ?? {}, null, 2);
    } catch (err) {
      replace(result, errorBox(err, `Cannot load dead letter ${fromDeadLetter}`));
    }
  }

  replace(main,
    pageHead('Test run'),
    h('p', { class: 'lede' }, 'Run one document through a process and see what every step did.'),
    form, result);
  await loadSamples();
}

const isStringMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
