// CSRF protection without a session: a signed double-submit token. The token (a random nonce and
// its HMAC under the dashboard's secret) is set as a cookie and repeated in a hidden field of
// every form; a POST must carry both, equal, with a valid signature, and come from our own origin
// (Origin, else Referer, names this host). A forged cross-site form can make the browser send the
// cookie but cannot read it to fill the field, and cannot sign a token of its own.
import { createHmac, randomBytes, timingSafeEqual } from 'crypto';
import type { IncomingMessage } from 'http';

export const COOKIE = 'sa_csrf';
export const FIELD = '_csrf';

export class Csrf {
  private readonly secret: Buffer;

  /** `secret`: from the options (stable across restarts and processes), else random per process. */
  constructor(secret?: string | Buffer, private readonly trustedOrigins: string[] = []) {
    if (secret !== undefined && (typeof secret === 'string' || Buffer.isBuffer(secret)) && secret.length < 16) {
      throw new TypeError('dashboard: secret must be at least 16 characters');
    }
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  }

  /** HMAC of a text under the secret (also signs the flash message of a redirect). */
  sign(nonce: string): string {
    return createHmac('sha256', this.secret).update(nonce).digest('base64url');
  }

  issue(): string {
    const nonce = randomBytes(18).toString('base64url');
    return `${nonce}.${this.sign(nonce)}`;
  }

  valid(token: string | undefined): boolean {
    if (!token) return false;
    const [nonce, mac, extra] = token.split('.');
    if (!nonce || !mac || extra !== undefined) return false;
    const want = Buffer.from(this.sign(nonce));
    const got = Buffer.from(mac);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** The cookie's token when it is one of ours, else a new one (to set). */
  tokenFor(req: IncomingMessage): { token: string; fresh: boolean } {
    const have = cookies(req)[COOKIE];
    return this.valid(have) ? { token: have, fresh: false } : { token: this.issue(), fresh: true };
  }

  /** Why a state-changing request is refused, or null when it may go on. */
  refuse(req: IncomingMessage, field: string | undefined): string | null {
    const origin = sameOrigin(req, this.trustedOrigins);
    if (origin !== null) return origin;
    const cookie = cookies(req)[COOKIE];
    if (!cookie || !field) return 'the CSRF token is missing (reload the page and try again)';
    if (cookie.length !== field.length || !timingSafeEqual(Buffer.from(cookie), Buffer.from(field)) || !this.valid(field)) {
      return 'the CSRF token is wrong (reload the page and try again)';
    }
    return null;
  }
}

export function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (k && !(k in out)) {
      try { out[k] = decodeURIComponent(part.slice(i + 1).trim()); } catch { /* malformed: ignored */ }
    }
  }
  return out;
}

/** null when Origin (else Referer) is this host or a trusted origin; else why not. */
function sameOrigin(req: IncomingMessage, trusted: string[]): string | null {
  const host = req.headers['x-forwarded-host'] ?? req.headers.host;
  const origin = req.headers.origin;
  let from: string | undefined;
  if (origin && origin !== 'null') from = origin;
  else if (req.headers.referer) from = req.headers.referer;
  if (!from) return 'the request has neither an Origin nor a Referer header, so it cannot be told from a cross-site one';
  let url: URL;
  try { url = new URL(from); } catch { return `the request's origin (${from}) is not a URL`; }
  if (trusted.includes(url.origin)) return null;
  if (typeof host === 'string' && url.host === host.split(',')[0].trim()) return null;
  return `the request comes from another origin (${url.origin}, not ${String(host)})`;
}
