// Child process of the benchmark: runs one library's worker on request (IPC), so that the
// "worker in a second process" cases pay no producer CPU in the worker's process. Started once
// per bench run by scripts/bench.ts (fork), it answers {cmd:'process'} with {ms} and exits on
// {cmd:'exit'} or when its parent goes away.
import { timeProcessing, LibName, Ctx } from './libs';

interface ProcessCmd { cmd: 'process'; lib: LibName; ctx: Ctx; concurrency: number; n: number }
type Cmd = ProcessCmd | { cmd: 'exit' };

process.on('message', async (m: Cmd) => {
  if (m.cmd === 'exit') process.exit(0);
  try {
    const ms = await timeProcessing(m.lib, m.ctx, m.concurrency, m.n);
    process.send!({ ok: true, ms });
  } catch (e) {
    process.send!({ ok: false, error: (e as Error).stack ?? String(e) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
