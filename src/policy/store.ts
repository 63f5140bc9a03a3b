// The policy state that survives restarts: the rule set, the default action
// and the attachments, in one JSON file under <data_dir>/policy/, written to a
// temporary file and renamed so that a crash never leaves half a file.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { configErrorFrom } from '../config/zod-errors.ts';
import { OtusError } from '../core/errors.ts';

export const persistedSchema = z.strictObject({
  version: z.literal(1),
  default_action: z.enum(['allow', 'deny', 'log']),
  rules: z.array(z.unknown()),
  attachments: z.array(
    z.strictObject({
      interface: z.string().min(1),
      direction: z.enum(['ingress', 'egress']),
      /**
       * Set when Otus created the interface's clsact qdisc: its ifindex then.
       * A run that died without detaching leaves the qdisc behind; the next
       * run finds it there and, by this mark on the same interface, knows it
       * is its own to remove once it detaches.
       */
      qdisc_created_ifindex: z.number().int().positive().optional(),
    }),
  ),
});
export type PersistedPolicy = z.output<typeof persistedSchema>;

export const EMPTY_POLICY: PersistedPolicy = { version: 1, default_action: 'allow', rules: [], attachments: [] };

export class PolicyStore {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'policy', 'policy.json');
  }

  /** The saved state, or null when there is none yet. A damaged file is an error naming it. */
  async load(): Promise<PersistedPolicy | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new OtusError(`policy state ${this.file}: ${(e as Error).message}`, 'POLICY_STATE');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new OtusError(`policy state ${this.file}: not JSON: ${(e as Error).message}`, 'POLICY_STATE');
    }
    const r = persistedSchema.safeParse(json);
    if (!r.success) throw configErrorFrom(`policy state ${this.file}`, '', r.error);
    return r.data;
  }

  async save(state: PersistedPolicy): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    await rename(tmp, this.file);
  }
}
