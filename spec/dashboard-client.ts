// A small HTTP client for the dashboard specs: GET and POST with the dashboard's CSRF cookie.
export interface Reply { status: number; text: string; headers: Headers; location: string | null }

export class Client {
  cookie = '';
  token = '';

  constructor(readonly url: string, private readonly origin = url.replace(/^(https?:\/\/[^/]+).*$/, '$1')) {}

  async get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    const r = await fetch(this.url + path, { redirect: 'manual', headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...headers } });
    const set = r.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0];
    const text = await r.text();
    const m = /name="_csrf" value="([^"]+)"/.exec(text);
    if (m) this.token = m[1];
    return { status: r.status, text, headers: r.headers, location: r.headers.get('location') };
  }

  /** A form POST; `opts.token` null leaves the field out, `opts.origin` null sends no Origin. */
  async post(path: string, fields: Record<string, string> = {}, opts: { token?: string | null; origin?: string | null; cookie?: string } = {}): Promise<Reply> {
    const body = new URLSearchParams(fields);
    const token = opts.token === undefined ? this.token : opts.token;
    if (token !== null) body.set('_csrf', token);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const cookie = opts.cookie ?? this.cookie;
    if (cookie) headers.cookie = cookie;
    const origin = opts.origin === undefined ? this.origin : opts.origin;
    if (origin !== null) headers.origin = origin;
    const r = await fetch(this.url + path, { method: 'POST', body, headers, redirect: 'manual' });
    return { status: r.status, text: await r.text(), headers: r.headers, location: r.headers.get('location') };
  }
}

/** The text of a page without tags (what a user reads). */
export const visible = (html: string) => html.replace(/<[^>]*>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');
