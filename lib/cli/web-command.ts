// `web`: the dashboard (lib/web) served on its own, until SIGTERM/SIGINT.
import type { Queue } from '../queue';
import { serveDashboard } from '../web/serve';

export async function webCommand(q: Queue, o: { port?: number; host?: string; readOnly: boolean }, say: (s: string) => void): Promise<number> {
  const served = await serveDashboard(q, { port: o.port, host: o.host, readOnly: o.readOnly });
  say(`dashboard of prefix ${q.prefix} at ${served.url}${o.readOnly ? ' (read-only)' : ''}; SIGTERM/SIGINT stops`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => { say(`${sig}: stopping the dashboard`); resolve(); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await served.close();
  return 0;
}
