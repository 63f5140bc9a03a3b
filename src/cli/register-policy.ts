// Wires `otus policy ...` (the eBPF policy dataplane's control) into the command line.
import type { Command } from 'commander';
import { policyAdd, policyAttach, policyDelete, policyDetach, policyList, policyReplace, policySessions, policyStats } from './policy-commands.ts';

function client(cmd: Command): Command {
  return cmd
    .option('--socket <path>', 'control socket (default: otus.control.socket of the global config)')
    .option('--config <file>', 'global configuration to read the socket path from (default /etc/otus/config.yml when present)')
    .option('--json', 'print the raw JSON-RPC result');
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('the eBPF policy dataplane: attach it, manage its rules, read its figures');
  const set = (c: Command, fn: (o: never) => Promise<number>) => client(c).action(async (o) => {
    process.exitCode = await fn(o as never);
  });
  set(policy.command('attach').description('attach the policy program to an interface\'s TC hook').requiredOption('-i, --interface <name>', 'interface').option('--direction <d>', 'ingress, egress or both', 'ingress'), policyAttach);
  set(policy.command('detach').description('detach the policy program from an interface').requiredOption('-i, --interface <name>', 'interface').option('--direction <d>', 'ingress, egress or both', 'ingress'), policyDetach);
  set(policy.command('replace').description('replace the whole policy set atomically ({default_action, rules} in YAML or JSON)').requiredOption('-f, --file <file>', 'policy set file'), policyReplace);
  set(
    policy
      .command('add')
      .description('add one rule (from -f, or from the flags)')
      .option('-f, --file <file>', 'rule file (YAML or JSON)')
      .option('--id <id>', 'rule id')
      .option('--action <action>', 'allow, deny or log')
      .option('--priority <n>', 'lower goes first (default 1000)')
      .option('--src <cidr>', 'source address or prefix (default any)')
      .option('--dst <cidr>', 'destination address or prefix (default any)')
      .option('--proto <proto>', 'tcp, udp, icmp, a number, or any')
      .option('--src-port <port>', 'a port, from-to, or any')
      .option('--dst-port <port>', 'a port, from-to, or any')
      .option('--description <text>', 'free text'),
    policyAdd,
  );
  set(policy.command('delete').description('delete one rule').requiredOption('--id <id>', 'rule id'), policyDelete);
  set(policy.command('list').description('the rules, in the order they are matched'), policyList);
  set(policy.command('stats').description('the dataplane\'s counters and attachments'), policyStats);
  set(policy.command('sessions').description('the busiest sessions').option('--limit <n>', 'how many', '20').option('--order <by>', 'bytes, packets or last_seen', 'bytes'), policySessions);
}
