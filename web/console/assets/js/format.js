// Formatting of times, durations and numbers for people.

const nf = new Intl.NumberFormat();

/** num(1234) is "1,234" in the reader's locale. */
export const num = (n) => (n === undefined || n === null ? '–' : nf.format(n));

/** duration(ns) reads a Go time.Duration (nanoseconds) as "12 ms". */
export function duration(ns) {
  if (ns === undefined || ns === null || Number.isNaN(ns)) return '–';
  const ms = ns / 1e6;
  if (ms < 1) return `${Math.max(0, Math.round(ns / 1e3))} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  const sec = ms / 1000;
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 2 : 1)} s`;
  return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
}

/** runDuration takes an object with durationMs or duration (ns). */
export function runDuration(o) {
  if (!o) return '–';
  if (typeof o.durationMs === 'number') return duration(o.durationMs * 1e6);
  return duration(o.duration);
}

/** ago(iso) is "5 s ago"; "" for a missing or zero time. */
export function ago(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!iso || Number.isNaN(t) || t <= 0) return '';
  const sec = Math.round((now - t) / 1000);
  if (sec < 2) return 'just now';
  if (sec < 60) return `${sec} s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)} h ago`;
  return `${Math.floor(sec / 86400)} d ago`;
}

/** when(iso) is a local date and time. */
export function when(iso) {
  const t = Date.parse(iso);
  if (!iso || Number.isNaN(t) || t <= 0) return '';
  return new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
