// Shared by the dashboard specs: a mirrored queue on real Redis and MariaDB with tasks of every
// kind (succeeded, failed with a backtrace, a task whose args hold <script>, scheduled, queued),
// a worker running them, and the dashboard served on a free loopback port.
import type { Sequelize } from 'sequelize';
import { setup, Queue, Worker } from '../lib';
import { serveDashboard, Served } from '../lib/web/serve';
import type { DashboardOptions } from '../lib/web/dashboard';
import { redisClient, uniquePrefix, dropPrefix, DATABASES, until, REDIS_URL } from './helpers';

export const XSS = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>';

/** `Mailer.flaky` fails until `healed` is set: a failed task that succeeds once retried. */
export const Mailer = {
  name: 'Mailer',
  healed: false,
  send(to: string) { return { sent: to }; },
  boom(msg: string) { const e = new Error(msg); e.name = 'SmtpError'; throw e; },
  nap(ms: number) { return new Promise((r) => setTimeout(r, ms)); },
  flaky(to: string) {
    if (!Mailer.healed) { const e = new Error(`mail server refused ${to}`); e.name = 'SmtpError'; throw e; }
    return { sent: to, retried: true };
  },
};

export interface Env {
  seq: Sequelize;
  queue: Queue;
  worker: Worker;
  served: Served;
  url: string;
  prefix: string;
  /** Serves another dashboard of the same queue (options of its own); closed by close(). */
  serve(opts: Omit<DashboardOptions, 'base'>): Promise<string>;
  /** Waits until every queue's mirror has caught up. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startEnv(db: string, tag: string, dialect: 'mysql' | 'postgres' = 'mysql'): Promise<Env> {
  Mailer.healed = false;
  const seq = await DATABASES.find((d) => d.dialect === dialect)!.open(db, {});
  await seq.query('DROP TABLE IF EXISTS async_tasks');
  const prefix = uniquePrefix(tag);
  const queue = setup({ sequelize: seq, redis: REDIS_URL, prefix });
  queue.register(Mailer);
  // Runs every shipped migration, the dashboard's indexes among them.
  await queue.migrate();
  const worker = queue.worker({ concurrency: 2, queues: ['default', 'mail'] });
  await worker.start();
  const served = await serveDashboard(queue, { port: 0 });
  const extra: Served[] = [];
  const settled = async () => {
    await until(async () => {
      const s = await queue.stats();
      return Object.values(s).every((q) => q.mirrorLag.events === 0 && q.running === 0 && q.queued === 0);
    }, 15000, 'the worker and the mirror to catch up');
  };
  return {
    seq, queue, worker, served, url: served.url.replace(/\/$/, ''), prefix, settled,
    async serve(opts) {
      const s = await serveDashboard(queue, { port: 0, ...opts });
      extra.push(s);
      return s.url.replace(/\/$/, '');
    },
    async close() {
      for (const s of extra) await s.close();
      await served.close();
      await queue.close();
      const r = redisClient();
      await dropPrefix(r, prefix);
      r.disconnect();
      await seq.close();
    },
  };
}

/** Tasks of every kind; waits until they ran and are mirrored. Returns their ids. */
export async function seed(env: Env) {
  const q = env.queue;
  const ok = await q.async(Mailer, 'send', { args: ['ann@example.com'] });
  const failed = await q.async(Mailer, 'boom', { args: ['connection reset by peer'], queue: 'mail' });
  const flaky = await q.async(Mailer, 'flaky', { args: ['bob@example.com'], queue: 'mail' });
  const xss = await q.async(Mailer, 'send', { args: [XSS] });
  const later = await q.schedule(Mailer, Date.now() + 3600000, 'send', { args: ['later@example.com'] });
  await env.settled();
  return { ok: ok.id, failed: failed.id, flaky: flaky.id, xss: xss.id, later: later.id };
}
