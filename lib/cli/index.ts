// The command line behind scripts/async.js (the seed's script/async): parse.ts checks argv,
// commands.ts runs the command. Errors are printed without a stack, naming what was wrong
// (Redis unreachable, the database, a mistyped flag), and the exit code says it failed.
import { parse, usage, commandHelp, CliError, COMMANDS, SUPERVISE, RECOVER, EXIT_FAILURE, Invocation } from './parse';
import { dispatch } from './commands';
import { explain } from './app';

export { parse, usage, commandHelp, CliError, EXIT_FAILURE };
export { EXIT_USAGE, EXIT_MEMORY } from './parse';
export { loadApp, appPath } from './app';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

/** Runs one command line; resolves with the exit code (errors are printed, not thrown). */
export async function main(argv: string[]): Promise<number> {
  let inv: Invocation | undefined;
  try {
    inv = parse(argv);
    if (inv.opts.help && inv.command !== SUPERVISE && inv.command !== RECOVER) {
      out(inv.command === 'help' || (inv.command === 'run' && !argv.includes('run')) ? usage() : commandHelp(inv.command));
      return 0;
    }
    return await dispatch(inv, argv);
  } catch (raw) {
    const e = explain(raw);
    if (e instanceof CliError) {
      process.stderr.write(`async: ${e.message}\n`);
      if (e.usageOf !== undefined) process.stderr.write(`\n${e.usageOf && e.usageOf in COMMANDS ? commandHelp(e.usageOf) : usage()}`);
      return e.code;
    }
    process.stderr.write(`async: ${(e as Error)?.message ?? String(e)}\n`);
    if (process.env.ASYNC_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return EXIT_FAILURE;
  }
}

/** Entry point of launchers (scripts/async.js): runs argv and exits with its code. */
export function cli(argv: string[] = process.argv.slice(2)): void {
  main(argv).then((code) => process.exit(code), (e) => { process.stderr.write(`async: ${(e as Error)?.stack ?? String(e)}\n`); process.exit(EXIT_FAILURE); });
}
