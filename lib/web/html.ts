// The escaping template helper: every value interpolated into `html\`...\`` is escaped unless it
// is itself the result of `html` (or `raw`, for markup we wrote). Task values (args, results,
// error messages, type names) come from users: escaping by default is what keeps a task whose
// args hold `<script>` showing as text.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Markup that is already safe (built by `html` or written by us). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string { return this.value; }
}

export function escape(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

type Value = Html | string | number | boolean | null | undefined | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escape(v);
}

/** Tagged template: interpolations are escaped; arrays are joined; null/undefined/false render nothing. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Markup we wrote ourselves (never a task value). */
export function raw(s: string): Html {
  return new Html(s);
}

/** A query string from parameters, empty values left out ('' when none). */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A value as readable text: JSON for data, the message for an Error. */
export function show(v: unknown): string {
  if (v === undefined) return '';
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (Buffer.isBuffer(v)) return `<Buffer ${v.length} bytes>`;
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x), 2) ?? String(v);
  } catch { return String(v); }
}

/** A date as ISO text, or '' when unset. */
export function when(d: Date | number | null | undefined): string {
  if (d === null || d === undefined) return '';
  const t = typeof d === 'number' ? d : d.getTime();
  return Number.isFinite(t) ? new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
}

/** A duration in ms as short text (850 ms, 12 s, 3 min, 5 h, 2 d). */
export function age(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 120000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3600000) return `${Math.round(ms / 60000)} min`;
  if (ms < 86400000) return `${Math.round(ms / 3600000)} h`;
  return `${Math.round(ms / 86400000)} d`;
}
