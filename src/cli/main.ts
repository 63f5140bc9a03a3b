// The otus command line. Each subcommand lives in its own module; this file
// only wires them to commander and turns errors into messages and exit codes.
import { Command, Option } from 'commander';
import { OtusError } from '../core/errors.ts';
import { registerDaemonCommands } from './register-daemon.ts';
import { registerRemoteCommand } from './register-remote.ts';
import { registerPolicyCommands } from './register-policy.ts';
import { runCommand } from './run-command.ts';
import { validateCommand } from './validate-command.ts';

const program = new Command();
program.name('otus').description('Edge network traffic agent').version('0.1.0').showHelpAfterError();

program
  .command('run')
  .description('run one task over a capture file (the built-in sample when no --pcap) or live on an interface, without a daemon')
  .option('--pcap <file>', 'pcap or pcapng file to read (default: the built-in sample capture)')
  .option('--interface <name>', 'capture live on this network interface until interrupted (Ctrl-C)')
  .option('--filter <expr>', 'BPF filter for live capture, in tcpdump syntax')
  .option('--config <file>', 'global configuration (YAML); default /etc/otus/config.yml when present')
  .option('--task <file>', 'task file (YAML or JSON)')
  .option('--workers <n>', 'pipeline workers (default: available cores)')
  .addOption(new Option('--format <format>', 'console output format').choices(['json', 'text']))
  .option('--out <file>', 'write JSON lines to this file instead of the console')
  .option('--no-progress', 'never show a progress bar')
  .option('--stats-json', 'print the end-of-run summary as JSON (on stderr)')
  .action(async (opts) => {
    process.exitCode = await runCommand(opts);
  });

program
  .command('validate')
  .description('check a global configuration or a task file and report every bad field')
  .option('--config <file>', 'global configuration (YAML)')
  .option('--task <file>', 'task file (YAML or JSON)')
  .action(async (opts) => {
    process.exitCode = await validateCommand(opts);
  });

registerDaemonCommands(program);
registerRemoteCommand(program);
registerPolicyCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof OtusError) {
    process.stderr.write(`otus: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`otus: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 70;
  }
});
