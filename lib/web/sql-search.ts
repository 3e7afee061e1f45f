// The dashboard's search in the SQL history: the ids of the tasks matching a filter, newest first.
// Without error text it is one query on the indexed columns. With error text, a plan whose cost
// follows the page, not the table, whatever the words:
//   1. the newest rows of the index the other filters narrow to (state, queue and state, type and
//      action, object id; else the table's newest rows) are checked word by word: a window of a
//      few thousand rows, where most searches fill their page in a few milliseconds;
//   2. if the window holds too few matches: on MySQL/MariaDB the FULLTEXT index, for the older rows,
//      under a time limit (it serves rare words; a common word runs out of time, and a window full
//      of the words says so beforehand);
//   3. else the walk goes on past the window until the page is full (on PostgreSQL its planner
//      picks between that walk and the trigram index).
import { Op } from 'sequelize';
import type { WhereOptions } from 'sequelize';
import type { AsyncTaskModel } from '../mirror/model';
import { errorCondition } from './error-text';
import { fulltextCondition, limitedSelect } from './fulltext';
import { PAGE_SIZE } from './filter';
import type { Filter } from './filter';

/** Rows of a narrowing index checked in step 1 (for one page; a later page checks more, up to 4×). */
export const WINDOW = 2000;
/** Rows of the table checked in step 1 when no other filter narrows (read in order: more of them). */
export const TABLE_WINDOW = 20000;
/** A window holding this many rows with the words tells that the FULLTEXT index would be slow. */
const COMMON = 200;

export interface Hit { id: number; queue: string }

const COLUMN: Record<Exclude<keyof Filter, 'error'>, string> = { state: 'state', queue: 'queue', type: 'object_type', action: 'action', objectId: 'object_id' };

function equalities(f: Filter): Record<string, string> {
  const w: Record<string, string> = {};
  for (const [k, c] of Object.entries(COLUMN)) { const v = f[k as keyof typeof COLUMN]; if (v !== undefined) w[c] = v; }
  return w;
}

/** The filters an index of the dashboard's migration walks in id order (empty: the primary key). */
function narrowing(f: Filter): (keyof typeof COLUMN)[] {
  if (f.objectId) return ['objectId'];
  if (f.type && f.action) return ['type', 'action'];
  if (f.queue && f.state) return ['queue', 'state'];
  if (f.state) return ['state'];
  return [];
}

type Raw = { id: number | string; queue: string } & Record<string, unknown>;
const hit = (r: Raw): Hit => ({ id: Number(r.id), queue: r.queue });

/** Up to `n + 1` matches after skipping `skip`, newest (highest id) first: one more than asked says whether there are more. */
export async function sqlHits(model: AsyncTaskModel, f: Filter, skip: number, n: number): Promise<Hit[]> {
  const base = equalities(f);
  const find = async (where: WhereOptions, limit: number, offset = 0) => (await model.findAll({
    attributes: ['id', 'queue'], where, order: [['id', 'DESC']], limit, offset, raw: true }) as unknown as Raw[]).map(hit);
  if (f.error === undefined) return find(base, n + 1, skip);

  const need = skip + n + 1;
  const exact = errorCondition(model, f.error);
  const keys = narrowing(f);
  const win = Object.fromEntries(keys.map((k) => [COLUMN[k], f[k] as string]));
  const size = Math.min(4, Math.ceil(need / (PAGE_SIZE + 1))) * (keys.length ? WINDOW : TABLE_WINDOW);
  // Step 1. The window's oldest row (an index-only read; none: the window holds every row), then
  // the rows of the window with the words; the other filters are checked here, so the count of
  // rows with the words tells how common they are.
  const edge = await model.findOne({ attributes: ['id'], where: win, order: [['id', 'DESC']], offset: size - 1, raw: true }) as Raw | null;
  const rest = Object.entries(base).filter(([c]) => !(c in win));
  const withWords = await model.findAll({ attributes: ['id', 'queue', ...rest.map(([c]) => c)], raw: true, order: [['id', 'DESC']],
    where: { [Op.and]: [win, edge ? { id: { [Op.gte]: edge.id } } : {}, exact] } as WhereOptions, ...(rest.length ? {} : { limit: need }) }) as unknown as Raw[];
  const first = withWords.filter((r) => rest.every(([c, v]) => r[c] === v)).map(hit);
  if (!edge || first.length >= need) return first.slice(skip, need);

  const older = (more: WhereOptions[]) => ({ [Op.and]: [base, { id: { [Op.lt]: edge.id } }, ...more, exact] }) as WhereOptions;
  const limit = need - Math.max(skip, first.length);
  const offset = Math.max(0, skip - first.length);
  // Step 2.
  const ft = withWords.length < COMMON ? await fulltextCondition(model, f.error) : null;
  if (ft) {
    const rows = await limitedSelect<Raw>(model, { attributes: ['id', 'queue'], where: older([ft]), order: [['id', 'DESC']], limit, offset });
    if (rows) return [...first.slice(skip), ...rows.map(hit)];
  }
  // Step 3.
  return [...first.slice(skip), ...await find(older([]), limit, offset)];
}
