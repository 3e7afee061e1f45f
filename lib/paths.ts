// Where the package's own files are (Lua scripts, migrations, the dashboard's assets, templates).
// Found by walking up from this file to the package root, so it holds wherever the code runs
// from: lib/ under tsx, dist/lib/ in the build, node_modules/sequelize-async/dist/lib/ in an app,
// or a bundle of the specs.
import { existsSync, readFileSync } from 'fs';
import { dirname, join } from 'path';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try { if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sequelize-async') return dir; } catch { /* not ours */ }
    }
    if (dirname(dir) === dir) throw new Error(`sequelize-async: cannot find its package root above ${from}`);
  }
}

export const PACKAGE_ROOT = findRoot(__dirname);
/** A path inside the package. */
export const packagePath = (...parts: string[]) => join(PACKAGE_ROOT, ...parts);
