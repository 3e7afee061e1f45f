// The error-text filter, the same on every path (MySQL/MariaDB, PostgreSQL, Redis): a task matches
// when each word of the search starts a word of its last error message, in any order, ignoring
// case ("reset peer" finds "connection reset by peer", "econn" finds "ECONNRESET", "Deadlock" finds
// "deadlock found"). A word is a run of letters, digits and _, as MySQL's FULLTEXT index cuts
// them, so the index can narrow a search without changing what it finds; a search word that
// begins with another character ("(429)", ":5432") is found anywhere.
// Here: the exact check for SQL (a regular expression per word) and for JS. The FULLTEXT index
// that may narrow the rows first on MySQL/MariaDB: lib/web/fulltext.ts; PostgreSQL's trigram index
// (20261204000000-error-text-search.js) serves the regular expression itself.
import { Op, literal } from 'sequelize';
import type { WhereOptions } from 'sequelize';
import type { AsyncTaskModel } from '../mirror/model';

const WORD_CHAR = /^[\p{L}\p{N}_]$/u;

export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

export const isWordChar = (c: string | undefined) => c !== undefined && WORD_CHAR.test(c);
/** The character before position i of s (a whole code point). */
function before(s: string, i: number): string | undefined {
  if (i === 0) return undefined;
  const lo = s.charCodeAt(i - 1);
  return lo >= 0xdc00 && lo <= 0xdfff && i >= 2 ? s.slice(i - 2, i) : s[i - 1];
}

/** Whether `word` (lowercase) starts a word of `message` (lowercase), or occurs in it at all when it begins with punctuation. */
function found(message: string, word: string): boolean {
  const bounded = isWordChar(String.fromCodePoint(word.codePointAt(0)!));
  for (let i = message.indexOf(word); i !== -1; i = message.indexOf(word, i + 1)) {
    if (!bounded || !isWordChar(before(message, i))) return true;
  }
  return false;
}

/** The filter on an error message as read from Redis (the SQL conditions below say the same). */
export function errorMatches(message: string | null | undefined, text: string): boolean {
  if (message === null || message === undefined) return false;
  const m = message.toLowerCase();
  return words(text).every((w) => found(m, w.toLowerCase()));
}

// Every ASCII punctuation character escaped: a backslash before one is that character itself in
// PCRE (MariaDB), ICU (MySQL 8) and PostgreSQL's regular expressions alike.
const escapeRe = (w: string) => w.replace(/[!-/:-@[-`{-~]/g, (c) => `\\${c}`);

/** The exact check of one word as a regular expression (without the case flag). */
function wordPattern(w: string, wordClass: string): string {
  const start = isWordChar(String.fromCodePoint(w.codePointAt(0)!)) ? `(^|[^${wordClass}])` : '';
  return start + escapeRe(w);
}

export const isMysql = (d: string) => d === 'mysql' || d === 'mariadb';

/** The exact SQL condition of the filter (every word, ignoring case). */
export function errorCondition(model: AsyncTaskModel, text: string): WhereOptions {
  const dialect = model.sequelize!.getDialect();
  const ws = words(text);
  let parts: WhereOptions[];
  if (isMysql(dialect)) {
    // (?i): a table not migrated yet keeps error_message's binary collation, under which REGEXP heeds case.
    parts = ws.map((w) => ({ error_message: { [Op.regexp]: `(?i)${wordPattern(w, '\\p{L}\\p{N}_')}` } }));
  } else if (dialect === 'postgres') {
    parts = ws.map((w) => ({ error_message: { [Op.iRegexp]: wordPattern(w, '[:alnum:]_') } }));
  } else {
    // No regular expressions (SQLite): the word anywhere in the message, ignoring ASCII case.
    const esc = (w: string) => model.sequelize!.escape(`%${w.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    parts = ws.map((w) => literal(`LOWER(error_message) LIKE ${esc(w)} ESCAPE '\\'`) as unknown as WhereOptions);
  }
  return { [Op.and]: parts } as WhereOptions;
}

/**
 * The words as the Redis search script pre-checks them in the stored error, whose msgpack holds
 * the message's bytes as they are (ASCII letters lowered; a word with other letters is left to
 * errorMatches).
 */
export function asciiWords(text: string): string[] {
  return words(text).filter((w) => /^[\x20-\x7e]+$/.test(w)).map((w) => w.toLowerCase());
}
