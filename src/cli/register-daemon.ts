// Wires the daemon and its control clients into the otus command line.
import { Command, Option } from 'commander';
import { daemonCommand, reloadCommand, statsCommand, statusCommand } from './daemon-commands.ts';
import { taskCreate, taskList, taskStatus, taskStop } from './task-commands.ts';

/** --socket, --config and --json, shared by every client of the control socket. */
function client(cmd: Command): Command {
  return cmd
    .option('--socket <path>', 'control socket (default: otus.control.socket of the global config)')
    .option('--config <file>', 'global configuration to read the socket path from (default /etc/otus/config.yml when present)')
    .option('--json', 'print the raw JSON-RPC result');
}

export function registerDaemonCommands(program: Command): void {
  program
    .command('daemon')
    .description('run the daemon in the foreground: tasks, control socket, metrics, logs')
    .option('--config <file>', 'global configuration (YAML); default /etc/otus/config.yml when present')
    .addOption(new Option('--control-timeout <seconds>', 'close control connections idle this long').default('10'))
    .action(async (opts) => {
      process.exitCode = await daemonCommand(opts);
    });

  const task = program.command('task').description('manage the daemon\'s tasks');
  client(task.command('create').description('send a task to the daemon and start it'))
    .requiredOption('-f, --file <file>', 'task file (YAML or JSON)')
    .action(async (opts) => {
      process.exitCode = await taskCreate(opts);
    });
  client(task.command('stop').description('stop a task (kept as history); a finished one is removed from the history'))
    .requiredOption('--id <id>', 'task id')
    .action(async (opts) => {
      process.exitCode = await taskStop(opts);
    });
  client(task.command('list').description('list the tasks, running and finished'))
    .action(async (opts) => {
      process.exitCode = await taskList(opts);
    });
  client(task.command('status').description('state, times, restarts and live counters of a task'))
    .requiredOption('--id <id>', 'task id')
    .action(async (opts) => {
      process.exitCode = await taskStatus(opts);
    });

  client(program.command('status').description('the daemon: version, node, uptime, active task')).action(async (opts) => {
    process.exitCode = await statusCommand(opts);
  });
  client(program.command('stats').description('the daemon process (memory, CPU) and the active task\'s counters')).action(async (opts) => {
    process.exitCode = await statsCommand(opts);
  });
  client(program.command('reload').description('reload the global configuration (the running task is not touched)')).action(async (opts) => {
    process.exitCode = await reloadCommand(opts);
  });
}
