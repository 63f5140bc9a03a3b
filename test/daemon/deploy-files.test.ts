// The deployment files, checked by the tools that consume them where they
// exist here: systemd-analyze for the unit, systemd-tmpfiles (in a scratch
// root) for the tmpfiles.d entry, the daemon's own validator for the
// configurations, and the DaemonSet against its ConfigMap. (The Dockerfile
// is not built: there is no Docker daemon or base image here.)
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { globalConfigSchema } from '../../src/config/global-schema.ts';
import { loadGlobalConfig } from '../../src/config/load-global.ts';
import { OTUS, ROOT } from './daemon-process.ts';

const DEPLOY = join(ROOT, 'deploy');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'otus-deploy-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('deployment files', () => {
  it('systemd unit: systemd-analyze finds nothing to say about it', { skip: has('systemd-analyze') ? false : 'systemd-analyze is not installed' }, () => {
    const unit = readFileSync(join(DEPLOY, 'systemd', 'otus.service'), 'utf8');
    assert.match(unit, /^ExecStartPre=\/usr\/bin\/systemd-tmpfiles --create \/etc\/tmpfiles\.d\/otus\.conf$/m, 'ADR-031: the task directory exists before the start');
    assert.match(unit, /^ExecStart=\/usr\/bin\/otus daemon --config \/etc\/otus\/config\.yml$/m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m, 'systemctl reload is SIGHUP');
    // The binary is not installed on this machine: point the copy at the repository's.
    const copy = join(dir, 'otus.service');
    writeFileSync(copy, unit.replace('/usr/bin/otus ', `${OTUS} `));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no unknown keys or unparsable values');
  });

  it('tmpfiles.d entry: creates the task directory 0750 and ages old files out', { skip: has('systemd-tmpfiles') ? false : 'systemd-tmpfiles is not installed' }, async () => {
    const conf = join(DEPLOY, 'tmpfiles.d', 'otus.conf');
    const text = readFileSync(conf, 'utf8');
    const defaults = globalConfigSchema.parse({}).otus;
    assert.equal(defaults.data_dir, '/var/lib/otus');
    assert.match(text, /^e\s+\/var\/lib\/otus\/tasks\s+-\s+-\s+-\s+7d$/m, 'the age rule matches task_ttl (7d by default)');
    assert.equal(defaults.task_persistence.task_ttl, 7 * 86_400);

    const root = join(dir, 'root');
    const run = (...args: string[]) => execFileSync('systemd-tmpfiles', [...args, `--root=${root}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    run('--create', conf);
    const tasks = join(root, 'var', 'lib', 'otus', 'tasks');
    assert.equal(statSync(tasks).mode & 0o777, 0o750);
    assert.equal(statSync(join(root, 'var', 'lib', 'otus')).mode & 0o777, 0o750);

    // tmpfiles ages by every timestamp, ctime included, which no test can set back: the same rule with a 1 s age instead.
    const fast = join(dir, 'fast.conf');
    writeFileSync(fast, text.replace(/^(e\s+\/var\/lib\/otus\/tasks\s+-\s+-\s+-\s+)7d$/m, '$11s'));
    writeFileSync(join(tasks, 'old.json'), '{}');
    await new Promise((r) => setTimeout(r, 2500));
    writeFileSync(join(tasks, 'fresh.json'), '{}');
    run('--clean', fast);
    assert.ok(!existsSync(join(tasks, 'old.json')), 'an old history file is deleted with no daemon running');
    assert.ok(existsSync(join(tasks, 'fresh.json')), 'a fresh one stays');
    assert.ok(existsSync(tasks), 'the directory itself stays');
  });

  it('configurations: the example and the ConfigMap validate; the DaemonSet matches its ConfigMap', async () => {
    const env = { OTUS_NODE_IP: '10.0.0.5' };
    loadGlobalConfig(join(DEPLOY, 'otus.example.yml'), env);

    const cm = parse(readFileSync(join(DEPLOY, 'kubernetes', 'configmap.yaml'), 'utf8')) as { kind: string; metadata: { name: string }; data: Record<string, string> };
    assert.equal(cm.kind, 'ConfigMap');
    const cmFile = join(dir, 'config.yml');
    writeFileSync(cmFile, cm.data['config.yml']!);
    const c = loadGlobalConfig(cmFile, env).config.otus;

    const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', 'daemonset.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
    const ds = docs.find((d) => d['kind'] === 'DaemonSet') as {
      spec: { template: { spec: { hostNetwork: boolean; containers: Container[]; volumes: { name: string; configMap?: { name: string }; hostPath?: { path: string } }[] } } };
    };
    interface Container {
      args: string[];
      env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
      ports: { name: string; containerPort: number }[];
      livenessProbe: { httpGet: { path: string; port: string } };
      volumeMounts: { name: string; mountPath: string }[];
    }
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true, 'it captures the node\'s own traffic');
    const ctr = pod.containers[0]!;
    const cfgArg = ctr.args[ctr.args.indexOf('--config') + 1]!;
    const mountOf = (vol: string) => ctr.volumeMounts.find((m) => m.name === vol)?.mountPath;
    const cfgVol = pod.volumes.find((v) => v.configMap?.name === cm.metadata.name);
    assert.ok(cfgVol, 'the DaemonSet mounts the ConfigMap');
    assert.equal(cfgArg, `${mountOf(cfgVol.name)}/config.yml`);
    assert.equal(ctr.env.find((e) => e.name === 'OTUS_NODE_IP')?.valueFrom?.fieldRef?.fieldPath, 'status.hostIP', 'ADR-023: the node IP from the Downward API');
    assert.equal(ctr.ports.find((p) => p.name === 'metrics')?.containerPort, Number(c.metrics.listen.split(':').at(-1)));
    assert.equal(ctr.livenessProbe.httpGet.path, '/healthz');
    // The task state survives the pod (ADR-030); the socket's directory is a volume kubectl exec can reach.
    const stateVol = pod.volumes.find((v) => v.hostPath?.path === c.data_dir);
    assert.ok(stateVol && mountOf(stateVol.name) === c.data_dir, 'data_dir is a hostPath mounted at the same place');
    assert.ok(ctr.volumeMounts.some((m) => c.control.socket.startsWith(m.mountPath + '/')), 'the control socket lives on a mounted volume');
  });
});
