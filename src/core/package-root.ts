/** Where the installed package is (the wasm module, the .proto files and package.json are found from there) and its version. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json is), found from this module's location in src/ or dist/src/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'assembly'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('kvmtax: cannot find the package root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

let versionCache: string | undefined;
/** kvmtax's version, from package.json (printed by --version and written into every report). */
export function version(): string {
  versionCache ??= (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return versionCache;
}
