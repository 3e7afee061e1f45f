// Profiling aid (not part of `npm run bench`): per job, where the time of a processing case goes —
// wall time, Redis server time (INFO commandstats, summed), this process's CPU, and commands per
// job. Use a Redis of your own so nobody else's commands are counted:
//   npx tsx scripts/bench/decompose.ts --redis redis://127.0.0.1:6391/3 --c 1 --n 10000 [--lib /tmp/libcopy] [--libs ours,bullmq] [--metrics off]
import Redis from 'ioredis';
import { Session } from 'inspector';
import { writeFileSync } from 'fs';
import minimist from 'minimist';
import { buildOurs, ADAPTERS, LIBS, LibName, Ctx, timeProcessing, benchSequelize, closeSequelizes } from './libs';

const argv = minimist(process.argv.slice(2), { string: ['redis', 'lib', 'libs'] });
if (!argv.lib) buildOurs(); // (ours runs from dist/lib, as shipped)
const url = argv.redis ?? 'redis://127.0.0.1:6391/3';
const N = Number(argv.n ?? 10000);
const C = Number(argv.c ?? 1);
const libs = (argv.libs ? String(argv.libs).split(',') : LIBS) as LibName[];
const R = Number(argv.runs ?? 1);

async function stats(admin: Redis) {
  const s = await admin.info('commandstats');
  let usec = 0, calls = 0;
  const per: Record<string, string> = {};
  for (const m of s.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
    if (/^(info|flushdb|config)/.test(m[1])) continue;
    usec += Number(m[3]); calls += Number(m[2]); per[m[1]] = `${m[2]} calls, ${(Number(m[3]) / N).toFixed(2)} µs/job`;
  }
  return { usec, calls, per };
}

(async () => {
  const admin = new Redis(url);
  let k = 0;
  for (let r = 0; r < R; r++) for (const lib of libs) {
    await admin.flushdb();
    const ctx: Ctx = { redisUrl: url, prefix: `dc${process.pid}x${++k}`, queue: 'bench', libPath: argv.lib };
    // --mirror on | noloop (scripts fill the outbox, the worker runs no mirror loop) | off
    if (argv.mirror) { ctx.mirror = argv.mirror !== 'off'; if (argv.mirror === 'noloop') ctx.workerMirror = false; }
    if (argv.metrics !== undefined) ctx.metrics = argv.metrics !== 'off'; // --metrics off: setup's metrics: false
    const mode = argv.mode ?? 'process';
    const p = await ADAPTERS[lib].producer(ctx);
    if (ctx.mirror) { const q = (p as unknown as { q: { migrate(): Promise<void> } }).q; await q.migrate(); await (await benchSequelize(ctx)).query('TRUNCATE TABLE async_tasks'); }
    if (mode === 'process') { await p.bulk(N, 1000); await p.close(); } else await p.bulk(100, 100);
    await admin.config('RESETSTAT');
    const rcpu = async () => { const i = await admin.info('cpu'); return Number(/used_cpu_user:([\d.]+)/.exec(i)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(i)![1]); };
    const rcpu0 = await rcpu();
    // MariaDB's own CPU (the mirror's upserts), when it runs on this machine.
    const dbPid = (() => { try { return require('child_process').execSync('pidof mariadbd mysqld', { encoding: 'utf8' }).trim().split(/\s+/)[0]; } catch { return ''; } })();
    const dbCpu = () => { try { const f = require('fs').readFileSync(`/proc/${dbPid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; } catch { return NaN; } };
    const dcpu0 = dbCpu();
    const prof = argv.prof ? new Session() : null;
    const post = (m: string, params?: object) => new Promise<any>((res, rej) => prof!.post(m, params ?? {}, (e, v) => (e ? rej(e) : res(v))));
    if (prof) { prof.connect(); await post('Profiler.enable'); await post('Profiler.setSamplingInterval', { interval: 100 }); await post('Profiler.start'); }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    if (mode === 'one') await p.oneByOne(N, 100);
    else if (mode === 'bulk') await p.bulk(N, 1000);
    else if (mode === 'unique') await p.oneByOneKeyed(N, 100, (i) => `k${i}`); // as 'one', a distinct unique key each
    const ms = mode === 'process' ? await timeProcessing(lib, ctx, C, N) : performance.now() - t0;
    if (mode !== 'process') await p.close();
    const cpu = process.cpuUsage(cpu0);
    if (prof) { const { profile } = await post('Profiler.stop'); writeFileSync(`${argv.prof}-${lib}.cpuprofile`, JSON.stringify(profile)); prof.disconnect(); }
    const redisCpu = (await rcpu()) - rcpu0;
    const mariaCpu = dbCpu() - dcpu0;
    const st = await stats(admin);
    const evals = [...(await admin.info('commandstats')).matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    const scriptUsec = /cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await admin.info('commandstats'))?.[1];
    if (argv.per) console.log(st.per);
    console.log(`${lib.padEnd(7)} ${mode === 'process' ? `c=${C}` : mode} ${(N / ms * 1000).toFixed(0).padStart(6)} jobs/s | per job: wall ${(ms * 1000 / N).toFixed(0)} µs, redis cpu ${(redisCpu * 1e6 / N).toFixed(0)} µs (commandstats ${(st.usec / N).toFixed(0)}, in scripts ${(Number(scriptUsec ?? 0) / N).toFixed(1)}), node cpu ${((cpu.user + cpu.system) / N).toFixed(0)} µs,${ctx.mirror ? ` mariadb cpu ${(mariaCpu * 1e6 / N).toFixed(0)} µs,` : ''} commands ${(st.calls / N).toFixed(2)} (scripts ${(evals / N).toFixed(2)})`);
  }
  await admin.quit();
  await closeSequelizes();
})();
