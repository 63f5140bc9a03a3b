// The version the daemon reports: package.json's, read once.
import { readFileSync } from 'node:fs';

let cached: string | null = null;

export function otusVersion(): string {
  if (cached === null) {
    try {
      // dist/src/daemon/version.js -> package.json at the project root
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
      cached = pkg.version ?? 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
