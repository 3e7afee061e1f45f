// Task hash values come back from Redis as Buffers (binary replies) or strings (ioredis-mock,
// plain replies); these read them as the plain types they stand for.
export type HashValue = Buffer | string;
export type RawHash = Record<string, HashValue>;

export const str = (v: HashValue | undefined): string | undefined => (v === undefined ? undefined : v.toString());
/** A stored time (ms since 1970) as a Date; null when absent or empty. */
export const date = (v: HashValue | undefined): Date | null => (v === undefined || v === '' ? null : new Date(Number(v.toString())));
/** A stored binary value as a Buffer (ioredis-mock hands some back as latin1 strings). */
export const buf = (v: HashValue): Buffer => (typeof v === 'string' ? Buffer.from(v, 'binary') : v);
