// The dashboard's static files: its own CSS and JS (lib/web/assets, shipped in the package) and
// uPlot's, served from the installed uplot package. No CDN, no build step: works offline.
import { readFileSync, existsSync } from 'fs';
import { dirname, join } from 'path';
import type { ServerResponse } from 'http';
import { packagePath } from '../paths';

// The compiled build runs from dist/lib/web; the assets stay in lib/web/assets.
const OWN_DIR = packagePath('lib', 'web', 'assets');
const UPLOT_DIR = dirname(require.resolve('uplot'));

const FILES: Record<string, { path: string; type: string }> = {
  'dashboard.js': { path: join(OWN_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { path: join(OWN_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { path: join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

/** Sends an asset; false when there is no such asset. */
export function sendAsset(res: ServerResponse, name: string): boolean {
  const f = Object.prototype.hasOwnProperty.call(FILES, name) ? FILES[name] : undefined;
  if (!f) return false;
  let body = cache.get(name);
  if (!body) { body = readFileSync(f.path); cache.set(name, body); }
  res.statusCode = 200;
  res.setHeader('Content-Type', f.type);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'public, max-age=300');
  res.end(body);
  return true;
}
