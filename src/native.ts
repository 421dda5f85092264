// Loads the compiled addon (build/Release/crossgate_native.node) and declares the raw Native* types.
// Everything above this file talks to the typed wrappers in src/tokenize and src/index, never to this.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest folder above this file that holds CMakeLists.txt. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'CMakeLists.txt')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('crossgate: cannot find the package root (CMakeLists.txt) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let cached: any;

/** The raw addon exports. Throws a message that says how to build it when it is missing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadNative(): any {
  if (cached) return cached;
  const root = packageRoot();
  const candidates = [join(root, 'build', 'Release', 'crossgate_native.node'), join(root, 'build', 'Debug', 'crossgate_native.node')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`crossgate: the native addon is not built (looked for ${candidates[0]}); run \`npm run build:native\``);
  }
  cached = createRequire(import.meta.url)(found);
  return cached;
}
