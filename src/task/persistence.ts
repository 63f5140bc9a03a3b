// Task persistence (ADR-030): one JSON file per task under <data_dir>/tasks/,
// so that a damaged file costs one task and a delete is one unlink. Writes go
// to a temporary file that is renamed over the old one: a crash leaves either
// the old record or the new one, never half of each.
import { mkdir, open, readdir, readFile, rename, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { TASK_STATES, type TaskState } from './task-state.ts';

export interface PersistedTask {
  version: 'v1';
  /** The task as it was submitted (validated again when loaded); null when it could not be read back. */
  config: unknown;
  state: TaskState;
  created_at: string;
  started_at: string | null;
  stopped_at: string | null;
  failure_reason: string;
  restart_count: number;
}

const isoOrNull = z.string().nullable().default(null);

const persistedSchema = z.object({
  version: z.literal('v1'),
  config: z.unknown(),
  state: z.enum(TASK_STATES),
  created_at: z.string(),
  started_at: isoOrNull,
  stopped_at: isoOrNull,
  failure_reason: z.string().default(''),
  restart_count: z.number().int().min(0).default(0),
});

export type LoadedTaskFile =
  | { ok: true; id: string; file: string; record: PersistedTask }
  | { ok: false; id: string; file: string; error: string };

const TMP_SUFFIX = '.json.tmp';

/** Where task records live; every method is a no-op when persistence is off. */
export class TaskStore {
  /** One write at a time per task, so an older state can never be renamed over a newer one. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    readonly dir: string,
    readonly enabled: boolean,
  ) {}

  static under(dataDir: string, enabled: boolean): TaskStore {
    return new TaskStore(join(dataDir, 'tasks'), enabled);
  }

  fileOf(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  async init(): Promise<void> {
    if (!this.enabled) return;
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
  }

  /** Reads every `<id>.json`; unreadable ones are reported, not thrown, so one bad file stops nothing. */
  async loadAll(): Promise<LoadedTaskFile[]> {
    if (!this.enabled) return [];
    const names = (await readdir(this.dir)).sort();
    const out: LoadedTaskFile[] = [];
    for (const name of names) {
      // A temporary file is a write the previous process never finished: the renamed record is the truth.
      if (name.startsWith('.') && name.endsWith(TMP_SUFFIX)) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      if (name.startsWith('.') || !name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      const file = join(this.dir, name);
      out.push(await this.loadOne(id, file));
    }
    return out;
  }

  private async loadOne(id: string, file: string): Promise<LoadedTaskFile> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      return { ok: false, id, file, error: `cannot read: ${(e as Error).message}` };
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return { ok: false, id, file, error: `not valid JSON: ${(e as Error).message}` };
    }
    const r = persistedSchema.safeParse(doc);
    if (!r.success) {
      const i = r.error.issues[0]!;
      return { ok: false, id, file, error: `not a v1 task record: ${i.path.join('.') || '(root)'}: ${i.message}` };
    }
    return { ok: true, id, file, record: r.data as PersistedTask };
  }

  save(id: string, record: PersistedTask): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return this.serial(id, () => this.write(id, record));
  }

  remove(id: string): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return this.serial(id, () => rm(this.fileOf(id), { force: true }));
  }

  /**
   * Marks a record as fresh without rewriting it: tmpfiles.d ages files by
   * their times (ADR-031), and a task running for weeks must not look stale.
   */
  touch(id: string, now = new Date()): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return this.serial(id, () => utimes(this.fileOf(id), now, now).catch(() => {}));
  }

  /** Moves an unreadable file out of the way (kept for inspection); returns its new path. */
  async quarantine(file: string, now = new Date()): Promise<string> {
    const aside = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
    await rename(file, aside);
    return aside;
  }

  /** Resolves when every pending write has landed. */
  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  private serial(id: string, job: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const next = prev.then(job, job);
    const tail = next.catch(() => {});
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    return next;
  }

  private async write(id: string, record: PersistedTask): Promise<void> {
    const tmp = join(this.dir, `.${id}${TMP_SUFFIX}`);
    const fh = await open(tmp, 'w', 0o640);
    try {
      await fh.writeFile(JSON.stringify(record, null, 2) + '\n');
      // Without the sync a power cut after the rename could leave an empty file under the final name.
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.fileOf(id));
  }
}
