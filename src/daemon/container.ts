// Whether the daemon runs in a container, where the runtime collects stdout
// and a log file inside the container's filesystem would be lost anyway.
import { existsSync } from 'node:fs';

export function inContainer(env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = existsSync): boolean {
  return Boolean(env['KUBERNETES_SERVICE_HOST']) || exists('/.dockerenv') || exists('/run/.containerenv') || env['container'] !== undefined;
}
