// The error-text filter: a task matches when every word of the search appears in its error
// message ("reset peer" finds "connection reset by peer"). On MySQL/MariaDB a FULLTEXT index on
// error_message (the dashboard's migration) narrows the rows first, so the search does not read
// every failed task; the exact check is a LIKE per word on what is left. Without that index (or on
// another dialect) it is the LIKE alone.
import { Op, literal } from 'sequelize';
import type { WhereOptions } from 'sequelize';
import type { AsyncTaskModel } from '../mirror/model';

export const FULLTEXT_INDEX = 'async_tasks_error_message_ft';

// InnoDB's default full-text stopwords and shortest indexed word (innodb_ft_min_token_size = 3):
// such words are not in the index, so they are only checked by the LIKE.
const STOPWORDS = new Set(('a about an are as at be by com de en for from how i in is it la of on or that the this to was what when where who will with und www').split(' '));
const MIN_TOKEN = 3;

export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

const like = (w: string) => `%${w.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Words the full-text index can look up: letters and digits only, long enough, not stopwords. */
function indexable(w: string): boolean {
  return w.length >= MIN_TOKEN && /^[\p{L}\p{N}_]+$/u.test(w) && !STOPWORDS.has(w.toLowerCase());
}

const known = new WeakMap<AsyncTaskModel, Promise<boolean>>();

/** Whether the table has the FULLTEXT index (looked up once per model). */
export function hasFulltext(model: AsyncTaskModel): Promise<boolean> {
  let p = known.get(model);
  if (!p) {
    const dialect = model.sequelize!.getDialect();
    p = dialect !== 'mysql' && dialect !== 'mariadb' ? Promise.resolve(false)
      : (model.sequelize!.getQueryInterface().showIndex(model.getTableName() as string) as Promise<{ name: string }[]>)
        .then((ix) => ix.some((i) => i.name === FULLTEXT_INDEX || i.name === `${String(model.getTableName())}_error_message_ft`), () => false);
    known.set(model, p);
  }
  return p;
}

/** The SQL condition of the filter. */
export function errorCondition(model: AsyncTaskModel, text: string, fulltext: boolean): WhereOptions {
  const ws = words(text);
  const parts: WhereOptions[] = ws.map((w) => ({ error_message: { [Op.like]: like(w) } }));
  // A word in the message is a word start in the index: `word*` (a prefix search), every one required.
  const terms = fulltext ? ws.filter(indexable).map((w) => `+${w}*`) : [];
  if (terms.length) parts.unshift(literal(`MATCH(error_message) AGAINST(${model.sequelize!.escape(terms.join(' '))} IN BOOLEAN MODE)`) as unknown as WhereOptions);
  return { [Op.and]: parts } as WhereOptions;
}

/** The same filter on a task's errors as read from Redis. */
export function errorMatches(messages: string[], text: string): boolean {
  const ws = words(text);
  return messages.some((m) => ws.every((w) => m.includes(w)));
}
