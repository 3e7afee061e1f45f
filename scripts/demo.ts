// `npm run demo`: the whole flow in one process with no servers: an Order model on SQLite in
// memory (or MySQL when DATABASE_URL is set), the queue on the in-process Redis ('mock'),
// a worker, a stored result and a stored exception.
import { Sequelize, DataTypes, Model } from 'sequelize';
import { setup } from '../lib';

class Order extends Model {
  declare id: number;
  declare email: string;
  declare total: number;

  async sendConfirmationEmail(greeting: string) {
    await new Promise((r) => setTimeout(r, 50)); // the slow mail server
    return { to: this.email, subject: `${greeting}, your order #${this.id} of ${this.total} EUR is confirmed` };
  }

  async chargeCreditCard(euro: number, cents: number) {
    if (euro > 100) throw Object.assign(new RangeError(`card limit exceeded: ${euro}.${cents} EUR`), { code: 'E_LIMIT' });
    return `charged ${euro}.${String(cents).padStart(2, '0')} EUR`;
  }
}

class Newsletter {
  static deliverAll(list: string[]) { return `delivered to ${list.length} subscribers`; }
}

async function main() {
  const url = process.env.DATABASE_URL;
  const sequelize = url ? new Sequelize(url, { logging: false }) : new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
  Order.init({ email: DataTypes.STRING, total: DataTypes.INTEGER }, { sequelize, tableName: `demo_orders_${process.pid}` });
  await Order.sync();

  const queue = setup({ sequelize, redis: 'mock' });
  if (queue.migrate) await queue.migrate();
  const News = queue.register(Newsletter);
  const say = (s: string) => console.log(s);
  say(`database: ${url ? 'MySQL (DATABASE_URL)' : 'SQLite in memory'}, Redis: in-process (ioredis-mock)\n`);

  const order = await Order.create({ email: 'ann@example.com', total: 42 });
  const t0 = performance.now();
  const mail = await order.async('sendConfirmationEmail', { args: ['Hello'] });
  say(`order.async('sendConfirmationEmail') returned in ${(performance.now() - t0).toFixed(1)} ms without waiting for the mail server (the in-process Redis runs Lua slowly; on a local Redis an enqueue takes about a millisecond): task ${mail.id}, state ${mail.state}`);
  const card = await order.async('chargeCreditCard', { args: [129, 90], priority: 12 });
  const later = await order.schedule(Date.now() + 300, 'chargeCreditCard', { args: [29, 90] });
  const news = await News.async('deliverAll', { args: [['a@x', 'b@x']] });
  say(`queued: chargeCreditCard (priority 12), a scheduled charge in 300 ms (priority ${later.priority}), Newsletter.deliverAll\n`);

  const worker = queue.worker();
  worker.on('task', (e) => say(`worker: ${e.success ? 'SUCCESS' : 'FAILURE'} ${e.id} ${e.objectType}${e.objectId ? `(${e.objectId})` : ''}#${e.action} ${e.durationMs.toFixed(1)} ms${e.error ? ` ${e.error.name}: ${e.error.message}` : ''}`));
  worker.on('error', (e) => console.error('worker error:', e));
  await worker.start();
  for (const t of [mail, card, news, later]) await t.wait({ timeout: 10000 });

  say('');
  say(`task ${mail.id}: success=${mail.success} result=${JSON.stringify(mail.result)}`);
  const err = card.result as Error & { code?: string; backtrace: string[] };
  say(`task ${card.id}: success=${card.success} result=${err.name}: ${err.message} (code ${err.code})`);
  say(`  backtrace: ${err.backtrace.slice(0, 2).join(' | ')}`);
  say(`task ${news.id}: ${JSON.stringify(news.result)}`);
  say(`task ${later.id}: scheduled for ${later.scheduledAt.toISOString()}, started ${later.startedAt!.getTime() - later.scheduledAt.getTime()} ms after, result ${JSON.stringify(later.result)}`);
  if (queue.AsyncTask) {
    // Let the mirror write the history rows (what waits for it: mirrorLag).
    for (let i = 0; i < 100 && (await queue.stats()).default?.mirrorLag.events; i++) await new Promise((r) => setTimeout(r, 50));
    const failed = await queue.AsyncTask.findAll({ where: { success: false } });
    say(`\nAsyncTask.findAll({ where: { success: false } }) -> ${failed.map((r) => `#${r.get('id')} ${r.get('object_type')}#${r.get('action')} ${r.get('error_name')}`).join(', ')}`);
  }
  await worker.stop();
  await queue.close();
  await Order.drop();
  await sequelize.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
